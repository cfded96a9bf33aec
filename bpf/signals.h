/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Recording client-side signals, shared by the socket monitor and the XDP
 * datapath: counters, log2 histograms, failure events, the fast path. */
#ifndef VIGIL_BPF_SIGNALS_H
#define VIGIL_BPF_SIGNALS_H

/* Value template for BPF_NOEXIST inserts: the stats record is larger than the
 * 512-byte BPF stack, so it cannot be built there. */
const struct vigil_backend_stats zero_backend_stats;

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

/* Same bucket rule as user/lib/hist.c: [2^i, 2^(i+1)) us, 0 and 1 us in bucket 0. */
static __always_inline __u32 hist_bucket(__u64 delta_ns)
{
	__u64 us = delta_ns / 1000;
	__u32 b = us < 2 ? 0 : log2_u64(us);

	return b < VIGIL_HIST_BUCKETS ? b : VIGIL_HIST_BUCKETS - 1;
}

/* sum_ns adds the sample itself, to the nanosecond. */
static __always_inline void hist_add(__u64 *hist, __u64 *sum_ns, __u64 delta_ns)
{
	__sync_fetch_and_add(&hist[hist_bucket(delta_ns) & (VIGIL_HIST_BUCKETS - 1)], 1);
	__sync_fetch_and_add(sum_ns, delta_ns);
}

/* Counters are per-CPU, but a softirq (reset, retransmit) can interrupt a
 * process-context hook on the same CPU, so increments are still atomic. */
#define COUNT(field, n) __sync_fetch_and_add(&(field), (n))

/* Fields that only the send and receive hooks write (bytes, requests opened
 * and answered, request and response latency): those run in process context
 * with preemption off (tracepoints) and no softirq hook touches these fields,
 * so a plain add on the per-CPU value loses nothing and saves a locked
 * instruction on every watched message. */
#define COUNT_TASK(field, n) ((field) += (n))

static __always_inline void hist_add_task(__u64 *hist, __u64 *sum_ns, __u64 delta_ns)
{
	hist[hist_bucket(delta_ns) & (VIGIL_HIST_BUCKETS - 1)] += 1;
	*sum_ns += delta_ns;
}

static __always_inline struct vigil_backend_stats *backend_of(const struct vigil_endpoint *ep)
{
	struct vigil_backend_stats *st = bpf_map_lookup_elem(&backend_stats, ep);

	if (st)
		return st;
	update_or_count(&backend_stats, ep, &zero_backend_stats, BPF_NOEXIST,
			VIGIL_LOSS_BACKEND_STATS_FULL);
	return bpf_map_lookup_elem(&backend_stats, ep);
}

static __always_inline void emit_event(const struct vigil_endpoint *ep, __u32 kind, __u64 now)
{
	struct vigil_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		/* vigild is not draining fast enough (or is stopped): say so. */
		count_loss(VIGIL_LOSS_RINGBUF_FULL);
		return;
	}
	ev->ts_ns = now;
	ev->backend = *ep;
	ev->kind = kind;
	bpf_ringbuf_submit(ev, 0);
}

/* How stale last_success_ns may get: far below vigild's connect limits
 * (tens of ms and more), which are all it is compared with. */
#define SUCCESS_STAMP_GRAIN_NS 1000000ull

/* Written only when a reader would see a difference: the entry is read by
 * every connect() of the backend (bpf/set_pick.h), so a store at every
 * established connect would move its cache line between the CPUs each
 * time. */
static __always_inline void health_success(const struct vigil_endpoint *ep, __u64 now)
{
	struct vigil_backend_health *h = bpf_map_lookup_elem(&backend_health, ep);

	if (!h)
		return;
	if (h->consecutive_failures)
		h->consecutive_failures = 0;
	if (now > h->last_success_ns + SUCCESS_STAMP_GRAIN_NS)
		h->last_success_ns = now;
}

/* At the threshold the backend is marked down right here, so the very next
 * connect() through the socket load balancer avoids it; vigild learns of it
 * from the event and owns re-admission. */
static __always_inline void health_failure(const struct vigil_endpoint *ep, __u64 now)
{
	struct vigil_backend_health *h = bpf_map_lookup_elem(&backend_health, ep);
	__u32 failures;

	if (!h || h->threshold == 0)
		return;
	failures = __sync_add_and_fetch(&h->consecutive_failures, 1);
	if (failures < h->threshold || h->down)
		return;
#ifdef VIGIL_MUTANT_FASTPATH
	/* Mutation smoke test (see tests/mutants.sh): the fast path never marks
	 * a backend down, so only vigild's slower reaction remains. */
	return;
#endif
	/* Only the CPU that flips the flag reports it. */
	if (__sync_val_compare_and_swap(&h->down, 0, 1) != 0)
		return;
	h->down_since_ns = now;
	emit_event(ep, VIGIL_EV_KERNEL_DOWN, now);
}

/* A connect that failed: refused (RST to the SYN) or timed out. The monitor
 * calls it when the socket gives up; the socket rescue when it withholds a
 * refusal from the socket (bpf/sock_rescue.bpf.c), which the monitor then
 * never sees. */
static __always_inline void connect_failed(const struct vigil_endpoint *ep, bool refused, __u64 now)
{
	struct vigil_backend_stats *st = backend_of(ep);

	if (!st)
		return;
	if (refused)
		COUNT(st->refused, 1);
	else
		COUNT(st->timeouts, 1);
	emit_event(ep, refused ? VIGIL_EV_REFUSED : VIGIL_EV_TIMEOUT, now);
	health_failure(ep, now);
}

#endif
