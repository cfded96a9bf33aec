/* SPDX-License-Identifier: MIT */
/* The failover engine: signals in, the detector's desired state out to the
 * publisher, then logging and tearing down. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "failover_int.h"
#include "log.h"
#include "canary.h"
#include "pending.h"
#include "pending_syns.h"
#include "pkt_dp.h"
#include "sock_census.h"
#include "stats.h"
#include "teardown.h"

#define MAX_PROBE_RESULTS 64
#define STALL_NS (50 * 1000000ull)
#define CANARY_MS 5
/* Reading the packet datapath's in-flight map costs ~1 ms per 16k slots, so
 * it is read every SCAN_NS, and at once when a kernel event arrives. */
#define SCAN_NS (20 * 1000000ull)

/* ---- reading the monitor ------------------------------------------------ */

static int read_backend_stats(struct vigil_failover *fo, const struct vigil_endpoint *ep,
			      struct vigil_backend_stats *sum)
{
	size_t stride = (sizeof(*sum) + 7) & ~(size_t)7;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fo->mon.backend_stats, ep, fo->percpu_buf) < 0)
		return -errno;
	for (int cpu = 0; cpu < fo->ncpus; cpu++)
		vigil_backend_stats_add(sum, (void *)((char *)fo->percpu_buf + cpu * stride));
	return 0;
}

static void observation_from_delta(struct vigil_det_observation *obs,
				   const struct vigil_backend_stats *d)
{
	obs->connect_attempts = d->connect_attempts;
	obs->established = d->established;
	obs->errors = vigil_backend_errors(d);
	obs->data_retrans = d->data_retrans;
	memcpy(obs->connect_lat_us, d->connect_lat_us, sizeof(obs->connect_lat_us));
	memcpy(obs->request_lat_us, d->request_lat_us, sizeof(obs->request_lat_us));
}

/* Returns the number of replies the backend sent since the last tick. */
static __u64 observe_counters(struct vigil_failover *fo, struct fo_service *s, size_t idx,
			      __u64 now_ns, struct vigil_det_observation *obs)
{
	struct fo_backend_rt *rt = &s->rt[idx];
	struct vigil_backend_stats now, delta = {};
	struct vigil_backend_health h = {};

	if (read_backend_stats(fo, &s->det.backends[idx].ep, &now) == 0) {
		vigil_pending_sample(&rt->pending, now_ns, &now);
		if (rt->have_last) {
			vigil_backend_stats_sub(&delta, &now, &rt->last);
			observation_from_delta(obs, &delta);
		}
		rt->last = now;
		rt->have_last = true;
	}
	if (bpf_map_lookup_elem(fo->maps.backend_health, &s->det.backends[idx].ep, &h) == 0) {
		/* A down flag older than the backend's last state change predates
		 * its re-admission (the probe result outran our clearing it). */
		if (h.down && h.down_since_ns < s->det.backends[idx].since_ns &&
		    s->det.backends[idx].state == VIGIL_STATE_HEALTHY) {
			vigil_publish_readmit(&fo->pub, &s->det.backends[idx].ep);
			h.down = 0;
			h.consecutive_failures = 0;
		}
		obs->kernel_consecutive = h.consecutive_failures;
		obs->kernel_down = h.down != 0;
	}
	rt->last_success_ns = h.last_success_ns;
	return delta.requests;
}

/* How long a socket has been waiting since since_ns, minus the time vigild
 * did not run (0 for timestamps newer than now, written while the map was
 * read). */
static __u64 waited_ns(const struct vigil_failover *fo, __u64 since_ns, __u64 now)
{
	/* A socket waiting since before this vigild started is counted from the
	 * start: the time vigild was down is nobody's evidence. */
	if (since_ns < fo->started_ns)
		since_ns = fo->started_ns;
	if (since_ns >= now)
		return 0;
	return now - since_ns -
	       vigil_det_stalled_ns(fo->stalls, sizeof(fo->stalls) / sizeof(fo->stalls[0]),
				    since_ns, now);
}

/* The limits a waiting socket of one backend is judged by (ns). */
struct stuck_limits {
	__u64 connect, request, stall;
};

/* Raise *oldest_us (the evidence's oldest wait) to age_ns. */
static void note_oldest(__u32 *oldest_us, __u64 age_ns)
{
	__u64 us = age_ns / 1000;

	if (us > *oldest_us)
		*oldest_us = us > 0xffffffffull ? 0xffffffffu : (__u32)us;
}

/* Stuck sockets of one backend: SYNs pending past the limit that started after
 * the last successful connect; sends unanswered past the limit whose data had
 * to be retransmitted (stuck), or, never retransmitted, past the stall limit
 * (stalled: the backend's kernel acknowledged them). */
static void count_stuck(const struct vigil_failover *fo, const struct vigil_inflight *fl,
			__u64 now, __u64 last_success, const struct stuck_limits *lim,
			struct vigil_det_observation *obs)
{
	__u64 age = 0;

