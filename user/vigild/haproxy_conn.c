/* SPDX-License-Identifier: MIT */
/* One exchange with HAProxy's runtime API (haproxy_conn.h). */
#include "haproxy_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ANSWER_MAX (16u << 20) /* a server table far beyond any real one */

static socklen_t socket_address(const struct vigil_haproxy_cfg *cfg,
				struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (cfg->socket[0]) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", cfg->socket);
		return sizeof(*un);
	}
	if (cfg->socket_ep.family == VIGIL_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(cfg->socket_ep.port);
		memcpy(&in->sin_addr, cfg->socket_ep.addr + 12, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(cfg->socket_ep.port);
	memcpy(&in6->sin6_addr, cfg->socket_ep.addr, 16);
	return sizeof(*in6);
}

bool hp_conn_busy(const struct hp_conn *c)
{
	return c->fd >= 0;
}

void hp_conn_close(struct hp_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c->in);
	*c = (struct hp_conn)HP_CONN_INIT;
}

int hp_conn_start(struct hp_conn *c, const struct vigil_haproxy_cfg *cfg, const char *req,
		  __u64 now)
{
	struct sockaddr_storage ss;
	socklen_t len = socket_address(cfg, &ss);

	hp_conn_close(c);
	c->out = strdup(req);
	c->in_cap = 4096;
	c->in = calloc(1, c->in_cap);
	if (!c->out || !c->in) {
		hp_conn_close(c);
		return -ENOMEM;
	}
	c->out_len = strlen(req);
	c->deadline_ns = now + (__u64)cfg->timeout_ms * 1000000ull;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A unix socket connects at once or not at all (EAGAIN: HAProxy's
	 * backlog is full; the next attempt may succeed). */
	if (c->fd < 0 ||
	    (connect(c->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
		int e = errno;

		hp_conn_close(c);
		return -e;
	}
	return 0;
}

short hp_conn_events(const struct hp_conn *c)
{
	if (c->fd < 0)
		return 0;
	return c->sent < c->out_len ? POLLOUT : POLLIN;
}

/* Write what the socket takes; 0, or -errno. */
static int send_some(struct hp_conn *c, __u64 now)
{
	while (c->sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno; /* EAGAIN: TCP still connecting */
		c->sent += (size_t)n;
	}
	if (!c->written_ns)
		c->written_ns = now;
	return 0;
}

/* Read what is there; 1 at the end of the answer, 0 for more, or -errno. */
static int read_some(struct hp_conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len + 1 == c->in_cap) {
			char *grown = c->in_cap >= ANSWER_MAX ? NULL : realloc(c->in, c->in_cap * 2);

			if (!grown)
				return -EMSGSIZE;
			c->in = grown;
			c->in_cap *= 2;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
	}
}

static bool finish(struct hp_conn *c, int error)
{
	c->error = error;
	close(c->fd);
	c->fd = -1;
	return true;
}

bool hp_conn_step(struct hp_conn *c, __u64 now)
{
	int ret;

	if (c->fd < 0)
		return false;
	ret = send_some(c, now);
	if (!ret && c->sent == c->out_len)
		ret = read_some(c);
	if (ret < 0)
		return finish(c, ret);
	if (ret == 1)
		return finish(c, 0);
	if (now >= c->deadline_ns)
		return finish(c, -ETIMEDOUT);
	return false;
}
