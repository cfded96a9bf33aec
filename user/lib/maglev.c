/* SPDX-License-Identifier: MIT */
/* Maglev lookup-table population (Eisenbud et al., NSDI 2016), weighted.
 *
 * Backend i walks the permutation pos_0 = offset, pos_{j+1} = pos_j + skip
 * (mod size). size is prime and 1 <= skip < size, so the walk visits every
 * slot exactly once before it repeats: a backend always finds a free slot
 * while one is left.
 *
 * Weights: backends take turns in input order. Per round each backend adds
 * its weight to a credit and claims one slot per max_weight of credit, so
 * the heaviest backend claims exactly one slot per round and a backend of
 * weight w claims w/max_weight as many. Every round claims at least one slot,
 * so the build ends after at most size rounds. Each backend keeps its own
 * position in its permutation (the paper's next[]), so the whole build reads
 * each backend's permutation at most once.
 *
 * Speed (vigild rebuilds on every backend-set change): walking costs
 * size / free steps per claim, so the last claims dominate; once at most
 * TAIL_SLOTS slots are free, the next free slot of a permutation is found
 * instead as the free slot that comes first in it, from each free slot's
 * place in the permutation ((slot - offset) / skip mod size). Same table.
 *
 * Walks get costly once a try fails often: how long one is cannot be
 * predicted, so its end is a mispredicted branch, and the next claim waits
 * for it. So, as the table fills, a walk tries 2, 4, then 16 slots of its
 * permutation at once (two AVX2 gathers where the CPU has them) and picks the
 * first free one without a branch per slot; a bitmap that holds every slot
 * twice spares the lanes their reduction mod size. And once half the slots
 * are taken, a round runs in two passes: the first finds every claiming
 * backend's next free slot as the table was when the round began (walks that
 * only read, which the CPU overlaps), the second claims in turn order and
 * walks on past a slot that a backend earlier in the round took meanwhile
 * (rare while more than TAIL_SLOTS are free). Every slot before a found one
 * was taken already, so that is the slot the walk in turn finds: same table.
 * At 65537 slots and 100 backends a build takes about 38 % less time. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "maglev.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MAGLEV_GATHER /* walk_gather() is built, used where the CPU has AVX2 */
#endif

static bool simd_allowed = true;

void vigil_maglev_allow_simd(bool allow)
{
	simd_allowed = allow;
}

static bool use_gather(void)
{
#ifdef MAGLEV_GATHER
	return simd_allowed && __builtin_cpu_supports("avx2");
#else
	return false;
#endif
}

#define SEED_OFFSET 0x6d61676c65763031ULL /* distinct seeds: two independent hashes */
#define SEED_SKIP   0x736b69702d763032ULL
#define GOLDEN      0x9e3779b97f4a7c15ULL

#define MAX_LANES 16u /* slots a walk tries at once, at most */

struct walker {
	__u32 pos;      /* next slot of the permutation to try */
	__u32 offset;   /* first slot of the permutation */
	__u32 inv_skip; /* skip^-1 mod size */
	__u32 found;    /* a round's first pass: the next free slot, */
	__u32 after;    /* and where the walk goes on from there */
	bool claims;    /* a round's first pass: claims a slot this round */
	__u64 credit;   /* < max_weight between rounds */
	__u32 ahead[MAX_LANES + 1]; /* j * skip mod size; skip = ahead[1] */
};

/* Where the walk hands over to the tail. A tail claim costs one modular
 * multiplication per free slot, a walk step about as much; at 65537 slots
 * and 100 backends the tail then saves about half of the walk's steps (256
 * or 512 measured slower, 64 the same). */
#define TAIL_SLOTS 128u

