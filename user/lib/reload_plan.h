/* SPDX-License-Identifier: MIT */
/*
 * Config reload planning (pure: no BPF, no syscalls, time is an argument):
 * which settings need a restart, how the services and backends of a new
 * config match the running ones, the detector state that carries over, and
 * the figures of the summary line. vigild applies the plan
 * (failover_reload.c, vigild_reload.c); docs/config.md, "Reload", says what
 * is live.
 */
#ifndef VIGIL_RELOAD_PLAN_H
#define VIGIL_RELOAD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "detector.h"

/* Settings a running vigild cannot change. Writes "KEY: why and what to do"
 * of the first one that differs into why ("" when none) and returns how many
 * differ. */
int vigil_reload_restart_needed(const struct vigil_config *old, const struct vigil_config *next,
				char *why, size_t whylen);

/* Index of the service called name in cfg, -1 when there is none. Services
 * are matched by name across a reload. */
int vigil_reload_find_service(const struct vigil_config *cfg, const char *name);

/* For each backend of next, the index of the backend with the same endpoint
 * in old, or -1 when it is new to the service. */
void vigil_reload_match_backends(const struct vigil_service_cfg *old,
				 const struct vigil_service_cfg *next, int *old_index);

/* True when anything the engine applies or publishes for the service
 * differs: VIPs, backends (order, weights, roles), detection, probe,
 * datapath, table size. */
bool vigil_reload_service_changed(const struct vigil_service_cfg *a,
				  const struct vigil_service_cfg *b);

/* Detector of next at now_ns. A backend that stays (old_index[i] >= 0) keeps
 * its whole state: health state and timers, ejection count (backoff),
 * window, admin state and changes not yet reported; weight and role come
 * from next. A new backend starts HEALTHY, as at start. The windows are
 * cleared when window_ms changed: their slots would stand for other times. */
void vigil_reload_carry_det(const struct vigil_det_service *old, const int *old_index,
			    const struct vigil_service_cfg *next, __u64 now_ns,
			    struct vigil_det_service *out);

/* Service ids of the new services: ids[i] = kept[i] when non-zero (a service
 * that stays keeps its id, so its XDP table slots and set stay its own),
 * else the smallest id >= 1 not used by another entry. n <= 65535. */
void vigil_reload_assign_ids(const __u32 *kept, size_t n, __u32 *ids);

struct vigil_reload_summary {
	size_t services_added, services_removed, services_changed;
	size_t backends_added, backends_removed; /* (service, backend) pairs */
};

void vigil_reload_summarize(const struct vigil_config *old, const struct vigil_config *next,
			    struct vigil_reload_summary *sum);

/* VIGIL_DATAPATH_* bits used by at least one service of cfg. */
__u32 vigil_reload_datapaths(const struct vigil_config *cfg);

/* Distinct endpoints the watch_exact map holds for cfg (watch.backends and
 * every service backend), and for a and b together: a re-sync inserts the
 * new entries before it deletes the stale ones, so both are there at once. */
size_t vigil_reload_exact_endpoints(const struct vigil_config *a, const struct vigil_config *b);

#endif
