/* SPDX-License-Identifier: MIT */
/* user/lib/detector.c, user/lib/detector_rules.c: rules, state machine, selection. */
#include <errno.h>
#include <string.h>

#include "detector.h"
#include "hist.h"
#include "suites.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define T0 (100 * SEC) /* start well above 0 so slot indices are not trivial */
#define PRI VIGIL_ROLE_PRIMARY
#define BAK VIGIL_ROLE_BACKUP

/* ~350 KiB: static, not on the stack; every test re-initialises it. */
static struct vigil_det_service svc;
static struct vigil_det_change ch[VIGIL_MAX_SVC_BACKENDS + 2];
static size_t nch;

static struct vigil_endpoint ep_of(size_t i)
{
	struct vigil_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr[10] = 0xff;
	ep.addr[11] = 0xff;
	ep.addr[12] = 10;
	ep.addr[15] = (__u8)(i + 1);
	ep.port = (__u16)(8000 + i);
	ep.family = VIGIL_AF_INET;
	return ep;
}

/* primaries first, then backups; backend i has weight 10 * (i + 1). */
static void setup_with(size_t primaries, size_t backups, const struct vigil_det_params *p)
{
	vigil_det_init(&svc, p);
	for (size_t i = 0; i < primaries + backups; i++) {
		struct vigil_endpoint ep = ep_of(i);

		ck_assert_int_eq(vigil_det_add_backend(&svc, &ep, 10 * (__u32)(i + 1),
						       i < primaries ? PRI : BAK, T0), 0);
	}
}

/* The rule tests were written for small sample counts and floors; the
 * shipped defaults are stricter (checked in the defaults test). */
static void setup(size_t primaries, size_t backups)
{
	struct vigil_det_params p;

	vigil_det_params_defaults(&p);
	p.slow_min_samples = 20;
	p.stuck_connect_floor_ms = 30;
	p.stuck_request_floor_ms = 100;
	p.stall_floor_ms = 250;
	p.stuck_unacked_floor_ms = 60;
	setup_with(primaries, backups, &p);
}

static size_t eval(__u64 now)
{
	nch = vigil_det_evaluate(&svc, now, ch, N(ch));
	return nch;
}

/* The first change of backend idx (-1: service-level) in the last eval(). */
static const struct vigil_det_change *change_for(int idx)
{
	for (size_t i = 0; i < nch; i++)
		if (ch[i].backend_index == idx)
			return &ch[i];
	return NULL;
}

static size_t backend_changes(void)
{
	size_t n = 0;

	for (size_t i = 0; i < nch; i++)
		n += ch[i].backend_index >= 0;
	return n;
}

static void traffic(size_t idx, __u64 attempts, __u64 errors, __u64 now)
{
	struct vigil_det_observation o;

	memset(&o, 0, sizeof(o));
	o.connect_attempts = attempts;
	o.established = attempts > errors ? attempts - errors : 0;
	o.errors = errors;
	vigil_det_observe(&svc, idx, &o, now);
}

/* n samples of us microseconds, request latency (or connect latency). */
static void latency(size_t idx, bool request, __u64 us, __u64 n, __u64 now)
{
	struct vigil_det_observation o;

	memset(&o, 0, sizeof(o));
	if (request)
		o.request_lat_us[vigil_hist_bucket_of(us)] = n;
	else
		o.connect_lat_us[vigil_hist_bucket_of(us)] = n;
	vigil_det_observe(&svc, idx, &o, now);
}

static void hard(size_t idx, __u32 consecutive, bool down, __u32 stuck_conn, __u32 stuck_req,
		 __u32 oldest_us, __u64 now)
{
	struct vigil_det_observation o;

	memset(&o, 0, sizeof(o));
	o.kernel_consecutive = consecutive;
	o.kernel_down = down;
	o.stuck_connects = stuck_conn;
	o.stuck_requests = stuck_req;
	o.oldest_stuck_us = oldest_us;
	vigil_det_observe(&svc, idx, &o, now);
}

/* Fast-path ejection of backend idx at now. */
static void eject_now(size_t idx, __u64 now)
{
	hard(idx, 3, true, 0, 0, 0, now);
	eval(now);
	ck_assert_int_eq(svc.backends[idx].state, VIGIL_STATE_EJECTED);
}

/* From EJECTED: wait out the ejection, then probe_successes good probes. */
static __u64 readmit(size_t idx)
{
	__u64 now = svc.backends[idx].eject_until_ns;

	eval(now);
	ck_assert_int_eq(svc.backends[idx].state, VIGIL_STATE_PROBING);
	for (__u32 i = 0; i < svc.params.probe_successes; i++) {
		now += 200 * MS;
		ck_assert(vigil_det_probe_due(&svc, idx, now));
		vigil_det_probe_result(&svc, idx, true, now);
	}
	ck_assert_int_eq(svc.backends[idx].state, VIGIL_STATE_HEALTHY);
	eval(now);
	return now;
}

/* ---- names and setup ------------------------------------------------------- */

START_TEST(names)
{
	static const char *const rules[] = {
		"none", "consecutive_failures", "fast_path", "error_ratio", "slow",
		"stuck_connect", "stuck_request", "eject_expired", "probe_ok", "probe_failed",
		"admin", "fail_open", "backups", "primaries", "vigild_restarted", "stalled",
		"remote_hard", "remote_outlier",
	};

	ck_assert_int_eq((int)N(rules), VIGIL_RULE_COUNT);
	for (int r = 0; r < VIGIL_RULE_COUNT; r++)
		ck_assert_str_eq(vigil_rule_name((enum vigil_rule)r), rules[r]);
	ck_assert_str_eq(vigil_rule_name(VIGIL_RULE_COUNT), "unknown");
	ck_assert_str_eq(vigil_state_name(VIGIL_STATE_HEALTHY), "healthy");
	ck_assert_str_eq(vigil_state_name(VIGIL_STATE_EJECTED), "ejected");
	ck_assert_str_eq(vigil_state_name(VIGIL_STATE_PROBING), "probing");
	ck_assert_str_eq(vigil_state_name((enum vigil_backend_state)7), "unknown");
	ck_assert_str_eq(vigil_admin_name(VIGIL_ADMIN_NONE), "none");
	ck_assert_str_eq(vigil_admin_name(VIGIL_ADMIN_DRAINING), "draining");
	ck_assert_str_eq(vigil_admin_name(VIGIL_ADMIN_DISABLED), "disabled");
	ck_assert_str_eq(vigil_admin_name((enum vigil_admin_state)9), "unknown");
}
END_TEST

START_TEST(defaults)
{
	struct vigil_det_params p;

	vigil_det_params_defaults(&p);
	ck_assert_uint_eq(p.consecutive_failures, 3);
	ck_assert_double_eq(p.error_ratio, 0.5);
	ck_assert_uint_eq(p.error_min_requests, 20);
	ck_assert_uint_eq(p.window_ms, 10000);
	ck_assert_double_eq(p.slow_factor, 5.0);
	ck_assert_uint_eq(p.slow_floor_ms, 50);
	ck_assert_uint_eq(p.slow_min_samples, 1000);
	ck_assert_double_eq(p.stuck_factor, 4.0);
	ck_assert_uint_eq(p.stuck_connect_floor_ms, 50);
	ck_assert_uint_eq(p.stuck_request_floor_ms, 200);
	ck_assert_uint_eq(p.stall_floor_ms, 400);
	ck_assert_uint_eq(p.stuck_unacked_floor_ms, 100);
	ck_assert_uint_eq(p.eject_base_ms, 2000);
	ck_assert_uint_eq(p.eject_max_ms, 60000);
	ck_assert_uint_eq(p.probe_interval_ms, 200);
	ck_assert_uint_eq(p.probe_successes, 3);
	ck_assert_double_eq(p.max_ejection_share, 0.5);
	/* init(NULL) takes the defaults */
	setup_with(1, 0, NULL);
	ck_assert_uint_eq(svc.params.consecutive_failures, p.consecutive_failures);
	ck_assert_double_eq(svc.params.error_ratio, p.error_ratio);
	ck_assert_uint_eq(svc.params.eject_max_ms, p.eject_max_ms);
	ck_assert_double_eq(svc.params.max_ejection_share, p.max_ejection_share);
}
END_TEST

