/* SPDX-License-Identifier: MIT */
/* Maglev consistent hashing tables (pure C). Eisenbud et al., NSDI 2016:
 * every backend gets a permutation of the table slots from two hashes of
 * its identity; backends take turns claiming their next free preferred slot,
 * so removing one of N backends moves close to 1/N of the slots. */
#ifndef VIGIL_MAGLEV_H
#define VIGIL_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#define VIGIL_MAGLEV_DEFAULT_SIZE 65537u
#define VIGIL_MAGLEV_MAX_SIZE 131071u

struct vigil_maglev_backend {
	struct vigil_endpoint ep; /* identity: hashed for offset and skip */
	__u32 weight;             /* > 0; a backend gets slots in proportion to its weight */
	__u32 id;                 /* value written into the table for this backend */
};

bool vigil_is_prime(__u32 n);

/* Fill table[0..size) with backend ids. size must be prime, >= n and <=
 * VIGIL_MAGLEV_MAX_SIZE; n >= 1; weights >= 1. Returns 0 or -EINVAL (bad
 * arguments) or -ENOMEM. Deterministic: the same input gives the same table. */
int vigil_maglev_build(const struct vigil_maglev_backend *backends, size_t n, __u32 size,
		       __u32 *table);

/* The same, slot s written as a __u32 at table + s * stride (stride a
 * multiple of 4): straight into a BPF array map's mmap()ed values, which lie
 * 8 bytes apart; the bytes between are left alone. */
int vigil_maglev_build_strided(const struct vigil_maglev_backend *backends, size_t n,
			       __u32 size, void *table, size_t stride);

/* Backend ep's permutation of [0, size) (size prime): offset, offset + skip,
 * offset + 2 * skip, ... mod size. */
void vigil_maglev_permutation(const struct vigil_endpoint *ep, __u32 size, __u32 *offset,
			      __u32 *skip);

/* Lets builds use the CPU's SIMD instructions where it has them (the
 * default, true) or only portable code (for tests of both). Same tables. */
void vigil_maglev_allow_simd(bool allow);

#endif
