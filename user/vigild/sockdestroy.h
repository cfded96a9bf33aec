/* SPDX-License-Identifier: MIT */
/* Tear down TCP connections to failed backends, in every network namespace
 * on the host, with NETLINK_SOCK_DIAG SOCK_DESTROY (needs
 * CONFIG_INET_DIAG_DESTROY and CAP_NET_ADMIN): the fallback of the socket
 * iterator (teardown.h) on kernels without bpf_sock_destroy(). The owning
 * application sees ECONNABORTED at once instead of waiting for TCP timeouts. */
#ifndef VIGIL_SOCKDESTROY_H
#define VIGIL_SOCKDESTROY_H

#include <stddef.h>
#include <vigil/abi.h>

/* One backend to tear down, and what the tear-down did to it. */
struct vigil_teardown_target {
	struct vigil_endpoint ep;
	enum vigil_teardown_kind kind;
	__u32 flags;        /* VIGIL_TEARDOWN_F_* */
	unsigned destroyed; /* sockets destroyed (output) */
};

/* Destroy the TCP sockets (any state except LISTEN/TIME_WAIT) whose remote
 * address and port are a target's (VIGIL_TEARDOWN_UNACKED: only those with
 * an unacknowledged retransmission), in every network namespace
 * (vigil_netns_for_each; *namespaces, may be NULL, counts them). Returns 0, or
 * -errno with the reason and fix in err (e.g. -EOPNOTSUPP: kernel without
 * CONFIG_INET_DIAG_DESTROY); the counts are valid either way. The calling
 * thread's namespace is restored before returning. */
int vigil_sockdestroy_nl(struct vigil_teardown_target *targets, size_t n, unsigned *namespaces,
			 char *err, size_t errlen);

/* vigil_sockdestroy_nl of one backend, VIGIL_TEARDOWN_ALL. */
int vigil_destroy_connections_to(const struct vigil_endpoint *backend, unsigned *destroyed,
				 char *err, size_t errlen);

#endif
