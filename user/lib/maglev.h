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

#endif