	if (!(fl->flags & VIGIL_INFLIGHT_ESTABLISHED)) {
		age = waited_ns(fo, fl->syn_sent_ns, now);
		if (fl->syn_sent_ns <= last_success || age <= lim->connect)
			return;
		obs->stuck_connects++;
	} else if (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY) {
		bool retrans = fl->flags & VIGIL_INFLIGHT_RETRANS;

		age = waited_ns(fo, fl->last_send_ns, now);
		if (age <= (retrans ? lim->request : lim->stall))
			return;
		if (retrans)
			obs->stuck_requests++;
		else
			obs->stalled_requests++;
	}
	note_oldest(&obs->oldest_stuck_us, age);
}

/* How many requests of a pending_requests span (abi.h) have waited past
 * limit: every one when even the latest has, else the first alone (the span
 * keeps no times in between: a lower bound). The first one's wait raises
 * *oldest_us when it counts. */
static __u32 span_stuck(const struct vigil_failover *fo, const struct vigil_pending_span *span,
			__u64 progress_ns, __u64 now, __u64 limit, __u32 *oldest_us)
{
	__u64 first;

	if (!span->count || span->first_ns <= progress_ns)
		return 0;
	first = waited_ns(fo, span->first_ns, now);
	if (first <= limit)
		return 0;
	note_oldest(oldest_us, first);
	return waited_ns(fo, span->last_ns, now) > limit ? span->count : 1;
}

/* The packet datapath's requests of one backend, from its pending_requests
 * summary (one lookup, no scan), for the rules that judge the socket
 * monitor's sockets: data the backend left unacknowledged past the unacked
 * limit is a stuck request (the network lost it; the packet datapath sees
 * the ACKs, so it need not wait for a retransmission), a request
 * acknowledged but unanswered past the stall limit is stalled. */
static void observe_pending(struct vigil_failover *fo, struct fo_service *s, size_t idx,
			    __u64 now, struct vigil_det_observation *obs)
{
	struct vigil_pending_requests pr;
	__u32 stuck, unanswered;

	if (!(s->cfg->datapath & VIGIL_DATAPATH_XDP) || !fo->pub.pkt ||
	    vigil_pkt_dp_pending_read(fo->pub.pkt, &s->det.backends[idx].ep, &pr))
		return;
	stuck = span_stuck(fo, &pr.unacked, pr.acked_ns, now,
			   vigil_det_unacked_limit_ns(&s->det, idx), &obs->oldest_stuck_us);
	unanswered = span_stuck(fo, &pr.unanswered, pr.answered_ns, now,
				vigil_det_stall_limit_ns(&s->det, idx), &obs->oldest_stuck_us);
	obs->unacked_requests = stuck;
	/* the unanswered span holds the unacknowledged requests too */
	obs->stalled_requests += unanswered > stuck ? unanswered - stuck : 0;
}


static struct stuck_limits limits_of(const struct fo_service *s, size_t idx)
{
	return (struct stuck_limits){ .connect = vigil_det_stuck_connect_limit_ns(&s->det, idx),
				      .request = vigil_det_stuck_request_limit_ns(&s->det, idx),
				      .stall = vigil_det_stall_limit_ns(&s->det, idx) };
}

/* The packet datapath's SYNs of one backend pending past the connect limit
 * (fls: its in-flight entries, read this tick). */
static void scan_pending_syns(struct vigil_failover *fo, const struct vigil_pkt_inflight *fls,
			      size_t n, struct fo_service *s, size_t idx, __u64 now)
{
	const struct vigil_endpoint *ep = &s->det.backends[idx].ep;
	struct stuck_limits lim = limits_of(s, idx);
	struct vigil_det_observation *syns = &s->rt[idx].syns;

	memset(syns, 0, sizeof(*syns));
	for (size_t i = 0; i < n; i++)
		if (vigil_pending_syn_waits_on(&fls[i], ep))
			count_stuck(fo, &fls[i].fl, now, s->rt[idx].last_success_ns, &lim, syns);
}

/* Stuck and stalled sockets of one backend: the socket monitor's from its
 * counters' history (every tick), the packet datapath's from its in-flight
 * entries (as last read). A backend that completed a connect within the
 * connect limit answers SYNs: none of its connects counts as stuck, as none
 * of its requests does when it answered one within the request (stall)
 * limit: it is slow on a few connections, the slow rule's business. */
static void observe_stuck(struct vigil_failover *fo, struct fo_service *s, size_t idx, __u64 now,
			  struct vigil_det_observation *obs)
{
	struct fo_backend_rt *rt = &s->rt[idx];
	struct stuck_limits lim = limits_of(s, idx);
	struct vigil_pending_limits plim = { lim.connect, lim.request, lim.stall };
	struct vigil_pending_stuck st;

