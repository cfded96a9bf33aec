/* SPDX-License-Identifier: MIT */
/* The failover engine inside vigild: feeds monitor signals, probe results
 * and admin states to the detector and hands the desired state it returns
 * to the publisher (publish.h), which writes backend sets, packet-datapath
 * tables, fast-path thresholds and the state vigilctl reads. */
#ifndef VIGIL_FAILOVER_H
#define VIGIL_FAILOVER_H

#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "svc_maps.h"

struct vigil_failover;
struct pollfd;

/* Monitor maps the engine reads. */
struct vigil_monitor_maps {
	int backend_stats, inflight;
};

struct vigil_pkt_dp;

/* pkt may be NULL when no service uses the packet datapath. */
int vigil_failover_start(struct vigil_failover **out, const struct vigil_config *cfg,
			 const struct vigil_monitor_maps *mon, const struct vigil_svc_maps *maps,
			 struct vigil_pkt_dp *pkt, char *err, size_t errlen);

/* A kernel event arrived: evaluate on the next vigil_failover_run. */
void vigil_failover_on_event(struct vigil_failover *fo, const struct vigil_event *ev);

/* Probe sockets to poll, and how long the caller may sleep (ms). */
size_t vigil_failover_pollfds(struct vigil_failover *fo, struct pollfd *fds, size_t max);
int vigil_failover_timeout_ms(struct vigil_failover *fo, __u64 now_ns);

/* Collect probe results and, when a tick is due or an event arrived, run the
 * detector and apply its changes. */
void vigil_failover_run(struct vigil_failover *fo, __u64 now_ns);

void vigil_failover_stop(struct vigil_failover *fo);

/* The load balancers the publisher feeds from now on (NULL: none). */
struct vigil_lbfeeds;
void vigil_failover_set_feeds(struct vigil_failover *fo, struct vigil_lbfeeds *feeds);

/* Map writes of its publisher that failed since it started (publish.h). */
__u64 vigil_failover_write_failures(const struct vigil_failover *fo);

/* Config reload (failover_reload.c), in two steps so that nothing changes
 * unless everything could be prepared. prepare builds the services of cfg in
 * memory: services are matched by name and backends by endpoint, and every
 * backend that stays keeps its detector state, counters and probe; a new
 * prober is opened when daemon.probe_netns changed. commit switches the
 * engine to them (it cannot fail), moves admin states to changed VIPs,
 * removes what is no longer configured from the pinned maps and publishes
 * the new fast-path thresholds; sets follow on the next run. pkt is the
 * packet datapath serving cfg (NULL when no service uses it). cfg must stay
 * alive until the next reload or vigil_failover_stop; the previous config
 * may be freed after commit. abort drops a prepared reload (NULL is fine). */
struct vigil_failover_reload;

int vigil_failover_reload_prepare(struct vigil_failover *fo, const struct vigil_config *cfg,
				  struct vigil_failover_reload **out, char *err, size_t errlen);
void vigil_failover_reload_commit(struct vigil_failover *fo, struct vigil_failover_reload *r,
				  struct vigil_pkt_dp *pkt);
void vigil_failover_reload_abort(struct vigil_failover_reload *r);

#endif
