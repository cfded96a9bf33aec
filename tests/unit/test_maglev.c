/* SPDX-License-Identifier: MIT */
/* user/lib/maglev.c: argument checks, full and even population, weights, and
 * minimal disruption when a backend leaves or joins. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "suites.h"

#define SIZE VIGIL_MAGLEV_DEFAULT_SIZE
#define MAXB 16
#define EMPTY 0xdeadbeefu /* never used as a backend id */

/* Backend i: 10.0.<i>.<i*7> port 8080 (v4-mapped), or 2001:db8::<i> port 443. */
static struct vigil_maglev_backend backend(int i, int v6)
{
	struct vigil_maglev_backend b;

	memset(&b, 0, sizeof(b));
	if (v6) {
		b.ep.addr[0] = 0x20;
		b.ep.addr[1] = 0x01;
		b.ep.addr[2] = 0x0d;
		b.ep.addr[3] = 0xb8;
		b.ep.addr[15] = (__u8)i;
		b.ep.port = 443;
		b.ep.family = VIGIL_AF_INET6;
	} else {
		b.ep.addr[10] = 0xff;
		b.ep.addr[11] = 0xff;
		b.ep.addr[12] = 10;
		b.ep.addr[14] = (__u8)i;
		b.ep.addr[15] = (__u8)(i * 7);
		b.ep.port = 8080;
		b.ep.family = VIGIL_AF_INET;
	}
	b.weight = 1;
	b.id = 100 + 3 * (__u32)i;
	return b;
}

static void make_backends(struct vigil_maglev_backend *b, int n, int v6)
{
	for (int i = 0; i < n; i++)
		b[i] = backend(i, v6);
}

static __u32 *new_table(__u32 size)
{
	__u32 *t = malloc(size * sizeof(*t));

	ck_assert_ptr_nonnull(t);
	for (__u32 s = 0; s < size; s++)
		t[s] = EMPTY;
	return t;
}

/* Builds a fresh table; every slot must hold one of the given ids. */
static __u32 *build(const struct vigil_maglev_backend *b, int n, __u32 size)
{
	__u32 *t = new_table(size);

	ck_assert_int_eq(vigil_maglev_build(b, (size_t)n, size, t), 0);
	return t;
}

/* counts[i]: slots owned by b[i]; fails on a slot with an unknown id. */
static void count_slots(const __u32 *t, __u32 size, const struct vigil_maglev_backend *b,
			int n, __u32 *counts)
{
	__u32 unknown = 0, first = 0;

	memset(counts, 0, (size_t)n * sizeof(*counts));
	for (__u32 s = 0; s < size; s++) {
		int i = 0;

		while (i < n && b[i].id != t[s])
			i++;
		if (i < n) {
			counts[i]++;
		} else if (unknown++ == 0) {
			first = s;
		}
	}
	/* One assertion per table: check records every assertion it passes. */
	ck_assert_msg(unknown == 0, "%u slots hold unknown ids, first slot %u: %u", unknown,
		      first, t[first]);
}

static const struct {
	__u32 n;
	bool prime;
} prime_cases[] = {
	{ 0, false },     { 1, false },      { 2, true },      { 3, true },
	{ 4, false },     { 5, true },       { 7, true },      { 9, false },
	{ 11, true },     { 13, true },      { 25, false },    { 65536, false },
	{ 65537, true },  { 131071, true },  { 131073, false }, { 4294967291u, true },
	{ 4294967295u, false },
};

START_TEST(is_prime)
{
	ck_assert_msg(vigil_is_prime(prime_cases[_i].n) == prime_cases[_i].prime,
		      "is_prime(%u)", prime_cases[_i].n);
}
END_TEST

START_TEST(bad_arguments)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 *t = new_table(131101);
	__u32 written = 0;

	make_backends(b, 3, 0);
	ck_assert_int_eq(vigil_maglev_build(b, 3, 65536, t), -EINVAL); /* not prime */
	ck_assert_int_eq(vigil_maglev_build(b, 3, 1, t), -EINVAL);
	ck_assert_int_eq(vigil_maglev_build(b, 3, 0, t), -EINVAL);
	ck_assert_int_eq(vigil_maglev_build(b, 3, 2, t), -EINVAL); /* size < n */
	ck_assert_int_eq(vigil_maglev_build(b, 0, 7, t), -EINVAL);
	ck_assert_int_eq(vigil_maglev_build(NULL, 3, 7, t), -EINVAL);
	ck_assert_int_eq(vigil_maglev_build(b, 3, 7, NULL), -EINVAL);
	ck_assert(vigil_is_prime(131101));
	ck_assert_int_eq(vigil_maglev_build(b, 3, 131101, t), -EINVAL); /* too large */
	ck_assert_int_eq(vigil_maglev_build(b, 3, 4294967291u, t), -EINVAL);
	b[1].weight = 0;
	ck_assert_int_eq(vigil_maglev_build(b, 3, 7, t), -EINVAL);
	/* Nothing was written on error. */
	for (__u32 s = 0; s < 131101; s++)
		written += t[s] != EMPTY;
	ck_assert_uint_eq(written, 0);
	free(t);
}
END_TEST

START_TEST(deterministic)
{
	struct vigil_maglev_backend b[MAXB], copy[MAXB];
	__u32 *t1, *t2;

	make_backends(b, 10, 0);
	memcpy(copy, b, sizeof(b));
	t1 = build(b, 10, SIZE);
	t2 = build(copy, 10, SIZE);
	ck_assert_mem_eq(t1, t2, SIZE * sizeof(*t1));
	free(t1);
	free(t2);
}
END_TEST

