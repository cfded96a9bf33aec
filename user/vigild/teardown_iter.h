/* SPDX-License-Identifier: MIT */
/* The tear-down's fast path: bpf_sock_destroy() from a TCP socket iterator
 * (bpf/sock_iter.bpf.c), read once per network namespace for every backend
 * to tear down. */
#ifndef VIGIL_TEARDOWN_ITER_H
#define VIGIL_TEARDOWN_ITER_H

#include <stddef.h>

#include "sockdestroy.h" /* struct vigil_teardown_target */

struct vigil_sock_iter;

/* Check the kernel BTF for bpf_sock_destroy() (Linux 6.5+), load the
 * iterator and attach it. Returns 0, or -errno with why it is not usable in
 * why (the caller falls back to netlink). */
int vigil_sock_iter_open(struct vigil_sock_iter **out, char *why, size_t whylen);

/* Destroy the targets' sockets in every network namespace (as
 * vigil_sockdestroy_nl, same contract; err names what failed). Only one
 * thread may run it at a time. */
int vigil_sock_iter_run(struct vigil_sock_iter *it, struct vigil_teardown_target *targets,
			size_t n, unsigned *namespaces, char *err, size_t errlen);

void vigil_sock_iter_close(struct vigil_sock_iter *it);

#endif
