/* SPDX-License-Identifier: MIT */
/* Feeding a load balancer vigil does not run, the pure half (lbfeed.h). */
#include "lbfeed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

void vigil_lb_verdicts(const struct vigil_desired *want, struct vigil_lb_verdict *out)
{
	/* Failing open, vigil's own datapaths try every backend rather than
	 * none; a fed load balancer does the same. */
	bool fail_open = want->set.flags & VIGIL_SET_FAIL_OPEN;

	for (size_t b = 0; b < want->n_backends; b++) {
		const struct vigil_backend_info *info = &want->backends[b].info;

		out[b] = (struct vigil_lb_verdict){
			.down = info->state != VIGIL_STATE_HEALTHY && !fail_open,
			.admin = info->admin,
		};
	}
	for (size_t i = 0; i < want->n_changes; i++) {
		const struct vigil_det_change *c = &want->changes[i];

		if (c->backend_index >= 0 && c->teardown != VIGIL_TEARDOWN_NONE &&
		    c->to == VIGIL_STATE_EJECTED)
			out[c->backend_index].hard = true;
	}
}

static void make_pending(struct vigil_lb_want *w, __u32 ops, __u64 now)
{
	if (!w->pending)
		w->decided_ns = now;
	w->pending |= ops;
}

__u32 vigil_lb_want_update(struct vigil_lb_want *w, const struct vigil_lb_verdict *v,
			   bool shutdown, __u64 now)
{
	bool was_down = w->known ? w->down : false;
	__u8 was_admin = w->known ? w->admin : VIGIL_ADMIN_NONE;
	__u32 ops = 0;

	if (v->down && !was_down)
		ops |= VIGIL_LB_OP_DOWN | (v->hard && shutdown ? VIGIL_LB_OP_SHUTDOWN : 0);
	else if (!v->down && was_down)
		ops |= VIGIL_LB_OP_UP;
	if (v->admin != was_admin)
		ops |= VIGIL_LB_OP_ADMIN;
	/* An edge and the opposite one still pending cancel out: HAProxy never
	 * saw the first, so it already is where the second would put it. */
	if ((ops & VIGIL_LB_OP_DOWN) && (w->pending & VIGIL_LB_OP_UP)) {
		w->pending &= ~VIGIL_LB_OP_UP;
		ops &= ~(VIGIL_LB_OP_DOWN | VIGIL_LB_OP_SHUTDOWN);
	} else if ((ops & VIGIL_LB_OP_UP) && (w->pending & VIGIL_LB_OP_DOWN)) {
		w->pending &= ~(VIGIL_LB_OP_DOWN | VIGIL_LB_OP_SHUTDOWN);
		ops &= ~VIGIL_LB_OP_UP;
	}
	w->reapply &= w->pending;
	w->known = true;
	w->down = v->down;
	w->admin = v->admin;
	if (ops)
		make_pending(w, ops, now);
	return ops;
}

__u32 vigil_lb_want_check(struct vigil_lb_want *w, const struct vigil_hp_server *srv, __u64 now)
{
	__u32 ops = 0;

	if (!w->known)
		return 0;
	if (w->down && srv->op_state != VIGIL_HP_OP_STOPPED)
		ops |= VIGIL_LB_OP_DOWN;
	if ((w->admin == VIGIL_ADMIN_DRAINING && !(srv->admin_flags & VIGIL_HP_ADMF_FDRAIN)) ||
	    (w->admin == VIGIL_ADMIN_DISABLED && !(srv->admin_flags & VIGIL_HP_ADMF_FMAINT)))
		ops |= VIGIL_LB_OP_ADMIN;
	ops &= ~w->pending; /* already on its way */
#ifdef VIGIL_MUTANT_LB_REAPPLY
	/* Mutation smoke test (see tests/mutants.sh): HAProxy's lost states
	 * are never pushed again. */
	ops = 0;
#endif
	if (ops) {
		make_pending(w, ops, now);
		w->reapply |= ops;
	}
	return ops;
}

static const char *admin_word(__u8 admin)
{
	if (admin == VIGIL_ADMIN_DRAINING)
		return "drain";
	return admin == VIGIL_ADMIN_DISABLED ? "maint" : "ready";
}

int vigil_hp_command(__u32 op, __u8 admin, const char *backend, const char *server, char *buf,
		     size_t len)
{
	int n;

	switch (op) {
	case VIGIL_LB_OP_DOWN:
		n = snprintf(buf, len, "set server %s/%s health down", backend, server);
		break;
	case VIGIL_LB_OP_SHUTDOWN:
		n = snprintf(buf, len, "shutdown sessions server %s/%s", backend, server);
		break;
	case VIGIL_LB_OP_UP:
		n = snprintf(buf, len, "set server %s/%s health up", backend, server);
		break;
	default:
		n = snprintf(buf, len, "set server %s/%s state %s", backend, server,
			     admin_word(admin));
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int vigil_nginx_render(const struct vigil_service_cfg *svc, const struct vigil_lb_verdict *v,
		       const char *options, char *buf, size_t len)
{
	size_t used = 0;
	int n = snprintf(buf, len, "# Written by vigild for service %s: rewritten on every change "
			 "(docs/integrations.md).\n", svc->name);

	for (size_t b = 0; n >= 0 && (size_t)n < len - used && b < svc->n_backends; b++) {
		const struct vigil_backend_cfg *be = &svc->backends[b];
		bool out = v && (v[b].down || v[b].admin != VIGIL_ADMIN_NONE);
		char ep[VIGIL_ENDPOINT_STRLEN];

		used += (size_t)n;
		n = snprintf(buf + used, len - used, "server %s weight=%u%s%s%s%s;\n",
			     vigil_endpoint_format(&be->ep, ep, sizeof(ep)), be->weight,
			     be->role == VIGIL_ROLE_BACKUP ? " backup" : "", out ? " down" : "",
			     options && options[0] ? " " : "", options ? options : "");
	}
	if (n < 0 || (size_t)n >= len - used)
		return -ENOSPC;
	return (int)(used + (size_t)n);
}
