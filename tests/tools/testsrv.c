// SPDX-License-Identifier: MIT
/*
 * testsrv: small TCP server for vigil's integration tests.
 *
 *   testsrv [-l ADDR] [-p PORT] [-d DELAY_MS] [-D SLOW_MS] [-m echo|close|rst]
 *           [--pid-file PATH] [--ready-file PATH]
 *
 * echo  (default) one thread per connection: read once (one request), sleep
 *       DELAY_MS, write "OK\n"; repeat until the client closes. With -D,
 *       SIGUSR1 makes every later reply wait SLOW_MS instead (a backend
 *       turning slow under load, for the benchmark) and SIGUSR2 goes back.
 * close accept and close at once (FIN).
 * rst   accept, SO_LINGER 0, close (RST).
 *
 * The ready file is created once the socket listens; it and the pid file are
 * removed on SIGTERM/SIGINT, after which testsrv exits 0. Bind/listen
 * failures exit 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool_util.h"

enum mode { MODE_ECHO, MODE_CLOSE, MODE_RST };

/* "OK\n", or "OK NAME\n" with -n so load generators can tell backends apart. */
static char reply[64] = "OK\n";
/* A connection idle this long is dropped so a vanished client cannot pin a
 * thread for ever. */
#define IDLE_TIMEOUT_MS 120000
/* A reply later than the delay by more than this is reported on stderr. */
#define LATE_SLACK_MS 10

static atomic_int delay_ms;
static int base_delay_ms, slow_delay_ms = -1;
static enum mode mode = MODE_ECHO;
static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stopping;
static atomic_long n_accepted, n_active;

static void on_signal(int sig)
{
	int saved = errno;
	ssize_t r;

	if (sig == SIGUSR1 || sig == SIGUSR2) {
		atomic_store(&delay_ms, sig == SIGUSR1 ? slow_delay_ms : base_delay_ms);
		return;
	}
	stopping = 1;
	r = write(wake_pipe[1], "x", 1);
	(void)r;
	errno = saved;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: testsrv [-l ADDR] [-p PORT] [-d DELAY_MS] [-m echo|close|rst]\n"
		"               [--pid-file PATH] [--ready-file PATH]\n"
		"  -l ADDR   IPv4 or IPv6 literal to listen on (default 0.0.0.0)\n"
		"  -p PORT   TCP port (default 8080; 0 picks one, printed on stdout)\n"
		"  -d MS     delay before each reply in echo mode (default 0)\n"
		"  -D MS     after SIGUSR1, delay each reply MS instead; SIGUSR2: back to -d\n"
		"  -m MODE   echo (default), close (accept+FIN), rst (accept+RST)\n"
		"  -n NAME   reply \"OK NAME\" instead of \"OK\"\n");
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	long long start;
	int delay;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, IDLE_TIMEOUT_MS);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* client closed (or reset) */
			break;
		start = now_us();
		delay = atomic_load(&delay_ms);
		if (delay > 0)
			sleep_ms(delay);
		if (write_all(fd, reply, strlen(reply)) < 0)
			break;
		/* Make scheduling noise visible: tests that check latency
		 * buckets can tell a late wake-up from a measurement error. */
		if (delay > 0 && now_us() - start > (delay + LATE_SLACK_MS) * 1000LL)
			fprintf(stderr, "testsrv: late reply: %.1f ms for a %d ms delay\n",
				(double)(now_us() - start) / 1000.0, delay);
	}
	close(fd);
	atomic_fetch_sub(&n_active, 1);
	return NULL;
}

