/* SPDX-License-Identifier: MIT */
/*
 * Stuck and stalled connects and requests of one backend, from the
 * monitor's open and close counters (abi.h: vigil_backend_stats connects_*
 * and requests_*), which vigild samples every tick. The kernel keeps the
 * sockets' state in socket-local storage that user space cannot walk, and
 * the counters say how many are open, not since when: vigild keeps their
 * history instead.
 *
 * Of the connects (requests) open now, at least
 *     open(now) - (opened(now) - opened(s))
 * were opened before sample s, since those opened after s are at most all
 * that were. With s the latest sample that has waited at least a limit,
 * that is a lower bound on the connects (requests) waiting longer than the
 * limit, and exact when none opened since s has closed: the backend answers
 * nothing, the case these rules are for. A backend that still answers some
 * turns it towards 0, never above the true count. Requests split by whether
 * their data had to be retransmitted (stuck: the network lost them) or not
 * (stalled: the backend's kernel acknowledged them): of n old requests, at
 * least n - (open requests of the other kind) are of this kind.
 */
#ifndef VIGIL_PENDING_H
#define VIGIL_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>
#include "detector.h"

#define VIGIL_PENDING_SAMPLES  64 /* per ring */
#define VIGIL_PENDING_FINE_NS  (10 * 1000000ull)  /* fine ring: 0.64 s at this spacing */
#define VIGIL_PENDING_COARSE_NS (160 * 1000000ull) /* coarse ring: 10 s, for long limits */

struct vigil_pending_sample {
	__u64 t_ns;
	__u64 connects_opened;
	__u64 requests_opened;
};

struct vigil_pending_ring {
	struct vigil_pending_sample s[VIGIL_PENDING_SAMPLES];
	unsigned int n, next;
};

/* Connects, requests and retransmitted requests open: counted by the
 * kernel, or (an offset) known not to be open any more. */
struct vigil_pending_open {
	__u64 connects, requests, retrans;
};

struct vigil_pending {
	struct vigil_pending_ring fine, coarse;
	struct vigil_pending_sample now; /* the latest counters */
	struct vigil_pending_open open;  /* at now, less the offset */
	struct vigil_pending_open dead;  /* counted open, but their sockets are gone */
};

/* What is stuck: connects and requests (retransmitted) waiting longer than
 * their limits, requests (never retransmitted) longer than the stall limit
 * (lower bounds, see above), and the wait of the oldest one found, a lower
 * bound too (0 when none is). */
struct vigil_pending_stuck {
	__u32 connects, requests, stalled, oldest_us;
};

struct vigil_pending_limits {
	__u64 connect_ns, request_ns, stall_ns;
};

/* An empty history: nothing is stuck until a sample is a limit old (after a
 * vigild restart, waits count from the start). */
void vigil_pending_init(struct vigil_pending *p);

/* What sum (the counters summed over CPUs) counts as open. */
struct vigil_pending_open vigil_pending_counted(const struct vigil_backend_stats *sum);

/* Record sum (the counters summed over CPUs) taken at now. Counters that
 * went back (the backend's stats entry was evicted and created again) start
 * the history over, offset included. */
void vigil_pending_sample(struct vigil_pending *p, __u64 now, const struct vigil_backend_stats *sum);

/* Restart reconciliation: counted as open while the sockets counted are
 * gone (they closed while no monitor hook ran) is never closed by the
 * kernel and would look stuck for ever. before and after are the counters
 * around a census that found live (open sockets of the backend): what was
 * counted open before and is not live, less what opened meanwhile (any of
 * those may be among the live), is dead for sure. Returns it; the history
 * subtracts it from now on. */
struct vigil_pending_open vigil_pending_dead(const struct vigil_backend_stats *before,
					     const struct vigil_backend_stats *after,
					     const struct vigil_pending_open *live);
void vigil_pending_set_dead(struct vigil_pending *p, const struct vigil_pending_open *dead);

/* As of the last sample. The stall spans (vigild or ordinary processes did
 * not run) do not count as waiting. */
void vigil_pending_stuck(const struct vigil_pending *p, const struct vigil_pending_limits *lim,
			 const struct vigil_det_stall *stalls, size_t n_stalls,
			 struct vigil_pending_stuck *out);

#endif
