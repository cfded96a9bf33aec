/* SPDX-License-Identifier: MIT */
/*
 * What vigild's main loop hands its metrics thread (metrics_http.h): its
 * figures about itself, the failover board (metrics.h), the hooks to check
 * and whether the config is applied. The main loop runs at real-time
 * priority and must never wait for a scrape, so it only ever try-locks
 * (vigil_metrics_state_publish): when the metrics thread holds the lock,
 * the round's figures wait for the next round (they are cumulative, nothing
 * is lost). The board is double-buffered: the loop fills its own copy when
 * the engine published something, and the swap under the lock is two
 * pointers. The metrics thread copies everything out under the lock and
 * formats without it. So a scrape shows the figures and the board of one
 * main-loop round (a consistent state of the engine), plus the kernel
 * counters it reads from the maps itself, as vigilctl does (they change
 * with every packet; no moment makes them more consistent, and reading
 * thousands of per-CPU entries in the loop would delay the tick).
 */
#ifndef VIGIL_METRICS_STATE_H
#define VIGIL_METRICS_STATE_H

#include <stdbool.h>
#include <linux/types.h>

#include "health.h"
#include "metrics.h"
#include "metrics_hooks.h"

struct vigil_metrics_state;

/* pin_dir: where the maps are (a reload cannot change it); config_path:
 * the file named in /readyz; tick_ms: the main loop's longest sleep. */
struct vigil_metrics_state *vigil_metrics_state_new(const char *pin_dir, const char *config_path,
						    __u32 tick_ms);
void vigil_metrics_state_free(struct vigil_metrics_state *st);

/* ---- main loop ---- */

/* Every round: the loop is alive (no lock). */
void vigil_metrics_state_alive(struct vigil_metrics_state *st, __u64 mono_ns);
/* Hand over the round's figures and, when board is not NULL, swap *board
 * with the published one (the caller's board then holds the old copy, to
 * refill). Never waits: returns false, leaving everything as it was, when
 * the metrics thread holds the lock. */
bool vigil_metrics_state_publish(struct vigil_metrics_state *st,
				 const struct vigil_daemon_figures *fig,
				 struct vigil_metrics_board *board);
/* Config applied (start, reload) or refused; rare, so these wait for the lock. */
void vigil_metrics_state_config(struct vigil_metrics_state *st, enum vigil_ready_state ready,
				const char *why, const struct vigil_hook_spec *hooks);

/* ---- metrics thread ---- */

/* A copy of everything, taken under the lock. */
struct vigil_metrics_view {
	char pin_dir[256];
	char config_path[256];
	__u32 tick_ms;
	__u64 alive_mono_ns;
	struct vigil_daemon_figures fig;
	struct vigil_metrics_board board; /* arrays owned by the view, grown as needed */
	size_t cap_services, cap_backends;
	enum vigil_ready_state ready;
	char why[512];
	struct vigil_hook_spec hooks;
};

/* Returns 0 or -ENOMEM (the view keeps its previous board). */
int vigil_metrics_state_read(struct vigil_metrics_state *st, struct vigil_metrics_view *v);
void vigil_metrics_view_free(struct vigil_metrics_view *v);

/* Release a board filled by the main loop (vigil_failover_metrics_board). */
void vigil_metrics_board_free(struct vigil_metrics_board *b);

#endif
