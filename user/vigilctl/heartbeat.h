/* SPDX-License-Identifier: MIT */
/* Is vigild alive? vigilctl reads the pinned heartbeat (abi.h, struct
 * vigil_heartbeat) once per run, before the command, so every command can
 * say when what it shows is no longer being updated. */
#ifndef VIGIL_CTL_HEARTBEAT_H
#define VIGIL_CTL_HEARTBEAT_H

#include <stdbool.h>
#include <jansson.h>

/* Read the heartbeat under pin_dir; unless json, print one line to stderr
 * when vigild is not running (or its heartbeat is unknown). */
void ctl_vigild_check(const char *pin_dir, bool json);

/* Add "vigild": {...} (docs/vigilctl.md) to a JSON object printed by a command. */
void ctl_vigild_add(json_t *root);

#endif
