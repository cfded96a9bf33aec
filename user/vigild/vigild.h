/* SPDX-License-Identifier: MIT */
/* What vigild runs, shared by vigild.c (start, event loop, stop) and
 * vigild_reload.c (config reload on SIGHUP). */
#ifndef VIGIL_VIGILD_H
#define VIGIL_VIGILD_H

#include <stdbool.h>
#include <linux/types.h>
#include <vigil/abi.h>

#include "config.h"
#include <vigil/abi.h>

/* Members NULL when not started. */
struct vigild {
	const char *config_path;
	int log_level_override;   /* -1: daemon.log_level of the config */
	struct vigil_config *cfg; /* running config; the engine points into it */
	struct vigil_monitor *mon;
	struct vigil_state_maps *state; /* service maps; loaded when services are configured */
	struct vigil_sock_dp *sock;     /* socket datapath, when a service uses it */
	struct vigil_sock_rescue *rescue; /* its rescue of failed connects (lb.rescue) */
	struct vigil_pkt_dp *pkt;       /* packet datapath (XDP or tc) */
	struct vigil_failover *fo;
	struct vigil_pin_watch *pin_watch; /* removals under cfg->pin_dir (pins.h) */
	struct vigil_cluster *cluster;  /* cluster mode (cluster: in the config) */
	struct vigil_cluster_cfg cluster_cfg; /* what it runs with */
	struct vigil_daemon_status status; /* last written to daemon_status */
	bool status_written;
	struct vigild_metrics *metrics; /* the metrics endpoint (metrics.enabled) */
	struct vigil_lbfeeds *feeds;    /* load balancers fed (lbfeeds.h), always there */
};

/* Re-read config_path and bring everything in line with it (SIGHUP). A file
 * that does not load, a change that needs a restart or a step that fails is
 * logged, and the running config stays in charge, unchanged: then < 0. */
int vigild_reload(struct vigild *d);

/* Start, restart (settings changed) or stop cluster mode to match d->cfg,
 * and point the failover engine's listener at it. */
void vigild_cluster_sync(struct vigild *d);
/* Switch to next (a checked config vigild now owns) as a reload does: every
 * step prepared and checked first, undone if one fails. The log says "WHAT
 * failed: why" or "DONE: summary". On failure next is freed, the running
 * config stays and < 0 is returned. */
int vigild_apply(struct vigild *d, struct vigil_config *next, const char *what,
		 const char *done);

/* The state maps (what vigilctl reads) are loaded: services, or a load
 * balancer fed (its counters), are configured. */
bool vigild_needs_state(const struct vigil_config *cfg);

/* Load balancer feeds (vigild_feeds.c). Start: the feeds of d->cfg, and the
 * services made from the servers HAProxy lists, read once now (waiting up
 * to haproxy.timeout_ms) so the engine starts with them. 0 or -ENOMEM. */
int vigild_feeds_start(struct vigild *d);
/* next with its derived services made from the last HAProxy server table
 * (next itself when there are none to make); NULL, with the reason logged,
 * when they do not fit. next is consumed. */
struct vigil_config *vigild_with_derived(struct vigild *d, struct vigil_config *next);
/* Once per loop round: the feeds' I/O and timers, their counters, and the
 * derived services rebuilt when HAProxy's servers changed. */
void vigild_feeds_tick(struct vigild *d, __u64 now);
/* Bring the socket rescue in line with cfg and tell the engine what it does
 * (vigild.c; at start and reload). */
void vigild_rescue_sync(struct vigild *d, const struct vigil_config *cfg);

/* Restore pins removed under the running vigild (vigild_pins.c); one
 * read(2) when nothing was removed. */
void vigild_check_pins(struct vigild *d);

/* The metrics endpoint (vigild_metrics.c), all no-ops when metrics.enabled
 * is false. start: bind metrics.listen and start its thread (before
 * anything is loaded, so a bad address fails a start that changed
 * nothing); -errno with the reason in err. applied: the config now runs
 * (start-up done, reload applied): /readyz says so and /healthz checks its
 * hooks. reloaded: a reload's outcome (why: the refusal). round: every
 * main-loop round, with how late the loop woke (VIGILD_NO_LAG when an event
 * woke it). stop: /readyz says stopping, then the thread stops. */
#define VIGILD_NO_LAG (~0ULL)
int vigild_metrics_start(struct vigild *d, __u32 tick_ms, char *err, size_t errlen);
void vigild_metrics_applied(struct vigild *d);
void vigild_metrics_reloaded(struct vigild *d, bool applied, const char *why);
void vigild_metrics_round(struct vigild *d, __u64 lag_ns);
void vigild_metrics_stop(struct vigild *d);

#endif
