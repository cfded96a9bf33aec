/* SPDX-License-Identifier: MIT */
/* The failover engine inside vigild: feeds monitor signals to the detector,
 * runs active probes, applies admin states, and publishes backend sets,
 * fast-path thresholds and state for vigilctl. */
#ifndef VIGIL_FAILOVER_H
#define VIGIL_FAILOVER_H

#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "sock_lb.h"

struct vigil_failover;
struct pollfd;

/* Monitor maps the engine reads. */
struct vigil_monitor_maps {
	int backend_stats, inflight;
};

struct vigil_xdp_lb;

/* xdp may be NULL when no service uses the XDP datapath. */
int vigil_failover_start(struct vigil_failover **out, const struct vigil_config *cfg,
			 const struct vigil_monitor_maps *mon, const struct vigil_lb_maps *lb,
			 struct vigil_xdp_lb *xdp, char *err, size_t errlen);

/* A kernel event arrived: evaluate on the next vigil_failover_run. */
void vigil_failover_on_event(struct vigil_failover *fo, const struct vigil_event *ev);

/* Probe sockets to poll, and how long the caller may sleep (ms). */
size_t vigil_failover_pollfds(struct vigil_failover *fo, struct pollfd *fds, size_t max);
int vigil_failover_timeout_ms(struct vigil_failover *fo, __u64 now_ns);

/* Collect probe results and, when a tick is due or an event arrived, run the
 * detector and apply its changes. */
void vigil_failover_run(struct vigil_failover *fo, __u64 now_ns);

void vigil_failover_stop(struct vigil_failover *fo);

/* CLOCK_MONOTONIC in ns (the clock of bpf_ktime_get_ns). */
__u64 vigil_now_ns(void);

#endif