struct fill {
	__u32 size;
	__u32 left;    /* slots still free */
	__u32 *used;   /* taken slots (the walk): bits s and size + s for slot s */
	__u32 *free;   /* the free slots (the tail: left <= TAIL_SLOTS) */
	__u64 barrett; /* floor((2^64 - 1) / size): x % size without a division */
	__u32 wider_at[4]; /* walks try more slots at once from these left (set_lanes) */
	__u32 two_pass_at; /* rounds run in two passes from this left on */
	bool gather;   /* walk_gather() from wider_at[2] on */
	__u8 *table;   /* slot s at table + s * stride */
	size_t stride;
};

bool vigil_is_prime(__u32 n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (__u64 d = 3; d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

/* 64-bit avalanche finalizer (xor-shift / multiply rounds). */
static __u64 mix64(__u64 x)
{
	x ^= x >> 31;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return x;
}

static __u64 load_le64(const __u8 *p)
{
	__u64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Hash of all 20 bytes of the endpoint. The fields are read by value (port
 * as a number), so the result does not depend on the host's byte order. */
static __u64 hash_endpoint(const struct vigil_endpoint *ep, __u64 seed)
{
	__u64 words[3];
	__u64 h = mix64(seed ^ (sizeof(*ep) * GOLDEN));

	words[0] = load_le64(ep->addr);
	words[1] = load_le64(ep->addr + 8);
	words[2] = (__u64)ep->port | (__u64)ep->family << 16 | (__u64)ep->pad << 24;
	for (int i = 0; i < 3; i++)
		h = mix64(h ^ (words[i] + GOLDEN * (__u64)(i + 1)));
	return mix64(h + seed);
}

void vigil_maglev_permutation(const struct vigil_endpoint *ep, __u32 size, __u32 *offset,
			      __u32 *skip)
{
	*offset = (__u32)(hash_endpoint(ep, SEED_OFFSET) % size);
	*skip = (__u32)(hash_endpoint(ep, SEED_SKIP) % (size - 1) + 1);
}

static __u32 max_weight(const struct vigil_maglev_backend *backends, size_t n)
{
	__u32 max = 0;

	for (size_t i = 0; i < n; i++)
		if (backends[i].weight > max)
			max = backends[i].weight;
	return max;
}

static int check_args(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		      const void *table, size_t stride)
{
	if (!backends || !table || n == 0 || stride < sizeof(__u32) || stride % sizeof(__u32))
		return -EINVAL;
	if (size > VIGIL_MAGLEV_MAX_SIZE || !vigil_is_prime(size) || n > size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (backends[i].weight == 0)
			return -EINVAL;
	return 0;
}

/* x mod size, for x < 2 * size */
static __u32 wrap(__u32 x, __u32 size)
{
	return x >= size ? x - size : x;
}

/* x^-1 mod p (p prime, 0 < x < p): extended Euclidean algorithm. */
static __u32 mod_inverse(__u32 x, __u32 p)
{
	__s64 t = 0, next_t = 1, r = p, next_r = x;

	while (next_r) {
		__s64 q = r / next_r, tmp = t - q * next_t;

		t = next_t;
		next_t = tmp;
		tmp = r - q * next_r;
		r = next_r;
		next_r = tmp;
	}
	return (__u32)(t < 0 ? t + p : t);
}

static void init_walkers(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
			 struct walker *w)
{
	for (size_t i = 0; i < n; i++) {
		__u32 skip;

		vigil_maglev_permutation(&backends[i].ep, size, &w[i].offset, &skip);
		w[i].inv_skip = mod_inverse(skip, size);
		w[i].pos = w[i].offset;
		w[i].credit = 0;
		w[i].ahead[0] = 0;
		for (__u32 j = 1; j <= MAX_LANES; j++)
			w[i].ahead[j] = wrap(w[i].ahead[j - 1] + skip, size);
	}
}

static __u32 percent_of(__u32 size, __u32 percent)
{
	return (__u32)((__u64)size * percent / 100);
}

/* Walks try 2, 4, 8, 16 slots at once from 80, 70, 40, 20 % of the slots
 * left on (a try fails with chance (size - left) / size): few while most
 * first tries succeed, so that little is loaded in vain, more later, so that
 * a walk rarely needs a second step. Two passes from half the slots on. Best
 * of the settings measured at 65537 slots and 100 backends. */
static void set_lanes(struct fill *f)
{
	static const __u32 percent_left[4] = { 80, 70, 40, 20 };

	for (int k = 0; k < 4; k++)
		f->wider_at[k] = percent_of(f->size, percent_left[k]);
	f->two_pass_at = percent_of(f->size, 50);
	f->gather = use_gather();
}

/* bit < 2 * size: slot bit or bit - size */
static bool taken(const __u32 *used, __u32 bit)
{
	return used[bit / 32] >> (bit % 32) & 1;
}

static void take(__u32 *used, __u32 slot, __u32 size)
{
	used[slot / 32] |= 1u << (slot % 32);
	slot += size;
	used[slot / 32] |= 1u << (slot % 32);
}

/* Bit j set if slot base + ahead[j] is taken, j < lanes. No reduction mod
 * size needed: base + ahead[j] < 2 * size, and the bitmap holds each slot
 * twice. */
static inline unsigned taken_ahead(const struct walker *w, const __u32 *used, __u32 base,
				   unsigned lanes)
{
	unsigned mask = 0;

#pragma GCC unroll 16
	for (unsigned j = 0; j < lanes; j++)
		mask |= (unsigned)taken(used, base + w->ahead[j]) << j;
	return mask;
}

/* The first free slot among those tried from base (mask: the taken ones);
 * *after is where the walk goes on: past the taken ones that follow it, as
 * a taken slot stays taken. */
static inline __u32 pick(const struct walker *w, __u32 base, unsigned mask, __u32 size,
			 __u32 *after)
{
	__u32 j = (__u32)__builtin_ctz(~mask);
	__u32 next = j + 1 + (__u32)__builtin_ctz(~(mask >> (j + 1)));

	*after = wrap(base + w->ahead[next], size);
	return wrap(base + w->ahead[j], size);
}

/* The next free slot of w's permutation from its position, trying lanes
 * slots at once; *after is where the walk goes on. */
static inline __u32 walk_lanes(const struct walker *w, const __u32 *used, __u32 size,
			       unsigned lanes, __u32 *after)
{
	__u32 base = w->pos;
	unsigned mask;

	while ((mask = taken_ahead(w, used, base, lanes)) == (1u << lanes) - 1)
		base = wrap(base + w->ahead[lanes], size);
	return pick(w, base, mask, size, after);
}

/* The same one slot at a time, with a branch per slot: cheapest while most
 * first tries succeed. */
static inline __u32 walk_slots(const struct walker *w, const __u32 *used, __u32 size, __u32 *after)
{
	__u32 slot = w->pos;

	while (taken(used, slot))
		slot = wrap(slot + w->ahead[1], size);
	*after = wrap(slot + w->ahead[1], size);
	return slot;
}

#ifdef MAGLEV_GATHER
/* walk_lanes(w, used, size, 16, after) with two AVX2 gathers of bitmap words
 * per step instead of 16 loads: about twice as fast once walks are long.
 * Each lane moves its slot's bit to the sign bit, which movemask collects. */
__attribute__((target("avx2"))) static __u32 walk_gather(const struct walker *w,
							  const __u32 *used, __u32 size,
							  __u32 *after)
{
	const __m256i lo = _mm256_loadu_si256((const __m256i *)w->ahead);
	const __m256i hi = _mm256_loadu_si256((const __m256i *)(w->ahead + 8));
	const __m256i low5 = _mm256_set1_epi32(31);
	const int *words = (const int *)used;
	__u32 base = w->pos;
	unsigned mask;

	for (;;) {
		__m256i b = _mm256_set1_epi32((int)base);
		__m256i x0 = _mm256_add_epi32(b, lo), x1 = _mm256_add_epi32(b, hi);
		__m256i w0 = _mm256_i32gather_epi32(words, _mm256_srli_epi32(x0, 5), 4);
		__m256i w1 = _mm256_i32gather_epi32(words, _mm256_srli_epi32(x1, 5), 4);

		w0 = _mm256_sllv_epi32(w0, _mm256_andnot_si256(x0, low5)); /* 31 - x % 32 */
		w1 = _mm256_sllv_epi32(w1, _mm256_andnot_si256(x1, low5));
		mask = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(w0)) |
		       (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(w1)) << 8;
		if (mask != 0xffff)
			break;
		base = wrap(base + w->ahead[16], size);
	}
	return pick(w, base, mask, size, after);
}
#endif

/* walk_lanes with as many lanes as suit how full the table is; out of line,
 * so that find_free() stays small enough to inline. */
static __attribute__((noinline)) __u32 walk_wide(const struct walker *w, const struct fill *f,
						 __u32 *after)
{
	if (f->left > f->wider_at[1])
		return walk_lanes(w, f->used, f->size, 2, after);
	if (f->left > f->wider_at[2])
		return walk_lanes(w, f->used, f->size, 4, after);
#ifdef MAGLEV_GATHER
	if (f->gather)
		return walk_gather(w, f->used, f->size, after);
#endif
	if (f->left > f->wider_at[3])
		return walk_lanes(w, f->used, f->size, 8, after);
	return walk_lanes(w, f->used, f->size, 16, after);
}

/* The next free slot of w's permutation from its position; *after is where
 * the walk goes on. */
static inline __u32 find_free(const struct walker *w, const struct fill *f, __u32 *after)
{
	if (f->left > f->wider_at[0])
		return walk_slots(w, f->used, f->size, after);
	return walk_wide(w, f, after);
}

/* Where slot comes in w's permutation: (slot - offset) * skip^-1 mod size. */
static __u32 place(const struct walker *w, const struct fill *f, __u32 slot)
{
	__u64 x = (__u64)(slot >= w->offset ? slot - w->offset : slot + f->size - w->offset) *
		  w->inv_skip;
	__u64 q = (__u64)(((unsigned __int128)x * f->barrett) >> 64);
	__u64 r = x - q * f->size; /* q is at most one short */

	return (__u32)(r >= f->size ? r - f->size : r);
}

/* The next free slot of w's permutation in the tail: the free slot that comes
 * first in it (every slot before w's position is taken, and stays so, so it
 * is the slot the walk would reach). Taken out of the free slots. */
static __u32 first_free_in_tail(const struct walker *w, struct fill *f)
{
	__u32 best = 0, best_place = place(w, f, f->free[0]), slot;

	for (__u32 k = 1; k < f->left; k++) {
		__u32 p = place(w, f, f->free[k]);

		if (p < best_place) {
			best_place = p;
			best = k;
		}
	}
	slot = f->free[best];
	f->free[best] = f->free[f->left - 1];
	return slot;
}

/* Lists the free slots for the tail. */
static void list_free(const __u32 *used, __u32 size, __u32 *free_slots)
{
	__u32 k = 0;

	for (__u32 word = 0; word * 32 < size; word++) {
		__u32 open = ~used[word];

		while (open) {
			__u32 slot = word * 32 + (__u32)__builtin_ctz(open);

			if (slot >= size)
				break;
			free_slots[k++] = slot;
			open &= open - 1;
		}
	}
}

static void write_slot(struct fill *f, __u32 slot, __u32 id)
{
	*(__u32 *)(f->table + slot * f->stride) = id;
	f->left--;
}

/* Gives w's next free slot to id. A free slot must be left. */
static void claim(struct walker *w, struct fill *f, __u32 id)
{
	__u32 slot;

	if (f->left > TAIL_SLOTS) {
		__u32 after;

		slot = find_free(w, f, &after);
		w->pos = after;
		take(f->used, slot, f->size);
	} else {
		slot = first_free_in_tail(w, f);
	}
	write_slot(f, slot, id);
	if (f->left == TAIL_SLOTS)
		list_free(f->used, f->size, f->free);
}

/* A backend's turn: whether it claims a slot. A turn adds weight <= max to
 * a credit < max, so it claims at most one. */
static bool claims_in_turn(struct walker *w, __u32 weight, __u32 max)
{
#ifdef VIGIL_MUTANT_MAGLEV_WEIGHTS
	/* Mutation smoke test (see tests/mutants.sh): weights are ignored,
	 * every backend gets an equal share. */
	weight = max;
#endif
	w->credit += weight;
	if (w->credit < max)
		return false;
	w->credit -= max;
	return true;
}

/* One round in two passes (see the top of the file). Needs more than
 * TAIL_SLOTS + n slots left. */
static void two_pass_round(const struct vigil_maglev_backend *backends, size_t n,
			   struct walker *w, struct fill *f, __u32 max)
{
	for (size_t i = 0; i < n; i++) {
		w[i].claims = claims_in_turn(&w[i], backends[i].weight, max);
		if (w[i].claims)
			w[i].found = find_free(&w[i], f, &w[i].after);
	}
	for (size_t i = 0; i < n; i++) {
		if (!w[i].claims)
			continue;
		if (taken(f->used, w[i].found)) {
			w[i].pos = w[i].found; /* taken earlier in this round */
			w[i].found = find_free(&w[i], f, &w[i].after);
		}
		w[i].pos = w[i].after;
		take(f->used, w[i].found, f->size);
		write_slot(f, w[i].found, backends[i].id);
	}
}

/* One round, each claim in turn. Returns whether slots are left. */
static bool one_pass_round(const struct vigil_maglev_backend *backends, size_t n,
			   struct walker *w, struct fill *f, __u32 max)
{
	for (size_t i = 0; i < n; i++) {
		if (!claims_in_turn(&w[i], backends[i].weight, max))
			continue;
		claim(&w[i], f, backends[i].id);
		if (!f->left)
			return false;
	}
	return true;
}

/* Rounds of turns until every slot is taken: in turn while most first tries
 * succeed, in two passes while walks are long, in turn again for the tail. */
static void populate(const struct vigil_maglev_backend *backends, size_t n, struct walker *w,
		     struct fill *f)
{
	__u32 max = max_weight(backends, n);

	while (f->left > f->two_pass_at && f->left > TAIL_SLOTS + n)
		one_pass_round(backends, n, w, f, max);
	while (f->left > TAIL_SLOTS + n)
		two_pass_round(backends, n, w, f, max);
	while (one_pass_round(backends, n, w, f, max))
		;
}

int vigil_maglev_build_strided(const struct vigil_maglev_backend *backends, size_t n,
			       __u32 size, void *table, size_t stride)
{
	struct fill f = { .size = size, .left = size, .table = table, .stride = stride };
	struct walker *w;
	int err = check_args(backends, n, size, table, stride);

	if (err)
		return err;
	f.barrett = UINT64_MAX / size;
	set_lanes(&f);
	w = malloc(n * sizeof(*w));
	f.used = calloc((2 * size + 31) / 32, sizeof(*f.used));
	f.free = malloc(TAIL_SLOTS * sizeof(*f.free));
	if (!w || !f.used || !f.free) {
		err = -ENOMEM;
		goto out;
	}
	init_walkers(backends, n, size, w);
	if (size <= TAIL_SLOTS)
		list_free(f.used, f.size, f.free);
	populate(backends, n, w, &f);
out:
	free(w);
	free(f.used);
	free(f.free);
	return err;
}

int vigil_maglev_build(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		       __u32 *table)
{
	return vigil_maglev_build_strided(backends, n, size, table, sizeof(*table));
}