	vigil_pending_stuck(&rt->pending, &plim, fo->stalls,
			    sizeof(fo->stalls) / sizeof(fo->stalls[0]), &st);
	obs->stuck_connects = st.connects + rt->syns.stuck_connects;
	obs->stuck_requests = st.requests + rt->syns.stuck_requests;
	obs->stalled_requests = st.stalled + rt->syns.stalled_requests;
	obs->oldest_stuck_us = st.oldest_us > rt->syns.oldest_stuck_us ? st.oldest_us
									: rt->syns.oldest_stuck_us;
	if (rt->last_success_ns && waited_ns(fo, rt->last_success_ns, now) <= lim.connect)
		obs->stuck_connects = 0;
	if (now - rt->last_reply_ns <= lim.request)
		obs->stuck_requests = 0;
	if (now - rt->last_reply_ns <= lim.stall)
		obs->stalled_requests = 0;
}

/* The packet datapath's SYNs awaiting their SYN-ACK. The socket monitor's
 * connects and requests are not there: they are counted in backend_stats
 * (observe_stuck). */
static struct vigil_pkt_inflight *read_inflight(struct vigil_failover *fo, size_t *n_out)
{
	return vigil_pending_syns_read(fo->mon.inflight, n_out);
}

/* ---- after publishing: logs and teardown -------------------------------- */

static void log_backend_change(const struct fo_service *s, const struct vigil_desired *want,
			       const struct vigil_det_change *c)
{
	const struct vigil_desired_backend *b = &want->backends[c->backend_index];
	const struct vigil_evidence *e = &c->evidence;
	char ep[VIGIL_ENDPOINT_STRLEN];
	struct vigil_log_fields f = { .service = s->cfg->name,
				      .backend = vigil_endpoint_format(&b->ep, ep, sizeof(ep)),
				      .rule = vigil_rule_name(c->rule),
				      .state = vigil_state_name(c->to) };

	if (c->rule == VIGIL_RULE_ADMIN) {
		f.state = vigil_admin_name(c->admin_to);
		pr_warn_f(&f, "service %s backend %s: admin %s -> %s (state %s)", s->cfg->name, ep,
			  vigil_admin_name(c->admin_from), vigil_admin_name(c->admin_to),
			  vigil_state_name(c->to));
		return;
	}
	pr_warn_f(&f, "service %s backend %s: %s -> %s rule=%s failures=%u threshold=%u "
		  "requests=%u errors=%u latency_us=%u peer_latency_us=%u limit_us=%u probes=%u "
		  "ejections=%u", s->cfg->name, ep, vigil_state_name(c->from), f.state, f.rule,
		  e->failures, e->threshold, e->requests, e->errors, e->latency_us,
		  e->peer_latency_us, e->limit_us, e->probes, b->info.ejections);
}

static void log_service_change(const struct fo_service *s, const struct vigil_det_change *c)
{
	struct vigil_log_fields f = { .service = s->cfg->name, .rule = vigil_rule_name(c->rule) };

	if (c->set_flags_to & VIGIL_SET_FAIL_OPEN) {
		f.state = "fail_open";
		pr_err_f(&f, "service %s: NO HEALTHY BACKEND: failing open to every backend "
			 "(rule=%s)", s->cfg->name, f.rule);
	} else if (c->set_flags_to & VIGIL_SET_BACKUPS) {
		f.state = "backups";
		pr_warn_f(&f, "service %s: no healthy primary: backups now serve (rule=%s)",
			  s->cfg->name, f.rule);
	} else {
		f.state = "primaries";
		pr_warn_f(&f, "service %s: primaries serve again (rule=%s)", s->cfg->name, f.rule);
	}
}

/* The packet datapath's connects still waiting on a backend just ejected
 * go to a healthy backend now (pending_syns.h), not at the client's SYN
 * timeout, which vigil cannot shorten for a remote client. */
static void replay_pending_syns(struct vigil_failover *fo, const struct fo_service *s,
				const struct vigil_desired *want)
{
	struct vigil_pkt_inflight *fls = NULL;
	size_t n = 0;

	if (!fo->pub.pkt || !(s->cfg->datapath & VIGIL_DATAPATH_XDP))
		return;
	for (size_t i = 0; i < want->n_changes; i++) {
		const struct vigil_det_change *c = &want->changes[i];
		const struct vigil_endpoint *ep;
		char text[VIGIL_ENDPOINT_STRLEN];
		unsigned replayed;

		if (c->backend_index < 0 || c->to != VIGIL_STATE_EJECTED ||
		    c->from == VIGIL_STATE_EJECTED)
			continue;
		/* Read now, not the tick's copy: a SYN forwarded to the backend
		 * between that read and the publish waits on it too. */
		if (!fls && !(fls = read_inflight(fo, &n)))
			return;
		ep = &want->backends[c->backend_index].ep;
#ifdef VIGIL_MUTANT_SYN_REPLAY
		/* Mutation smoke test (see tests/mutants.sh): waiting connects
		 * move only with the client's own SYN retransmit. */
		replayed = 0;
#else
		replayed = vigil_pending_syns_replay(fo->pub.pkt, ep, s->cfg->vips, s->cfg->n_vips,
						     fls, n);
#endif
		fo->syn_replays += replayed;
		if (replayed)
			pr_info("service %s backend %s: %u connects waiting on it replayed to a "
				"healthy backend", s->cfg->name,
				vigil_endpoint_format(ep, text, sizeof(text)), replayed);
	}
	free(fls);
}

