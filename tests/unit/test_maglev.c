/* SPDX-License-Identifier: MIT */
/* user/lib/maglev.c: argument checks, full and even population, weights,
 * minimal disruption when a backend leaves or joins, and the fast build
 * giving the plain algorithm's table. */
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

/* ---- the fast build against the plain algorithm ------------------------------ */

/* The population as the paper describes it, with vigil's weighted turns:
 * every claim walks the permutation to its next free slot. The reference the
 * faster build must match slot for slot. */
static void reference_build(const struct vigil_maglev_backend *b, int n, __u32 size, __u32 *t)
{
	__u32 pos[64], skip[64], max = 0, left = size;
	__u64 credit[64] = { 0 };
	bool *taken = calloc(size, sizeof(*taken));

	ck_assert_ptr_nonnull(taken);
	ck_assert_int_le(n, 64);
	for (int i = 0; i < n; i++) {
		vigil_maglev_permutation(&b[i].ep, size, &pos[i], &skip[i]);
		max = b[i].weight > max ? b[i].weight : max;
	}
	while (left) {
		for (int i = 0; i < n && left; i++) {
			for (credit[i] += b[i].weight; credit[i] >= max && left; credit[i] -= max) {
				while (taken[pos[i]])
					pos[i] = (pos[i] + skip[i]) % size;
				taken[pos[i]] = true;
				t[pos[i]] = b[i].id;
				pos[i] = (pos[i] + skip[i]) % size;
				left--;
			}
		}
	}
	free(taken);
}

static __u32 next_random(__u64 *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (__u32)(*state >> 33);
}

/* Builds with SIMD instructions (where the CPU has them) and without: both
 * must give the same table. */
static __u32 *build_portable(const struct vigil_maglev_backend *b, int n, __u32 size)
{
	__u32 *t;

	vigil_maglev_allow_simd(false);
	t = build(b, n, size);
	vigil_maglev_allow_simd(true);
	return t;
}

/* Backend set _i: 1 to 40 backends of random addresses, ports, families and
 * weights (a fifth of the sets with weights up to 2^32 - 1), in tables from
 * the smallest to the default size, compared with the reference, built with
 * and without SIMD. */
START_TEST(same_as_reference)
{
	static const __u32 sizes[] = { 2, 7, 61, 127, 131, 251, 1021, 4093, SIZE };
	struct vigil_maglev_backend b[40];
	__u64 rnd = 0x5eed0000u + (__u64)_i;
	__u32 size = sizes[_i % N(sizes)];
	int n = 1 + (int)(next_random(&rnd) % 40);
	__u32 *want, *got;

	if ((__u32)n > size)
		n = (int)size;
	for (int i = 0; i < n; i++) {
		b[i] = backend(i, (int)(next_random(&rnd) % 2));
		for (int k = 0; k < 16; k++)
			b[i].ep.addr[k] ^= (__u8)next_random(&rnd);
		b[i].ep.port = (__u16)next_random(&rnd);
		b[i].weight = _i % 5 == 4 ? next_random(&rnd) * 2u + 1u : 1 + next_random(&rnd) % 8;
	}
	want = new_table(size);
	reference_build(b, n, size, want);
	got = build(b, n, size);
	ck_assert_mem_eq(got, want, size * sizeof(*got));
	free(got);
	got = build_portable(b, n, size);
	ck_assert_mem_eq(got, want, size * sizeof(*got));
	free(want);
	free(got);
}
END_TEST

/* 64 weighted backends in the largest table: the longest walks, many
 * rounds in two passes, with and without SIMD. */
START_TEST(largest_as_reference)
{
	const __u32 size = VIGIL_MAGLEV_MAX_SIZE;
	struct vigil_maglev_backend b[64];
	__u64 rnd = 0x1a96e5u;
	__u32 *want = new_table(size), *got;

	for (int i = 0; i < 64; i++) {
		b[i] = backend(i, i % 2);
		b[i].ep.port = (__u16)next_random(&rnd);
		b[i].weight = 1 + next_random(&rnd) % 4;
	}
	reference_build(b, 64, size, want);
	got = build(b, 64, size);
	ck_assert_mem_eq(got, want, size * sizeof(*got));
	free(got);
	got = build_portable(b, 64, size);
	ck_assert_mem_eq(got, want, size * sizeof(*got));
	free(want);
	free(got);
}
END_TEST

static __u64 fingerprint(const __u32 *t)
{
	__u64 f = 0;

	for (__u32 s = 0; s < SIZE; s++)
		f = f * 31 + t[s];
	return f;
}

/* The table of 100 backends at the default size is the one vigil built
 * before the faster builds (a fingerprint of every slot), with and without
 * SIMD: tables, and so the backends of established flows, stay the same
 * across an upgrade. */
START_TEST(same_as_before)
{
	struct vigil_maglev_backend b[100];
	__u32 *t;

	for (int i = 0; i < 100; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].ep.addr[10] = b[i].ep.addr[11] = 0xff;
		b[i].ep.addr[12] = 10;
		b[i].ep.addr[13] = 2;
		b[i].ep.addr[14] = (__u8)(i / 250);
		b[i].ep.addr[15] = (__u8)(1 + i % 250);
		b[i].ep.port = 8080;
		b[i].ep.family = VIGIL_AF_INET;
		b[i].weight = 1;
		b[i].id = (__u32)i + 1;
	}
	t = build(b, 100, SIZE);
	ck_assert_uint_eq(fingerprint(t), 0x8d8f8cdced367fb7ULL);
	free(t);
	t = build_portable(b, 100, SIZE);
	ck_assert_uint_eq(fingerprint(t), 0x8d8f8cdced367fb7ULL);
	free(t);
}
END_TEST

/* Written 8 bytes apart, as into a BPF array map's mapped values: the same
 * ids, the bytes between untouched. */
START_TEST(strided)
{
	struct vigil_maglev_backend b[MAXB];
	__u64 *slots = malloc(1021 * sizeof(*slots));
	__u32 *t;

	ck_assert_ptr_nonnull(slots);
	make_backends(b, 5, 1);
	memset(slots, 0xab, 1021 * sizeof(*slots));
	t = build(b, 5, 1021);
	ck_assert_int_eq(vigil_maglev_build_strided(b, 5, 1021, slots, sizeof(*slots)), 0);
	for (__u32 s = 0; s < 1021; s++) {
		__u32 words[2];

		memcpy(words, &slots[s], sizeof(words));
		ck_assert_uint_eq(words[0], t[s]);
		ck_assert_uint_eq(words[1], 0xababababu);
	}
	ck_assert_int_eq(vigil_maglev_build_strided(b, 5, 1021, slots, 6), -EINVAL);
	ck_assert_int_eq(vigil_maglev_build_strided(b, 5, 1021, slots, 2), -EINVAL);
	free(t);
	free(slots);
}
END_TEST

Suite *maglev_suite(void)
{
	Suite *s = suite_create("maglev");

	UNIT_TCASE(s, "arguments", { is_prime, N(prime_cases) }, { bad_arguments });
	UNIT_TCASE(s, "population", { deterministic }, { even_shares, 2 }, { weighted_shares },
		   { extreme_weights }, { small_table }, { largest_table });
	UNIT_TCASE(s, "disruption", { remove_one, 10 }, { add_one });
	UNIT_TCASE(s, "fast_build", { same_as_reference, 90 },
		   { largest_as_reference }, { same_as_before }, { strided });
	return s;
}
