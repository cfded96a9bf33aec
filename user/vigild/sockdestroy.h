/* SPDX-License-Identifier: MIT */
/* Tear down established TCP connections to a failed backend, in every network
 * namespace on the host, with NETLINK_SOCK_DIAG SOCK_DESTROY (needs
 * CONFIG_INET_DIAG_DESTROY and CAP_NET_ADMIN). The owning application sees
 * ECONNABORTED at once instead of waiting for TCP timeouts. */
#ifndef VIGIL_SOCKDESTROY_H
#define VIGIL_SOCKDESTROY_H

#include <stddef.h>
#include <vigil/abi.h>

/* Destroy every TCP socket (any state except LISTEN/TIME_WAIT) whose remote
 * address and port equal backend, in every network namespace found via
 * /proc/<pid>/ns/net (each namespace visited once). *destroyed counts sockets
 * destroyed. Returns 0, or -errno with the reason and fix in err (e.g.
 * -EOPNOTSUPP: kernel without CONFIG_INET_DIAG_DESTROY). The calling thread's
 * namespace is restored before returning. */
int vigil_destroy_connections_to(const struct vigil_endpoint *backend, unsigned *destroyed,
				 char *err, size_t errlen);

#endif
