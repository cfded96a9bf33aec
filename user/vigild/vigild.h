/* SPDX-License-Identifier: MIT */
/* What vigild runs, shared by vigild.c (start, event loop, stop) and
 * vigild_reload.c (config reload on SIGHUP). */
#ifndef VIGIL_VIGILD_H
#define VIGIL_VIGILD_H

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
	struct vigil_pkt_dp *pkt;       /* packet datapath (XDP or tc) */
	struct vigil_failover *fo;
	struct vigil_pin_watch *pin_watch; /* removals under cfg->pin_dir (pins.h) */
	struct vigil_cluster *cluster;  /* cluster mode (cluster: in the config) */
	struct vigil_cluster_cfg cluster_cfg; /* what it runs with */
	struct vigil_daemon_status status; /* last written to daemon_status */
	bool status_written;
};

/* Re-read config_path and bring everything in line with it (SIGHUP). A file
 * that does not load, a change that needs a restart or a step that fails is
 * logged, and the running config stays in charge, unchanged: then < 0. */
int vigild_reload(struct vigild *d);

/* Start, restart (settings changed) or stop cluster mode to match d->cfg,
 * and point the failover engine's listener at it. */
void vigild_cluster_sync(struct vigild *d);

/* Restore pins removed under the running vigild (vigild_pins.c); one
 * read(2) when nothing was removed. */
void vigild_check_pins(struct vigild *d);

#endif
