/* SPDX-License-Identifier: MIT */
/*
 * What vigild's /metrics shows and how it is written: the Prometheus text
 * exposition format (version 0.0.4) of the monitor's counters (the same
 * snapshot vigilctl stats reads, stats.h), the packet datapath's counters,
 * the failover state of every service and backend (a board the engine fills)
 * and vigild's figures about itself. Pure: the caller reads the maps and
 * hands over values; docs/operations.md lists every metric.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include <vigil/abi.h>

#include "stats.h"

/* "text/plain; version=0.0.4", the format vigil_metrics_write writes. */
#define VIGIL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Cluster mode (docs/cluster.md) as vigild last saw it; counters since
 * cluster mode (re)started. */
struct vigil_cluster_figures {
	bool enabled;            /* a cluster: section runs; else none is written */
	__u32 state;             /* enum vigil_cluster_state */
	__u32 live_nodes;        /* this one included */
	__u64 remote_verdicts;   /* other nodes' verdicts known now */
	__u64 published;         /* own verdicts written to or removed from etcd */
	__u64 received;          /* other nodes' verdicts new to this node */
	__u64 suppressed;        /* own verdicts not written (others reported them) */
	__u64 applied;           /* remote verdicts that changed a backend here */
	__u64 resyncs;           /* full reads of every verdict (start, broken watch) */
};

/* vigild's figures about itself (cumulative since it started). */
struct vigil_daemon_figures {
	__u64 start_wall_ns;
	__u64 last_round_wall_ns;   /* the main loop's last round */
	__u64 last_publish_wall_ns; /* the publisher's last write; 0: none yet */
	/* How much later than planned the main loop woke from its sleep
	 * (scheduling delay): log2 buckets of microseconds, as hist.h. */
	__u64 tick_lag_us[VIGIL_HIST_BUCKETS];
	__u64 tick_lag_sum_ns;
	__u64 stalls_vigild;  /* spans > 50 ms in which vigild did not run */
	__u64 stalls_others;  /* ... in which its normal-priority canary did not */
	__u64 map_write_failures;
	__u64 syn_replays;    /* SYNs replayed off ejected backends (packet datapath) */
	__u64 reloads_applied, reloads_refused;
	bool last_reload_ok;  /* true also when there was none */
	struct vigil_cluster_figures cluster;
};

/* A service as the engine last decided it. */
struct vigil_metrics_service {
	char name[VIGIL_NAME_LEN];
	__u32 set_flags; /* VIGIL_SET_* of the published set: its serving tier */
};

/* A backend of a service (a backend in two services has two). */
struct vigil_metrics_backend {
	size_t service; /* index in the board's services */
	struct vigil_endpoint ep;
	__u8 state;     /* enum vigil_backend_state */
	__u8 admin;     /* enum vigil_admin_state */
	double share;   /* of new connections (vigil_share_of) */
	/* Ejections since vigild started, by the rule that ejected. */
	__u64 ejections[VIGIL_RULE_COUNT];
};

struct vigil_metrics_board {
	struct vigil_metrics_service *services;
	size_t n_services;
	struct vigil_metrics_backend *backends;
	size_t n_backends;
};

/* Everything one scrape shows; NULL members leave their metrics out. */
struct vigil_metrics_input {
	const struct vigil_snapshot *snap; /* monitor counters (vigil_snapshot_read) */
	const __u64 *xdp_counters;         /* [VIGIL_XDP_COUNTERS] */
	const __u64 *xdp_drops;            /* [VIGIL_DROP_REASONS] */
	const struct vigil_metrics_board *board;
	const struct vigil_daemon_figures *daemon;
	unsigned int hooks_detached;       /* hooks missing or detached (/healthz) */
	const char *version, *commit;
};

/* Write every metric of in to out. Returns 0, or -EIO when out failed. */
int vigil_metrics_write(FILE *out, const struct vigil_metrics_input *in);

/* A label value as the format wants it: \ " and newline escaped. */
void vigil_metrics_escape(char *buf, size_t len, const char *value);

#endif