/* The publisher has written want: record what changed in the log and the
 * ejections' count (and tell the listener), then queue the tear-down of the
 * connections the detector condemned (the tear-down thread does it; the next
 * decision does not wait for it). */
static void after_publish(struct vigil_failover *fo, struct fo_service *s,
			  const struct vigil_desired *want, __u64 now)
{
	for (size_t i = 0; i < want->n_changes; i++) {
		const struct vigil_det_change *c = &want->changes[i];

		if (c->backend_index < 0) {
			log_service_change(s, c);
			continue;
		}
		log_backend_change(s, want, c);
		if (c->to == VIGIL_STATE_EJECTED && c->from != VIGIL_STATE_EJECTED &&
		    (unsigned)c->rule < VIGIL_RULE_COUNT)
			s->rt[c->backend_index].ejections_by_rule[c->rule]++;
		if (fo->listener)
			fo->listener(fo->listener_ctx, s->cfg->name,
				     &want->backends[c->backend_index].ep, c);
	}
	replay_pending_syns(fo, s, want);
	for (size_t i = 0; i < want->n_changes; i++) {
		const struct vigil_det_change *c = &want->changes[i];

		if (c->backend_index < 0 || c->teardown == VIGIL_TEARDOWN_NONE)
			continue;
#ifdef VIGIL_MUTANT_TEARDOWN
		/* Mutation smoke test (see tests/mutants.sh): a hard ejection
		 * leaves the backend's connections open. */
		(void)fo, (void)now;
#else
		vigil_teardown_request(fo->teardown, s->cfg->name,
				       &want->backends[c->backend_index].ep, c->teardown, now);
#endif
	}
}

static void read_admin(struct vigil_failover *fo, struct fo_service *s, __u64 now)
{
	for (size_t b = 0; b < s->det.n_backends; b++) {
		struct vigil_svc_backend_key key;
		__u32 admin = VIGIL_ADMIN_NONE;

		memset(&key, 0, sizeof(key));
		key.vip = s->cfg->vips[0];
		key.backend = s->det.backends[b].ep;
		bpf_map_lookup_elem(fo->maps.admin, &key, &admin);
		if (admin > VIGIL_ADMIN_DISABLED)
			admin = VIGIL_ADMIN_NONE;
		vigil_det_set_admin(&s->det, b, (enum vigil_admin_state)admin, now);
	}
}

static void start_due_probes(struct vigil_failover *fo, struct fo_service *s, __u64 now)
{
	for (size_t b = 0; b < s->det.n_backends; b++) {
		if (s->rt[b].probe_in_flight || !vigil_det_probe_due(&s->det, b, now))
			continue;
		/* The tag names the service by its id, which a reload keeps (indexes
		 * may shift); the result names the backend by its endpoint. */
		if (vigil_probe_start(fo->prober, &s->det.backends[b].ep, s->cfg->probe_http_path,
				      s->cfg->probe_timeout_ms, s->id, now) == 0)
			s->rt[b].probe_in_flight = true;
		else
			vigil_det_probe_result(&s->det, b, false, now);
	}
}

static void evaluate_service(struct vigil_failover *fo, struct fo_service *s,
			     const struct vigil_pkt_inflight *fls, size_t n_fls, __u64 now)
{
	struct vigil_desired want;
	__u64 replies;

	read_admin(fo, s, now);
	for (size_t b = 0; b < s->det.n_backends; b++) {
		struct vigil_det_observation obs;

		memset(&obs, 0, sizeof(obs));
		replies = observe_counters(fo, s, b, now, &obs);
		if (replies || !s->rt[b].last_reply_ns)
			s->rt[b].last_reply_ns = now;
		if (fls || !fo->pub.pkt) /* read this tick, or none to read */
			scan_pending_syns(fo, fls, n_fls, s, b, now);
		observe_stuck(fo, s, b, now, &obs);
		/* Its own evidence of silence (pending_requests spans end at the
		 * backend's progress), so after observe_stuck's answered-within-
		 * the-limit tests; one lookup, so on every tick. */
		observe_pending(fo, s, b, now, &obs);
		/* A first stuck connect is a suspect, as a first refusal is. */
		if (fo->listener && obs.stuck_connects && !s->det.backends[b].stuck_connects &&
		    s->det.backends[b].state == VIGIL_STATE_HEALTHY)
			fo->listener(fo->listener_ctx, s->cfg->name, &s->det.backends[b].ep, NULL);
		vigil_det_observe(&s->det, b, &obs, now);
	}
	/* One way: signals -> detector -> desired state -> publisher -> maps. */
	vigil_det_decide(&s->det, now, &want);
	if (want.n_changes || vigil_publish_due(&s->pub)) {
		vigil_publish_service(&fo->pub, s->cfg, s->id, &s->pub, &want);
		fo->publish_gen++;
		fo->last_publish_wall_ns = vigil_wall_ns();
		after_publish(fo, s, &want, now);
	}
	start_due_probes(fo, s, now);
}

