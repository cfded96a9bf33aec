/* SPDX-License-Identifier: MIT */
/*
 * Failure detector rules: vigil_det_evaluate() and the rules it applies, in
 * order: pending probe/admin changes, timers, hard failures, outlier rules,
 * then the service-level set change. See detector.h and docs/detection.md.
 */
#define VIGIL_DETECTOR_INTERNAL
#include "detector.h"

#include <string.h>

static bool is_backup(const struct vigil_det_backend *b)
{
	return b->role == VIGIL_ROLE_BACKUP;
}

/* Changes written by vigil_det_evaluate(). */
struct emitter {
	struct vigil_det_change *c;
	size_t n, max;
};

/* A backend the ejection rules look at. DRAINING ones are still judged. */
static bool judged(const struct vigil_det_backend *b)
{
	return b->state == VIGIL_STATE_HEALTHY && b->admin != VIGIL_ADMIN_DISABLED;
}

static bool room(const struct emitter *e)
{
	return e->n < e->max;
}

static void emit(struct emitter *e, int idx, enum vigil_backend_state from,
		 enum vigil_backend_state to, enum vigil_rule rule,
		 const struct vigil_evidence *ev, enum vigil_teardown_kind teardown)
{
	struct vigil_det_change *c = &e->c[e->n++];

	memset(c, 0, sizeof(*c));
	c->backend_index = idx;
	c->from = from;
	c->to = to;
	c->rule = rule;
	c->evidence = *ev;
	c->teardown = teardown;
}

/* A transition made by evaluate(): applied and reported together. */
static void transition(struct emitter *e, struct vigil_det_service *svc, size_t idx,
		       enum vigil_backend_state to, enum vigil_rule rule,
		       const struct vigil_evidence *ev, enum vigil_teardown_kind teardown,
		       __u64 now_ns)
{
	struct vigil_det_backend *b = &svc->backends[idx];
	enum vigil_backend_state from = b->state;

	if (to == VIGIL_STATE_EJECTED)
		vigil_det_eject(&svc->params, b, rule, ev, now_ns);
	else
		vigil_det_record(b, to, rule, ev, now_ns);
	if (from == VIGIL_STATE_HEALTHY || teardown > b->teardown)
		b->teardown = teardown;
	emit(e, (int)idx, from, to, rule, ev, teardown);
}

/* ---- evaluation ---------------------------------------------------------------- */

/* Changes made by vigil_det_probe_result() and vigil_det_set_admin(). */
static void eval_pending(struct emitter *e, struct vigil_det_backend *b, size_t idx)
{
	static const struct vigil_evidence none;

	if (b->pending_probe && room(e)) {
		emit(e, (int)idx, b->pending_from, b->pending_to, b->pending_rule,
		     &b->pending_evidence, VIGIL_TEARDOWN_NONE);
		b->pending_probe = false;
	}
	if (b->pending_admin && room(e)) {
		emit(e, (int)idx, b->state, b->state, VIGIL_RULE_ADMIN, &none, VIGIL_TEARDOWN_NONE);
		e->c[e->n - 1].admin_from = b->pending_admin_from;
		e->c[e->n - 1].admin_to = b->admin;
		b->pending_admin = false;
	}
}

/* Flapping memory decays after eject_max_ms HEALTHY; ejection time over
 * starts probing (not while DISABLED: such a backend waits, EJECTED). */
static void eval_timers(struct emitter *e, struct vigil_det_service *svc, size_t idx,
			__u64 now_ns)
{
	struct vigil_det_backend *b = &svc->backends[idx];
	__u64 max_ns = (__u64)svc->params.eject_max_ms * VIGIL_DET_NS_PER_MS;
	struct vigil_evidence ev = { 0 };

	if (b->state == VIGIL_STATE_HEALTHY && b->ejections && now_ns >= b->since_ns &&
	    now_ns - b->since_ns > max_ns)
		b->ejections = 0;
	if (b->state != VIGIL_STATE_EJECTED || b->admin == VIGIL_ADMIN_DISABLED ||
	    now_ns < b->eject_until_ns || !room(e))
		return;
	ev.failures = b->ejections;
	transition(e, svc, idx, VIGIL_STATE_PROBING, VIGIL_RULE_EJECT_EXPIRED, &ev,
		   VIGIL_TEARDOWN_NONE, now_ns);
	b->next_probe_ns = now_ns;
	b->probe_ok_streak = 0;
}