static void start_echo(int fd, const pthread_attr_t *attr)
{
	pthread_t tid;
	sigset_t all, old;
	int err;

	/* Workers never take SIGTERM/SIGINT: the main thread's poll does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	atomic_fetch_add(&n_active, 1);
	err = pthread_create(&tid, attr, echo_conn, (void *)(intptr_t)fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		atomic_fetch_sub(&n_active, 1);
		fprintf(stderr, "testsrv: pthread_create: %s; dropping connection\n", strerror(err));
		close(fd);
	}
}

static void handle_conn(int fd, const pthread_attr_t *attr)
{
	int one = 1;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	switch (mode) {
	case MODE_CLOSE:
		close(fd);
		break;
	case MODE_RST:
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			perror("testsrv: SO_LINGER");
		close(fd);
		break;
	case MODE_ECHO:
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		start_echo(fd, attr);
		break;
	}
}

static int write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid-file", required_argument, NULL, 'P' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *addr = "0.0.0.0", *pid_file = NULL, *ready_file = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sigaction sa;
	pthread_attr_t attr;
	long v, port = 8080;
	int c, lfd, one = 1;
	char buf[32];

	while ((c = getopt_long(argc, argv, "l:p:d:D:m:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			addr = optarg;
			break;
		case 'p':
			if (tool_parse_long(optarg, 0, 65535, &port) < 0) {
				fprintf(stderr, "testsrv: -p %s: port must be 0-65535\n", optarg);
				return 1;
			}
			break;
		case 'd':
		case 'D':
			if (tool_parse_long(optarg, 0, 3600000, &v) < 0) {
				fprintf(stderr, "testsrv: -%c %s: delay must be 0-3600000 ms\n", c, optarg);
				return 1;
			}
			*(c == 'd' ? &base_delay_ms : &slow_delay_ms) = (int)v;
			atomic_store(&delay_ms, base_delay_ms);
			break;
		case 'm':
			if (!strcmp(optarg, "echo"))
				mode = MODE_ECHO;
			else if (!strcmp(optarg, "close"))
				mode = MODE_CLOSE;
			else if (!strcmp(optarg, "rst"))
				mode = MODE_RST;
			else {
				fprintf(stderr, "testsrv: -m %s: mode must be echo, close or rst\n", optarg);
				return 1;
			}
			break;
		case 'n':
			snprintf(reply, sizeof(reply), "OK %.40s\n", optarg);
			break;
		case 'P':
			pid_file = optarg;
			break;
		case 'R':
			ready_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "testsrv: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}
	if (tool_make_addr(addr, (int)port, &ss, &sslen) < 0) {
		fprintf(stderr, "testsrv: -l %s: not an IPv4 or IPv6 address\n", addr);
		return 1;
	}

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("testsrv: pipe2");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (slow_delay_ms >= 0) {
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0) {
		perror("testsrv: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, sslen) < 0) {
		fprintf(stderr, "testsrv: bind %s port %ld: %s\n", addr, port, strerror(errno));
		return 1;
	}
	if (listen(lfd, 4096) < 0) {
		fprintf(stderr, "testsrv: listen %s port %ld: %s\n", addr, port, strerror(errno));
		return 1;
	}

	if (pid_file) {
		snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (write_file(pid_file, buf) < 0) {
			fprintf(stderr, "testsrv: --pid-file %s: %s\n", pid_file, strerror(errno));
			return 1;
		}
	}
	printf("testsrv: listening on %s port %d mode %s delay %d ms\n", addr, bound_port(lfd),
	       mode == MODE_ECHO ? "echo" : mode == MODE_CLOSE ? "close" : "rst", base_delay_ms);
	fflush(stdout);
	if (ready_file && write_file(ready_file, "") < 0) {
		fprintf(stderr, "testsrv: --ready-file %s: %s\n", ready_file, strerror(errno));
		if (pid_file)
			unlink(pid_file);
		return 1;
	}

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);

	while (!stopping) {
		struct pollfd p[2] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = wake_pipe[0], .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("testsrv: poll");
			break;
		}
		if (p[1].revents)
			break;
		/* Drain the accept queue. */
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				    errno != ECONNABORTED)
					perror("testsrv: accept");
				if (errno == EMFILE || errno == ENFILE)
					sleep_ms(10);
				break;
			}
			atomic_fetch_add(&n_accepted, 1);
			handle_conn(fd, &attr);
		}
	}

	close(lfd);
	if (ready_file)
		unlink(ready_file);
	if (pid_file)
		unlink(pid_file);
	fprintf(stderr, "testsrv: exiting: %ld connections accepted, %ld still open\n",
		atomic_load(&n_accepted), atomic_load(&n_active));
	/* exit() ends the remaining connection threads with the process. */
	return 0;
}
