/* SPDX-License-Identifier: MIT */
/* Is vigild alive? vigilctl reads the pinned heartbeat (abi.h, struct
 * vigil_heartbeat) once per run, before the command, so every command can
 * say when what it shows is no longer being updated. */
#ifndef VIGIL_CTL_HEARTBEAT_H
#define VIGIL_CTL_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Read the heartbeat under pin_dir; unless json, print one line to stderr
 * when vigild is not running (or its heartbeat is unknown). */
void ctl_vigild_check(const char *pin_dir, bool json);

/* Add "vigild": {...} (docs/vigilctl.md) to a JSON object printed by a command. */
void ctl_vigild_add(json_t *root);

/* The heartbeat read by ctl_vigild_check as one phrase for 'vigilctl
 * status' ("running (pid 812, last tick 0.1 s ago)", "not running since
 * 12:03:01 (stopped)", ...); returns vigild's pid while it runs, else 0. */
unsigned ctl_vigild_describe(char *buf, size_t len);

#endif
