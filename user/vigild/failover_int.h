/* SPDX-License-Identifier: MIT */
/* Internals shared by failover.c (engine) and failover_reload.c (its reload). */
#ifndef VIGIL_FAILOVER_INT_H
#define VIGIL_FAILOVER_INT_H

#include "detector.h"
#include "failover.h"
#include "pending.h"
#include "probe.h"
#include "publish.h"

struct fo_backend_rt {
	struct vigil_backend_stats last; /* cumulative counters at the previous tick */
	bool have_last;
	bool probe_in_flight;
	__u64 last_reply_ns; /* last tick in which the backend answered a request */
	__u64 ejections_by_rule[VIGIL_RULE_COUNT]; /* since vigild started (metrics) */
	__u64 last_success_ns; /* its last established connect (backend_health) */
	struct vigil_pending pending; /* history of the monitor's open/close counters */
	/* The packet datapath's stuck SYNs as last read (stuck_connects,
	 * oldest_stuck_us; every SCAN_NS, failover.c). */
	struct vigil_det_observation syns;
};

struct fo_service {
	const struct vigil_service_cfg *cfg;
	__u32 id;
	struct vigil_det_service det;
	struct fo_backend_rt rt[VIGIL_MAX_SVC_BACKENDS];
	struct vigil_published pub; /* what the publisher last wrote */
};

struct vigil_failover {
	const struct vigil_config *cfg;
	struct vigil_monitor_maps mon;
	struct vigil_svc_maps maps; /* read here; written by the publisher */
	struct vigil_publisher pub;
	struct fo_service *svcs;
	size_t n_svcs;
	struct vigil_prober *prober;
	struct vigil_teardown *teardown; /* the thread destroying condemned connections */
	struct vigil_canary *canary; /* normal-policy thread: did ordinary processes run? */
	__u64 canary_stall_start_ns;  /* start of the canary's current silence, 0: none */
	__u64 next_tick_ns;
	__u64 last_run_ns;
	__u64 last_scan_ns;
	/* Recent spans in which vigild did not run (ring): a socket's wait is
	 * not held against its backend for them. */
	struct vigil_det_stall stalls[16];
	size_t next_stall;
	__u64 started_ns;     /* waits older than this count from here (restart) */
	unsigned restored_out; /* backends restored EJECTED/PROBING at start */
	unsigned restored_found; /* backends with published state at start: a restart */
	bool event_pending;
	vigil_change_fn listener;     /* cluster mode: told every backend change */
	void *listener_ctx;
	/* For the metrics (failover_metrics.c): */
	__u64 stalls_vigild, stalls_others; /* stall spans seen (note_stalls) */
	__u64 syn_replays;          /* SYNs replayed off ejected backends (pending_syns.h) */
	__u64 publish_gen;          /* services published: the board is stale when it moves */
	__u64 last_publish_wall_ns; /* when the publisher last wrote a service */
	int ncpus;
	void *percpu_buf;
};

#endif
