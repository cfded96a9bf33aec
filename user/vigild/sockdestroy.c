/* SPDX-License-Identifier: MIT */
/*
 * Destroy TCP connections to backends in every network namespace, over
 * NETLINK_SOCK_DIAG: the fallback where the kernel has no bpf_sock_destroy()
 * for the socket iterator (teardown_iter.c).
 *
 * In each distinct namespace (vigil_netns_for_each, netns.h) the calling
 * thread dumps the TCP sockets of both families and sends SOCK_DESTROY with
 * the full inet_diag_sockid (cookie included) of every socket whose peer is
 * one of the targets (for VIGIL_TEARDOWN_UNACKED, only if its tcp_info shows
 * an unacknowledged retransmission). The netlink exchange goes through
 * libnl-3's core (socket, message building, sequence checks, callbacks per
 * message kind).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sockdestroy.h"

#include <errno.h>
#include <stddef.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "addr.h"
#include "log.h"
#include "netns.h"

/* Every TCP state except LISTEN and TIME_WAIT (the kernel adds
 * NEW_SYN_RECV by itself when SYN_RECV is asked for). */
#define SD_STATES (((1u << (TCP_CLOSING + 1)) - 1) & \
		   ~((1u << TCP_LISTEN) | (1u << TCP_TIME_WAIT) | (1u << TCP_CLOSE)))

/* Matching sockets of one namespace, collected during the dump. */
struct sd_match {
	__u8 family;
	size_t target; /* index into the targets */
	struct inet_diag_sockid id;
};

struct sd_matches {
	struct sd_match *v;
	size_t n, cap;
};

/* State of one call. */
struct sd_ctx {
	struct vigil_teardown_target *targets;
	size_t n_targets;
	bool want_info;           /* a target wants tcp_info (VIGIL_TEARDOWN_UNACKED) */
	int first_err;  /* first per-namespace failure (-errno), reported at the end */
	unsigned namespaces;      /* visited so far (0: the walk did not start) */
	char *err;
	size_t errlen;
	/* for the libnl callbacks of the request in progress */
	int kerr;                 /* -errno the kernel answered with, 0 if none */
	bool answered;            /* NLMSG_DONE or the acknowledgement seen */
	struct sd_matches *out;   /* where the dump collects matches */
};

static void sd_err(struct sd_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first error with its text; later ones are only logged. */
static void sd_err(struct sd_ctx *c, int rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn("sockdestroy: %s", msg);
	if (c->first_err)
		return;
	c->first_err = rc;
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s", msg);
}

static int sd_match_add(struct sd_matches *m, __u8 family, size_t target,
			const struct inet_diag_sockid *id)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct sd_match *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n].family = family;
	m->v[m->n].target = target;
	m->v[m->n].id = *id;
	m->n++;
	return 0;
}

/* An unacknowledged retransmission, from the tcp_info the dump carries (as
 * the iterator's icsk_retransmits test). */
static bool sd_unacked(struct nlmsghdr *h)
{
	struct nlattr *a = nlmsg_find_attr(h, sizeof(struct inet_diag_msg), INET_DIAG_INFO);
	const struct tcp_info *ti;

	if (!a || nla_len(a) < (int)(offsetof(struct tcp_info, tcpi_retransmits) + 1))
		return false;
	ti = nla_data(a);
	return ti->tcpi_retransmits > 0;
}

/* The target the socket of h belongs to, or -1. */
static ssize_t sd_match(const struct sd_ctx *c, struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = nlmsg_data(h);
	struct vigil_endpoint ep;
	int family = m->idiag_family == AF_INET ? VIGIL_AF_INET : VIGIL_AF_INET6;

	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -1;
	/* Normalises a v4-mapped peer of an AF_INET6 socket to VIGIL_AF_INET. */
	vigil_endpoint_make(&ep, family, m->id.idiag_dst, ntohs(m->id.idiag_dport));
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct vigil_teardown_target *t = &c->targets[i];

		if (ep.port != t->ep.port || memcmp(ep.addr, t->ep.addr, 16) != 0)
			continue;
		if (t->kind == VIGIL_TEARDOWN_UNACKED && !sd_unacked(h))
			return -1;
		if ((t->flags & VIGIL_TEARDOWN_F_SPARE_CONNECTING) && m->idiag_state == TCP_SYN_SENT)
			return -1;
		return (ssize_t)i;
	}
	return -1;
}

/* libnl reports its own codes (NLE_*); the callers here speak -errno. The
 * kernel's own errno, when it sent one, is kept exactly (sd_on_error); this
 * maps what libnl found by itself. */
