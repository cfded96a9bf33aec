/* SPDX-License-Identifier: MIT */
/* Restart reconciliation of the in-flight map: an entry whose socket closed
 * while no monitor hook ran (vigild down with its hooks detached: an upgrade
 * from a vigil without pinned monitor links, hooks removed by hand) is never
 * deleted by the kernel and would look like a request waiting since then.
 * At start-up vigild drops those; entries of live sockets stay (their wait
 * counts from the start, failover.c). All of it is here, one call, so it can
 * go once in-flight state lives in socket-local storage and dies with the
 * socket. */
#ifndef VIGIL_INFLIGHT_GC_H
#define VIGIL_INFLIGHT_GC_H

#include <stddef.h>

/* Delete the entries of inflight_fd (the monitor's map) keyed by a socket
 * (keys with the top bit set; the XDP datapath's flow keys are left alone)
 * whose socket exists in no network namespace: the live TCP sockets of every
 * namespace are listed with a BPF iterator (bpf/inflight_gc.bpf.c), entered
 * as the teardown does (vigil_netns_for_each). Deletes nothing unless every
 * namespace could be listed. Returns how many were dropped, or -errno with
 * the reason in err. */
int vigil_inflight_drop_dead(int inflight_fd, char *err, size_t errlen);

#endif
