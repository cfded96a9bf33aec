/* SPDX-License-Identifier: MIT */
/* Rendering a snapshot as an aligned table or as the documented JSON schema. */
#ifndef VIGIL_STATS_FMT_H
#define VIGIL_STATS_FMT_H

#include <stdio.h>
#include "stats.h"

#define VIGIL_STATS_SCHEMA 1

/* interval_s 0: totals since the maps were created; otherwise deltas. */
void vigil_stats_print_table(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s);
/* One JSON object on one line (NDJSON when repeated). Returns 0 or -ENOMEM. */
int vigil_stats_print_json(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s);

#endif
