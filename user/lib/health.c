/* SPDX-License-Identifier: MIT */
#include "health.h"

#include <stdio.h>

#define STALE_TICKS 3
#define STALE_SLACK_NS 1000000000ULL

bool vigil_tick_stale(__u64 age_ns, __u32 tick_ms)
{
	return age_ns > STALE_TICKS * 1000000ULL * tick_ms + STALE_SLACK_NS;
}

int vigil_healthz(bool starting, __u64 loop_age_ns, __u32 tick_ms, const char *hooks_problem,
		  char *buf, size_t len)
{
	if (starting) {
		snprintf(buf, len, "ok: starting\n");
		return 200;
	}
	if (vigil_tick_stale(loop_age_ns, tick_ms)) {
		snprintf(buf, len, "vigild's main loop last ran %.1f s ago (it runs at least every "
			 "%u ms): stuck; restart vigild\n", loop_age_ns / 1e9, tick_ms);
		return 503;
	}
	if (hooks_problem && hooks_problem[0]) {
		snprintf(buf, len, "%s\n", hooks_problem);
		return 503;
	}
	snprintf(buf, len, "ok\n");
	return 200;
}

int vigil_readyz(enum vigil_ready_state state, const char *path, const char *why, char *buf,
		 size_t len)
{
	switch (state) {
	case VIGIL_READY_APPLIED:
		snprintf(buf, len, "ok: %s applied\n", path);
		return 200;
	case VIGIL_READY_REFUSED:
		if (why && why[0])
			snprintf(buf, len, "not applied: %s\n", why);
		else
			snprintf(buf, len, "not applied: the last reload of %s was refused (the log "
				 "says why): keeping the running config\n", path);
		return 503;
	case VIGIL_READY_STOPPING:
		snprintf(buf, len, "stopping\n");
		return 503;
	default:
		snprintf(buf, len, "starting: applying %s\n", path);
		return 503;
	}
}