START_TEST(add_backend)
{
	struct vigil_endpoint ep = ep_of(0);

	setup(VIGIL_MAX_SVC_BACKENDS, 0);
	ck_assert_uint_eq(svc.n_backends, VIGIL_MAX_SVC_BACKENDS);
	ck_assert_int_eq(vigil_det_add_backend(&svc, &ep, 1, PRI, T0), -ENOSPC);
	ck_assert_int_eq(svc.backends[3].state, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(svc.backends[3].admin, VIGIL_ADMIN_NONE);
	ck_assert_uint_eq(svc.backends[3].since_ns, T0);
	ck_assert_uint_eq(svc.backends[3].weight, 40);
}
END_TEST

START_TEST(quiet_service_no_changes)
{
	setup(3, 1);
	for (size_t i = 0; i < 3; i++) {
		traffic(i, 100, 2, T0);
		latency(i, true, 1000, 50, T0);
	}
	ck_assert_uint_eq(eval(T0), 0);
	ck_assert_uint_eq(eval(T0 + 5 * SEC), 0);
}
END_TEST

/* Requests of backend idx unanswered past the stall limit and never
 * retransmitted (stalled), and past the stuck limit after a retransmission
 * (stuck: the network lost them). */
static void waiting(size_t idx, __u32 stalled, __u32 stuck, bool down, __u64 now)
{
	struct vigil_det_observation o;

	memset(&o, 0, sizeof(o));
	o.stalled_requests = stalled;
	o.stuck_requests = stuck;
	o.kernel_down = down;
	o.oldest_stuck_us = 600000;
	vigil_det_observe(&svc, idx, &o, now);
}

/* ---- hard failures ------------------------------------------------------------ */

START_TEST(fast_path)
{
	const struct vigil_det_change *c;

	setup(2, 0);
	hard(0, 2, true, 0, 0, 0, T0 + SEC);
	ck_assert_uint_eq(eval(T0 + SEC), 1);
	c = change_for(0);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->from, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->to, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(c->rule, VIGIL_RULE_FAST_PATH);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_ALL);
	ck_assert_uint_eq(c->evidence.failures, 2);
	ck_assert_uint_eq(c->evidence.threshold, 3);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(svc.backends[0].last_rule, VIGIL_RULE_FAST_PATH);
	ck_assert_uint_eq(svc.backends[0].ejections, 1);
	ck_assert_uint_eq(svc.backends[0].since_ns, T0 + SEC);
	ck_assert_uint_eq(svc.backends[0].eject_until_ns, T0 + SEC + 2 * SEC);
	ck_assert_uint_eq(svc.backends[0].last_evidence.failures, 2);
	ck_assert_uint_eq(eval(T0 + SEC), 0); /* reported once */
}
END_TEST

START_TEST(consecutive)
{
	const struct vigil_det_change *c;

	setup(2, 0);
	hard(0, 2, false, 0, 0, 0, T0);
	ck_assert_uint_eq(eval(T0), 0);
	hard(0, 3, false, 0, 0, 0, T0);
	ck_assert_uint_eq(eval(T0), 1);
	c = change_for(0);
	ck_assert_int_eq(c->rule, VIGIL_RULE_CONSECUTIVE);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_ALL);
	ck_assert_uint_eq(c->evidence.failures, 3);
	ck_assert_uint_eq(c->evidence.threshold, 3);
	ck_assert_uint_eq(c->evidence.limit_us, 0);
}
END_TEST

/* Stuck connects, stuck requests and the packet datapath's unacknowledged
 * requests (peers without samples): backend 0 has consecutive failures, and
 * connects and requests pending for latency_us. */
static const struct {
	__u32 consecutive, pending_connects, pending_requests, unacked, latency_us;
	enum vigil_rule rule;
	__u64 limit_us; /* the floor of the rule, without peers */
} stuck_cases[] = {
	{ 1, 2, 0, 0, 45000, VIGIL_RULE_STUCK_CONNECT, 30000 },
	{ 0, 0, 3, 0, 250000, VIGIL_RULE_STUCK_REQUEST, 100000 },
	/* unacknowledged: the same rule, judged by stuck_unacked_floor_ms */
	{ 0, 0, 0, 3, 70000, VIGIL_RULE_STUCK_REQUEST, 60000 },
	{ 1, 0, 0, 2, 70000, VIGIL_RULE_STUCK_REQUEST, 60000 },
	{ 0, 0, 1, 2, 250000, VIGIL_RULE_STUCK_REQUEST, 100000 },
};

START_TEST(stuck)
{
	const struct vigil_det_observation o = {
		.kernel_consecutive = stuck_cases[_i].consecutive,
		.stuck_connects = stuck_cases[_i].pending_connects,
		.stuck_requests = stuck_cases[_i].pending_requests,
		.unacked_requests = stuck_cases[_i].unacked,
		.oldest_stuck_us = stuck_cases[_i].latency_us,
	};
	const struct vigil_det_change *c;

	setup(2, 0);
	vigil_det_observe(&svc, 0, &o, T0);
	ck_assert_uint_eq(eval(T0), 1);
	c = change_for(0);
	ck_assert_int_eq(c->rule, stuck_cases[_i].rule);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_ALL);
	ck_assert_uint_eq(c->evidence.failures, 3);
	ck_assert_uint_eq(c->evidence.latency_us, stuck_cases[_i].latency_us);
	ck_assert_uint_eq(c->evidence.limit_us, stuck_cases[_i].limit_us);
}
END_TEST

START_TEST(stuck_connect_wins)
{
	setup(2, 0); /* peers without samples */
	hard(0, 0, false, 1, 2, 1000, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_STUCK_CONNECT);
	/* below the threshold nothing happens */
	setup(2, 0); /* peers without samples */
	hard(0, 1, false, 0, 1, 1000, T0);
	ck_assert_uint_eq(eval(T0), 0);
}
END_TEST

START_TEST(hard_on_backup)
{
	setup(1, 1);
	hard(1, 3, false, 0, 0, 0, T0);
	eval(T0);
	ck_assert_uint_eq(backend_changes(), 1);
	ck_assert_int_eq(change_for(1)->rule, VIGIL_RULE_CONSECUTIVE);
}
END_TEST

START_TEST(draining_still_judged)
{
	setup(2, 0);
	ck_assert(vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DRAINING, T0));
	eval(T0);
	hard(0, 3, true, 0, 0, 0, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_FAST_PATH);
}
END_TEST

START_TEST(disabled_not_judged)
{
	setup(2, 0);
	ck_assert(vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DISABLED, T0));
	eval(T0);
	traffic(0, 50, 50, T0);
	hard(0, 3, true, 0, 0, 0, T0);
	ck_assert_uint_eq(eval(T0), 0);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY);
}
END_TEST

/* ---- error ratio ---------------------------------------------------------------- */

START_TEST(error_ratio)
{
	const struct vigil_det_change *c;

	setup(3, 0);
	traffic(0, 20, 10, T0);
	traffic(1, 20, 0, T0);
	ck_assert_uint_eq(eval(T0), 1);
	c = change_for(0);
	ck_assert_int_eq(c->rule, VIGIL_RULE_ERROR_RATIO);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_NONE);
	ck_assert_uint_eq(c->evidence.requests, 20);
	ck_assert_uint_eq(c->evidence.errors, 10);
	ck_assert_uint_eq(c->evidence.threshold, 500);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_EJECTED);
}
END_TEST

