/* SPDX-License-Identifier: MIT */
/* Restart reconciliation of the monitor's open/close counters: a socket that
 * closed while no monitor hook ran (vigild down with its hooks detached: an
 * upgrade from a vigil without pinned monitor links, hooks removed by hand)
 * left its connect or request counted open for ever, which would look like a
 * connect or request waiting since then. At start-up vigild lists the
 * tracked sockets that exist (their in-flight state) and discounts the rest
 * (failover.c, user/lib/pending.h). */
#ifndef VIGIL_SOCK_CENSUS_H
#define VIGIL_SOCK_CENSUS_H

#include <stddef.h>
#include <vigil/abi.h>

/* The in-flight state of every socket tracked in sock_state_fd (the
 * monitor's map) that exists, in every network namespace: a TCP iterator
 * (bpf/sock_census.bpf.c) created in each, entered as the teardown does
 * (vigil_netns_for_each). Fails unless every namespace could be listed.
 * The tracked sockets the monitor counts (sock_counts_fd) but the listing
 * did not find are gone: added to VIGIL_SOCK_DISCOUNTED, so vigilctl's
 * count of tracked sockets holds again. Returns how many were found, with
 * *out (the caller frees it; out may be NULL), or -errno with the reason in
 * err. */
int vigil_sock_census(int sock_state_fd, int sock_counts_fd, struct vigil_inflight **out,
		      char *err, size_t errlen);

#endif