static int sd_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0: return 0;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_AGAIN: return -ETIMEDOUT; /* SO_RCVTIMEO expired */
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	case NLE_MSG_TRUNC: case NLE_MSG_TOOSHORT: case NLE_MSG_OVERFLOW:
	case NLE_SEQ_MISMATCH: case NLE_MSGTYPE_NOSUPPORT: return -EPROTO;
	default: return -EIO;
	}
}

/* NLMSG_ERROR from the kernel: keep its errno and stop reading. */
static int sd_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct sd_ctx *c = arg;

	(void)who;
	c->kerr = e->error < 0 ? e->error : -e->error;
	return NL_STOP;
}

/* NLMSG_DONE of a dump, or the acknowledgement of a request: the answer is
 * complete. Anything else that ends a read early (the receive timeout) leaves
 * c->answered unset: nl_recvmsgs() alone does not tell (nor nl_wait_for_ack(),
 * which is why it is not used). */
static int sd_on_answered(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct sd_ctx *)arg)->answered = true;
	return NL_STOP;
}

/* One socket of the dump: keep it if its peer is the backend. */
static int sd_on_diag(struct nl_msg *msg, void *arg)
{
	struct sd_ctx *c = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct inet_diag_msg *m = nlmsg_data(h);
	ssize_t t;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m))
		return NL_SKIP;
	t = sd_match(c, h);
	if (t >= 0 && sd_match_add(c->out, m->idiag_family, (size_t)t, &m->id) < 0) {
		c->kerr = -ENOMEM;
		return NL_STOP;
	}
	return NL_OK;
}

/* Send one inet_diag_req_v2 (a dump, or an exact destroy request): 0 or -errno.
 * nl_send_auto fills in port and sequence, and asks for an acknowledgement. */
static int sd_send(struct nl_sock *sk, int type, int flags, const struct inet_diag_req_v2 *req)
{
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);
	int rc;

	if (!msg)
		return -ENOMEM;
	rc = nlmsg_append(msg, (void *)req, sizeof(*req), NLMSG_ALIGNTO);
	if (rc == 0)
		rc = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	return rc < 0 ? sd_errno(rc) : 0;
}

/* Read until the answer to the request just sent is complete: 0, the
 * kernel's -errno, or -errno for what went wrong on the way. */
static int sd_recv_answer(struct sd_ctx *c, struct nl_sock *sk)
{
	int rc;

	c->kerr = 0;
	c->answered = false;
	rc = nl_recvmsgs_default(sk);
	if (c->kerr)
		return c->kerr;
	if (rc < 0)
		return sd_errno(rc);
	return c->answered ? 0 : -ETIMEDOUT;
}

/* Dump the TCP sockets of one family in the current namespace into out. */
static int sd_dump(struct sd_ctx *c, struct nl_sock *sk, __u8 family, struct sd_matches *out)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = SD_STATES,
		.idiag_ext = c->want_info ? 1u << (INET_DIAG_INFO - 1) : 0,
	};
	int rc;

	rc = sd_send(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &req);
	if (rc < 0)
		return rc;
	c->out = out;
	rc = sd_recv_answer(c, sk);
	c->out = NULL;
	return rc;
}

/* SOCK_DESTROY one socket; 0, or -errno from the kernel's acknowledgement. */
static int sd_destroy_one(struct sd_ctx *c, struct nl_sock *sk, const struct sd_match *m)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = m->family,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = SD_STATES,
		.id = m->id,
	};
	int rc;

	rc = sd_send(sk, SOCK_DESTROY, NLM_F_REQUEST, &req);
	return rc < 0 ? rc : sd_recv_answer(c, sk);
}

/* A NETLINK_SOCK_DIAG socket in the thread's current namespace (the kernel
 * binds it to the namespace it is created in), its callbacks pointing at c. */
static int sd_open(struct sd_ctx *c, struct nl_sock **skp)
{
	/* The kernel always answers; the timeout only bounds a pathological wait. */
	static const struct timeval rcv_timeout = { .tv_sec = 5 };
	struct nl_sock *sk = nl_socket_alloc();
	int rc;

	if (!sk)
		return -ENOMEM;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, sd_on_diag, c);
	nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_CUSTOM, sd_on_answered, c);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, sd_on_answered, c);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, sd_on_error, c);
	rc = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (rc < 0) {
		nl_socket_free(sk);
		return sd_errno(rc);
	}
	if (setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &rcv_timeout,
		       sizeof(rcv_timeout)) < 0)
		pr_debug("sockdestroy: no receive timeout on the netlink socket: %s",
			 strerror(errno));
	*skp = sk;
	return 0;
}

/* Errors that would repeat in every namespace: stop at once. */
static bool sd_is_fatal(int rc)
{
	return rc == -EOPNOTSUPP || rc == -EPERM || rc == -EACCES;
}

/* Destroy the matches of the current namespace; a socket that vanished since
 * the dump (-ENOENT) is skipped. */
