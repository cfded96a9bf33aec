/* SPDX-License-Identifier: MIT */
/* Names and meanings of the counters indexed by an ABI enum (loss reasons,
 * socket rescue counters, packet datapath counters and drop reasons) and of the LRU maps whose fill
 * is reported: one table each, shared by vigilctl (its JSON keys and
 * tables) and vigild's metrics (their "kind" and "map" label values). */
#ifndef VIGIL_COUNTER_NAMES_H
#define VIGIL_COUNTER_NAMES_H

#include <vigil/abi.h>

#include "stats.h"

struct vigil_counter_name {
	const char *name;    /* JSON key and label value */
	const char *meaning; /* one line, for tables and metric help */
};

/* Indexed by enum vigil_loss_reason. */
extern const struct vigil_counter_name vigil_loss_names[VIGIL_LOSS_REASONS];
/* Indexed by enum vigil_rescue_counter. */
extern const struct vigil_counter_name vigil_rescue_names[VIGIL_RESCUE_COUNTERS];
/* Indexed by enum vigil_xdp_counter. */
extern const struct vigil_counter_name vigil_xdp_counter_names[VIGIL_XDP_COUNTERS];
/* Indexed by enum vigil_drop_reason. */
extern const struct vigil_counter_name vigil_drop_names[VIGIL_DROP_REASONS];
/* Indexed by enum vigil_fill_map: the pin names. */
extern const char *const vigil_fill_names[VIGIL_FILL_MAPS];

#endif
