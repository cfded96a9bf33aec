/* SPDX-License-Identifier: MIT */
/*
 * Feeding a load balancer vigil does not run (pure: no sockets, no files;
 * time is an argument): what a load balancer should do with each backend,
 * from the desired state vigil publishes (desired.h), the HAProxy runtime
 * API commands that bring it there and when to repeat them, and the nginx
 * upstream include that says the same. user/vigild/haproxy.c and nginx.c do
 * the I/O; docs/integrations.md explains the mapping.
 */
#ifndef VIGIL_LBFEED_H
#define VIGIL_LBFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "desired.h"
#include "haproxy_table.h"

/* One backend as a load balancer should treat it. */
struct vigil_lb_verdict {
	bool down;  /* ejected or probing (and the service not failing open): no traffic */
	__u8 admin; /* enum vigil_admin_state: drained or disabled with vigilctl */
	bool hard;  /* ejected on hard-failure evidence in this evaluation */
};

/* The verdict on every backend of want (out[i] for want->backends[i]). */
void vigil_lb_verdicts(const struct vigil_desired *want, struct vigil_lb_verdict *out);

/* Runtime API operations on one server. */
#define VIGIL_LB_OP_DOWN     0x1 /* set server B/S health down */
#define VIGIL_LB_OP_SHUTDOWN 0x2 /* shutdown sessions server B/S */
#define VIGIL_LB_OP_UP       0x4 /* set server B/S health up */
#define VIGIL_LB_OP_ADMIN    0x8 /* set server B/S state ready|drain|maint */

/* What vigil wants HAProxy to do with one backend, and what is still to be
 * done. Edges (a verdict that changed) are pushed once; the states vigil
 * imposes (down, drain, maint) are also pushed again whenever HAProxy is seen
 * without them (it restarted or reloaded, or its own checks brought the
 * server back). vigil never forces a server up or ready except on the edge of
 * its own decision, so HAProxy's checks and operators keep their say. */
struct vigil_lb_want {
	struct vigil_endpoint ep;
	bool known;        /* a verdict was folded in */
	bool down;
	__u8 admin;
	__u32 pending;     /* VIGIL_LB_OP_* not acknowledged yet */
	__u32 reapply;     /* of pending: states HAProxy had lost */
	__u64 decided_ns;  /* decision time of the oldest pending op (CLOCK_MONOTONIC) */
};

/* Fold verdict v in (decided at now); shutdown: shut a hard-failed server's
 * sessions. A first verdict makes pending only what differs from a server
 * HAProxy starts with (up, ready). Returns the ops it made pending. */
__u32 vigil_lb_want_update(struct vigil_lb_want *w, const struct vigil_lb_verdict *v,
			   bool shutdown, __u64 now);

/* HAProxy reports srv as it is: the states vigil imposes that it lacks
 * become pending again (and count as re-applied). Returns those ops. */
__u32 vigil_lb_want_check(struct vigil_lb_want *w, const struct vigil_hp_server *srv, __u64 now);

/* The runtime API command of one op (a single VIGIL_LB_OP_*) for server
 * backend/server, without newline. 0 or -ENOSPC. */
int vigil_hp_command(__u32 op, __u8 admin, const char *backend, const char *server, char *buf,
		     size_t len);

/* The nginx upstream include of service svc: one server line per backend,
 * its weight, "backup" for backups, "down" when out (verdicts, in backend
 * order; NULL: every backend in), then options. Returns the length written,
 * or -ENOSPC. */
int vigil_nginx_render(const struct vigil_service_cfg *svc, const struct vigil_lb_verdict *v,
		       const char *options, char *buf, size_t len);

#endif
