/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking active probes: TCP connect, optionally followed by an HTTP/1.0
 * GET whose status line must be 2xx or 3xx.
 *
 * A fixed table of probe slots; each slot is CONNECTING, SENDING, READING or
 * DONE (finished, result waiting to be collected, socket already closed).
 * vigil_prober_collect() polls every live socket with a zero timeout, advances
 * what is ready, fails what is past its deadline with ETIMEDOUT and hands
 * back finished results. Sockets are always closed with SO_LINGER {1, 0}
 * (RST), so probes leave no TIME_WAIT behind on the prober's side.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "addr.h"
#include "log.h"

#define PROBE_MAX        256
#define PROBE_PATH_MAX   1024
#define PROBE_STATUS_MAX 128 /* bytes of the response kept: enough for the status line */

enum probe_phase { PROBE_FREE = 0, PROBE_CONNECTING, PROBE_SENDING, PROBE_READING, PROBE_DONE };

struct probe_slot {
	enum probe_phase phase;
	int fd;
	char *req;       /* HTTP request; NULL for a TCP probe */
	size_t req_len, sent;
	char resp[PROBE_STATUS_MAX];
	size_t got;
	__u64 start_ns, deadline_ns;
	struct vigil_probe_result res;
};

struct vigil_prober {
	int ns_fd;   /* namespace to create sockets in; -1 = the caller's */
	int self_fd; /* the caller's namespace at creation, to return to */
	struct probe_slot slot[PROBE_MAX];
};

/* Open path as a network namespace file; -1 with errno set (EINVAL: not a
 * network namespace). */
static int probe_open_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int type;

	if (fd < 0)
		return -1;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static bool probe_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

struct vigil_prober *vigil_prober_new(const char *netns_path)
{
	struct vigil_prober *p = calloc(1, sizeof(*p));
	int saved;

	if (!p)
		return NULL;
	p->ns_fd = -1;
	p->self_fd = -1;
	if (!netns_path || !*netns_path)
		return p;
	p->ns_fd = probe_open_netns(netns_path);
	if (p->ns_fd < 0)
		goto fail;
	/* thread-self: setns() moves this thread only. */
	p->self_fd = probe_open_netns("/proc/thread-self/ns/net");
	if (p->self_fd < 0)
		goto fail;
	if (probe_same_file(p->ns_fd, p->self_fd)) { /* already there: no setns needed */
		close(p->ns_fd);
		close(p->self_fd);
		p->ns_fd = p->self_fd = -1;
	}
	return p;
fail:
	saved = errno;
	vigil_prober_free(p);
	errno = saved;
	return NULL;
}

static void probe_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void vigil_prober_free(struct vigil_prober *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < PROBE_MAX; i++) {
		if (p->slot[i].phase != PROBE_FREE && p->slot[i].phase != PROBE_DONE)
			probe_close(p->slot[i].fd);
		free(p->slot[i].req);
	}
	if (p->ns_fd >= 0)
		close(p->ns_fd);
	if (p->self_fd >= 0)
		close(p->self_fd);
	free(p);
}

