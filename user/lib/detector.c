/* SPDX-License-Identifier: MIT */
/*
 * Failure detector: sliding window, peers and stuck limits, probes and admin
 * state, set selection, names (the rules are in detector_rules.c; see
 * detector.h and docs/detection.md). Pure: every time is an argument,
 * nothing is allocated, nothing blocks.
 *
 * Peers: the latency rules (slow, stuck limits) compare a backend with the
 * other HEALTHY backends of the same service (any role, any admin state).
 */
#define VIGIL_DETECTOR_INTERNAL
#include "detector.h"

#include <errno.h>
#include <string.h>

#include "hist.h"

#define P99 99.0
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ------------------------------------------------------- */

__u32 vigil_det_round_u32(double v)
{
	if (!(v > 0.0))
		return 0;
	if (v >= 4294967295.0)
		return 0xffffffffU;
	return (__u32)(v + 0.5);
}

static __u64 round_u64(double v)
{
	if (!(v > 0.0))
		return 0;
	if (v >= 1.8e19)
		return ~0ULL;
	return (__u64)(v + 0.5);
}

__u32 vigil_det_sat_u32(__u64 v)
{
	return v > 0xffffffffULL ? 0xffffffffU : (__u32)v;
}

void vigil_det_touch(struct vigil_det_service *svc, __u64 now_ns)
{
	if (now_ns > svc->now_ns)
		svc->now_ns = now_ns;
}

static bool is_backup(const struct vigil_det_backend *b)
{
	return b->role == VIGIL_ROLE_BACKUP;
}

/* ---- parameters and setup ------------------------------------------------- */

/* Every detection default, stated here only (detector.h and the config code
 * point here; docs/detection.md's "Configuration" table mirrors it for users
 * and says why each value is what it is). */
void vigil_det_params_defaults(struct vigil_det_params *p)
{
	*p = (struct vigil_det_params){
		.consecutive_failures = 3,
		.error_ratio = 0.5,
		.error_min_requests = 20,
		.window_ms = 10000,
		.slow_factor = 5.0,
		.slow_floor_ms = 50,
		/* enough samples that the p99 is not one unlucky request */
		.slow_min_samples = 1000,
		.stuck_factor = 4.0,
		.stuck_connect_floor_ms = 50,
		/* a request counts as stuck only once its data was retransmitted,
		 * which a scheduling stall never causes; 200 ms is Linux's
		 * minimum retransmission timeout */
		.stuck_request_floor_ms = 200,
		/* above the 100-250 ms scheduling stalls of a loaded 2-core host
		 * and a 300 ms pause: acknowledged requests wait longer first */
		.stall_floor_ms = 400,
		/* the packet datapath sees a backend's ACKs: request data left
		 * unacknowledged is lost without waiting for a retransmission;
		 * a Linux backend may hold an ACK back 40 ms (delayed ACK) */
		.stuck_unacked_floor_ms = 100,
		.eject_base_ms = 2000,
		.eject_max_ms = 60000,
		.probe_interval_ms = 200,
		.probe_successes = 3,
		.max_ejection_share = 0.5,
	};
}

void vigil_det_init(struct vigil_det_service *svc, const struct vigil_det_params *params)
{
	memset(svc, 0, sizeof(*svc));
	if (params)
		svc->params = *params;
	else
		vigil_det_params_defaults(&svc->params);
}

int vigil_det_add_backend(struct vigil_det_service *svc, const struct vigil_endpoint *ep,
			  __u32 weight, __u8 role, __u64 now_ns)
{
	struct vigil_det_backend *b;

	if (svc->n_backends >= VIGIL_MAX_SVC_BACKENDS)
		return -ENOSPC;
	b = &svc->backends[svc->n_backends++];
	memset(b, 0, sizeof(*b));
	b->ep = *ep;
	b->weight = weight;
	b->role = role;
	b->state = VIGIL_STATE_HEALTHY;
	b->admin = VIGIL_ADMIN_NONE;
	b->last_rule = VIGIL_RULE_NONE;
	b->since_ns = now_ns;
	vigil_det_touch(svc, now_ns);
	return 0;
}

