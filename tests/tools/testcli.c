// SPDX-License-Identifier: MIT
/*
 * testcli: TCP load generator for vigil's integration tests.
 *
 *   testcli -a ADDR -p PORT -n COUNT [-c CONCURRENCY] [-r REQUESTS_PER_CONN]
 *           [-t CONNECT_TIMEOUT_MS] [-T IO_TIMEOUT_MS] [-k]
 *
 * Opens COUNT connections, CONCURRENCY at a time (one worker thread each).
 * Every connect is nonblocking with a poll timeout; on timeout the socket is
 * closed, which is how a connect into a blackhole is abandoned. On each
 * connection it sends REQUESTS_PER_CONN requests ("GET\n") and waits for each
 * reply line (default 1; 0 = connect and close). -k closes with RST
 * (SO_LINGER 0) instead of FIN.
 *
 * Prints one line: "ok=N refused=N timeout=N reset=N other=N" and exits 0;
 * exit 1 only on usage errors. Every wait is bounded, so it never hangs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool_util.h"

enum result { RES_OK, RES_REFUSED, RES_TIMEOUT, RES_RESET, RES_OTHER, RES_NRESULTS };
static const char *const result_names[RES_NRESULTS] = {
	"ok", "refused", "timeout", "reset", "other",
};

static const char request[] = "GET\n";
#define MAX_ERROR_MSGS 5

static struct {
	struct sockaddr_storage ss;
	socklen_t sslen;
	long count;
	long concurrency;
	long requests;
	long connect_timeout_ms;
	long io_timeout_ms;
	bool rst_close;
} opt = {
	.concurrency = 1,
	.requests = 1,
	.connect_timeout_ms = 3000,
	.io_timeout_ms = 5000,
};

static atomic_long next_conn;
static atomic_long results[RES_NRESULTS];
static atomic_int error_msgs;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: testcli -a ADDR -p PORT -n COUNT [-c CONCURRENCY] [-r REQUESTS_PER_CONN]\n"
		"               [-t CONNECT_TIMEOUT_MS] [-T IO_TIMEOUT_MS] [-k]\n"
		"  -a ADDR  IPv4 or IPv6 literal (brackets allowed)\n"
		"  -c N     connections in parallel (default 1)\n"
		"  -r N     requests per connection, each waits for a reply (default 1; 0 = none)\n"
		"  -t MS    connect timeout (default 3000)\n"
		"  -T MS    timeout of each send and reply wait (default 5000)\n"
		"  -k       close with RST (SO_LINGER 0) instead of FIN\n"
		"prints: ok=N refused=N timeout=N reset=N other=N\n");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (CLOCK_MONOTONIC ms).
 * Returns revents, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;
		return p.revents;
	}
}

static void note_error(const char *what, int err)
{
	if (atomic_fetch_add(&error_msgs, 1) < MAX_ERROR_MSGS)
		fprintf(stderr, "testcli: %s: %s\n", what, err ? strerror(err) : "unexpected EOF");
}

static enum result classify(const char *what, int err)
{
	switch (err) {
	case ECONNREFUSED:
		return RES_REFUSED;
	case ETIMEDOUT:
		return RES_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
		return RES_RESET;
	default:
		note_error(what, err);
		return RES_OTHER;
	}
}

static enum result do_connect(int fd)
{
	int err = 0, r;
	socklen_t len = sizeof(err);

	if (connect(fd, (struct sockaddr *)&opt.ss, opt.sslen) == 0)
		return RES_OK;
	if (errno != EINPROGRESS)
		return classify("connect", errno);
	r = wait_fd(fd, POLLOUT, now_ms() + opt.connect_timeout_ms);
	if (r < 0)
		return classify("poll", errno);
	if (r == 0)
		return RES_TIMEOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return classify("getsockopt", errno);
	return err ? classify("connect", err) : RES_OK;
}

/* After a send or recv (what) failed with errno: true to try again
 * (interrupted, or fd became ready for events before the deadline), else
 * false with the request's result in *res. */
static bool io_retry(int fd, short events, long long deadline, const char *what,
		     enum result *res)
{
	int r;

	if (errno == EINTR)
		return true;
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		*res = classify(what, errno);
		return false;
	}
	r = wait_fd(fd, events, deadline);
	if (r > 0)
		return true;
	*res = r < 0 ? classify("poll", errno) : RES_TIMEOUT;
	return false;
}

