/* SPDX-License-Identifier: MIT */
/* Accounting of failed map writes: every failure is counted, at most one log
 * line per map and second says so (with how many were not logged since), so
 * a map that keeps refusing writes is visible without flooding the log. */
#ifndef VIGIL_MAPERR_H
#define VIGIL_MAPERR_H

#include <stdbool.h>
#include <linux/types.h>

#define VIGIL_MAPERR_LOG_INTERVAL_NS 1000000000ULL

struct vigil_map_err {
	const char *map;    /* map name, for the log */
	__u64 failures;     /* every failed write since vigild started */
	__u64 unlogged;     /* failures since the last log line */
	__u64 last_log_ns;  /* CLOCK_MONOTONIC of the last log line */
	bool logged;        /* a line was logged at all */
};

/* Count one failure at now_ns. True when it is to be logged now (the first,
 * or the first a second or more after the last line); *suppressed is then
 * how many failures since that last line went unlogged, and is reset. */
bool vigil_map_err_note(struct vigil_map_err *e, __u64 now_ns, __u64 *suppressed);

/* Count the failure err (-errno) of writing what ("service web's backend
 * set") into e->map, and log it unless rate-limited. */
void vigil_map_err_report(struct vigil_map_err *e, int err, const char *what);

#endif