/* The rule and evidence of the hard failures of b, if they reach the
 * threshold: the kernel fast path, then connects, requests (retransmitted,
 * or on the packet datapath unacknowledged) and kernel failures counted
 * together (evidence that the backend is dead: every
 * connection goes, VIGIL_TEARDOWN_ALL), then the same with stalled requests
 * (only its process stopped: VIGIL_TEARDOWN_UNACKED). VIGIL_RULE_NONE when
 * the evidence is short of the threshold. */
static enum vigil_rule hard_rule(const struct vigil_det_service *svc, size_t idx,
				 struct vigil_evidence *ev, enum vigil_teardown_kind *teardown)
{
	const struct vigil_det_backend *b = &svc->backends[idx];
	__u32 need = svc->params.consecutive_failures;
	__u64 dead = (__u64)b->kernel_consecutive + b->stuck_connects + b->stuck_requests +
		     b->unacked_requests;

	ev->threshold = need;
	*teardown = VIGIL_TEARDOWN_ALL;
	if (b->kernel_down) {
		ev->failures = b->kernel_consecutive;
		return VIGIL_RULE_FAST_PATH;
	}
#ifdef VIGIL_MUTANT_STUCK_CONNECT
	/* Mutation smoke test (see tests/mutants.sh): connects pending past the
	 * limit count for nothing. */
	dead -= b->stuck_connects;
#endif
	if (need == 0)
		return VIGIL_RULE_NONE;
	ev->latency_us = b->oldest_stuck_us;
	ev->failures = vigil_det_sat_u32(dead);
	if (dead >= need && b->stuck_connects) {
		ev->limit_us = vigil_det_sat_u32(vigil_det_stuck_connect_limit_ns(svc, idx) / VIGIL_DET_NS_PER_US);
		return VIGIL_RULE_STUCK_CONNECT;
	}
	if (dead >= need && b->stuck_requests) {
		ev->limit_us = vigil_det_sat_u32(vigil_det_stuck_request_limit_ns(svc, idx) / VIGIL_DET_NS_PER_US);
		return VIGIL_RULE_STUCK_REQUEST;
	}
	if (dead >= need && b->unacked_requests) {
		ev->limit_us = vigil_det_sat_u32(vigil_det_unacked_limit_ns(svc, idx) / VIGIL_DET_NS_PER_US);
		return VIGIL_RULE_STUCK_REQUEST;
	}
	if (dead >= need)
		return VIGIL_RULE_CONSECUTIVE;
	ev->failures = vigil_det_sat_u32(dead + b->stalled_requests);
	if (!b->stalled_requests || dead + b->stalled_requests < need)
		return VIGIL_RULE_NONE;
	ev->limit_us = vigil_det_sat_u32(vigil_det_stall_limit_ns(svc, idx) / VIGIL_DET_NS_PER_US);
#ifdef VIGIL_MUTANT_STALL_KILLS
	/* Mutation smoke test (see tests/mutants.sh): a stall is taken for a
	 * death, and every connection of the stalled backend is destroyed. */
	return VIGIL_RULE_STALLED;
#endif
	*teardown = VIGIL_TEARDOWN_UNACKED;
	return VIGIL_RULE_STALLED;
}

/* Fast path, consecutive failures, stuck and stalled sockets: never limited
 * by the share. */
static void eval_hard(struct emitter *e, struct vigil_det_service *svc, size_t idx, __u64 now_ns)
{
	struct vigil_evidence ev = { 0 };
	enum vigil_teardown_kind teardown;
	enum vigil_rule rule;

	if (!judged(&svc->backends[idx]) || !room(e))
		return;
	rule = hard_rule(svc, idx, &ev, &teardown);
	if (rule != VIGIL_RULE_NONE)
		transition(e, svc, idx, VIGIL_STATE_EJECTED, rule, &ev, teardown, now_ns);
}

/* A backend taken out for a stall whose connections then show that it is
 * dead (their data goes unacknowledged, its connects fail): the tear-down
 * it was spared is done now, reported as a change from its state to itself
 * under the rule that found it. */
static void eval_escalate(struct emitter *e, struct vigil_det_service *svc, size_t idx)
{
	struct vigil_det_backend *b = &svc->backends[idx];
	struct vigil_evidence ev = { 0 };
	enum vigil_teardown_kind teardown;
	enum vigil_rule rule;

	if (b->state == VIGIL_STATE_HEALTHY || b->teardown != VIGIL_TEARDOWN_UNACKED || !room(e))
		return;
	rule = hard_rule(svc, idx, &ev, &teardown);
	if (rule == VIGIL_RULE_NONE || teardown != VIGIL_TEARDOWN_ALL)
		return;
	b->teardown = VIGIL_TEARDOWN_ALL;
	emit(e, (int)idx, b->state, b->state, rule, &ev, VIGIL_TEARDOWN_ALL);
}

