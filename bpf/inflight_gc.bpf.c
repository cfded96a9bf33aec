// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Which in-flight entries belong to sockets that still exist: an iterator
 * over the TCP sockets of the network namespace it is created in, writing
 * the key of every socket the monitor tracks in `inflight` (the socket's
 * kernel address, the key bpf/monitor.bpf.c uses). At start-up vigild runs it
 * in every namespace and drops the entries of sockets that are gone
 * (user/vigild/inflight_gc.c): they closed while no monitor hook ran.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <vigil/abi.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* The monitor's map, handed in by vigild (bpf_map__reuse_fd) before load:
 * its kernel definition is what counts, this one only names key and value. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct vigil_inflight);
} inflight SEC(".maps");

SEC("iter/tcp")
int vigil_tracked_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u64 key;

	if (!skc)
		return 0;
	key = (__u64)skc;
	if (bpf_map_lookup_elem(&inflight, &key))
		bpf_seq_write(ctx->meta->seq, &key, sizeof(key));
	return 0;
}
