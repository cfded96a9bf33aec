// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * The sockets the monitor tracks that exist: an iterator over the TCP
 * sockets of the network namespace it is created in, writing the in-flight
 * state (struct vigil_inflight, from the socket's sock_state storage) of
 * every one. At start-up vigild runs it in every namespace and reconciles
 * the per-backend open/close counters with what it finds
 * (user/vigild/sock_census.c): sockets that closed while no monitor hook ran
 * left connects or requests counted open for ever.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <vigil/abi.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* The monitor's map, handed in by vigild (bpf_map__reuse_fd) before load:
 * its kernel definition is what counts, this one only names key and value. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vigil_sock_state);
} sock_state SEC(".maps");

SEC("iter/tcp")
int vigil_tracked_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct vigil_sock_state *st;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc); /* NULL for request and time-wait sockets */
	if (!tp)
		return 0;
	st = bpf_sk_storage_get(&sock_state, tp, NULL, 0);
	if (st && st->fl.role)
		bpf_seq_write(ctx->meta->seq, &st->fl, sizeof(st->fl));
	return 0;
}
