/* SPDX-License-Identifier: MIT */
/* Rendering a snapshot as an aligned table or as the documented JSON schema. */
#ifndef VIGIL_STATS_FMT_H
#define VIGIL_STATS_FMT_H

#include <jansson.h>
#include <stdio.h>
#include "stats.h"

#define VIGIL_STATS_SCHEMA 1

/* interval_s 0: totals since the maps were created; otherwise deltas. */
void vigil_stats_print_table(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s);
/* One JSON object on one line (NDJSON when repeated). Returns 0 or -ENOMEM. */
int vigil_stats_print_json(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s);

/* The loss counters (enum vigil_loss_reason) as the "loss" object of the
 * JSON schema: null, not zeros, when nothing counts losses (no loss pin). */
json_t *vigil_loss_json(const __u64 *loss, int have_loss);
/* A loss reason's name (its JSON key). */
const char *vigil_loss_name(int reason);
/* The configured feeds by name ({} when none; null when not pinned). */
json_t *vigil_feeds_json(const struct vigil_feed_stats *feeds, int have_feeds);
/* "haproxy", "nginx" (enum vigil_feed). */
const char *vigil_feed_name(int feed);

#endif