static bool error_rule(const struct vigil_det_params *p, const struct vigil_det_sum *s,
		       struct vigil_evidence *ev)
{
	if (!(p->error_ratio > 0.0) || s->attempts == 0 || s->attempts < p->error_min_requests)
		return false;
	if ((double)s->errors / (double)s->attempts < p->error_ratio)
		return false;
	ev->requests = vigil_det_sat_u32(s->attempts);
	ev->errors = vigil_det_sat_u32(s->errors);
	ev->failures = vigil_det_sat_u32(s->errors);
	ev->threshold = vigil_det_round_u32(p->error_ratio * 1000.0);
	return true;
}

/* p99 request latency (connect latency without enough request samples) above
 * slow_factor x the peers' median p99 and above the floor, and the median
 * above the peers' p99 too: a backend whose typical request is slower than
 * its peers' tail is slow; one with a few stalled requests (a scheduling
 * hiccup of the machine, a GC pause) only has a bad tail. */
static bool slow_rule(const struct vigil_det_service *svc, const struct vigil_det_sum *sums, size_t idx,
		      struct vigil_evidence *ev)
{
	const struct vigil_det_params *p = &svc->params;
	__u64 min = p->slow_min_samples ? p->slow_min_samples : 1;
	int kind = sums[idx].samples[VIGIL_DET_LAT_REQUEST] >= min ? VIGIL_DET_LAT_REQUEST : VIGIL_DET_LAT_CONNECT;
	double own = sums[idx].p99_us[kind], floor_us = p->slow_floor_ms * 1000.0, med, limit;
	size_t npeers;

	if (!(p->slow_factor > 0.0) || sums[idx].samples[kind] < min)
		return false;
	med = vigil_det_peer_median(svc, sums, idx, kind, min, &npeers);
	limit = p->slow_factor * med;
	if (npeers == 0 || own <= limit || own <= floor_us || sums[idx].p50_us[kind] <= med)
		return false;
	ev->requests = vigil_det_sat_u32(sums[idx].samples[kind]);
	ev->threshold = vigil_det_round_u32(p->slow_factor * 1000.0);
	ev->latency_us = vigil_det_round_u32(own);
	ev->peer_latency_us = vigil_det_round_u32(med);
	ev->limit_us = vigil_det_round_u32(limit > floor_us ? limit : floor_us);
	return true;
}

/* Primaries EJECTED or PROBING, and how many primaries there are. */
size_t vigil_det_primaries_out(const struct vigil_det_service *svc, size_t *n_primaries)
{
	size_t out = 0;

	*n_primaries = 0;
	for (size_t i = 0; i < svc->n_backends; i++) {
		const struct vigil_det_backend *b = &svc->backends[i];

		if (is_backup(b))
			continue;
		(*n_primaries)++;
		if (b->state != VIGIL_STATE_HEALTHY)
			out++;
	}
	return out;
}

size_t vigil_det_outlier_limit(const struct vigil_det_params *p, size_t n_primaries)
{
	double lim = p->max_ejection_share * (double)n_primaries;
	size_t n = lim > 0.0 ? (size_t)lim : 0;

	return n > 1 ? n : 1;
}

static void eval_outliers(struct emitter *e, struct vigil_det_service *svc, __u64 now_ns)
{
	struct vigil_det_sum sums[VIGIL_MAX_SVC_BACKENDS];
	size_t n_primaries, out = vigil_det_primaries_out(svc, &n_primaries);
	size_t limit = vigil_det_outlier_limit(&svc->params, n_primaries);

	vigil_det_window_sums(svc, sums);
	for (size_t i = 0; i < svc->n_backends && room(e) && out < limit; i++) {
		struct vigil_evidence ev = { 0 };
		enum vigil_rule rule;

		if (is_backup(&svc->backends[i]) || !judged(&svc->backends[i]))
			continue;
		if (error_rule(&svc->params, &sums[i], &ev))
			rule = VIGIL_RULE_ERROR_RATIO;
		else if (slow_rule(svc, sums, i, &ev))
			rule = VIGIL_RULE_SLOW;
		else
			continue;
		transition(e, svc, i, VIGIL_STATE_EJECTED, rule, &ev, VIGIL_TEARDOWN_NONE, now_ns);
		out++;
	}
}

