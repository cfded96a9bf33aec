/* SPDX-License-Identifier: MIT */
/* Is vigild alive and serving its config? The rules behind vigilctl's
 * heartbeat verdict and vigild's /healthz and /readyz (pure: times are
 * arguments). */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* A loop that runs at least every tick_ms last ran age_ns ago: is it stuck?
 * A live vigild may miss a few ticks under load; 3 ticks and one second
 * more cover a slow wake-up without hiding a hung loop for long. */
bool vigil_tick_stale(__u64 age_ns, __u32 tick_ms);

/* /healthz: 200 "ok" while vigild's main loop runs (loop_age_ns since its
 * last round, tick_ms its longest sleep) and every hook is attached
 * (hooks_problem NULL or ""; else what is wrong with them); otherwise 503
 * with the reason. While starting (loading and attaching, before the loop
 * runs) it is alive: 200. The body (one line) goes into buf. Returns the
 * status. */
int vigil_healthz(bool starting, __u64 loop_age_ns, __u32 tick_ms, const char *hooks_problem,
		  char *buf, size_t len);

/* What vigild's config is doing, for /readyz. */
enum vigil_ready_state {
	VIGIL_READY_STARTING = 0, /* start-up has not finished applying the config */
	VIGIL_READY_APPLIED,      /* the config file (at start or the last reload) runs */
	VIGIL_READY_REFUSED,      /* the last reload was refused: the previous config runs */
	VIGIL_READY_STOPPING,
};

/* /readyz: 200 only when the config asked for is the one applied
 * (VIGIL_READY_APPLIED); 503 otherwise. why is the reason of a refusal
 * (the reload's error line, which names the file), path the config file.
 * Returns the status. */
int vigil_readyz(enum vigil_ready_state state, const char *path, const char *why, char *buf,
		 size_t len);

#endif
