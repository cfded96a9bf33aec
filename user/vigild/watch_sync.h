/* SPDX-License-Identifier: MIT */
/* Make the kernel watch maps equal to the config's watch section. */
#ifndef VIGIL_WATCH_SYNC_H
#define VIGIL_WATCH_SYNC_H

#include <stddef.h>
#include "config.h"

struct monitor_bpf;

/* The remote watches (watch_exact, watch_prefix); local ports are a bitmap of
 * the monitor's settings (monitor.c). New entries are inserted before stale
 * ones are deleted, so an endpoint present in both old and new config is
 * never unwatched in between. */
int vigil_watch_sync(struct monitor_bpf *skel, const struct vigil_config *cfg, char *err,
		     size_t errlen);

#endif
