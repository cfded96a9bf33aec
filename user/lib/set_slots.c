/* SPDX-License-Identifier: MIT */
#include "set_slots.h"

#include <stdbool.h>
#include <string.h>

/* Slots per entry of one table: weights[i] are the entries' weights (0: not
 * in this table). Returns the table's slot count. */
static __u32 apportion(const __u32 *weights, __u32 n, __u32 *share)
{
	__u64 total = 0, rem_total, frac[VIGIL_MAX_SET];
	__u32 members = 0, given = 0;

	for (__u32 i = 0; i < n; i++) {
		total += weights[i];
		members += weights[i] != 0;
	}
	if (total <= VIGIL_SET_SLOTS) {
		for (__u32 i = 0; i < n; i++)
			share[i] = weights[i];
		return (__u32)total;
	}
	/* One slot each, so no selectable backend is starved, then the
	 * remaining slots by weight; what the floors leave goes to the largest
	 * remainders (ties: the earlier entry). */
	rem_total = VIGIL_SET_SLOTS - members;
	for (__u32 i = 0; i < n; i++) {
		__u64 exact = weights[i] * rem_total;

		share[i] = weights[i] ? 1 + (__u32)(exact / total) : 0;
		frac[i] = weights[i] ? exact % total : 0;
		given += share[i];
	}
	while (given < VIGIL_SET_SLOTS) {
		__u32 best = 0;

		for (__u32 i = 1; i < n; i++)
			if (frac[i] > frac[best])
				best = i;
		share[best]++;
		frac[best] = 0;
		given++;
	}
	return VIGIL_SET_SLOTS;
}

static void build_table(struct vigil_backend_set *set, int table, __u32 n, bool v4_only)
{
	__u32 weights[VIGIL_MAX_SET], share[VIGIL_MAX_SET], slot = 0;

	for (__u32 i = 0; i < n; i++)
		weights[i] = v4_only && set->entries[i].backend.family != VIGIL_AF_INET
				     ? 0 : set->entries[i].weight;
	set->n_slots[table] = (__u16)apportion(weights, n, share);
	for (__u32 i = 0; i < n; i++)
		for (__u32 k = 0; k < share[i]; k++)
			set->slots[table][slot++] = (__u8)i;
}

void vigil_set_slots_build(struct vigil_backend_set *set)
{
	__u32 n = set->n_preferred < set->count ? set->n_preferred : set->count;

	if (n > VIGIL_MAX_SET)
		n = VIGIL_MAX_SET;
	memset(set->slots, 0, sizeof(set->slots));
	build_table(set, VIGIL_SLOTS_V4, n, true);
	build_table(set, VIGIL_SLOTS_ANY, n, false);
}