/* ---- sliding window -------------------------------------------------------- */

static __u64 slot_ns(const struct vigil_det_params *p)
{
	__u64 ns = (__u64)p->window_ms * VIGIL_DET_NS_PER_MS / VIGIL_DET_WINDOW_SLOTS;

	return ns ? ns : 1;
}

static void add_hist(__u64 *dst, const __u64 *src)
{
	for (int i = 0; i < VIGIL_HIST_BUCKETS; i++)
		dst[i] += src[i];
}

/* Times never go backwards here: an observation older than the latest time
 * seen counts in the latest slot, so it cannot wipe newer data. */
void vigil_det_observe(struct vigil_det_service *svc, size_t idx,
		       const struct vigil_det_observation *obs, __u64 now_ns)
{
	struct vigil_det_backend *b;
	struct vigil_det_slot *s;
	__u64 cur;

	if (idx >= svc->n_backends || !obs)
		return;
	vigil_det_touch(svc, now_ns);
	b = &svc->backends[idx];
	cur = svc->now_ns / slot_ns(&svc->params);
	s = &b->window[cur % VIGIL_DET_WINDOW_SLOTS];
	if (s->slot_index != cur) {
		memset(s, 0, sizeof(*s));
		s->slot_index = cur;
	}
	s->attempts += obs->connect_attempts;
	s->errors += obs->errors;
	s->data_retrans += obs->data_retrans;
	add_hist(s->connect_lat_us, obs->connect_lat_us);
	add_hist(s->request_lat_us, obs->request_lat_us);
	b->kernel_consecutive = obs->kernel_consecutive;
	b->kernel_down = obs->kernel_down;
	b->stuck_connects = obs->stuck_connects;
	b->stuck_requests = obs->stuck_requests;
	b->unacked_requests = obs->unacked_requests;
	b->stalled_requests = obs->stalled_requests;
	b->oldest_stuck_us = obs->oldest_stuck_us;
}

static void window_sum(const struct vigil_det_service *svc, const struct vigil_det_backend *b,
		       struct vigil_det_sum *out)
{
	__u64 hist[VIGIL_DET_LAT_KINDS][VIGIL_HIST_BUCKETS] = { { 0 } };
	__u64 cur = svc->now_ns / slot_ns(&svc->params);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < VIGIL_DET_WINDOW_SLOTS; i++) {
		const struct vigil_det_slot *s = &b->window[i];

		if (s->slot_index > cur || cur - s->slot_index >= VIGIL_DET_WINDOW_SLOTS)
			continue; /* older than the window */
		out->attempts += s->attempts;
		out->errors += s->errors;
		add_hist(hist[VIGIL_DET_LAT_CONNECT], s->connect_lat_us);
		add_hist(hist[VIGIL_DET_LAT_REQUEST], s->request_lat_us);
	}
	for (int k = 0; k < VIGIL_DET_LAT_KINDS; k++) {
		out->samples[k] = vigil_hist_count(hist[k], VIGIL_HIST_BUCKETS);
		out->p99_us[k] = vigil_hist_percentile(hist[k], VIGIL_HIST_BUCKETS, P99);
		out->p50_us[k] = vigil_hist_percentile(hist[k], VIGIL_HIST_BUCKETS, 50.0);
	}
}

void vigil_det_window_sums(const struct vigil_det_service *svc, struct vigil_det_sum *sums)
{
	for (size_t i = 0; i < svc->n_backends; i++)
		window_sum(svc, &svc->backends[i], &sums[i]);
}

/* ---- peers --------------------------------------------------------------- */

/* Sorts v (n <= VIGIL_MAX_SVC_BACKENDS, insertion sort) and returns its median
 * (mean of the two middle values for an even n); 0 when empty. */