/* The service and backend a probe result belongs to; NULL when a reload
 * removed them while the probe ran. */
static struct fo_service *probe_owner(struct vigil_failover *fo,
				      const struct vigil_probe_result *r, size_t *idx)
{
	for (size_t i = 0; i < fo->n_svcs; i++) {
		struct fo_service *s = &fo->svcs[i];

		if (s->id != r->tag)
			continue;
		for (size_t b = 0; b < s->det.n_backends; b++)
			if (memcmp(&s->det.backends[b].ep, &r->ep, sizeof(r->ep)) == 0) {
				*idx = b;
				return s;
			}
	}
	return NULL;
}

static void collect_probes(struct vigil_failover *fo, __u64 now)
{
	struct vigil_probe_result res[MAX_PROBE_RESULTS];
	size_t n = vigil_prober_collect(fo->prober, now, res, MAX_PROBE_RESULTS);
	char ep[VIGIL_ENDPOINT_STRLEN];

	for (size_t i = 0; i < n; i++) {
		size_t b;
		struct fo_service *s = probe_owner(fo, &res[i], &b);

		if (!s)
			continue;
		s->rt[b].probe_in_flight = false;
		vigil_det_probe_result(&s->det, b, res[i].ok, now);
		if (!res[i].ok) {
			struct vigil_log_fields f = {
				.service = s->cfg->name,
				.backend = vigil_endpoint_format(&res[i].ep, ep, sizeof(ep)),
			};

			pr_debug_f(&f, "service %s: probe of backend %s failed: %s", s->cfg->name,
				   ep, strerror(res[i].error));
		}
		fo->event_pending = true; /* evaluate now, not at the next tick */
	}
}

/* Add [start, end) to the stall ring, merged with the previous span when they
 * touch (vigil_det_stalled_ns wants spans that do not overlap). Returns true
 * for a new span. */
static bool record_stall(struct vigil_failover *fo, __u64 start, __u64 end)
{
	size_t n = sizeof(fo->stalls) / sizeof(fo->stalls[0]);
	struct vigil_det_stall *prev = &fo->stalls[(fo->next_stall + n - 1) % n];

	if (start <= prev->end_ns && end >= prev->start_ns) {
		prev->start_ns = start < prev->start_ns ? start : prev->start_ns;
		prev->end_ns = end > prev->end_ns ? end : prev->end_ns;
		return false;
	}
	fo->stalls[fo->next_stall] = (struct vigil_det_stall){ start, end };
	fo->next_stall = (fo->next_stall + 1) % n;
	return true;
}

/* vigild runs at least every tick, and its canary thread (normal policy)
 * every CANARY_MS; a longer silence of either means the machine, vigild or
 * every ordinary process (servers included) did not run. Sockets look stuck
 * after such a stall only because nobody ran, so the stuck rules do not count
 * it against them (waited_ns); a socket still waiting well beyond it is. */
static void note_stalls(struct vigil_failover *fo, __u64 now)
{
	__u64 gap = fo->last_run_ns ? now - fo->last_run_ns : 0;
	__u64 canary = fo->canary ? vigil_canary_last_ns(fo->canary) : 0;

	if (gap > STALL_NS && record_stall(fo, fo->last_run_ns, now)) {
		fo->stalls_vigild++;
		pr_debug("vigild did not run for %.0f ms: not counted against waiting sockets",
			 gap / 1e6);
	}
	if (canary && now > canary && now - canary > STALL_NS) {
		record_stall(fo, canary, now);
		if (!fo->canary_stall_start_ns) {
			fo->canary_stall_start_ns = canary;
			fo->stalls_others++;
		}
	} else if (fo->canary_stall_start_ns) { /* the canary ran again: the span ends */
		pr_debug("ordinary processes did not run for %.0f ms: not counted against waiting "
			 "sockets", (canary - fo->canary_stall_start_ns) / 1e6);
		fo->canary_stall_start_ns = 0;
	}
	fo->last_run_ns = now;
}