static int sd_destroy_all(struct sd_ctx *c, struct nl_sock *sk, const struct sd_matches *m,
			  const char *ns)
{
	char peer[VIGIL_ENDPOINT_STRLEN];

	for (size_t i = 0; i < m->n; i++) {
		struct vigil_teardown_target *t = &c->targets[m->v[i].target];
#ifdef VIGIL_MUTANT_SOCKDESTROY
		/* Mutation smoke test (see tests/mutants.sh): matched sockets are
		 * left alone. */
		int rc = ((void)sd_destroy_one, (void)sk, -ENOENT);
#else
		int rc = sd_destroy_one(c, sk, &m->v[i]);
#endif

		vigil_endpoint_format(&t->ep, peer, sizeof(peer));
		if (rc == 0) {
			t->destroyed++;
			pr_debug("sockdestroy: destroyed socket to %s (port %u) in %s", peer,
				 ntohs(m->v[i].id.idiag_sport), ns);
		} else if (sd_is_fatal(rc)) {
			return rc;
		} else if (rc != -ENOENT) {
			sd_err(c, rc, "destroying a socket to %s in %s failed: %s", peer, ns,
			       strerror(-rc));
		}
	}
	return 0;
}

/* Dump and destroy in the namespace the thread is in now (a
 * vigil_netns_visit_fn): 0, or a fatal -errno that ends the walk. */
static int sd_visit_current(const char *ns, void *arg)
{
	static const __u8 families[] = { AF_INET, AF_INET6 };
	struct sd_ctx *c = arg;
	struct sd_matches m = { 0 };
	struct nl_sock *sk = NULL;
	int rc;

	c->namespaces++;
	rc = sd_open(c, &sk);
	if (rc < 0) {
		sd_err(c, rc, "NETLINK_SOCK_DIAG socket in %s: %s", ns, strerror(-rc));
		return 0;
	}
	for (size_t i = 0; i < sizeof(families) && rc == 0; i++) {
		rc = sd_dump(c, sk, families[i], &m);
		if (rc == -ENOENT && families[i] == AF_INET6)
			rc = 0; /* no IPv6 diag handler (IPv6 disabled) */
	}
	if (rc < 0)
		sd_err(c, rc, "dumping TCP sockets in %s failed: %s", ns, strerror(-rc));
	else
		rc = sd_destroy_all(c, sk, &m, ns);
	free(m.v);
	nl_socket_free(sk);
	return sd_is_fatal(rc) ? rc : 0;
}

/* The reason and fix of an error that stopped the walk. */
static int sd_fatal(struct sd_ctx *c, int rc)
{
	if (rc == VIGIL_NETNS_STRANDED)
		snprintf(c->err, c->errlen, "cannot return to the original network namespace; "
			 "this thread is now in another one");
	else if (!c->namespaces)
		snprintf(c->err, c->errlen, "cannot open /proc/thread-self/ns/net: %s "
			 "(is /proc mounted?)", strerror(-rc));
	else if (rc == -EOPNOTSUPP)
		snprintf(c->err, c->errlen, "the kernel cannot destroy sockets (SOCK_DESTROY: %s): "
			 "rebuild it with CONFIG_INET_DIAG_DESTROY=y", strerror(EOPNOTSUPP));
	else
		snprintf(c->err, c->errlen, "SOCK_DESTROY refused (%s): needs CAP_NET_ADMIN",
			 strerror(-rc));
	return rc > 0 ? -EIO : rc;
}

int vigil_sockdestroy_nl(struct vigil_teardown_target *targets, size_t n, unsigned *namespaces,
			 char *err, size_t errlen)
{
	char dummy[1];
	struct sd_ctx c = { .targets = targets, .n_targets = n, .err = err ? err : dummy,
			    .errlen = err ? errlen : sizeof(dummy) };
	int rc, enter_err;

	c.err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		targets[i].destroyed = 0;
		c.want_info |= targets[i].kind == VIGIL_TEARDOWN_UNACKED;
	}
	rc = vigil_netns_for_each(sd_visit_current, &c, &enter_err);
	if (namespaces)
		*namespaces = c.namespaces;
	if (rc != 0)
		return sd_fatal(&c, rc);
	if (enter_err && !c.first_err)
		sd_err(&c, enter_err, "entering other network namespaces failed: %s (needs "
		       "CAP_SYS_ADMIN)", strerror(-enter_err));
	return c.first_err;
}

int vigil_destroy_connections_to(const struct vigil_endpoint *backend, unsigned *destroyed,
				 char *err, size_t errlen)
{
	struct vigil_teardown_target t = { .ep = *backend, .kind = VIGIL_TEARDOWN_ALL };
	int rc = vigil_sockdestroy_nl(&t, 1, NULL, err, errlen);

	*destroyed = t.destroyed;
	return rc;
}
