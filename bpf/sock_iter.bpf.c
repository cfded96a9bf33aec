// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Tear-down of ejected backends' connections: a TCP socket iterator that
 * destroys, in the kernel, every socket whose peer is in the teardown map
 * (and, for VIGIL_TEARDOWN_UNACKED, whose sent data went unacknowledged past
 * a retransmission timeout). vigild fills the map with every backend to tear
 * down, then reads the iterator once in each network namespace (an iterator
 * sees the sockets of the namespace it was created in): one pass per
 * namespace for all of them, no socket-by-socket round trip as with
 * SOCK_DESTROY over netlink (user/vigild/sockdestroy.c, the fallback).
 *
 * bpf_sock_destroy() is a kfunc of Linux 6.5+ for TCP/UDP iterators, which
 * hold the socket lock while the program runs; vigild checks the kernel BTF
 * for it before loading this object.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <vigil/abi.h>
#include "sock_peer.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* Backends to tear down and how (written by vigild's tear-down thread only;
 * the iterator adds to destroyed). Not pinned: it lives as long as vigild. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_TEARDOWN);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_teardown_req);
} teardown SEC(".maps");

/* Full sockets only: request and TIME_WAIT sockets have no tcp_sock, a
 * listener no peer, a closed socket nothing to tear down. */
static __always_inline struct tcp_sock *connection(struct sock_common *skc)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);

	if (!tp || skc->skc_state == TCP_LISTEN || skc->skc_state == TCP_CLOSE)
		return NULL;
	return tp;
}

SEC("iter/tcp")
int vigil_teardown_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vigil_teardown_req *req;
	struct vigil_endpoint ep;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	tp = connection(skc);
	if (!tp)
		return 0;
	sock_peer(skc, &ep);
	req = bpf_map_lookup_elem(&teardown, &ep);
	if (!req)
		return 0;
	if ((req->flags & VIGIL_TEARDOWN_F_SPARE_CONNECTING) && skc->skc_state == TCP_SYN_SENT)
		return 0;
	/* icsk_retransmits counts RTO expiries since data was last acknowledged. */
	if (req->kind == VIGIL_TEARDOWN_UNACKED && !tp->inet_conn.icsk_retransmits)
		return 0;
#ifdef VIGIL_MUTANT_SOCK_ITER
	/* Mutation smoke test (see tests/mutants.sh): matched sockets are left
	 * alone. */
	return 0;
#endif
	if (bpf_sock_destroy(skc) == 0)
		__sync_fetch_and_add(&req->destroyed, 1);
	return 0;
}