/* Loop index: 0 = IPv4 backends, 1 = IPv6 backends. */
START_TEST(even_shares)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 counts[MAXB];
	__u32 *t;

	make_backends(b, 10, _i);
	t = build(b, 10, SIZE);
	count_slots(t, SIZE, b, 10, counts);
	for (int i = 0; i < 10; i++)
		ck_assert_msg(counts[i] >= SIZE / 10 * 0.97 && counts[i] <= SIZE / 10 * 1.03,
			      "backend %d owns %u of %u slots", i, counts[i], SIZE);
	free(t);
}
END_TEST

START_TEST(weighted_shares)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 counts[MAXB];
	__u32 *t;

	make_backends(b, 3, 0);
	for (int i = 0; i < 3; i++)
		b[i].weight = (__u32)i + 1;
	t = build(b, 3, SIZE);
	count_slots(t, SIZE, b, 3, counts);
	for (int i = 0; i < 3; i++) {
		double want = SIZE * (i + 1) / 6.0;

		ck_assert_msg(counts[i] >= want * 0.97 && counts[i] <= want * 1.03,
			      "weight %d owns %u slots, want ~%.0f", i + 1, counts[i], want);
	}
	free(t);
}
END_TEST

START_TEST(extreme_weights)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 counts[MAXB];
	__u32 *t;

	make_backends(b, 2, 0);
	b[0].weight = UINT32_MAX;
	t = build(b, 2, SIZE);
	count_slots(t, SIZE, b, 2, counts);
	ck_assert_uint_ge(counts[0], SIZE - 1);
	free(t);

	t = build(b, 1, 2); /* one backend takes every slot of the smallest table */
	ck_assert_uint_eq(t[0], b[0].id);
	ck_assert_uint_eq(t[1], b[0].id);
	free(t);
}
END_TEST

/* Removing backend k of 10: about 1/10 of the slots change owner, and hardly
 * any slot moves between two backends that both stay. */
START_TEST(remove_one)
{
	struct vigil_maglev_backend b[MAXB], rest[MAXB];
	const int k = _i;
	__u32 *before, *after;
	__u32 changed = 0, moved_between_stayers = 0, to_removed = 0;
	int m = 0;

	make_backends(b, 10, 0);
	for (int i = 0; i < 10; i++)
		if (i != k)
			rest[m++] = b[i];
	before = build(b, 10, SIZE);
	after = build(rest, m, SIZE);
	for (__u32 s = 0; s < SIZE; s++) {
		if (before[s] == after[s])
			continue;
		changed++;
		if (before[s] != b[k].id)
			moved_between_stayers++;
		to_removed += after[s] == b[k].id;
	}
	ck_assert_uint_eq(to_removed, 0);
	ck_assert_uint_ge(changed, SIZE / 10); /* every slot of k moved */
	ck_assert_uint_lt(changed, SIZE * 0.13);
	ck_assert_uint_lt(moved_between_stayers, SIZE * 0.02);
	free(before);
	free(after);
}
END_TEST

START_TEST(add_one)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 *before, *after;
	__u32 changed = 0, gained = 0;

	make_backends(b, 11, 0);
	before = build(b, 10, SIZE);
	after = build(b, 11, SIZE);
	for (__u32 s = 0; s < SIZE; s++) {
		if (before[s] == after[s])
			continue;
		changed++;
		gained += after[s] == b[10].id;
	}
	ck_assert_uint_gt(changed, SIZE / 11 * 0.97);
	ck_assert_uint_lt(changed, SIZE * (1.0 / 11 + 0.03));
	ck_assert_uint_gt(gained, SIZE / 11 * 0.97);
	free(before);
	free(after);
}
END_TEST

/* Size 7, 3 backends of equal weight: two full rounds and one more turn for
 * the first backend. */
START_TEST(small_table)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 counts[MAXB];
	__u32 *t;

	make_backends(b, 7, 0);
	t = build(b, 3, 7);
	count_slots(t, 7, b, 3, counts);
	ck_assert_uint_eq(counts[0], 3);
	ck_assert_uint_eq(counts[1], 2);
	ck_assert_uint_eq(counts[2], 2);
	free(t);

	t = build(b, 7, 7); /* as many backends as slots: one each */
	count_slots(t, 7, b, 7, counts);
	for (int i = 0; i < 7; i++)
		ck_assert_uint_eq(counts[i], 1);
	free(t);
}
END_TEST

START_TEST(largest_table)
{
	struct vigil_maglev_backend b[MAXB];
	__u32 counts[MAXB];
	__u32 *t;

	make_backends(b, MAXB, 1);
	t = build(b, MAXB, VIGIL_MAGLEV_MAX_SIZE);
	count_slots(t, VIGIL_MAGLEV_MAX_SIZE, b, MAXB, counts);
	for (int i = 0; i < MAXB; i++)
		ck_assert_uint_ge(counts[i], VIGIL_MAGLEV_MAX_SIZE / MAXB);
	free(t);
}
END_TEST

Suite *maglev_suite(void)
{
	Suite *s = suite_create("maglev");

	UNIT_TCASE(s, "arguments", { is_prime, N(prime_cases) }, { bad_arguments });
	UNIT_TCASE(s, "population", { deterministic }, { even_shares, 2 }, { weighted_shares },
		   { extreme_weights }, { small_table }, { largest_table });
	UNIT_TCASE(s, "disruption", { remove_one, 10 }, { add_one });
	return s;
}
