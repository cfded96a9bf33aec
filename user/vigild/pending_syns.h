/* SPDX-License-Identifier: MIT */
/* The packet datapath's SYNs awaiting their SYN-ACK (the inflight map):
 * read for the stuck-connect scan, and replayed to a healthy backend when
 * the backend they went to is ejected. */
#ifndef VIGIL_PENDING_SYNS_H
#define VIGIL_PENDING_SYNS_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

struct vigil_pkt_dp;

/* Whether the in-flight entry e is a SYN waiting on backend. */
bool vigil_pending_syn_waits_on(const struct vigil_pkt_inflight *e,
				const struct vigil_endpoint *backend);

/* Every entry of the inflight map (fd), read in batches (one syscall per
 * batch); *n_out gets the count. NULL on allocation failure. */
struct vigil_pkt_inflight *vigil_pending_syns_read(int inflight_fd, size_t *n_out);

/* Replay, through the XDP program, the SYNs of fls that wait on backend
 * (just ejected) and whose flow to one of vips still points at it: the
 * program sends each to a healthy backend, whose SYN-ACK completes the
 * client's connect at once instead of after the client's SYN timeout.
 * Returns how many were replayed. */
unsigned vigil_pending_syns_replay(struct vigil_pkt_dp *xl, const struct vigil_endpoint *backend,
				   const struct vigil_endpoint *vips, size_t n_vips,
				   const struct vigil_pkt_inflight *fls, size_t n);

#endif
