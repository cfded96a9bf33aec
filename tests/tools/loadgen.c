/* SPDX-License-Identifier: MIT */
/*
 * loadgen: closed-loop TCP request generator for failover tests and the
 * benchmark. C workers each send "GET\n" and wait for a reply line, either on
 * a new connection per request or on kept-alive connections (-k), for -d ms.
 * SIGUSR1 marks the moment of a fault; failures are then split into those
 * already in flight at the fault and those started after it.
 *
 * Output (one line, key=value): requests ok failed failed_inflight
 * failed_after last_fail_ms (after the fault), slowest_ok_after_ms (the
 * slowest request started after the fault that succeeded), max_ok_ms (the
 * slowest request that succeeded at all: what a rescued connect costs) and
 * replies per backend when servers answer "OK <name>".
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 512
#define MAX_NAMES 16

struct opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int workers, duration_ms, timeout_ms, pause_ms;
	bool keepalive;
};

static struct opts opt = { .workers = 8, .duration_ms = 5000, .timeout_ms = 1000 };
static atomic_ullong fault_ns;
static atomic_ullong n_requests, n_ok, n_failed, n_failed_inflight, n_failed_after, last_fail_ns;
static atomic_ullong slowest_ok_after_ns, max_ok_ns;
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static char names[MAX_NAMES][32];
static unsigned long long name_counts[MAX_NAMES];

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void on_fault(int sig)
{
	(void)sig;
	atomic_store(&fault_ns, now_ns());
}

static void count_name(const char *reply)
{
	char name[32] = "-";
	int i;

	sscanf(reply, "OK %31s", name);
	pthread_mutex_lock(&names_lock);
	for (i = 0; i < MAX_NAMES && names[i][0] && strcmp(names[i], name) != 0; i++)
		;
	if (i < MAX_NAMES) {
		if (!names[i][0])
			snprintf(names[i], sizeof(names[i]), "%s", name);
		name_counts[i]++;
	}
	pthread_mutex_unlock(&names_lock);
}

static void record_max(atomic_ullong *max, unsigned long long v)
{
	unsigned long long cur = atomic_load(max);

	while (v > cur && !atomic_compare_exchange_weak(max, &cur, v))
		;
}

static void record(unsigned long long start, bool ok, const char *reply)
{
	unsigned long long fault = atomic_load(&fault_ns), end = now_ns();

	atomic_fetch_add(&n_requests, 1);
	if (ok) {
		atomic_fetch_add(&n_ok, 1);
		count_name(reply);
		record_max(&max_ok_ns, end - start);
		if (fault && start >= fault)
			record_max(&slowest_ok_after_ns, end - start);
		return;
	}
	atomic_fetch_add(&n_failed, 1);
	if (!fault)
		return;
	if (start < fault)
		atomic_fetch_add(&n_failed_inflight, 1);
	else
		atomic_fetch_add(&n_failed_after, 1);
	if (end > atomic_load(&last_fail_ns))
		atomic_store(&last_fail_ns, end);
}

static int wait_fd(int fd, short events, unsigned long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	unsigned long long now = now_ns();

	if (now >= deadline)
		return -ETIMEDOUT;
	int r = poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);

	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

static int open_conn(unsigned long long deadline)
{
	int fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen) < 0 && errno != EINPROGRESS) {
		err = -errno;
	} else if (wait_fd(fd, POLLOUT, deadline) < 0) {
		err = -ETIMEDOUT;
	} else {
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		err = -err;
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* One request on fd: 0 with the reply in buf, or -errno. */
static int exchange(int fd, char *buf, size_t len, unsigned long long deadline)
{
	size_t got = 0;

	if (send(fd, "GET\n", 4, MSG_NOSIGNAL) != 4)
		return -EIO;
	while (got == 0 || buf[got - 1] != '\n') {
		ssize_t r;

		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -ETIMEDOUT;
		r = recv(fd, buf + got, len - 1 - got, 0);
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		got += (size_t)r;
		if (got == len - 1)
			break;
	}
	buf[got] = '\0';
	return 0;
}

static void *worker(void *arg)
{
	unsigned long long end = *(unsigned long long *)arg;
	char reply[128];
	int fd = -1;

	while (now_ns() < end) {
		unsigned long long start = now_ns(), deadline = start + opt.timeout_ms * 1000000ull;
		int ret = 0;

		if (fd < 0)
			fd = open_conn(deadline);
		if (fd < 0)
			ret = fd;
		else
			ret = exchange(fd, reply, sizeof(reply), deadline);
		record(start, ret == 0, reply);
		if (ret < 0 || !opt.keepalive) {
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		if (opt.pause_ms)
			usleep((useconds_t)opt.pause_ms * 1000);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int parse_target(const char *addr, int port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&opt.addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&opt.addr;

	if (port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		opt.addrlen = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		opt.addrlen = sizeof(*a6);
		return 0;
	}
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen -a ADDR -p PORT [-c WORKERS] [-d DURATION_MS] "
			"[-t TIMEOUT_MS] [-k] [-s PAUSE_MS]\n"
			"  -k keep connections alive (default: new connection per request)\n"
			"  SIGUSR1 marks the fault time; output is one key=value line\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	const char *addr = NULL;
	int c, port = 0;

	while ((c = getopt(argc, argv, "a:p:c:d:t:ks:")) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': opt.workers = atoi(optarg); break;
		case 'd': opt.duration_ms = atoi(optarg); break;
		case 't': opt.timeout_ms = atoi(optarg); break;
		case 'k': opt.keepalive = true; break;
		case 's': opt.pause_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (!addr || parse_target(addr, port) || opt.workers < 1 || opt.workers > MAX_WORKERS ||
	    opt.duration_ms < 1 || opt.timeout_ms < 1 || opt.pause_ms < 0)
		usage();
}

int main(int argc, char **argv)
{
	pthread_t threads[MAX_WORKERS];
	unsigned long long end, fault, last;

	parse_args(argc, argv);
	signal(SIGUSR1, on_fault);
	signal(SIGPIPE, SIG_IGN);
	end = now_ns() + opt.duration_ms * 1000000ull;
	for (int i = 0; i < opt.workers; i++)
		pthread_create(&threads[i], NULL, worker, &end);
	for (int i = 0; i < opt.workers; i++)
		pthread_join(threads[i], NULL);
	fault = atomic_load(&fault_ns);
	last = atomic_load(&last_fail_ns);
	printf("requests=%llu ok=%llu failed=%llu failed_inflight=%llu failed_after=%llu "
	       "last_fail_ms=%.1f slowest_ok_after_ms=%.1f max_ok_ms=%.1f",
	       (unsigned long long)n_requests, (unsigned long long)n_ok,
	       (unsigned long long)n_failed, (unsigned long long)n_failed_inflight,
	       (unsigned long long)n_failed_after,
	       fault && last > fault ? (double)(last - fault) / 1e6 : 0.0,
	       (double)atomic_load(&slowest_ok_after_ns) / 1e6,
	       (double)atomic_load(&max_ok_ns) / 1e6);
	for (int i = 0; i < MAX_NAMES && names[i][0]; i++)
		printf(" served_%s=%llu", names[i], name_counts[i]);
	printf("\n");
	return 0;
}