/* socket() inside the probe namespace; the thread returns to its own. */
static int probe_socket(struct vigil_prober *p, int family)
{
	int fd, saved;

	if (p->ns_fd >= 0 && setns(p->ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	saved = errno;
	if (p->ns_fd >= 0 && setns(p->self_fd, CLONE_NEWNET) < 0) {
		saved = errno;
		pr_err("probe: cannot return to the original network namespace: %s",
		       strerror(saved));
		if (fd >= 0)
			close(fd);
		return -saved;
	}
	return fd < 0 ? -saved : fd;
}

/* A path is sent verbatim: it must start with '/' and hold no space or
 * control character (which could split or extend the request). */
static bool probe_path_ok(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || len > PROBE_PATH_MAX)
		return false;
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		if (*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static char *probe_http_request(const struct vigil_endpoint *ep, const char *path, size_t *len)
{
	char addr[VIGIL_ENDPOINT_STRLEN];
	bool v6 = ep->family == VIGIL_AF_INET6;
	char *req = NULL;
	int n;

	vigil_addr_format(ep, addr, sizeof(addr));
	n = asprintf(&req, "GET %s HTTP/1.0\r\nHost: %s%s%s\r\nUser-Agent: vigil-probe\r\n"
		     "Connection: close\r\n\r\n", path, v6 ? "[" : "", addr, v6 ? "]" : "");
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return req;
}

/* Finish a probe: close its socket and keep the result until collected. */
static void probe_finish(struct probe_slot *s, bool ok, int error, __u64 now_ns)
{
	if (s->phase != PROBE_DONE)
		probe_close(s->fd);
	s->fd = -1;
	free(s->req);
	s->req = NULL;
	s->phase = PROBE_DONE;
	s->res.ok = ok;
	s->res.error = error;
	s->res.latency_ns = now_ns > s->start_ns ? now_ns - s->start_ns : 0;
}

static struct probe_slot *probe_free_slot(struct vigil_prober *p)
{
	for (size_t i = 0; i < PROBE_MAX; i++)
		if (p->slot[i].phase == PROBE_FREE)
			return &p->slot[i];
	return NULL;
}

int vigil_probe_start(struct vigil_prober *p, const struct vigil_endpoint *ep,
		      const char *http_path, unsigned timeout_ms, unsigned long tag, __u64 now_ns)
{
	bool http = http_path && *http_path;
	struct sockaddr_storage ss;
	struct probe_slot *s;
	socklen_t sslen;
	int fd;

	if (!p || !ep || ep->port == 0 || timeout_ms == 0 ||
	    (ep->family != VIGIL_AF_INET && ep->family != VIGIL_AF_INET6) ||
	    (http && !probe_path_ok(http_path)))
		return -EINVAL;
	s = probe_free_slot(p);
	if (!s)
		return -ENOSPC;
	memset(s, 0, sizeof(*s));
	if (http && !(s->req = probe_http_request(ep, http_path, &s->req_len)))
		return -ENOMEM;
	sslen = vigil_endpoint_sockaddr(ep, &ss);
	fd = probe_socket(p, ss.ss_family);
	if (fd < 0) {
		free(s->req);
		s->req = NULL;
		return fd;
	}
	s->fd = fd;
	s->phase = PROBE_CONNECTING;
	s->start_ns = now_ns;
	s->deadline_ns = now_ns + (__u64)timeout_ms * 1000000ull;
	s->res.tag = tag;
	s->res.ep = *ep;
	/* An immediate failure (e.g. ENETUNREACH) is a probe result, not a start error. */
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS)
		probe_finish(s, false, errno, now_ns);
	return 0;
}

size_t vigil_prober_pollfds(const struct vigil_prober *p, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < PROBE_MAX && n < max; i++) {
		const struct probe_slot *s = &p->slot[i];

		if (s->phase == PROBE_FREE || s->phase == PROBE_DONE)
			continue;
		fds[n].fd = s->fd;
		fds[n].events = s->phase == PROBE_READING ? POLLIN : POLLOUT;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

int vigil_prober_timeout_ms(const struct vigil_prober *p, __u64 now_ns)
{
	__u64 earliest = 0;
	bool any = false;

	for (size_t i = 0; i < PROBE_MAX; i++) {
		const struct probe_slot *s = &p->slot[i];

		if (s->phase == PROBE_FREE)
			continue;
		if (s->phase == PROBE_DONE || s->deadline_ns <= now_ns)
			return 0; /* a result is waiting, or a deadline has passed */
		if (!any || s->deadline_ns < earliest)
			earliest = s->deadline_ns;
		any = true;
	}
	if (!any)
		return -1;
	/* Round up so the caller does not wake a little before the deadline. */
	__u64 ms = (earliest - now_ns + 999999) / 1000000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

/* "HTTP/1.x DDD ..." -> DDD, or 0 when resp does not start like that. */
static unsigned probe_parse_status(const char *resp)
{
	unsigned code = 0;

	if (strncmp(resp, "HTTP/", 5) != 0)
		return 0;
	resp = strchr(resp, ' ');
	if (!resp)
		return 0;
	for (int i = 1; i <= 3; i++) {
		if (resp[i] < '0' || resp[i] > '9')
			return 0;
		code = code * 10 + (unsigned)(resp[i] - '0');
	}
	return resp[4] == ' ' || resp[4] == '\r' || resp[4] == '\n' ? code : 0;
}

static void probe_judge_status(struct probe_slot *s, __u64 now_ns)
{
	unsigned code;

	s->resp[s->got] = '\0';
	code = probe_parse_status(s->resp);
	s->res.http_status = code;
	if (code == 0) /* not an HTTP response */
		probe_finish(s, false, EPROTO, now_ns);
	else /* a 4xx/5xx answer is a failed probe with error 0 and its status */
		probe_finish(s, code >= 200 && code < 400, 0, now_ns);
}

/* What a failed non-blocking send/recv means for the probe: EINTR is tried
 * again (true), EAGAIN waits for the next poll, anything else fails it. */
static bool probe_io_retry(struct probe_slot *s, __u64 now_ns)
{
	if (errno == EINTR)
		return true;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		probe_finish(s, false, errno, now_ns);
	return false;
}

static void probe_read(struct probe_slot *s, __u64 now_ns)
{
	for (;;) {
		ssize_t n = recv(s->fd, s->resp + s->got, sizeof(s->resp) - 1 - s->got, 0);

		if (n < 0) {
			if (probe_io_retry(s, now_ns))
				continue;
			return;
		}
		s->got += (size_t)n;
		if (n == 0 || memchr(s->resp, '\n', s->got) || s->got == sizeof(s->resp) - 1) {
			probe_judge_status(s, now_ns);
			return;
		}
	}
}

static void probe_send(struct probe_slot *s, __u64 now_ns)
{
	while (s->sent < s->req_len) {
		ssize_t n = send(s->fd, s->req + s->sent, s->req_len - s->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (probe_io_retry(s, now_ns))
				continue;
			return;
		}
		s->sent += (size_t)n;
	}
	s->phase = PROBE_READING;
	probe_read(s, now_ns);
}

static void probe_connected(struct probe_slot *s, short revents, __u64 now_ns)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (!err && !(revents & POLLOUT))
		err = ECONNRESET; /* POLLHUP/POLLERR without a pending error */
	if (err || !s->req) { /* failed, or a TCP probe that connected */
		probe_finish(s, !err, err, now_ns);
		return;
	}
	s->phase = PROBE_SENDING;
	probe_send(s, now_ns);
}

static void probe_advance(struct probe_slot *s, short revents, __u64 now_ns)
{
	if (!revents)
		return;
	switch (s->phase) {
	case PROBE_CONNECTING: probe_connected(s, revents, now_ns); break;
	case PROBE_SENDING: probe_send(s, now_ns); break;
	case PROBE_READING: probe_read(s, now_ns); break;
	default: break;
	}
}

/* Poll every live socket once without waiting and advance what is ready. */
static void probe_poll_all(struct vigil_prober *p, __u64 now_ns)
{
	struct pollfd fds[PROBE_MAX];
	struct probe_slot *owner[PROBE_MAX];
	size_t n = 0;

	for (size_t i = 0; i < PROBE_MAX; i++) {
		struct probe_slot *s = &p->slot[i];

		if (s->phase == PROBE_FREE || s->phase == PROBE_DONE)
			continue;
		owner[n] = s;
		fds[n] = (struct pollfd){ .fd = s->fd,
					  .events = s->phase == PROBE_READING ? POLLIN : POLLOUT };
		n++;
	}
	if (n == 0 || poll(fds, n, 0) <= 0)
		return;
	for (size_t i = 0; i < n; i++)
		probe_advance(owner[i], fds[i].revents, now_ns);
}

size_t vigil_prober_collect(struct vigil_prober *p, __u64 now_ns, struct vigil_probe_result *results,
			    size_t max)
{
	size_t n = 0;

	probe_poll_all(p, now_ns);
	for (size_t i = 0; i < PROBE_MAX; i++) {
		struct probe_slot *s = &p->slot[i];

		if (s->phase == PROBE_FREE)
			continue;
		if (s->phase != PROBE_DONE && now_ns >= s->deadline_ns)
			probe_finish(s, false, ETIMEDOUT, now_ns);
		if (s->phase != PROBE_DONE || n == max)
			continue; /* still running, or no room: next time */
		results[n++] = s->res;
		s->phase = PROBE_FREE;
	}
	return n;
}
