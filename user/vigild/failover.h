/* SPDX-License-Identifier: MIT */
/* The failover engine inside vigild: feeds monitor signals, probe results
 * and admin states to the detector and hands the desired state it returns
 * to the publisher (publish.h), which writes backend sets, packet-datapath
 * tables, fast-path thresholds and the state vigilctl reads. */
#ifndef VIGIL_FAILOVER_H
#define VIGIL_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "monitor.h"
#include "svc_maps.h"

struct vigil_failover;
struct pollfd;


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

/* Told about every backend change once it is published (cluster mode shares
 * them): service name, backend, the change; and about the first hard failure
 * (refused, timeout, reset as it arrives from the kernel, or the first stuck
 * connect) of a backend still HEALTHY (change NULL): a suspect others can
 * check before this node has seen enough to eject it. One listener; NULL removes it. */
struct vigil_det_change;
typedef void (*vigil_change_fn)(void *ctx, const char *service, const struct vigil_endpoint *ep,
				const struct vigil_det_change *c);
void vigil_failover_set_listener(struct vigil_failover *fo, vigil_change_fn fn, void *ctx);

/* Another node's verdict on backend ep of service (detector.h,
 * vigil_det_remote_*): hard, or outlier with reporters of live_nodes against
 * quorum. Evaluated at once; true when it changed the backend's state. */
bool vigil_failover_remote_verdict(struct vigil_failover *fo, const char *service,
				   const struct vigil_endpoint *ep, bool hard, unsigned reporters,
				   unsigned live_nodes, double quorum, __u64 now_ns);
/* The load balancers the publisher feeds from now on (NULL: none). */
struct vigil_lbfeeds;
void vigil_failover_set_feeds(struct vigil_failover *fo, struct vigil_lbfeeds *feeds);
/* Whether the socket rescue (sock_rescue.h) moves connects still waiting
 * for their SYN-ACK: a backend's tear-down then leaves them to it. */
void vigil_failover_set_rescue(struct vigil_failover *fo, bool moves_connects);

/* Map writes of its publisher that failed since it started (publish.h). */
__u64 vigil_failover_write_failures(const struct vigil_failover *fo);

/* Its counts for the metrics (failover_metrics.c). */
struct vigil_failover_figures {
	__u64 stalls_vigild, stalls_others; /* stall spans seen (vigild, ordinary processes) */
	__u64 publish_gen;          /* moves whenever a service was published */
	__u64 last_publish_wall_ns; /* 0: nothing published yet */
	__u64 map_write_failures;
	__u64 syn_replays;          /* SYNs replayed off ejected backends */
};
void vigil_failover_figures(const struct vigil_failover *fo, struct vigil_failover_figures *f);

/* The board of /metrics (metrics.h): every service and its backends as the
 * engine last decided and published them, with the ejections by rule since
 * vigild started. The arrays of b are reallocated to fit. Returns 0 or
 * -ENOMEM (b then empty). */
struct vigil_metrics_board;
int vigil_failover_metrics_board(const struct vigil_failover *fo, struct vigil_metrics_board *b);

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