/* One change when the set switches between primaries, backups and fail-open.
 * Evidence: failures = primaries not selectable, threshold = primaries. */
static void eval_service(struct emitter *e, struct vigil_det_service *svc)
{
	struct vigil_backend_set set;
	struct vigil_det_change *c;
	size_t n_primaries = 0, usable = 0;
	__u32 flags;

	vigil_det_select(svc, &set);
	flags = set.flags & (VIGIL_SET_BACKUPS | VIGIL_SET_FAIL_OPEN);
	if (flags == svc->set_flags || !room(e))
		return;
	for (size_t i = 0; i < svc->n_backends; i++) {
		const struct vigil_det_backend *b = &svc->backends[i];

		if (is_backup(b))
			continue;
		n_primaries++;
		usable += b->state == VIGIL_STATE_HEALTHY && b->admin == VIGIL_ADMIN_NONE;
	}
	c = &e->c[e->n++];
	memset(c, 0, sizeof(*c));
	c->backend_index = -1;
	c->set_flags_from = svc->set_flags;
	c->set_flags_to = flags;
	c->rule = flags & VIGIL_SET_FAIL_OPEN ? VIGIL_RULE_FAIL_OPEN :
		  flags & VIGIL_SET_BACKUPS   ? VIGIL_RULE_BACKUPS :
						VIGIL_RULE_PRIMARIES;
	c->evidence.failures = vigil_det_sat_u32(n_primaries - usable);
	c->evidence.threshold = vigil_det_sat_u32(n_primaries);
	svc->set_flags = flags;
}

size_t vigil_det_evaluate(struct vigil_det_service *svc, __u64 now_ns,
			  struct vigil_det_change *changes, size_t max)
{
	struct emitter e = { .c = changes, .n = 0, .max = changes ? max : 0 };

	vigil_det_touch(svc, now_ns);
	for (size_t i = 0; i < svc->n_backends; i++)
		eval_pending(&e, &svc->backends[i], i);
	for (size_t i = 0; i < svc->n_backends; i++)
		eval_timers(&e, svc, i, now_ns);
	for (size_t i = 0; i < svc->n_backends; i++)
		eval_hard(&e, svc, i, now_ns);
	for (size_t i = 0; i < svc->n_backends; i++)
		eval_escalate(&e, svc, i);
	eval_outliers(&e, svc, now_ns);
	eval_service(&e, svc);
	return e.n;
}


/* ---- desired state ------------------------------------------------------------ */

static __u32 pkt_flags_of(const struct vigil_det_backend *b, bool serves)
{
	if (serves)
		return VIGIL_XB_SELECTABLE;
	/* Drained or outlier-ejected: established flows stay. Dead or disabled:
	 * move them, so clients get a fast reset instead of a timeout. */
	return b->hard_ejected || b->admin == VIGIL_ADMIN_DISABLED ? VIGIL_XB_RESELECT : 0;
}

void vigil_det_decide(struct vigil_det_service *svc, __u64 now_ns, struct vigil_desired *out)
{
	out->n_changes = vigil_det_evaluate(svc, now_ns, out->changes, VIGIL_DESIRED_MAX_CHANGES);
	for (size_t i = 0; i < out->n_changes; i++) {
		const struct vigil_det_change *c = &out->changes[i];

		if (c->backend_index < 0)
			continue;
		if (c->to == VIGIL_STATE_HEALTHY)
			svc->backends[c->backend_index].hard_ejected = false;
		else if (c->teardown == VIGIL_TEARDOWN_ALL)
			svc->backends[c->backend_index].hard_ejected = true;
	}
	memset(&out->set, 0, sizeof(out->set));
	vigil_det_select(svc, &out->set);
	out->n_backends = svc->n_backends;
	for (size_t i = 0; i < svc->n_backends; i++) {
		const struct vigil_det_backend *b = &svc->backends[i];
		bool serves = vigil_set_serves(&out->set, &b->ep);

		out->backends[i] = (struct vigil_desired_backend){
			.ep = b->ep,
			.info = { .state = b->state, .admin = b->admin, .role = b->role,
				  .last_rule = b->last_rule, .weight = b->weight,
				  .ejections = b->ejections, .selected = serves,
				  .evidence = b->last_evidence },
			.since_ns = b->since_ns,
			.pkt_flags = pkt_flags_of(b, serves),
		};
	}
}
