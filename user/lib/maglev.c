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
 * each backend's permutation at most once. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "maglev.h"

#define SEED_OFFSET 0x6d61676c65763031ULL /* distinct seeds: two independent hashes */
#define SEED_SKIP   0x736b69702d763032ULL
#define GOLDEN      0x9e3779b97f4a7c15ULL

struct walker {
	__u32 pos;    /* next slot of the permutation to try */
	__u32 skip;
	__u64 credit; /* < max_weight between rounds */
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

static __u32 max_weight(const struct vigil_maglev_backend *backends, size_t n)
{
	__u32 max = 0;

	for (size_t i = 0; i < n; i++)
		if (backends[i].weight > max)
			max = backends[i].weight;
	return max;
}

static int check_args(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		      const __u32 *table)
{
	if (!backends || !table || n == 0)
		return -EINVAL;
	if (size > VIGIL_MAGLEV_MAX_SIZE || !vigil_is_prime(size) || n > size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (backends[i].weight == 0)
			return -EINVAL;
	return 0;
}

static void init_walkers(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
			 struct walker *w)
{
	for (size_t i = 0; i < n; i++) {
		w[i].pos = (__u32)(hash_endpoint(&backends[i].ep, SEED_OFFSET) % size);
		w[i].skip = (__u32)(hash_endpoint(&backends[i].ep, SEED_SKIP) % (size - 1) + 1);
		w[i].credit = 0;
	}
}

static bool slot_taken(const __u64 *used, __u32 slot)
{
	return used[slot / 64] >> (slot % 64) & 1;
}

/* Advance w to its next free slot, claim it for id. A free slot must exist. */
static void claim(struct walker *w, __u32 size, __u64 *used, __u32 *table, __u32 id)
{
	__u32 slot = w->pos;

	while (slot_taken(used, slot)) {
		slot += w->skip;
		if (slot >= size)
			slot -= size;
	}
	used[slot / 64] |= 1ULL << (slot % 64);
	table[slot] = id;
	w->pos = slot + w->skip >= size ? slot + w->skip - size : slot + w->skip;
}

/* Rounds of turns until every slot is taken. */
static void populate(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		     struct walker *w, __u64 *used, __u32 *table)
{
	__u32 max = max_weight(backends, n);
	__u32 filled = 0;

	while (filled < size) {
		for (size_t i = 0; i < n && filled < size; i++) {
#ifdef VIGIL_MUTANT_MAGLEV_WEIGHTS
			/* Mutation smoke test (see tests/mutants.sh): weights are
			 * ignored, every backend gets an equal share. */
			w[i].credit += max;
#else
			w[i].credit += backends[i].weight;
#endif
			while (w[i].credit >= max && filled < size) {
				w[i].credit -= max;
				claim(&w[i], size, used, table, backends[i].id);
				filled++;
			}
		}
	}
}

int vigil_maglev_build(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		       __u32 *table)
{
	struct walker *w;
	__u64 *used;
	int err = check_args(backends, n, size, table);

	if (err)
		return err;
	w = malloc(n * sizeof(*w));
	used = calloc((size + 63) / 64, sizeof(*used));
	if (!w || !used) {
		free(w);
		free(used);
		return -ENOMEM;
	}
	init_walkers(backends, n, size, w);
	populate(backends, n, size, w, used, table);
	free(w);
	free(used);
	return 0;
}