START_TEST(error_ratio_one_of_two)
{
	setup(2, 0);
	traffic(0, 2, 1, T0); /* ratio 0.5 but only 2 attempts */
	ck_assert_uint_eq(eval(T0), 0);
	traffic(0, 2, 2, T0); /* 3 of 4 */
	ck_assert_uint_eq(eval(T0), 0);
}
END_TEST

START_TEST(error_ratio_below)
{
	setup(2, 0);
	traffic(0, 20, 9, T0);
	ck_assert_uint_eq(eval(T0), 0);
	traffic(0, 0, 1, T0); /* 10 of 20: reached */
	ck_assert_uint_eq(eval(T0), 1);
}
END_TEST

START_TEST(error_ratio_single_primary)
{
	setup(1, 1); /* share 0.5 of 1 primary: still 1 may go */
	traffic(0, 20, 20, T0);
	eval(T0);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ERROR_RATIO);
}
END_TEST

START_TEST(outliers_spare_backups)
{
	setup(1, 2);
	traffic(1, 40, 40, T0);
	latency(2, true, 1000, 30, T0);
	latency(1, true, 900000, 30, T0);
	ck_assert_uint_eq(eval(T0), 0);
}
END_TEST

/* ---- slow outlier --------------------------------------------------------------- */

START_TEST(slow_outlier)
{
	const struct vigil_det_change *c;

	setup(4, 0);
	for (size_t i = 0; i < 3; i++)
		latency(i, true, 1000, 30, T0); /* bucket [512, 1024): p99 1024 */
	latency(3, true, 100000, 30, T0);       /* bucket [65536, 131072): p99 131072 */
	ck_assert_uint_eq(eval(T0), 1);
	c = change_for(3);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->rule, VIGIL_RULE_SLOW);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_NONE);
	ck_assert_uint_eq(c->evidence.latency_us, 131072);
	ck_assert_uint_eq(c->evidence.peer_latency_us, 1024);
	ck_assert_uint_eq(c->evidence.limit_us, 50000); /* floor > 5 x 1024 */
	ck_assert_uint_eq(c->evidence.threshold, 5000);
	ck_assert_uint_eq(c->evidence.requests, 30);
}
END_TEST

/* A machine stall leaves a few very slow samples on a healthy backend: its
 * p99 jumps, its median does not, and it must stay in. */
START_TEST(slow_tail_only_is_not_ejected)
{
	setup(3, 0);
	latency(0, true, 1000, 970, T0);
	latency(0, true, 500000, 30, T0);   /* 3% stalled: p99 = 500 ms */
	latency(1, true, 1000, 1000, T0);
	latency(2, true, 1000, 1000, T0);
	ck_assert_uint_eq(eval(T0), 0);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY);
	/* the same backend slow on every request is ejected */
	latency(0, true, 500000, 2000, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_SLOW);
}
END_TEST

START_TEST(slow_connect_fallback)
{
	/* backend 2: too few request samples of its own, slow connects */
	setup(3, 0);
	latency(0, true, 1000, 30, T0);
	latency(1, true, 1000, 30, T0);
	latency(0, false, 1000, 30, T0);
	latency(1, false, 1000, 30, T0);
	latency(2, true, 1000, 5, T0);
	latency(2, false, 200000, 30, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(2)->rule, VIGIL_RULE_SLOW);
	ck_assert_uint_eq(change_for(2)->evidence.latency_us, 262144);
	ck_assert_uint_eq(change_for(2)->evidence.requests, 30);
}
END_TEST

/* Request latencies the slow rule leaves alone: backend b has samples[b]
 * samples of us[b] each. */
static const struct {
	const char *why;
	size_t backends;
	__u64 us[3], samples[3];
} slow_quiet[] = {
	{ "no peer", 1, { 500000 }, { 30 } },
	{ "peers below slow_min_samples do not count", 3, { 1000, 1000, 500000 }, { 19, 10, 30 } },
	{ "nor does a slow backend with too few samples of its own", 3, { 1000, 1000, 500000 },
	  { 30, 30, 19 } },
	{ "32x the peers but p99 32768 us < floor 50 ms", 3, { 1000, 1000, 20000 }, { 30, 30, 30 } },
	{ "above the floor but only 4x the peers (131072 vs 32768)", 3, { 20000, 20000, 100000 },
	  { 30, 30, 30 } },
};

START_TEST(slow_not_ejected)
{
	setup(slow_quiet[_i].backends, 0);
	for (size_t b = 0; b < slow_quiet[_i].backends; b++)
		latency(b, true, slow_quiet[_i].us[b], slow_quiet[_i].samples[b], T0);
	ck_assert_msg(eval(T0) == 0, "%s: a change", slow_quiet[_i].why);
}
END_TEST

START_TEST(uniform_spike)
{
	setup(4, 0);
	for (size_t i = 0; i < 4; i++) {
		traffic(i, 100, 0, T0);
		latency(i, true, 10000, 50, T0);
		latency(i, false, 3000, 50, T0);
	}
	ck_assert_uint_eq(eval(T0), 0);
	/* everything 10x slower at once, for a whole window */
	for (__u64 t = T0 + SEC; t <= T0 + 12 * SEC; t += SEC) {
		for (size_t i = 0; i < 4; i++) {
			traffic(i, 100, 0, t);
			latency(i, true, 100000 + 1000 * i, 50, t);
			latency(i, false, 30000, 50, t);
		}
		ck_assert_uint_eq(eval(t), 0);
	}
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(svc.backends[i].state, VIGIL_STATE_HEALTHY);
	/* and the stuck limits followed the peers: 4 x p99 of 500 samples in
	 * [65536, 131072) = 4 x (65536 + 65536 x 495 / 500) us */
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 521666560ULL);
}
END_TEST

/* ---- max ejection share ------------------------------------------------------------ */

START_TEST(share_limits_outliers)
{
	setup(4, 0);
	for (size_t i = 0; i < 4; i++)
		traffic(i, 20, 20, T0);
	ck_assert_uint_eq(eval(T0), 2); /* floor(0.5 x 4) */
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ERROR_RATIO);
	ck_assert_int_eq(change_for(1)->rule, VIGIL_RULE_ERROR_RATIO);
	ck_assert_int_eq(svc.backends[2].state, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(svc.backends[3].state, VIGIL_STATE_HEALTHY);
	ck_assert_uint_eq(eval(T0 + 100 * MS), 0);
	/* probing primaries still count against the share */
	eval(svc.backends[0].eject_until_ns);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	ck_assert_uint_eq(backend_changes(), 2); /* both expired, nobody ejected */
	ck_assert_int_eq(svc.backends[2].state, VIGIL_STATE_HEALTHY);
}
END_TEST

START_TEST(share_rounds_down)
{
	setup(3, 1); /* floor(0.5 x 3) = 1; backups do not count */
	for (size_t i = 0; i < 3; i++)
		traffic(i, 20, 20, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ERROR_RATIO);
	ck_assert_int_eq(svc.backends[1].state, VIGIL_STATE_HEALTHY);
}
END_TEST

START_TEST(share_counts_hard_ejections)
{
	setup(4, 0);
	eject_now(0, T0);
	eject_now(1, T0);
	traffic(2, 20, 20, T0);
	traffic(3, 20, 20, T0);
	ck_assert_uint_eq(eval(T0), 0);
}
END_TEST

START_TEST(share_at_least_one)
{
	struct vigil_det_params p;

	vigil_det_params_defaults(&p);
	p.max_ejection_share = 0.0;
	setup_with(2, 0, &p);
	traffic(0, 20, 20, T0);
	traffic(1, 20, 20, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ERROR_RATIO);
}
END_TEST

START_TEST(hard_ignores_share)
{
	const struct vigil_det_change *s;

	setup(4, 0);
	for (size_t i = 0; i < 4; i++)
		hard(i, 3, true, 0, 0, 0, T0);
	eval(T0);
	ck_assert_uint_eq(backend_changes(), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(svc.backends[i].state, VIGIL_STATE_EJECTED);
	s = change_for(-1);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->rule, VIGIL_RULE_FAIL_OPEN);
	ck_assert_ptr_eq(s, &ch[nch - 1]); /* service-level change comes last */
}
END_TEST

