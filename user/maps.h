/* SPDX-License-Identifier: MIT */
/* Reading the monitor's pinned maps (used by vigilctl; works without vigild). */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#include <stddef.h>
#include "stats.h"

/* Open pin_dir/name after checking its key and value sizes match this build.
 * Returns an fd or -errno with reason and fix in err. */
int vigil_pin_open(const char *pin_dir, const char *name, size_t key_size, size_t value_size,
		   char *err, size_t errlen);

/* Read backend_stats, local_stats and the in-flight count into snap (sorted). */
int vigil_snapshot_read(const char *pin_dir, struct vigil_snapshot *snap, char *err,
			size_t errlen);

#endif
