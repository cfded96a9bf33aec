/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Loss counters shared by every object that can lose data (monitor, sock_lb,
 * xdp_lb): pinned by name so all of them count into one map, which vigilctl
 * stats reads. Indexed by enum vigil_loss_reason (abi.h). */
#ifndef VIGIL_BPF_MAPS_LOSS_H
#define VIGIL_BPF_MAPS_LOSS_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_LOSS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} loss SEC(".maps");

/* Per-CPU, but a softirq can interrupt a process-context hook on the same CPU
 * between load and store, so the add is atomic. */
static __always_inline void count_loss(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&loss, &reason);

	if (c)
		__sync_fetch_and_add(c, 1);
}

/* bpf_map_update_elem that counts a refused insert under reason. BPF_NOEXIST
 * losing a race to another CPU (-EEXIST) is not a loss. */
static __always_inline long update_or_count(void *map, const void *key, const void *val,
					    __u64 flags, __u32 reason)
{
	long err = bpf_map_update_elem(map, key, val, flags);

	if (err < 0 && err != -17 /* EEXIST */)
		count_loss(reason);
	return err;
}

#endif
