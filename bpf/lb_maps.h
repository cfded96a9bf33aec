/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Maps of the packet load balancer (bpf/xdp_lb.bpf.c: XDP and tc entry
 * points). Types and pin names are in include/vigil/abi.h; maps marked
 * LIBBPF_PIN_BY_NAME are pinned under the pin directory by their name. */
#ifndef VIGIL_BPF_LB_MAPS_H
#define VIGIL_BPF_LB_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_xdp_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_MAX_LB_BACKENDS);
	__type(key, __u32);
	__type(value, struct vigil_xdp_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_backends SEC(".maps");

/* Maglev tables: two inner arrays per VIP (double buffering). vigild fills
 * the idle one through mmap and then repoints xdp_services at it, one hash
 * update, so a table switch is atomic and never waits for an RCU grace period
 * (replacing an outer-map slot from userspace does). Inner maps may differ in
 * size (BPF_F_INNER_MAP). */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_MAX_XDP_TABLES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_table); /* last: a flexible array */
} xdp_tables SEC(".maps");

/* Per VIP, the service's backend set with backend ids (struct vigil_xdp_set):
 * read only when Maglev's probes find nothing the fast path left up. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_xdp_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_FLOWS);
	__type(key, struct vigil_flow_key);
	__type(value, struct vigil_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_FLOWS);
	__type(key, struct vigil_flow_key);
	__type(value, struct vigil_rev_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_rev_flows SEC(".maps");

/* Requests waiting for an answer, per backend id like xdp_backends
 * (bpf/xdp_requests.h keeps them, vigild's failover engine reads them once
 * per backend and tick; vigild empties a slot when it gives its id to a
 * backend and when the backend is re-admitted). An array: a request
 * boundary pays an index, not a hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_MAX_LB_BACKENDS);
	__type(key, __u32);
	__type(value, struct vigil_pending_requests);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pending_requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_XDP_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_stats SEC(".maps");

/* The in-flight entry of the SYN being handled on this CPU, built here
 * rather than on the stack (the deepest call chain has no room for it): the
 * entry point copies the SYN (keep_syn() in lb_core.h), syn_forwarded()
 * completes and stores it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_pkt_inflight);
} syn_scratch SEC(".maps");

/* Dropped packets by enum vigil_drop_reason (drop() below). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_drops SEC(".maps");

/* Egress interfaces the XDP entry may redirect to (ifindex -> ifindex), filled
 * by vigild with the interfaces it attaches to: redirecting to a device
 * without XDP transmit support would drop the packet, so anything else goes
 * to the kernel's forwarding. Not pinned: each loaded program gets its own,
 * filled before the program is attached (a pinned devmap cannot be reused by
 * libbpf: the kernel adds BPF_F_RDONLY_PROG to its flags). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xdp_tx_ports SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&xdp_stats, &counter);

	if (c)
		*c += 1; /* per-CPU and XDP runs with preemption off: no atomics */
}

/* Count a drop under its reason and return the dropping verdict: every
 * XDP_DROP / TC_ACT_SHOT of the entry points goes through here. */
static __always_inline int drop(__u32 reason, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&xdp_drops, &reason);

	if (c)
		*c += 1;
	return verdict;
}

#endif