/* ---- ejection, probing, backoff ------------------------------------------------------- */

START_TEST(expiry_starts_probing)
{
	const struct vigil_det_change *c;

	setup(2, 0);
	eject_now(0, T0);
	ck_assert(!vigil_det_probe_due(&svc, 0, T0 + SEC)); /* EJECTED: no probes */
	ck_assert_uint_eq(eval(T0 + 2 * SEC - 1), 0);
	ck_assert_uint_eq(eval(T0 + 2 * SEC), 1);
	c = change_for(0);
	ck_assert_int_eq(c->from, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(c->to, VIGIL_STATE_PROBING);
	ck_assert_int_eq(c->rule, VIGIL_RULE_EJECT_EXPIRED);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_NONE);
	ck_assert_uint_eq(svc.backends[0].next_probe_ns, T0 + 2 * SEC);
	ck_assert_uint_eq(svc.backends[0].since_ns, T0 + 2 * SEC);
	ck_assert(vigil_det_probe_due(&svc, 0, T0 + 2 * SEC));
	ck_assert(!vigil_det_probe_due(&svc, 0, T0 + 2 * SEC + 199 * MS));
	ck_assert(vigil_det_probe_due(&svc, 0, T0 + 2 * SEC + 200 * MS));
	ck_assert(!vigil_det_probe_due(&svc, 1, T0 + 3 * SEC)); /* healthy */
}
END_TEST

START_TEST(probe_readmission)
{
	__u64 t = T0 + 2 * SEC;
	const struct vigil_det_change *c;

	setup(2, 0);
	traffic(0, 20, 20, T0);
	eval(T0);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ERROR_RATIO);
	eval(t);
	vigil_det_probe_result(&svc, 0, true, t);
	vigil_det_probe_result(&svc, 0, true, t + 200 * MS);
	ck_assert_uint_eq(svc.backends[0].probe_ok_streak, 2);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	ck_assert_uint_eq(eval(t + 300 * MS), 0);
	vigil_det_probe_result(&svc, 0, true, t + 400 * MS);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY); /* applied at once */
	ck_assert_uint_eq(svc.backends[0].since_ns, t + 400 * MS);
	ck_assert_uint_eq(eval(t + 500 * MS), 1);
	c = change_for(0);
	ck_assert_int_eq(c->from, VIGIL_STATE_PROBING);
	ck_assert_int_eq(c->to, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->rule, VIGIL_RULE_PROBE_OK);
	ck_assert_uint_eq(c->evidence.probes, 3);
	ck_assert_uint_eq(c->evidence.threshold, 3);
	ck_assert_uint_eq(eval(t + 600 * MS), 0); /* exactly once */
	/* window cleared: the old errors do not eject it again */
	ck_assert_uint_eq(svc.backends[0].window[0].errors + svc.backends[0].window[1].errors, 0);
	traffic(0, 1, 0, t + 700 * MS);
	ck_assert_uint_eq(eval(t + 700 * MS), 0);
	/* late probe results for a healthy backend are ignored */
	vigil_det_probe_result(&svc, 0, false, t + 800 * MS);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY);
	ck_assert_uint_eq(eval(t + 800 * MS), 0);
}
END_TEST

START_TEST(probe_failure_resets_streak)
{
	__u64 t = T0 + 2 * SEC, t2;
	const struct vigil_det_change *c;

	setup(2, 0);
	eject_now(0, T0);
	eval(t);
	vigil_det_probe_result(&svc, 0, true, t);
	vigil_det_probe_result(&svc, 0, true, t + 200 * MS);
	vigil_det_probe_result(&svc, 0, false, t + 400 * MS);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_EJECTED);
	ck_assert_uint_eq(svc.backends[0].probe_ok_streak, 0);
	ck_assert_uint_eq(svc.backends[0].ejections, 2);
	ck_assert_uint_eq(eval(t + 400 * MS), 1);
	c = change_for(0);
	ck_assert_int_eq(c->from, VIGIL_STATE_PROBING);
	ck_assert_int_eq(c->to, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(c->rule, VIGIL_RULE_PROBE_FAILED);
	ck_assert_uint_eq(c->evidence.probes, 2);
	ck_assert_uint_eq(eval(t + 500 * MS), 0);
	/* after the second ejection: 3 new successes are needed, not 1 */
	t2 = svc.backends[0].eject_until_ns;
	ck_assert_uint_eq(t2, t + 400 * MS + 4 * SEC);
	eval(t2);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	vigil_det_probe_result(&svc, 0, true, t2);
	vigil_det_probe_result(&svc, 0, true, t2 + 200 * MS);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	vigil_det_probe_result(&svc, 0, true, t2 + 400 * MS);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY);
}
END_TEST

START_TEST(backoff_grows)
{
	__u64 first, second, third, t;

	setup(2, 0);
	eject_now(0, T0);
	first = svc.backends[0].eject_until_ns - svc.backends[0].since_ns;
	t = svc.backends[0].eject_until_ns;
	eval(t);
	vigil_det_probe_result(&svc, 0, false, t);
	second = svc.backends[0].eject_until_ns - svc.backends[0].since_ns;
	t = svc.backends[0].eject_until_ns;
	eval(t);
	vigil_det_probe_result(&svc, 0, false, t);
	third = svc.backends[0].eject_until_ns - svc.backends[0].since_ns;
	ck_assert_uint_eq(first, 2 * SEC);
	ck_assert_uint_eq(second, 4 * SEC);
	ck_assert_uint_eq(third, 6 * SEC);
	ck_assert_uint_gt(second, first);
}
END_TEST

START_TEST(backoff_capped)
{
	struct vigil_det_params p;
	__u64 t;

	vigil_det_params_defaults(&p);
	p.eject_max_ms = 5000;
	setup_with(2, 0, &p);
	eject_now(0, T0);
	for (int i = 0; i < 4; i++) {
		t = svc.backends[0].eject_until_ns;
		eval(t);
		vigil_det_probe_result(&svc, 0, false, t);
	}
	ck_assert_uint_eq(svc.backends[0].ejections, 5);
	ck_assert_uint_eq(svc.backends[0].eject_until_ns - svc.backends[0].since_ns, 5 * SEC);
}
END_TEST

START_TEST(ejections_decay)
{
	__u64 r;

	setup(2, 0);
	eject_now(0, T0);
	r = readmit(0);
	ck_assert_uint_eq(svc.backends[0].ejections, 1);
	ck_assert_uint_eq(eval(r + 60 * SEC), 0);
	ck_assert_uint_eq(svc.backends[0].ejections, 1); /* not longer than eject_max yet */
	ck_assert_uint_eq(eval(r + 60 * SEC + 1), 0);
	ck_assert_uint_eq(svc.backends[0].ejections, 0);
	eject_now(0, r + 61 * SEC);
	ck_assert_uint_eq(svc.backends[0].eject_until_ns - svc.backends[0].since_ns, 2 * SEC);
}
END_TEST

START_TEST(no_decay_when_flapping)
{
	__u64 r;

	setup(2, 0);
	eject_now(0, T0);
	r = readmit(0);
	eject_now(0, r + 10 * SEC);
	ck_assert_uint_eq(svc.backends[0].ejections, 2);
	ck_assert_uint_eq(svc.backends[0].eject_until_ns - svc.backends[0].since_ns, 4 * SEC);
}
END_TEST

/* ---- service level: backups and fail-open -------------------------------------------------- */

