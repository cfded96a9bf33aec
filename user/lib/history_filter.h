/* SPDX-License-Identifier: MIT */
/* Which history records (struct vigil_change) 'vigilctl events --service
 * NAME --backend ADDR:PORT' shows. */
#ifndef VIGIL_HISTORY_FILTER_H
#define VIGIL_HISTORY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

/* A service has at most one IPv4 and one IPv6 virtual address. */
#define VIGIL_FILTER_MAX_VIPS 2

struct vigil_history_filter {
	bool by_service; /* only records of a virtual address in vips */
	struct vigil_endpoint vips[VIGIL_FILTER_MAX_VIPS];
	size_t n_vips;
	bool by_backend; /* only records of this backend (no service-level ones) */
	struct vigil_endpoint backend;
};

/* Whether c passes f (every record passes an empty filter). Records of no
 * service ("vigild restarted", all-zero key) pass no filter. */
bool vigil_history_match(const struct vigil_history_filter *f, const struct vigil_change *c);

#endif
