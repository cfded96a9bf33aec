/* SPDX-License-Identifier: MIT */
/* Aggregation of per-CPU monitor records into rows (pure). */
#ifndef VIGIL_STATS_H
#define VIGIL_STATS_H

#include <stddef.h>
#include <vigil/abi.h>

struct vigil_backend_row {
	struct vigil_endpoint ep;
	struct vigil_backend_stats s;
};

struct vigil_local_row {
	__u16 port;
	struct vigil_local_stats s;
};

/* LRU maps whose fill level vigilctl stats reports: an LRU at 100% evicts
 * its least recently used entry on every insert, silently. (The per-socket
 * state, sock_state, is socket-local storage: never evicted, no fill level.) */
enum vigil_fill_map {
	VIGIL_FILL_INFLIGHT = 0,
	VIGIL_FILL_BACKEND_STATS,
	VIGIL_FILL_LOCAL_STATS,
	VIGIL_FILL_RESCUE_FLOWS,
	VIGIL_FILL_MAPS
};

struct vigil_fill {
	size_t entries;
	size_t max_entries; /* 0: the map is not pinned (e.g. no socket datapath) */
};

struct vigil_snapshot {
	struct vigil_backend_row *backends;
	size_t n_backends;
	struct vigil_local_row *locals;
	size_t n_locals;
	size_t inflight;                /* tracked sockets + the XDP datapath's pending SYNs */
	__u64 loss[VIGIL_LOSS_REASONS]; /* sum over CPUs, by enum vigil_loss_reason */
	int have_loss;                  /* 0: no loss pin (vigild older than this build) */
	__u64 rescue[VIGIL_RESCUE_COUNTERS]; /* socket rescue, by enum vigil_rescue_counter */
	int have_rescue;                /* 0: no rescue_stats pin (the rescue never ran) */
	struct vigil_fill fill[VIGIL_FILL_MAPS];
	/* Load balancers vigild feeds (totals since it started; not made
	 * per interval); have_feeds 0: no lb_feeds pin (no services, or a
	 * vigild older than this build). */
	struct vigil_feed_stats feeds[VIGIL_FEEDS];
	int have_feeds;
};

/* sum += add, field by field (used to fold per-CPU values). */
void vigil_backend_stats_add(struct vigil_backend_stats *sum, const struct vigil_backend_stats *add);
void vigil_local_stats_add(struct vigil_local_stats *sum, const struct vigil_local_stats *add);

/* out = now - before, field by field, clamped at 0 (LRU eviction may reset). */
void vigil_backend_stats_sub(struct vigil_backend_stats *out, const struct vigil_backend_stats *now,
			     const struct vigil_backend_stats *before);
void vigil_local_stats_sub(struct vigil_local_stats *out, const struct vigil_local_stats *now,
			   const struct vigil_local_stats *before);

/* Hard failures: refused + timed-out connects + resets received. */
__u64 vigil_backend_errors(const struct vigil_backend_stats *s);
/* errors / connect attempts, in [0, 1]; 0 when nothing was attempted. */
double vigil_backend_error_ratio(const struct vigil_backend_stats *s);

/* Sort rows by endpoint / port so output is stable. */
void vigil_snapshot_sort(struct vigil_snapshot *snap);

/* Replace every row of now by its delta against the same key in before
 * (rows new since before are kept whole). */
void vigil_snapshot_delta(struct vigil_snapshot *now, const struct vigil_snapshot *before);

/* dst = an independent copy of src. Returns 0 or -ENOMEM (dst empty). */
int vigil_snapshot_copy(struct vigil_snapshot *dst, const struct vigil_snapshot *src);

void vigil_snapshot_free(struct vigil_snapshot *snap);

#endif