START_TEST(backup_promotion)
{
	struct vigil_backend_set set;
	const struct vigil_det_change *s;
	struct vigil_endpoint ep2 = ep_of(2), ep0 = ep_of(0);

	setup(2, 1);
	hard(0, 3, true, 0, 0, 0, T0);
	hard(1, 3, true, 0, 0, 0, T0);
	eval(T0);
	ck_assert_uint_eq(nch, 3);
	s = change_for(-1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->set_flags_from, 0);
	ck_assert_uint_eq(s->set_flags_to, VIGIL_SET_BACKUPS);
	ck_assert_int_eq(s->rule, VIGIL_RULE_BACKUPS);
	ck_assert_uint_eq(s->evidence.failures, 2);
	ck_assert_uint_eq(s->evidence.threshold, 2);
	ck_assert_uint_eq(svc.set_flags, VIGIL_SET_BACKUPS);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, VIGIL_SET_BACKUPS);
	ck_assert_uint_eq(set.count, 1);
	ck_assert_mem_eq(&set.entries[0].backend, &ep2, sizeof(ep2));
	ck_assert_uint_eq(set.total_weight, 30);
	ck_assert_uint_eq(eval(T0 + 1), 0); /* once */
	/* primary 0 comes back */
	readmit(0);
	s = change_for(-1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->set_flags_from, VIGIL_SET_BACKUPS);
	ck_assert_uint_eq(s->set_flags_to, 0);
	ck_assert_int_eq(s->rule, VIGIL_RULE_PRIMARIES);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_PROBE_OK);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, 0);
	ck_assert_uint_eq(set.n_preferred, 1);
	ck_assert_uint_eq(set.count, 2); /* the healthy backup is the fallback tier */
	ck_assert_mem_eq(&set.entries[0].backend, &ep0, sizeof(ep0));
}
END_TEST

START_TEST(fail_open)
{
	struct vigil_backend_set set;
	const struct vigil_det_change *s;

	setup(1, 1);
	hard(0, 3, true, 0, 0, 0, T0);
	hard(1, 3, true, 0, 0, 0, T0);
	eval(T0);
	s = change_for(-1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->set_flags_from, 0);
	ck_assert_uint_eq(s->set_flags_to, VIGIL_SET_FAIL_OPEN);
	ck_assert_int_eq(s->rule, VIGIL_RULE_FAIL_OPEN);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, VIGIL_SET_FAIL_OPEN);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_uint_eq(set.total_weight, 30);
	/* DISABLED stays out even when failing open; DRAINING does not */
	vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DISABLED, T0);
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DRAINING, T0);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, VIGIL_SET_FAIL_OPEN);
	ck_assert_uint_eq(set.count, 1);
	ck_assert_uint_eq(set.total_weight, 10);
	ck_assert_uint_eq(eval(T0 + 1), 2); /* the two ADMIN changes, no service change */
	ck_assert_ptr_null(change_for(-1));
}
END_TEST

START_TEST(fail_open_from_backups)
{
	const struct vigil_det_change *s;

	setup(1, 1);
	eject_now(0, T0);
	ck_assert_int_eq(change_for(-1)->rule, VIGIL_RULE_BACKUPS);
	eject_now(1, T0 + SEC);
	s = change_for(-1);
	ck_assert_uint_eq(s->set_flags_from, VIGIL_SET_BACKUPS);
	ck_assert_uint_eq(s->set_flags_to, VIGIL_SET_FAIL_OPEN);
	ck_assert_int_eq(s->rule, VIGIL_RULE_FAIL_OPEN);
}
END_TEST

/* ---- admin ------------------------------------------------------------------------------ */

START_TEST(admin_draining_excluded)
{
	struct vigil_backend_set set;
	const struct vigil_det_change *c;

	setup(3, 0);
	ck_assert(vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DRAINING, T0 + SEC));
	ck_assert(!vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DRAINING, T0 + SEC));
	ck_assert(!vigil_det_set_admin(&svc, 7, VIGIL_ADMIN_DRAINING, T0 + SEC));
	ck_assert_int_eq(svc.backends[1].admin, VIGIL_ADMIN_DRAINING);
	ck_assert_uint_eq(svc.backends[1].since_ns, T0 + SEC);
	ck_assert_uint_eq(eval(T0 + SEC), 1);
	c = change_for(1);
	ck_assert_int_eq(c->rule, VIGIL_RULE_ADMIN);
	ck_assert_int_eq(c->from, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->to, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->admin_from, VIGIL_ADMIN_NONE); /* logged as admin none -> draining */
	ck_assert_int_eq(c->admin_to, VIGIL_ADMIN_DRAINING);
	ck_assert_uint_eq(eval(T0 + SEC), 0);
	/* two changes before an evaluation: one record from the first state */
	ck_assert(vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DISABLED, T0 + SEC));
	ck_assert(vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_NONE, T0 + SEC));
	ck_assert_uint_eq(eval(T0 + SEC), 1);
	c = change_for(1);
	ck_assert_int_eq(c->admin_from, VIGIL_ADMIN_DRAINING);
	ck_assert_int_eq(c->admin_to, VIGIL_ADMIN_NONE);
	ck_assert(vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DRAINING, T0 + SEC));
	ck_assert_uint_eq(eval(T0 + SEC), 1);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_uint_eq(set.total_weight, 10 + 30);
	ck_assert_uint_eq(set.entries[0].weight, 10);
	ck_assert_uint_eq(set.entries[1].weight, 30);
}
END_TEST

START_TEST(admin_all_primaries_out)
{
	struct vigil_backend_set set;

	setup(2, 1);
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DRAINING, T0);
	vigil_det_set_admin(&svc, 1, VIGIL_ADMIN_DISABLED, T0);
	eval(T0);
	ck_assert_uint_eq(backend_changes(), 2);
	ck_assert_int_eq(change_for(-1)->rule, VIGIL_RULE_BACKUPS);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, VIGIL_SET_BACKUPS);
	ck_assert_uint_eq(set.count, 1);
	ck_assert_uint_eq(set.entries[0].weight, 30);
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_NONE, T0 + SEC);
	eval(T0 + SEC);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ADMIN);
	ck_assert_int_eq(change_for(-1)->rule, VIGIL_RULE_PRIMARIES);
}
END_TEST

START_TEST(disabled_not_probed)
{
	__u64 until;

	setup(2, 0);
	eject_now(0, T0);
	until = svc.backends[0].eject_until_ns;
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DISABLED, T0 + SEC);
	ck_assert_uint_eq(eval(until + SEC), 1); /* only the ADMIN change */
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_ADMIN);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_EJECTED);
	ck_assert(!vigil_det_probe_due(&svc, 0, until + SEC));
	/* enabled again: the expired ejection turns into probing */
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_NONE, until + 2 * SEC);
	ck_assert_uint_eq(eval(until + 2 * SEC), 2);
	ck_assert_int_eq(ch[0].rule, VIGIL_RULE_ADMIN);
	ck_assert_int_eq(ch[1].rule, VIGIL_RULE_EJECT_EXPIRED);
	/* disabled while probing: no probes, results ignored */
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DISABLED, until + 3 * SEC);
	ck_assert(!vigil_det_probe_due(&svc, 0, until + 3 * SEC));
	for (int i = 0; i < 5; i++)
		vigil_det_probe_result(&svc, 0, true, until + 3 * SEC);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	ck_assert_uint_eq(svc.backends[0].probe_ok_streak, 0);
}
END_TEST

/* ---- selection ---------------------------------------------------------------------------- */