void vigil_failover_run(struct vigil_failover *fo, __u64 now)
{
	struct vigil_pkt_inflight *fls;
	size_t n_fls = 0;
	bool scan;

	collect_probes(fo, now);
	if (!fo->event_pending && now < fo->next_tick_ns)
		return;
	note_stalls(fo, now);
	scan = fo->event_pending || now - fo->last_scan_ns >= SCAN_NS;
	fo->event_pending = false;
	fo->next_tick_ns = now + (__u64)fo->cfg->tick_ms * 1000000ull;
	fls = scan && fo->pub.pkt ? read_inflight(fo, &n_fls) : NULL;
	if (scan)
		fo->last_scan_ns = now;
	for (size_t i = 0; i < fo->n_svcs; i++)
		evaluate_service(fo, &fo->svcs[i], fls, n_fls, now);
	free(fls);
}

void vigil_failover_set_listener(struct vigil_failover *fo, vigil_change_fn fn, void *ctx)
{
	fo->listener = fn;
	fo->listener_ctx = ctx;
}

static int backend_index(const struct fo_service *s, const struct vigil_endpoint *ep)
{
	for (size_t b = 0; b < s->det.n_backends; b++)
		if (!memcmp(&s->det.backends[b].ep, ep, sizeof(*ep)))
			return (int)b;
	return -1;
}

bool vigil_failover_remote_verdict(struct vigil_failover *fo, const char *service,
				   const struct vigil_endpoint *ep, bool hard, unsigned reporters,
				   unsigned live_nodes, double quorum, __u64 now)
{
	for (size_t i = 0; i < fo->n_svcs; i++) {
		struct fo_service *s = &fo->svcs[i];
		int b = strcmp(s->cfg->name, service) ? -1 : backend_index(s, ep);
		bool changed;

		if (b < 0)
			continue;
		changed = hard ? vigil_det_remote_hard(&s->det, (size_t)b, reporters, now) :
			  vigil_det_remote_outlier(&s->det, (size_t)b, reporters, live_nodes,
						   quorum, now);
		/* Out of the set now, not at the next tick. */
		fo->event_pending |= changed;
		return changed;
	}
	return false;
}

/* A hard failure of a backend still in service: the listener may share it. */
static void tell_suspect(const struct vigil_failover *fo, const struct vigil_endpoint *ep)
{
	for (size_t i = 0; i < fo->n_svcs; i++) {
		const struct fo_service *s = &fo->svcs[i];
		int b = backend_index(s, ep);

		if (b >= 0 && s->det.backends[b].state == VIGIL_STATE_HEALTHY)
			fo->listener(fo->listener_ctx, s->cfg->name, ep, NULL);
	}
}

void vigil_failover_on_event(struct vigil_failover *fo, const struct vigil_event *ev)
{
	fo->event_pending = true;
	if (fo->listener)
		tell_suspect(fo, &ev->backend);
}

size_t vigil_failover_pollfds(struct vigil_failover *fo, struct pollfd *fds, size_t max)
{
	return vigil_prober_pollfds(fo->prober, fds, max);
}

