/* SPDX-License-Identifier: MIT */
/*
 * Tearing down an ejected backend's connections without holding up the
 * engine: requests are queued and a worker thread destroys the sockets in
 * every network namespace, with bpf_sock_destroy() from a TCP socket
 * iterator (teardown_iter.h) or, on kernels without it, SOCK_DESTROY over
 * netlink (sockdestroy.h). Queuing never blocks on the work; the next
 * decision of the engine is never delayed by a tear-down. Requests that
 * arrive while a pass runs are served together by the next pass.
 */
#ifndef VIGIL_TEARDOWN_H
#define VIGIL_TEARDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

struct vigil_teardown;

/* Probe for the iterator and start the worker. VIGIL_TEARDOWN in the
 * environment chooses the path: "auto" (or unset: the iterator where the
 * kernel has bpf_sock_destroy(), else netlink), "iterator" (refused with
 * the reason when unavailable) or "netlink". Logs which path is used.
 * Returns 0, or -errno with the reason and fix in err. */
int vigil_teardown_start(struct vigil_teardown **out, char *err, size_t errlen);

/* Queue the tear-down of backend ep of service (a name for the log), decided
 * at decided_ns (CLOCK_MONOTONIC): the worker logs what it destroyed, by
 * which path, and how long after the decision it was done. */
void vigil_teardown_request(struct vigil_teardown *td, const char *service,
			    const struct vigil_endpoint *ep, enum vigil_teardown_kind kind,
			    __u64 decided_ns);

/* From the next pass on, leave alone (spare) or tear down the connects still
 * waiting for their SYN-ACK: the socket rescue, when attached, moves them to
 * a healthy backend (sock_rescue.h). */
void vigil_teardown_spare_connecting(struct vigil_teardown *td, bool spare);

/* Serve what is queued, then stop the worker (NULL is fine). */
void vigil_teardown_stop(struct vigil_teardown *td);

#endif