START_TEST(select_weights)
{
	struct vigil_backend_set set;

	setup(3, 1);
	memset(&set, 0xab, sizeof(set));
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.flags, 0);
	ck_assert_uint_eq(set.n_preferred, 3);
	ck_assert_uint_eq(set.count, 4); /* primaries, then the backup as fallback */
	ck_assert_uint_eq(set.total_weight, 60);
	ck_assert_uint_eq(set.service_id, 0);
	ck_assert_uint_eq(set.version, 0);
	for (size_t i = 0; i < 3; i++) {
		struct vigil_endpoint ep = ep_of(i);

		ck_assert_mem_eq(&set.entries[i].backend, &ep, sizeof(ep));
		ck_assert_uint_eq(set.entries[i].weight, 10 * (i + 1));
	}
	ck_assert_uint_eq(set.entries[3].weight, 40);
	ck_assert_uint_eq(set.entries[4].weight, 0);
	/* the fallback tier is in the set but does not serve */
	{
		struct vigil_endpoint primary = ep_of(0), backup = ep_of(3);

		ck_assert(vigil_set_serves(&set, &primary));
		ck_assert(!vigil_set_serves(&set, &backup));
	}
	/* an ejected primary leaves the set */
	eject_now(1, T0);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.n_preferred, 2);
	ck_assert_uint_eq(set.count, 3);
	ck_assert_uint_eq(set.total_weight, 40);
}
END_TEST

START_TEST(select_max_set)
{
	struct vigil_backend_set set;
	__u32 want = 0;

	setup(VIGIL_MAX_SET + 8, 0);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.count, VIGIL_MAX_SET);
	for (__u32 i = 0; i < VIGIL_MAX_SET; i++)
		want += 10 * (i + 1);
	ck_assert_uint_eq(set.total_weight, want);
}
END_TEST

/* ---- stuck limits --------------------------------------------------------------------------- */

START_TEST(stuck_limits_floor)
{
	setup(1, 0);
	latency(0, true, 900000, 50, T0); /* its own latency does not count */
	ck_assert_uint_eq(vigil_det_stuck_connect_limit_ns(&svc, 0), 30 * MS);
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 100 * MS);
	ck_assert_uint_eq(vigil_det_unacked_limit_ns(&svc, 0), 60 * MS);
	ck_assert_uint_eq(vigil_det_stall_limit_ns(&svc, 0), 250 * MS);
	/* peers without samples: floor */
	setup(3, 0);
	ck_assert_uint_eq(vigil_det_stuck_connect_limit_ns(&svc, 0), 30 * MS);
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 100 * MS);
	/* peers faster than floor / factor: floor */
	latency(1, false, 1000, 10, T0);
	latency(2, true, 1000, 10, T0);
	ck_assert_uint_eq(vigil_det_stuck_connect_limit_ns(&svc, 0), 30 * MS);
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 100 * MS);
}
END_TEST

START_TEST(stuck_limits_from_peers)
{
	setup(4, 0);
	latency(0, true, 900000, 50, T0);
	latency(1, true, 50000, 5, T0);   /* p99 65536 */
	latency(2, true, 100000, 5, T0);  /* p99 131072 */
	latency(1, false, 10000, 5, T0);  /* p99 16384 */
	/* request: 4 x median(65536, 131072) = 4 x 98304 us */
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 4ULL * 98304 * 1000);
	ck_assert_uint_eq(vigil_det_stall_limit_ns(&svc, 0), 4ULL * 98304 * 1000);
	/* connect: one peer with samples, 4 x 16384 us */
	ck_assert_uint_eq(vigil_det_stuck_connect_limit_ns(&svc, 0), 4ULL * 16384 * 1000);
	/* the packet datapath's unacknowledged data: the same peers' connects */
	ck_assert_uint_eq(vigil_det_unacked_limit_ns(&svc, 0), 4ULL * 16384 * 1000);
	/* an unhealthy peer does not count */
	eject_now(2, T0);
	ck_assert_uint_eq(vigil_det_stuck_request_limit_ns(&svc, 0), 4ULL * 65536 * 1000);
	/* used as evidence of a stuck ejection */
	hard(0, 0, false, 0, 3, 400000, T0);
	eval(T0);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_STUCK_REQUEST);
	ck_assert_uint_eq(change_for(0)->evidence.latency_us, 400000);
	ck_assert_uint_eq(change_for(0)->evidence.limit_us, 4 * 65536);
}
END_TEST

/* ---- a stall is not a death ------------------------------------------------------ */

static struct vigil_desired want;

/* The change of backend idx in the last evaluation, with this rule and
 * tear-down. */
static const struct vigil_det_change *expect_change(int idx, enum vigil_rule rule,
						    enum vigil_teardown_kind teardown)
{
	const struct vigil_det_change *c = change_for(idx);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->rule, rule);
	ck_assert_int_eq(c->teardown, teardown);
	return c;
}

/* The packet-datapath flow policy of backend idx after vigil_det_decide. */
static __u32 decide_flags(size_t idx, __u64 now)
{
	vigil_det_decide(&svc, now, &want);
	nch = want.n_changes;
	memcpy(ch, want.changes, nch * sizeof(ch[0]));
	return want.backends[idx].pkt_flags;
}

/* Requests acknowledged by the backend's kernel but unanswered: ejected for
 * new connections; only connections the network did not acknowledge are
 * destroyed (normally none), and the packet datapath keeps its flows. */
START_TEST(stalled_ejects_keeps_connections)
{
	const struct vigil_det_change *c;

	setup(2, 0);
	waiting(0, 3, 0, false, T0);
	ck_assert_uint_eq(decide_flags(0, T0), 0);
	ck_assert_uint_eq(nch, 1);
	c = expect_change(0, VIGIL_RULE_STALLED, VIGIL_TEARDOWN_UNACKED);
	ck_assert_int_eq(c->to, VIGIL_STATE_EJECTED);
	ck_assert_uint_eq(c->evidence.failures, 3);
	ck_assert_uint_eq(c->evidence.threshold, 3);
	ck_assert_uint_eq(c->evidence.latency_us, 600000);
	ck_assert_uint_eq(c->evidence.limit_us, 250000);
	ck_assert(!svc.backends[0].hard_ejected);
	ck_assert(!vigil_set_serves(&want.set, &svc.backends[0].ep));
}
END_TEST

/* Requests retransmitted without an acknowledgement: dead, every connection
 * goes and the packet datapath moves its flows. */
START_TEST(unacked_requests_tear_down)
{
	const struct vigil_det_change *c;

	setup(2, 0);
	waiting(0, 0, 3, false, T0);
	ck_assert_uint_eq(decide_flags(0, T0), VIGIL_XB_RESELECT);
	c = expect_change(0, VIGIL_RULE_STUCK_REQUEST, VIGIL_TEARDOWN_ALL);
	ck_assert_uint_eq(c->evidence.limit_us, 100000);
	ck_assert(svc.backends[0].hard_ejected);
}
END_TEST

/* Evidence short of the threshold on either side, and mixed evidence: some
 * requests lost, the rest only stalled, is a stall (only the lost ones'
 * connections are destroyed). */
static const struct {
	__u32 consecutive, stalled, stuck;
	enum vigil_rule rule;
	enum vigil_teardown_kind teardown;
} stall_mix[] = {
	{ 0, 2, 0, VIGIL_RULE_NONE, VIGIL_TEARDOWN_NONE },
	{ 0, 0, 2, VIGIL_RULE_NONE, VIGIL_TEARDOWN_NONE },
	{ 0, 2, 1, VIGIL_RULE_STALLED, VIGIL_TEARDOWN_UNACKED },
	{ 1, 2, 0, VIGIL_RULE_STALLED, VIGIL_TEARDOWN_UNACKED },
	{ 1, 5, 2, VIGIL_RULE_STUCK_REQUEST, VIGIL_TEARDOWN_ALL },
};

START_TEST(stall_mixed_evidence)
{
	struct vigil_det_observation o;

	setup(2, 0);
	memset(&o, 0, sizeof(o));
	o.kernel_consecutive = stall_mix[_i].consecutive;
	o.stalled_requests = stall_mix[_i].stalled;
	o.stuck_requests = stall_mix[_i].stuck;
	vigil_det_observe(&svc, 0, &o, T0);
	eval(T0);
	if (stall_mix[_i].rule == VIGIL_RULE_NONE) {
		ck_assert_uint_eq(nch, 0);
		return;
	}
	ck_assert_uint_eq(nch, 1);
	expect_change(0, stall_mix[_i].rule, stall_mix[_i].teardown);
}
END_TEST