static double median(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	if (n == 0)
		return 0.0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Median window p99 of kind over the HEALTHY backends other than idx that have
 * at least min_samples (>= 1) samples of that kind; *npeers says how many. */
double vigil_det_peer_median(const struct vigil_det_service *svc, const struct vigil_det_sum *sums,
			  size_t idx, int kind, __u64 min_samples, size_t *npeers)
{
	double v[VIGIL_MAX_SVC_BACKENDS];
	size_t n = 0;

	if (min_samples == 0)
		min_samples = 1;
	for (size_t i = 0; i < svc->n_backends; i++) {
		if (i == idx || svc->backends[i].state != VIGIL_STATE_HEALTHY ||
		    sums[i].samples[kind] < min_samples)
			continue;
		v[n++] = sums[i].p99_us[kind];
	}
	*npeers = n;
	return median(v, n);
}

static __u64 stuck_limit_ns(const struct vigil_det_service *svc, size_t idx, int kind,
			    __u32 floor_ms)
{
	struct vigil_det_sum sums[VIGIL_MAX_SVC_BACKENDS];
	__u64 floor_ns = (__u64)floor_ms * VIGIL_DET_NS_PER_MS, limit;
	size_t npeers;
	double med;

	vigil_det_window_sums(svc, sums);
	med = vigil_det_peer_median(svc, sums, idx, kind, 1, &npeers);
	if (npeers == 0)
		return floor_ns;
	limit = round_u64(svc->params.stuck_factor * med * (double)VIGIL_DET_NS_PER_US);
	return limit > floor_ns ? limit : floor_ns;
}

__u64 vigil_det_stuck_connect_limit_ns(const struct vigil_det_service *svc, size_t idx)
{
	return stuck_limit_ns(svc, idx, VIGIL_DET_LAT_CONNECT, svc->params.stuck_connect_floor_ms);
}

__u64 vigil_det_stuck_request_limit_ns(const struct vigil_det_service *svc, size_t idx)
{
	return stuck_limit_ns(svc, idx, VIGIL_DET_LAT_REQUEST, svc->params.stuck_request_floor_ms);
}

__u64 vigil_det_stall_limit_ns(const struct vigil_det_service *svc, size_t idx)
{
	return stuck_limit_ns(svc, idx, VIGIL_DET_LAT_REQUEST, svc->params.stall_floor_ms);
}

__u64 vigil_det_unacked_limit_ns(const struct vigil_det_service *svc, size_t idx)
{
	return stuck_limit_ns(svc, idx, VIGIL_DET_LAT_CONNECT, svc->params.stuck_unacked_floor_ms);
}

/* ---- state changes ----------------------------------------------------------- */

void vigil_det_record(struct vigil_det_backend *b, enum vigil_backend_state to, enum vigil_rule rule,
		   const struct vigil_evidence *ev, __u64 now_ns)
{
	b->state = to;
	b->last_rule = rule;
	b->last_evidence = *ev;
	b->since_ns = now_ns;
}

/* EJECTED for base x n-th ejection, capped at eject_max_ms. */
void vigil_det_eject(const struct vigil_det_params *p, struct vigil_det_backend *b,
		  enum vigil_rule rule, const struct vigil_evidence *ev, __u64 now_ns)
{
	__u64 ms;

	vigil_det_record(b, VIGIL_STATE_EJECTED, rule, ev, now_ns);
	b->ejections++;
	ms = (__u64)p->eject_base_ms * b->ejections;
	if (ms > p->eject_max_ms)
		ms = p->eject_max_ms;
	b->eject_until_ns = now_ns + ms * VIGIL_DET_NS_PER_MS;
	b->probe_ok_streak = 0;
}

/* Back in service: the window and the latched kernel inputs describe the
 * failure that ejected it (vigild resets the kernel health entry too). */
static void readmit(struct vigil_det_backend *b)
{
	memset(b->window, 0, sizeof(b->window));
	b->kernel_consecutive = 0;
	b->kernel_down = false;
	b->stuck_connects = 0;
	b->stuck_requests = 0;
	b->unacked_requests = 0;
	b->stalled_requests = 0;
	b->oldest_stuck_us = 0;
	b->probe_ok_streak = 0;
}

/* ---- probes and admin ---------------------------------------------------------- */

bool vigil_det_probe_due(struct vigil_det_service *svc, size_t idx, __u64 now_ns)
{
	struct vigil_det_backend *b;

	if (idx >= svc->n_backends)
		return false;
	vigil_det_touch(svc, now_ns);
	b = &svc->backends[idx];
	if (b->state != VIGIL_STATE_PROBING || b->admin == VIGIL_ADMIN_DISABLED ||
	    now_ns < b->next_probe_ns)
		return false;
	b->next_probe_ns = now_ns + (__u64)svc->params.probe_interval_ms * VIGIL_DET_NS_PER_MS;
	return true;
}

void vigil_det_probe_result(struct vigil_det_service *svc, size_t idx, bool ok, __u64 now_ns)
{
	const struct vigil_det_params *p = &svc->params;
	struct vigil_evidence ev = { 0 };
	struct vigil_det_backend *b;
	__u32 need = p->probe_successes ? p->probe_successes : 1;

	if (idx >= svc->n_backends)
		return;
	vigil_det_touch(svc, now_ns);
	b = &svc->backends[idx];
	if (b->state != VIGIL_STATE_PROBING || b->admin == VIGIL_ADMIN_DISABLED)
		return;
	if (b->remote_check)
		need = 1; /* checking a remote verdict: one answer settles it */
	ev.threshold = need;
#ifdef VIGIL_MUTANT_PROBE_READMIT
	/* Mutation smoke test (see tests/mutants.sh): successful probes never
	 * re-admit a backend. */
	if (ok)
		return;
#endif
	if (ok && ++b->probe_ok_streak < need)
		return;
	ev.probes = b->probe_ok_streak;
	b->remote_check = false;
	if (!b->pending_probe)
		b->pending_from = b->state;
	if (ok) {
		vigil_det_record(b, VIGIL_STATE_HEALTHY, VIGIL_RULE_PROBE_OK, &ev, now_ns);
		readmit(b);
	} else {
		ev.failures = 1;
		vigil_det_eject(p, b, VIGIL_RULE_PROBE_FAILED, &ev, now_ns);
	}
	b->pending_probe = true;
	b->pending_to = b->state;
	b->pending_rule = b->last_rule;
	b->pending_evidence = ev;
}

bool vigil_det_set_admin(struct vigil_det_service *svc, size_t idx, enum vigil_admin_state admin,
			 __u64 now_ns)
{
	struct vigil_det_backend *b;

	if (idx >= svc->n_backends || (unsigned)admin > VIGIL_ADMIN_DISABLED)
		return false;
	vigil_det_touch(svc, now_ns);
	b = &svc->backends[idx];
	if (b->admin == admin)
		return false;
	if (!b->pending_admin)
		b->pending_admin_from = b->admin;
	b->admin = admin;
	b->since_ns = now_ns;
	b->last_rule = VIGIL_RULE_ADMIN;
	memset(&b->last_evidence, 0, sizeof(b->last_evidence));
	b->pending_admin = true;
	return true;
}

/* ---- selection ------------------------------------------------------------------ */

enum sel_kind { SEL_PRIMARIES, SEL_BACKUPS, SEL_ANY };

static bool selectable(const struct vigil_det_backend *b, enum sel_kind kind)
{
	if (kind == SEL_ANY)
		return b->admin != VIGIL_ADMIN_DISABLED;
	return b->state == VIGIL_STATE_HEALTHY && b->admin == VIGIL_ADMIN_NONE &&
	       is_backup(b) == (kind == SEL_BACKUPS);
}

static void fill(const struct vigil_det_service *svc, struct vigil_backend_set *set,
		 enum sel_kind kind)
{
	for (size_t i = 0; i < svc->n_backends && set->count < VIGIL_MAX_SET; i++) {
		const struct vigil_det_backend *b = &svc->backends[i];

		if (!selectable(b, kind))
			continue;
		set->entries[set->count].backend = b->ep;
		set->entries[set->count].weight = b->weight;
		set->total_weight += b->weight;
		set->count++;
	}
}

void vigil_det_select(const struct vigil_det_service *svc, struct vigil_backend_set *set)
{
	__u32 preferred_weight;

	memset(set, 0, sizeof(*set));
	fill(svc, set, SEL_PRIMARIES);
#ifdef VIGIL_MUTANT_BACKUPS
	/* Mutation smoke test (see tests/mutants.sh): backups never serve, not
	 * as the fallback tier nor when every primary is out (fail open). */
	set->n_preferred = set->count;
	if (!set->count) {
		fill(svc, set, SEL_ANY);
		set->n_preferred = set->count;
		set->flags = VIGIL_SET_FAIL_OPEN;
	}
	return;
#endif
	if (set->count) {
		/* Healthy backups ride along as a fallback tier: when the kernel
		 * fast path marks every primary down, connect() uses them before
		 * vigild has even woken up. */
		set->n_preferred = set->count;
		preferred_weight = set->total_weight;
		fill(svc, set, SEL_BACKUPS);
		set->total_weight = preferred_weight;
		return;
	}
	fill(svc, set, SEL_BACKUPS);
	set->n_preferred = set->count;
	if (set->count) {
		set->flags = VIGIL_SET_BACKUPS;
		return;
	}
	fill(svc, set, SEL_ANY);
	set->n_preferred = set->count;
	set->flags = VIGIL_SET_FAIL_OPEN;
}

__u64 vigil_det_stalled_ns(const struct vigil_det_stall *stalls, size_t n, __u64 from, __u64 to)
{
	__u64 total = 0;

	for (size_t i = 0; i < n; i++) {
		__u64 a = stalls[i].start_ns > from ? stalls[i].start_ns : from;
		__u64 b = stalls[i].end_ns < to ? stalls[i].end_ns : to;

		if (b > a)
			total += b - a;
	}
	return total;
}

bool vigil_set_serves(const struct vigil_backend_set *set, const struct vigil_endpoint *ep)
{
	for (__u32 i = 0; i < set->n_preferred && i < VIGIL_MAX_SET; i++)
		if (memcmp(&set->entries[i].backend, ep, sizeof(*ep)) == 0)
			return true;
	return false;
}

double vigil_share_of(__u32 weight, bool selected, __u64 selected_weight)
{
	return selected && selected_weight ? (double)weight / (double)selected_weight : 0.0;
}

/* ---- names ------------------------------------------------------------------------ */

const char *vigil_state_name(enum vigil_backend_state s)
{
	static const char *const names[] = { "healthy", "ejected", "probing" };

	return (unsigned)s < N(names) ? names[s] : "unknown";
}

const char *vigil_admin_name(enum vigil_admin_state a)
{
	static const char *const names[] = { "none", "draining", "disabled" };

	return (unsigned)a < N(names) ? names[a] : "unknown";
}

const char *vigil_rule_name(enum vigil_rule r)
{
	static const char *const names[VIGIL_RULE_COUNT] = {
		[VIGIL_RULE_NONE] = "none",
		[VIGIL_RULE_CONSECUTIVE] = "consecutive_failures",
		[VIGIL_RULE_FAST_PATH] = "fast_path",
		[VIGIL_RULE_ERROR_RATIO] = "error_ratio",
		[VIGIL_RULE_SLOW] = "slow",
		[VIGIL_RULE_STUCK_CONNECT] = "stuck_connect",
		[VIGIL_RULE_STUCK_REQUEST] = "stuck_request",
		[VIGIL_RULE_EJECT_EXPIRED] = "eject_expired",
		[VIGIL_RULE_PROBE_OK] = "probe_ok",
		[VIGIL_RULE_PROBE_FAILED] = "probe_failed",
		[VIGIL_RULE_ADMIN] = "admin",
		[VIGIL_RULE_FAIL_OPEN] = "fail_open",
		[VIGIL_RULE_BACKUPS] = "backups",
		[VIGIL_RULE_PRIMARIES] = "primaries",
		[VIGIL_RULE_RESTART] = "vigild_restarted",
		[VIGIL_RULE_STALLED] = "stalled",
		[VIGIL_RULE_REMOTE_HARD] = "remote_hard",
		[VIGIL_RULE_REMOTE_OUTLIER] = "remote_outlier",
	};

	return (unsigned)r < N(names) && names[r] ? names[r] : "unknown";
}
