/* SPDX-License-Identifier: MIT */
/* The weighted slot tables of a backend set (abi.h, VIGIL_SET_SLOTS): what
 * connect4/6 draw a backend from in one step, computed from the set's
 * entries whenever a set is written (vigil_set_write). */
#ifndef VIGIL_SET_SLOTS_H
#define VIGIL_SET_SLOTS_H

#include <vigil/abi.h>

/* Fill set->slots and set->n_slots from its preferred entries
 * (entries[0, n_preferred)): table VIGIL_SLOTS_V4 from the IPv4 ones,
 * VIGIL_SLOTS_ANY from all. Each entry with a weight gets slots in
 * proportion to it: exactly its weight when the table's total weight fits
 * VIGIL_SET_SLOTS, otherwise at least one slot and the rest of the
 * VIGIL_SET_SLOTS shared by weight (largest remainder). Slots past
 * n_slots are 0. */
void vigil_set_slots_build(struct vigil_backend_set *set);

#endif