/* Ejected for a stall, then its connections show it is dead (a path whose
 * retransmission timeout exceeds the stall limit, or a stopped host that
 * then lost power): the spared connections are torn down, once. */
START_TEST(stall_escalates_to_teardown)
{
	const struct vigil_det_observation unacked = { .unacked_requests = 3,
						       .oldest_stuck_us = 70000 };
	const struct vigil_det_change *c;

	setup(2, 0);
	waiting(0, 3, 0, false, T0);
	ck_assert_uint_eq(decide_flags(0, T0), 0);
	waiting(0, 3, 0, false, T0 + 20 * MS); /* still stalled: nothing new */
	ck_assert_uint_eq(eval(T0 + 20 * MS), 0);
	waiting(0, 0, 3, false, T0 + 40 * MS);
	ck_assert_uint_eq(decide_flags(0, T0 + 40 * MS), VIGIL_XB_RESELECT);
	ck_assert_uint_eq(nch, 1);
	c = expect_change(0, VIGIL_RULE_STUCK_REQUEST, VIGIL_TEARDOWN_ALL);
	ck_assert_int_eq(c->from, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(c->to, VIGIL_STATE_EJECTED);
	ck_assert_uint_eq(svc.backends[0].ejections, 1); /* not ejected twice */
	ck_assert_uint_eq(svc.backends[0].since_ns, T0);
	ck_assert_uint_eq(eval(T0 + 60 * MS), 0); /* reported once */
	/* on the packet datapath: its requests' data then goes unacknowledged */
	setup(2, 0);
	waiting(0, 3, 0, false, T0);
	ck_assert_uint_eq(decide_flags(0, T0), 0);
	vigil_det_observe(&svc, 0, &unacked, T0 + 20 * MS);
	ck_assert_uint_eq(decide_flags(0, T0 + 20 * MS), VIGIL_XB_RESELECT);
	c = expect_change(0, VIGIL_RULE_STUCK_REQUEST, VIGIL_TEARDOWN_ALL);
	ck_assert_uint_eq(c->evidence.limit_us, 60000);
	/* the kernel fast path is such evidence too, while probing as well */
	setup(2, 0);
	waiting(0, 3, 0, false, T0);
	eval(T0);
	ck_assert_uint_eq(eval(T0 + 2 * SEC), 1); /* probing */
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_PROBING);
	waiting(0, 0, 0, true, T0 + 2 * SEC);
	ck_assert_uint_eq(eval(T0 + 2 * SEC), 1);
	expect_change(0, VIGIL_RULE_FAST_PATH, VIGIL_TEARDOWN_ALL);
}
END_TEST

/* Nothing to escalate: ejected as an outlier, or already torn down. */
START_TEST(no_escalation_otherwise)
{
	setup(3, 0);
	traffic(0, 20, 10, T0);
	ck_assert_uint_eq(eval(T0), 1); /* error_ratio */
	waiting(0, 0, 3, false, T0);
	ck_assert_uint_eq(eval(T0), 0);
	setup(2, 0);
	waiting(0, 0, 3, false, T0);
	ck_assert_uint_eq(eval(T0), 1);
	ck_assert_uint_eq(eval(T0 + 20 * MS), 0);
}
END_TEST

/* ---- window ------------------------------------------------------------------------------ */

START_TEST(window_forgets)
{
	setup(2, 0);
	traffic(0, 20, 20, T0);
	ck_assert_uint_eq(eval(T0 + 10 * SEC), 0); /* a whole window later */
	setup(2, 0);
	traffic(0, 20, 20, T0);
	ck_assert_uint_eq(eval(T0 + 9 * SEC), 1); /* still inside */
}
END_TEST

START_TEST(window_slot_reuse)
{
	setup(2, 0);
	traffic(0, 20, 20, T0);
	/* same slot position one window later: reset, not added to */
	traffic(0, 20, 0, T0 + 10 * SEC);
	ck_assert_uint_eq(eval(T0 + 10 * SEC), 0);
	ck_assert_uint_eq(svc.backends[0].window[(T0 / SEC) % VIGIL_DET_WINDOW_SLOTS].errors, 0);
}
END_TEST

START_TEST(window_spans_slots)
{
	setup(2, 0);
	traffic(0, 10, 10, T0);
	traffic(0, 5, 0, T0 + 3 * SEC);
	ck_assert_uint_eq(eval(T0 + 3 * SEC), 0); /* 15 attempts */
	traffic(0, 5, 0, T0 + 5 * SEC);
	ck_assert_uint_eq(eval(T0 + 5 * SEC), 1); /* 10 of 20 */
	ck_assert_uint_eq(change_for(0)->evidence.requests, 20);
	ck_assert_uint_eq(change_for(0)->evidence.errors, 10);
}
END_TEST

START_TEST(slow_window_expiry)
{
	setup(3, 0);
	latency(0, true, 1000, 30, T0);
	latency(1, true, 1000, 30, T0);
	latency(2, true, 500000, 30, T0);
	/* the peers' samples have aged out when the slow one's are new */
	latency(0, true, 1000, 30, T0 + 10 * SEC);
	latency(2, true, 500000, 30, T0 + 10 * SEC);
	latency(1, true, 1000, 5, T0 + 10 * SEC);
	ck_assert_uint_eq(eval(T0 + 10 * SEC), 1); /* peer 0 still has 30 samples */
	setup(3, 0);
	latency(0, true, 1000, 30, T0);
	latency(1, true, 1000, 30, T0);
	latency(2, true, 500000, 30, T0 + 10 * SEC);
	ck_assert_uint_eq(eval(T0 + 10 * SEC), 0); /* no peer left in the window */
}
END_TEST

/* ---- evaluate() output limit ----------------------------------------------------------------- */

START_TEST(evaluate_max)
{
	struct vigil_det_change one[1];

	setup(3, 0);
	for (size_t i = 0; i < 3; i++)
		hard(i, 3, true, 0, 0, 0, T0);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, one, 0), 0);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, NULL, 5), 0);
	ck_assert_int_eq(svc.backends[0].state, VIGIL_STATE_HEALTHY);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, one, 1), 1);
	ck_assert_int_eq(one[0].backend_index, 0);
	ck_assert_int_eq(svc.backends[1].state, VIGIL_STATE_HEALTHY);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, one, 1), 1);
	ck_assert_int_eq(one[0].backend_index, 1);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, one, 1), 1);
	ck_assert_int_eq(one[0].backend_index, 2);
	/* the service-level change was not lost either */
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0, one, 1), 1);
	ck_assert_int_eq(one[0].backend_index, -1);
	ck_assert_int_eq(one[0].rule, VIGIL_RULE_FAIL_OPEN);
	ck_assert_uint_eq(eval(T0), 0);
}
END_TEST

START_TEST(pending_kept_when_full)
{
	struct vigil_det_change one[1];

	setup(2, 0);
	eject_now(0, T0);
	eval(T0 + 2 * SEC);
	vigil_det_probe_result(&svc, 0, false, T0 + 2 * SEC);
	vigil_det_set_admin(&svc, 0, VIGIL_ADMIN_DRAINING, T0 + 2 * SEC);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0 + 2 * SEC, one, 0), 0);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0 + 2 * SEC, one, 1), 1);
	ck_assert_int_eq(one[0].rule, VIGIL_RULE_PROBE_FAILED);
	ck_assert_uint_eq(vigil_det_evaluate(&svc, T0 + 2 * SEC, one, 1), 1);
	ck_assert_int_eq(one[0].rule, VIGIL_RULE_ADMIN);
	ck_assert_uint_eq(eval(T0 + 2 * SEC), 0);
}
END_TEST

/* Only the part of a stall inside the socket's wait counts, whichever side
 * it overhangs; several stalls add up. */
