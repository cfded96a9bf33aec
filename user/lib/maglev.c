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
 * place in the permutation ((slot - offset) / skip mod size). Same table. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "maglev.h"

#define SEED_OFFSET 0x6d61676c65763031ULL /* distinct seeds: two independent hashes */
#define SEED_SKIP   0x736b69702d763032ULL
#define GOLDEN      0x9e3779b97f4a7c15ULL

struct walker {
	__u32 pos;      /* next slot of the permutation to try */
	__u32 skip;
	__u32 offset;   /* first slot of the permutation */
	__u32 inv_skip; /* skip^-1 mod size */
	__u64 credit;   /* < max_weight between rounds */
};

/* Where the walk hands over to the tail. A tail claim costs one modular
 * multiplication per free slot, a walk step about as much; at 65537 slots
 * and 100 backends the tail then saves about half of the walk's steps. */
#define TAIL_SLOTS 128u

struct fill {
	__u32 size;
	__u32 left;    /* slots still free */
	__u64 *used;   /* bitmap of taken slots (the walk) */
	__u32 *free;   /* the free slots (the tail: left <= TAIL_SLOTS) */
	__u64 barrett; /* floor((2^64 - 1) / size): x % size without a division */
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
		vigil_maglev_permutation(&backends[i].ep, size, &w[i].offset, &w[i].skip);
		w[i].inv_skip = mod_inverse(w[i].skip, size);
		w[i].pos = w[i].offset;
		w[i].credit = 0;
	}
}

static bool slot_taken(const __u64 *used, __u32 slot)
{
	return used[slot / 64] >> (slot % 64) & 1;
}

static __u32 step(__u32 slot, __u32 skip, __u32 size)
{
	return slot + skip >= size ? slot + skip - size : slot + skip;
}

/* The next free slot of w's permutation, by walking it. */
static __u32 walk_to_free(struct walker *w, const struct fill *f)
{
	__u32 slot = w->pos;

	while (slot_taken(f->used, slot))
		slot = step(slot, w->skip, f->size);
	w->pos = step(slot, w->skip, f->size);
	return slot;
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
static void enter_tail(struct fill *f)
{
	__u32 k = 0;

	for (__u32 word = 0; word * 64 < f->size; word++) {
		__u64 open = ~f->used[word];

		while (open) {
			__u32 slot = word * 64 + (__u32)__builtin_ctzll(open);

			if (slot >= f->size)
				break;
			f->free[k++] = slot;
			open &= open - 1;
		}
	}
}

/* Gives w's next free slot to id. A free slot must be left. */
static void claim(struct walker *w, struct fill *f, __u32 id)
{
	__u32 slot;

	if (f->left > TAIL_SLOTS) {
		slot = walk_to_free(w, f);
		f->used[slot / 64] |= 1ULL << (slot % 64);
	} else {
		slot = first_free_in_tail(w, f);
	}
	*(__u32 *)(f->table + slot * f->stride) = id;
	if (--f->left == TAIL_SLOTS)
		enter_tail(f);
}

/* Rounds of turns until every slot is taken. */
static void populate(const struct vigil_maglev_backend *backends, size_t n, struct walker *w,
		     struct fill *f)
{
	__u32 max = max_weight(backends, n);

	for (;;) {
		for (size_t i = 0; i < n; i++) {
#ifdef VIGIL_MUTANT_MAGLEV_WEIGHTS
			/* Mutation smoke test (see tests/mutants.sh): weights are
			 * ignored, every backend gets an equal share. */
			w[i].credit += max;
#else
			w[i].credit += backends[i].weight;
#endif
			while (w[i].credit >= max) {
				w[i].credit -= max;
				claim(&w[i], f, backends[i].id);
				if (!f->left)
					return;
			}
		}
	}
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
	w = malloc(n * sizeof(*w));
	f.used = calloc((size + 63) / 64, sizeof(*f.used));
	f.free = malloc(TAIL_SLOTS * sizeof(*f.free));
	if (!w || !f.used || !f.free) {
		err = -ENOMEM;
		goto out;
	}
	init_walkers(backends, n, size, w);
	if (size <= TAIL_SLOTS)
		enter_tail(&f);
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
