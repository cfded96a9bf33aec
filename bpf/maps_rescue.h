/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The socket rescue's translations (abi.h, "rescue of connects to a failed
 * backend"), shared by the rescue's tc programs (bpf/sock_rescue.bpf.c),
 * which write them, and the monitor, which gives a moved connect's outcome to
 * the backend that answered it and frees the entries when the socket closes.
 * The monitor is always loaded, so the maps exist whether or not the rescue
 * is attached. */
#ifndef VIGIL_BPF_MAPS_RESCUE_H
#define VIGIL_BPF_MAPS_RESCUE_H

/* struct vigil_flow_key -> struct vigil_rescue_flow. LRU: an entry whose
 * socket close was never seen cannot pin memory. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_RESCUE_FLOWS);
	__type(key, struct vigil_flow_key);
	__type(value, struct vigil_rescue_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rescue_flows SEC(".maps");

/* How many forward entries are counted (abi.h, VIGIL_RESCUE_COUNTED): while
 * none is, the tc programs have no flow to look up. An array: its lookup is
 * inlined, no helper call; mmapable, so vigild adds atomically too (the
 * flows an older vigil rescued, user/vigild/sock_rescue.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rescue_live SEC(".maps");

/* Whether rescue_flows may hold a live flow (true when the count cannot be
 * read: the lookups are the safe side). */
static __always_inline bool rescues_live(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&rescue_live, &zero);

	return !n || *n;
}

/* delta: 1 before a counted entry is written, -1 once one is deleted. */
static __always_inline void rescue_live_add(__s64 delta)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&rescue_live, &zero);

	if (n)
		__sync_fetch_and_add(n, (__u64)delta);
}

/* Key of the packets from `from` to the client of the forward flow fwd. */
static __always_inline void rescue_key_from(const struct vigil_flow_key *fwd,
					    const struct vigil_endpoint *from,
					    struct vigil_flow_key *k)
{
	__builtin_memcpy(k->src, from->addr, 16);
	__builtin_memcpy(k->dst, fwd->src, 16);
	k->sport = from->port;
	k->dport = fwd->sport;
	k->family = fwd->family;
	k->proto = fwd->proto;
	k->pad = 0;
}

/* The original backend of forward flow fwd. */
static __always_inline void rescue_original(const struct vigil_flow_key *fwd,
					    struct vigil_endpoint *ep)
{
	__builtin_memcpy(ep->addr, fwd->dst, 16);
	ep->port = fwd->dport;
	ep->family = fwd->family;
	ep->pad = 0;
}

/* Free every entry of the connection whose forward key is fwd; the count
 * drops only for the delete that removed a counted entry (two callers may
 * race on one flow). */
static __always_inline void rescue_forget(const struct vigil_flow_key *fwd)
{
	struct vigil_rescue_flow *f = bpf_map_lookup_elem(&rescue_flows, fwd);
	struct vigil_endpoint orig;
	struct vigil_flow_key k;
	__u32 flags;

	if (!f)
		return;
	flags = f->flags;
	if (f->to.family) {
		rescue_key_from(fwd, &f->to, &k);
		bpf_map_delete_elem(&rescue_flows, &k);
	}
	rescue_original(fwd, &orig);
	rescue_key_from(fwd, &orig, &k);
	bpf_map_delete_elem(&rescue_flows, &k);
	if (bpf_map_delete_elem(&rescue_flows, fwd) == 0 && (flags & VIGIL_RESCUE_COUNTED))
		rescue_live_add(-1);
}

#endif