START_TEST(stalled_overlap)
{
	const struct vigil_det_stall st[] = { { 100, 200 }, { 300, 350 }, { 900, 1000 } };

	ck_assert_uint_eq(vigil_det_stalled_ns(st, 3, 0, 1000), 100 + 50 + 100);
	ck_assert_uint_eq(vigil_det_stalled_ns(st, 3, 150, 320), 50 + 20);
	ck_assert_uint_eq(vigil_det_stalled_ns(st, 3, 400, 900), 0);
	ck_assert_uint_eq(vigil_det_stalled_ns(st, 3, 950, 960), 10);
	ck_assert_uint_eq(vigil_det_stalled_ns(st, 0, 0, 1000), 0);
	ck_assert_uint_eq(vigil_det_stalled_ns(st, 3, 500, 400), 0); /* empty span */
}
END_TEST

/* ---- verdicts of other nodes (detector_remote.c) ------------------------------ */

/* Another node's hard verdict: out of the set at once and probed at once; one
 * probe success brings the backend back, with no ejection counted. */
START_TEST(remote_hard_one_probe_readmits)
{
	struct vigil_backend_set set;
	const struct vigil_det_change *c;

	setup(3, 0);
	ck_assert(vigil_det_remote_hard(&svc, 1, 1, T0));
	eval(T0);
	c = change_for(1);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->from, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->to, VIGIL_STATE_PROBING);
	ck_assert_int_eq(c->rule, VIGIL_RULE_REMOTE_HARD);
	ck_assert_int_eq(c->teardown, VIGIL_TEARDOWN_NONE); /* the other node's evidence: connections stay */
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.count, 2);
	ck_assert(vigil_det_probe_due(&svc, 1, T0)); /* at once, not after eject_base_ms */
	vigil_det_probe_result(&svc, 1, true, T0 + MS);
	eval(T0 + MS);
	c = change_for(1);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->to, VIGIL_STATE_HEALTHY);
	ck_assert_int_eq(c->rule, VIGIL_RULE_PROBE_OK);
	ck_assert_uint_eq(svc.backends[1].ejections, 0);
	vigil_det_select(&svc, &set);
	ck_assert_uint_eq(set.count, 3);
}
END_TEST

/* ... and a failed probe confirms it: ejected with backoff, like a local verdict. */
START_TEST(remote_hard_failed_probe_ejects)
{
	setup(3, 0);
	ck_assert(vigil_det_remote_hard(&svc, 0, 2, T0));
	eval(T0);
	ck_assert(vigil_det_probe_due(&svc, 0, T0));
	vigil_det_probe_result(&svc, 0, false, T0 + MS);
	eval(T0 + MS);
	ck_assert_ptr_nonnull(change_for(0));
	ck_assert_int_eq(change_for(0)->to, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_PROBE_FAILED);
	ck_assert_uint_eq(svc.backends[0].ejections, 1);
	/* the usual re-admission afterwards: probe_successes probes */
	ck_assert(!svc.backends[0].remote_check);
}
END_TEST

/* Only a HEALTHY, not disabled backend reacts; an ejected one stays as it is. */
START_TEST(remote_hard_ignored_unless_healthy)
{
	setup(3, 0);
	ck_assert(vigil_det_set_admin(&svc, 2, VIGIL_ADMIN_DISABLED, T0));
	ck_assert(!vigil_det_remote_hard(&svc, 2, 1, T0));
	ck_assert(vigil_det_remote_hard(&svc, 0, 1, T0));
	ck_assert(!vigil_det_remote_hard(&svc, 0, 1, T0 + MS)); /* already probing */
	ck_assert(!vigil_det_remote_hard(&svc, 7, 1, T0));      /* no such backend */
}
END_TEST

/* Outlier verdicts count only with a quorum of the live nodes. */
START_TEST(remote_outlier_needs_quorum)
{
	setup(4, 0);
	ck_assert(!vigil_det_remote_outlier(&svc, 0, 1, 3, 0.5, T0)); /* 1 of 3 < 0.5 */
	ck_assert(vigil_det_remote_outlier(&svc, 0, 2, 3, 0.5, T0));  /* 2 of 3 */
	eval(T0);
	ck_assert_ptr_nonnull(change_for(0));
	ck_assert_int_eq(change_for(0)->to, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(change_for(0)->rule, VIGIL_RULE_REMOTE_OUTLIER);
	ck_assert_uint_eq(change_for(0)->evidence.failures, 2);
	ck_assert_uint_eq(change_for(0)->evidence.threshold, 3);
	ck_assert(!vigil_det_remote_outlier(&svc, 1, 0, 0, 0.5, T0)); /* no live nodes */
}
END_TEST

/* ... and never take out more than max_ejection_share of the primaries, nor a backup. */
START_TEST(remote_outlier_share_and_backups)
{
	setup(2, 1);
	ck_assert(vigil_det_remote_outlier(&svc, 0, 3, 3, 0.5, T0));
	ck_assert(!vigil_det_remote_outlier(&svc, 1, 3, 3, 0.5, T0)); /* share 0.5 of 2 used */
	ck_assert(!vigil_det_remote_outlier(&svc, 2, 3, 3, 0.5, T0)); /* a backup */
}
END_TEST

Suite *detector_suite(void)
{
	Suite *s = suite_create("detector");

	UNIT_TCASE(s, "setup", { names }, { defaults }, { add_backend },
		   { quiet_service_no_changes });
	UNIT_TCASE(s, "hard_failures", { fast_path }, { consecutive },
		   { stuck, N(stuck_cases) }, { stuck_connect_wins }, { hard_on_backup },
		   { draining_still_judged }, { disabled_not_judged });
	UNIT_TCASE(s, "error_ratio", { error_ratio }, { error_ratio_one_of_two },
		   { error_ratio_below }, { error_ratio_single_primary },
		   { outliers_spare_backups });
	UNIT_TCASE(s, "slow", { slow_outlier }, { slow_tail_only_is_not_ejected },
		   { slow_connect_fallback }, { slow_not_ejected, N(slow_quiet) },
		   { uniform_spike });
	UNIT_TCASE(s, "ejection_share", { share_limits_outliers }, { share_rounds_down },
		   { share_counts_hard_ejections }, { share_at_least_one },
		   { hard_ignores_share });
	UNIT_TCASE(s, "probing_backoff", { expiry_starts_probing }, { probe_readmission },
		   { probe_failure_resets_streak }, { backoff_grows }, { backoff_capped },
		   { ejections_decay }, { no_decay_when_flapping });
	UNIT_TCASE(s, "service_level", { backup_promotion }, { fail_open },
		   { fail_open_from_backups });
	UNIT_TCASE(s, "admin", { admin_draining_excluded }, { admin_all_primaries_out },
		   { disabled_not_probed });
	UNIT_TCASE(s, "select", { select_weights }, { select_max_set });
	UNIT_TCASE(s, "stuck_limits", { stuck_limits_floor }, { stuck_limits_from_peers });
	UNIT_TCASE(s, "stalls", { stalled_overlap });
	UNIT_TCASE(s, "stall_not_death", { stalled_ejects_keeps_connections },
		   { unacked_requests_tear_down }, { stall_mixed_evidence, N(stall_mix) },
		   { stall_escalates_to_teardown }, { no_escalation_otherwise });
	UNIT_TCASE(s, "window", { window_forgets }, { window_slot_reuse },
		   { window_spans_slots }, { slow_window_expiry });
	UNIT_TCASE(s, "evaluate_output", { evaluate_max }, { pending_kept_when_full });
	UNIT_TCASE(s, "remote_verdicts", { remote_hard_one_probe_readmits },
		   { remote_hard_failed_probe_ejects }, { remote_hard_ignored_unless_healthy },
		   { remote_outlier_needs_quorum }, { remote_outlier_share_and_backups });
	return s;
}
