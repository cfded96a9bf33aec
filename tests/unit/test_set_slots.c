/* SPDX-License-Identifier: MIT */
/* user/lib/set_slots.c: the weighted slot tables connect4/6 draw from. */
#include <stdlib.h>
#include <string.h>

#include "set_slots.h"
#include "suites.h"

/* A set of n preferred entries with the given weights (IPv4 unless v6[i])
 * and n_backups backups of weight 1 after them. */
static struct vigil_backend_set make_set(const __u32 *weights, const int *v6, __u32 n,
					 __u32 n_backups)
{
	struct vigil_backend_set set;

	memset(&set, 0, sizeof(set));
	for (__u32 i = 0; i < n + n_backups; i++) {
		struct vigil_endpoint *ep = &set.entries[i].backend;

		ep->family = v6 && i < n && v6[i] ? VIGIL_AF_INET6 : VIGIL_AF_INET;
		ep->addr[15] = (__u8)(i + 1);
		ep->port = 8080;
		set.entries[i].weight = i < n ? weights[i] : 1;
	}
	set.count = n + n_backups;
	set.n_preferred = n;
	return set;
}

/* How many slots of table t hold entry i. */
static __u32 slots_of(const struct vigil_backend_set *set, int t, __u32 i)
{
	__u32 k = 0;

	for (__u32 s = 0; s < set->n_slots[t]; s++)
		k += set->slots[t][s] == i;
	return k;
}

START_TEST(exact_when_total_fits)
{
	const __u32 w[] = { 1, 2, 3 };
	struct vigil_backend_set set = make_set(w, NULL, 3, 0);

	vigil_set_slots_build(&set);
	ck_assert_uint_eq(set.n_slots[VIGIL_SLOTS_ANY], 6);
	ck_assert_uint_eq(set.n_slots[VIGIL_SLOTS_V4], 6);
	for (__u32 i = 0; i < 3; i++) {
		ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_ANY, i), w[i]);
		ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_V4, i), w[i]);
	}
}
END_TEST

/* The IPv4 table leaves IPv6 entries out (connect4 cannot reach them); the
 * other table has every preferred entry. Backups (the fallback tier) are in
 * neither: the kernel walks them only when every preferred entry is down. */
START_TEST(families_and_backups)
{
	const __u32 w[] = { 2, 5, 1 };
	const int v6[] = { 0, 1, 0 };
	struct vigil_backend_set set = make_set(w, v6, 3, 2);

	vigil_set_slots_build(&set);
	ck_assert_uint_eq(set.n_slots[VIGIL_SLOTS_V4], 3);
	ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_V4, 0), 2);
	ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_V4, 1), 0);
	ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_V4, 2), 1);
	ck_assert_uint_eq(set.n_slots[VIGIL_SLOTS_ANY], 8);
	ck_assert_uint_eq(slots_of(&set, VIGIL_SLOTS_ANY, 1), 5);
	for (int t = 0; t < VIGIL_SLOT_TABLES; t++)
		for (__u32 s = 0; s < set.n_slots[t]; s++)
			ck_assert_uint_lt(set.slots[t][s], 3);
}
END_TEST

START_TEST(empty_tables)
{
	const int v6[] = { 1 };
	const __u32 w[] = { 4 };
	struct vigil_backend_set none = make_set(NULL, NULL, 0, 0);
	struct vigil_backend_set only_v6 = make_set(w, v6, 1, 0);

	memset(none.slots, 0xaa, sizeof(none.slots));
	vigil_set_slots_build(&none);
	ck_assert_uint_eq(none.n_slots[VIGIL_SLOTS_V4], 0);
	ck_assert_uint_eq(none.n_slots[VIGIL_SLOTS_ANY], 0);
	ck_assert_uint_eq(none.slots[VIGIL_SLOTS_ANY][0], 0);
	vigil_set_slots_build(&only_v6);
	ck_assert_uint_eq(only_v6.n_slots[VIGIL_SLOTS_V4], 0);
	ck_assert_uint_eq(only_v6.n_slots[VIGIL_SLOTS_ANY], 4);
}
END_TEST

/* Total weight above the table: every entry keeps at least one slot (a
 * backend of weight 1 next to one of weight 1,000,000 still gets traffic),
 * the rest shared by weight, all VIGIL_SET_SLOTS used. */
START_TEST(scaled_when_total_exceeds)
{
	const __u32 skew[] = { 1, 1000000 }, third[] = { 300, 100 };
	struct vigil_backend_set a = make_set(skew, NULL, 2, 0), b = make_set(third, NULL, 2, 0);

	vigil_set_slots_build(&a);
	ck_assert_uint_eq(a.n_slots[VIGIL_SLOTS_ANY], VIGIL_SET_SLOTS);
	ck_assert_uint_eq(slots_of(&a, VIGIL_SLOTS_ANY, 0), 1);
	ck_assert_uint_eq(slots_of(&a, VIGIL_SLOTS_ANY, 1), VIGIL_SET_SLOTS - 1);
	vigil_set_slots_build(&b);
	ck_assert_uint_eq(slots_of(&b, VIGIL_SLOTS_ANY, 0), 192);
	ck_assert_uint_eq(slots_of(&b, VIGIL_SLOTS_ANY, 1), 64);
}
END_TEST

/* Random weights and families: the shares add up to the slot count, and each
 * entry's share is within one slot (plus its guaranteed one) of its weight's
 * proportion. */
START_TEST(random_sets)
{
	__u32 w[VIGIL_MAX_SET];
	int v6[VIGIL_MAX_SET];
	__u32 n = 1 + (__u32)_i % VIGIL_MAX_SET;
	struct vigil_backend_set set;

	srand((unsigned)_i * 7919u + 1);
	for (__u32 i = 0; i < n; i++) {
		w[i] = _i % 3 ? 1 + (__u32)rand() % 1000000 : 1 + (__u32)rand() % 8;
		v6[i] = rand() % 4 == 0;
	}
	set = make_set(w, v6, n, (__u32)_i % 3);
	vigil_set_slots_build(&set);
	for (int t = 0; t < VIGIL_SLOT_TABLES; t++) {
		double total = 0, rem;
		__u32 members = 0, sum = 0;

		for (__u32 i = 0; i < n; i++)
			if (t == VIGIL_SLOTS_ANY || !v6[i]) {
				total += w[i];
				members++;
			}
		rem = VIGIL_SET_SLOTS - members;
		for (__u32 i = 0; i < n; i++) {
			__u32 k = slots_of(&set, t, i);
			double want;

			sum += k;
			if (t == VIGIL_SLOTS_V4 && v6[i]) {
				ck_assert_uint_eq(k, 0);
				continue;
			}
			if (total <= VIGIL_SET_SLOTS) {
				ck_assert_uint_eq(k, w[i]);
				continue;
			}
			want = 1 + w[i] * rem / total;
			ck_assert(k >= (__u32)want && k <= (__u32)want + 1);
		}
		ck_assert_uint_eq(sum, set.n_slots[t]);
		ck_assert_uint_le(set.n_slots[t], VIGIL_SET_SLOTS);
	}
}
END_TEST

Suite *set_slots_suite(void)
{
	Suite *s = suite_create("set_slots");

	UNIT_TCASE(s, "tables", { exact_when_total_fits }, { families_and_backups }, { empty_tables },
		   { scaled_when_total_exceeds }, { random_sets, 200 });
	return s;
}