int vigil_failover_timeout_ms(struct vigil_failover *fo, __u64 now)
{
	int tick = now >= fo->next_tick_ns ? 0 : (int)((fo->next_tick_ns - now + 999999) / 1000000);
	int probe = vigil_prober_timeout_ms(fo->prober, now);

	if (fo->event_pending)
		return 0;
	return probe >= 0 && probe < tick ? probe : tick;
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Hard-failure rules: the ejection tore connections down and moved flows. */
static bool hard_rule(__u8 rule)
{
	return rule == VIGIL_RULE_CONSECUTIVE || rule == VIGIL_RULE_FAST_PATH ||
	       rule == VIGIL_RULE_STUCK_CONNECT || rule == VIGIL_RULE_STUCK_REQUEST;
}

/* A restart goes on from the published state (backend_info): ejections and
 * their backoff, admin states, the time of the last change (so a fast-path down flag set
 * while vigild was down is not taken for one older than the re-admission).
 * Returns 1 when the backend was restored out of service. */
static int restore_backend(struct vigil_failover *fo, struct fo_service *s, size_t b, __u64 now)
{
	struct vigil_det_backend *db = &s->det.backends[b];
	struct vigil_svc_backend_key key;
	struct vigil_backend_info info;
	__u64 wall = vigil_wall_ns(), age, ms;

	memset(&key, 0, sizeof(key));
	key.vip = s->cfg->vips[0];
	key.backend = db->ep;
	if (bpf_map_lookup_elem(fo->maps.backend_info, &key, &info) < 0 || !info.since_wall_ns)
		return 0;
	fo->restored_found++;
	age = wall > info.since_wall_ns ? wall - info.since_wall_ns : 0;
	db->since_ns = age < now ? now - age : 0;
	db->ejections = info.ejections;
	db->last_rule = (enum vigil_rule)info.last_rule;
	db->last_evidence = info.evidence;
	/* As published: the admin map read at the first tick then changes
	 * nothing, instead of recording every drain again as new. */
	if (info.admin <= VIGIL_ADMIN_DISABLED)
		db->admin = (enum vigil_admin_state)info.admin;
	if (info.state == VIGIL_STATE_HEALTHY)
		return 0;
	/* EJECTED, or PROBING (its probes start again at once). */
	db->state = (enum vigil_backend_state)info.state;
	ms = (__u64)s->cfg->detection.eject_base_ms * (info.ejections ? info.ejections : 1);
	if (ms > s->cfg->detection.eject_max_ms)
		ms = s->cfg->detection.eject_max_ms;
	db->eject_until_ns = db->since_ns + ms * 1000000ull;
	db->next_probe_ns = now;
	db->hard_ejected = hard_rule(info.last_rule);
	db->teardown = db->hard_ejected ? VIGIL_TEARDOWN_ALL :
		       info.last_rule == VIGIL_RULE_STALLED ? VIGIL_TEARDOWN_UNACKED : VIGIL_TEARDOWN_NONE;
	return 1;
}

static int init_services(struct vigil_failover *fo, __u64 now)
{
	fo->svcs = calloc(fo->cfg->n_services, sizeof(*fo->svcs));
	if (!fo->svcs)
		return -ENOMEM;
	fo->n_svcs = fo->cfg->n_services;
	for (size_t i = 0; i < fo->n_svcs; i++) {
		struct fo_service *s = &fo->svcs[i];
		const struct vigil_service_cfg *c = &fo->cfg->services[i];

		s->cfg = c;
		s->id = (__u32)i + 1;
		s->pub.force = true; /* tables and flags are written at start */
		vigil_det_init(&s->det, &c->detection);
		for (size_t b = 0; b < c->n_backends; b++) {
			vigil_det_add_backend(&s->det, &c->backends[b].ep, c->backends[b].weight,
					      c->backends[b].role, now);
			fo->restored_out += restore_backend(fo, s, b, now);
		}
	}
	return 0;
}

/* The sockets of a census (sock_census.h) that hold a connect, a request, a
 * retransmitted request open towards ep. */
static struct vigil_pending_open live_towards(const struct vigil_inflight *socks, size_t n,
					      const struct vigil_endpoint *ep)
{
	struct vigil_pending_open live = { 0 };

	for (size_t i = 0; i < n; i++) {
		if (socks[i].role != VIGIL_ROLE_CLIENT ||
		    memcmp(&socks[i].peer, ep, sizeof(*ep)) != 0)
			continue;
		live.connects += !(socks[i].flags & VIGIL_INFLIGHT_ESTABLISHED);
		live.requests += !!(socks[i].flags & VIGIL_INFLIGHT_AWAIT_REPLY);
		live.retrans += !!(socks[i].flags & VIGIL_INFLIGHT_RETRANS);
	}
	return live;
}

/* Restart reconciliation (sock_census.h): what the counters hold open
 * towards a backend beyond the sockets that exist is dead, and discounted
 * from now on. Returns the client sockets that exist and wait (a connect or
 * a reply), or -1 when they could not be listed (logged; nothing is
 * discounted then). */
static long reconcile_open(struct vigil_failover *fo)
{
	struct vigil_backend_stats *before, after;
	struct vigil_inflight *socks = NULL;
	size_t n_backends = 0, k = 0;
	__u64 dead_total = 0;
	long waiting = 0;
	char err[256];
	int n;

	for (size_t i = 0; i < fo->n_svcs; i++)
		n_backends += fo->svcs[i].det.n_backends;
	before = calloc(n_backends + 1, sizeof(*before));
	for (size_t i = 0; before && i < fo->n_svcs; i++)
		for (size_t b = 0; b < fo->svcs[i].det.n_backends; b++, k++)
			read_backend_stats(fo, &fo->svcs[i].det.backends[b].ep, &before[k]);
	n = before ? vigil_sock_census(fo->mon.sock_state, fo->mon.sock_counts, &socks, err,
				       sizeof(err))
		   : -ENOMEM;
	if (n < 0) {
		pr_warn("%s: connects and requests of sockets that closed while no monitor hook ran "
			"are not discounted; they count as waiting from the start",
			n == -ENOMEM ? "out of memory" : err);
		free(before);
		return -1;
	}
	k = 0;
	for (size_t i = 0; i < fo->n_svcs; i++)
		for (size_t b = 0; b < fo->svcs[i].det.n_backends; b++, k++) {
			const struct vigil_endpoint *ep = &fo->svcs[i].det.backends[b].ep;
			struct vigil_pending_open live = live_towards(socks, (size_t)n, ep), dead;

			if (read_backend_stats(fo, ep, &after) < 0)
				continue;
			dead = vigil_pending_dead(&before[k], &after, &live);
			vigil_pending_set_dead(&fo->svcs[i].rt[b].pending, &dead);
			dead_total += dead.connects + dead.requests;
		}
	for (int i = 0; i < n; i++)
		waiting += socks[i].role == VIGIL_ROLE_CLIENT &&
			   (!(socks[i].flags & VIGIL_INFLIGHT_ESTABLISHED) ||
			    (socks[i].flags & VIGIL_INFLIGHT_AWAIT_REPLY));
	if (dead_total)
		pr_info("discounted %llu connects and requests counted open whose sockets closed "
			"while no monitor hook ran", (unsigned long long)dead_total);
	free(socks);
	free(before);
	return waiting;
}

/* Client connections waiting for a connect or a reply (the sockets a census
 * found, or else what the counters hold open; the packet datapath's pending
 * SYNs), and how many backends the kernel fast path holds down. */
static void restart_census(struct vigil_failover *fo, long live_waiting, size_t *waiting,
			   size_t *down)
{
	struct vigil_pkt_inflight *fls = fo->pub.pkt ? read_inflight(fo, waiting) : NULL;

	if (!fls)
		*waiting = 0;
	free(fls);
	if (live_waiting >= 0)
		*waiting += (size_t)live_waiting;
	*down = 0;
	for (size_t i = 0; i < fo->n_svcs; i++)
		for (size_t b = 0; b < fo->svcs[i].det.n_backends; b++) {
			const struct vigil_endpoint *ep = &fo->svcs[i].det.backends[b].ep;
			struct vigil_backend_health h = {};
			struct vigil_backend_stats sum;
			struct vigil_pending_open open;

			if (bpf_map_lookup_elem(fo->maps.backend_health, ep, &h) == 0 && h.down)
				(*down)++;
			if (live_waiting >= 0 || read_backend_stats(fo, ep, &sum) < 0)
				continue;
			open = vigil_pending_counted(&sum);
			*waiting += open.connects + open.requests;
		}
}

int vigil_failover_start(struct vigil_failover **out, const struct vigil_config *cfg,
			 const struct vigil_monitor_maps *mon, const struct vigil_svc_maps *maps,
			 struct vigil_pkt_dp *pkt, char *err, size_t errlen)
{
	struct vigil_failover *fo = calloc(1, sizeof(*fo));
	__u64 now = vigil_now_ns();
	int ret = -ENOMEM;
	long live_waiting;

	if (!fo)
		goto fail;
	fo->cfg = cfg;
	fo->mon = *mon;
	fo->maps = *maps;
	fo->started_ns = now;
	vigil_publisher_init(&fo->pub, cfg, maps, pkt);
	fo->ncpus = libbpf_num_possible_cpus();
	fo->percpu_buf = calloc((size_t)fo->ncpus, (sizeof(struct vigil_backend_stats) + 7) & ~7ul);
	if (!fo->percpu_buf || init_services(fo, now))
		goto fail;
	live_waiting = reconcile_open(fo);
	fo->canary = vigil_canary_start(CANARY_MS);
	if (!fo->canary)
		pr_warn("cannot start the scheduling canary thread (%s): stalls of other processes "
			"are not recognised", strerror(errno));
	ret = vigil_teardown_start(&fo->teardown, err, errlen);
	if (ret)
		goto fail;
	fo->prober = vigil_prober_new(cfg->probe_netns[0] ? cfg->probe_netns : NULL);
	if (!fo->prober) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up probes in network namespace '%s': %s: fix "
			 "daemon.probe_netns", cfg->probe_netns, strerror(errno));
		goto fail;
	}
	ret = vigil_publish_thresholds(&fo->pub);
	if (ret) {
		snprintf(err, errlen, "writing fast-path thresholds failed: %s", strerror(-ret));
		goto fail;
	}
	vigil_publish_remove_stale(&fo->pub);
	if (fo->restored_found) {
		size_t waiting, down;

		restart_census(fo, live_waiting, &waiting, &down);
		pr_warn("vigild restarted: %u backends out of service restored from %s, %zu "
			"marked down by the kernel fast path, %zu sockets waiting since before the "
			"start (their wait counts from now)", fo->restored_out, cfg->pin_dir, down,
			waiting);
		vigil_publish_restart(&fo->pub, fo->restored_out, (__u32)down, (__u32)waiting);
	}
	fo->event_pending = true; /* publish sets at once */
	*out = fo;
	return 0;
fail:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory setting up %zu services", cfg->n_services);
	vigil_failover_stop(fo);
	return ret;
}

void vigil_failover_set_feeds(struct vigil_failover *fo, struct vigil_lbfeeds *feeds)
{
	fo->pub.feeds = feeds;
}

__u64 vigil_failover_write_failures(const struct vigil_failover *fo)
{
	return vigil_publish_failures(&fo->pub);
}

void vigil_failover_set_rescue(struct vigil_failover *fo, bool moves_connects)
{
	if (fo->teardown)
		vigil_teardown_spare_connecting(fo->teardown, moves_connects);
}

void vigil_failover_stop(struct vigil_failover *fo)
{
	if (!fo)
		return;
	vigil_canary_stop(fo->canary);
	vigil_teardown_stop(fo->teardown);
	vigil_prober_free(fo->prober);
	free(fo->svcs);
	free(fo->percpu_buf);
	free(fo);
}