static enum result do_request(int fd)
{
	long long deadline = now_ms() + opt.io_timeout_ms;
	size_t sent = 0;
	enum result res;
	char buf[256];

	while (sent < sizeof(request) - 1) {
		ssize_t n = send(fd, request + sent, sizeof(request) - 1 - sent, MSG_NOSIGNAL);

		if (n >= 0) {
			sent += (size_t)n;
			continue;
		}
		if (!io_retry(fd, POLLOUT, deadline, "send", &res))
			return res;
	}
	/* The reply is one line; read until its newline. */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0) {
			if (memchr(buf, '\n', (size_t)n))
				return RES_OK;
			continue;
		}
		if (n == 0) {
			note_error("recv", 0);
			return RES_OTHER;
		}
		if (!io_retry(fd, POLLIN, deadline, "recv", &res))
			return res;
	}
}

static enum result one_connection(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	enum result res;
	int one = 1;
	int fd;

	fd = socket(opt.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_error("socket", errno);
		return RES_OTHER;
	}
	res = do_connect(fd);
	if (res == RES_OK) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (long i = 0; i < opt.requests && res == RES_OK; i++)
			res = do_request(fd);
		if (opt.rst_close)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	return res;
}

static void *worker(void *arg)
{
	(void)arg;
	while (atomic_fetch_add(&next_conn, 1) < opt.count)
		atomic_fetch_add(&results[one_connection()], 1);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	long port = -1, nthreads, started = 0;
	pthread_t *tids;
	pthread_attr_t attr;
	int c;

	opt.count = -1;
	/* The numeric options: where each goes and its range. */
	const struct {
		int opt;
		long *dst, min, max;
	} nums[] = {
		{ 'p', &port, 1, 65535 },
		{ 'n', &opt.count, 0, 100000000 },
		{ 'c', &opt.concurrency, 1, 10000 },
		{ 'r', &opt.requests, 0, 100000000 },
		{ 't', &opt.connect_timeout_ms, 1, 3600000 },
		{ 'T', &opt.io_timeout_ms, 1, 3600000 },
	};
	while ((c = getopt(argc, argv, "a:p:n:c:r:t:T:kh")) != -1) {
		size_t i;

		switch (c) {
		case 'a':
			addr = optarg;
			continue;
		case 'k':
			opt.rst_close = true;
			continue;
		case 'h':
			usage(stdout);
			return 0;
		}
		for (i = 0; i < sizeof(nums) / sizeof(nums[0]) && nums[i].opt != c; i++)
			;
		if (i == sizeof(nums) / sizeof(nums[0])) {
			usage(stderr);
			return 1;
		}
		if (tool_parse_long(optarg, nums[i].min, nums[i].max, nums[i].dst) < 0) {
			fprintf(stderr, "testcli: -%c %s: must be a number in %ld-%ld\n", c, optarg,
				nums[i].min, nums[i].max);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "testcli: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (!addr || port < 0 || opt.count < 0) {
		fprintf(stderr, "testcli: -a, -p and -n are required\n");
		usage(stderr);
		return 1;
	}
	if (tool_make_addr(addr, port, &opt.ss, &opt.sslen) < 0) {
		fprintf(stderr, "testcli: -a %s: not an IPv4 or IPv6 address\n", addr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	nthreads = opt.concurrency < opt.count ? opt.concurrency : opt.count;
	tids = calloc(nthreads > 0 ? (size_t)nthreads : 1, sizeof(*tids));
	if (!tids) {
		perror("testcli: calloc");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	for (long i = 0; i < nthreads; i++) {
		int err = pthread_create(&tids[i], &attr, worker, NULL);

		if (err) {
			/* Fewer workers still finish the job, just more slowly. */
			fprintf(stderr, "testcli: pthread_create: %s; using %ld workers\n",
				strerror(err), started);
			break;
		}
		started++;
	}
	if (started == 0 && nthreads > 0)
		worker(NULL);
	for (long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);

	for (int i = 0; i < RES_NRESULTS; i++)
		printf("%s%s=%ld", i ? " " : "", result_names[i], atomic_load(&results[i]));
	printf("\n");
	return 0;
}
