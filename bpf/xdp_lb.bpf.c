// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil XDP load balancer for traffic from other hosts (NAT mode).
 *
 * client -> VIP:port   matched in xdp_services; the flow's backend comes from
 *                      the connection table, or for a new flow (or one whose
 *                      backend must be left) from the service's Maglev table;
 *                      destination rewritten to the backend.
 * backend -> client    matched in xdp_rev_flows; source rewritten back to the
 *                      VIP.
 * Both directions are handed to the kernel's IP forwarding (XDP_PASS) after
 * the rewrite, so routing, neighbour resolution and the egress device stay
 * the kernel's business on every topology.
 *
 * The packet path doubles as a passive health monitor for clients whose TCP
 * stack is elsewhere: SYN -> SYN-ACK latency, unanswered SYNs (via the
 * in-flight map vigild scans) and RSTs from backends are recorded in the same
 * maps and events as the socket monitor.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_signals.h"
#include "signals.h"
#include "csum.h"
#include "xdp_parse.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Probes of further Maglev slots when the chosen backend is down in the fast
 * path and vigild has not rebuilt the table yet. */
#define DOWN_RETRIES 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_xdp_service);
} xdp_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_MAX_LB_BACKENDS);
	__type(key, __u32);
	__type(value, struct vigil_xdp_backend);
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
	__array(values, struct maglev_table);
} xdp_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_FLOWS);
	__type(key, struct vigil_flow_key);
	__type(value, struct vigil_flow);
} xdp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_FLOWS);
	__type(key, struct vigil_flow_key);
	__type(value, struct vigil_rev_flow);
} xdp_rev_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_XDP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} xdp_stats SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&xdp_stats, &counter);

	if (c)
		*c += 1; /* per-CPU and XDP runs with preemption off: no atomics */
}

/* 64-bit mix of the 5-tuple; the low 32 bits pick the Maglev slot, the high
 * bits (top bit cleared) key the in-flight map. */
static __always_inline __u64 flow_hash(const struct vigil_flow_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < (int)(sizeof(*k) / 8); i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	/* Final avalanche: client ports are sequential and of one parity, so
	 * every input bit must reach the low bits the slot is taken from. */
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	return h;
}

/* In a reverse entry, the top bit of flow_hash marks a flow moved mid-stream
 * off a failed backend: the new backend answers it with a RST, which is the
 * intended fast reset for the client, not a failure of the new backend. */
#define FLOW_MOVED (1ull << 63)

static __always_inline __u64 inflight_key(__u64 hash)
{
	return hash & ~FLOW_MOVED;
}

static __always_inline bool backend_usable(const struct vigil_xdp_backend *b)
{
	struct vigil_backend_health *h;

	if (!(b->flags & VIGIL_XB_SELECTABLE))
		return false;
	h = bpf_map_lookup_elem(&backend_health, &b->ep);
	return !(h && h->down);
}

/* A backend entry a packet of this family can be sent to. xdp_backends is an
 * array: an id vigild never configured (or cleared) reads as all zeroes. */
static __always_inline bool backend_fits(const struct vigil_xdp_backend *b, __u8 family)
{
	return b && b->ep.family == family;
}

/* Maglev lookup; skips slots whose backend the fast path marked down, and
 * slots whose backend cannot take the packet at all (never a fallback). */
static __always_inline __s64 maglev_pick(const struct vigil_xdp_service *svc, __u64 hash,
					 __u8 family)
{
	__u32 sid = svc->service_id, size = svc->table_size;
	void *table = bpf_map_lookup_elem(&xdp_tables, &sid);
	__s64 first = -1;

	if (!table || size == 0)
		return -1;
	for (__u32 i = 0; i < DOWN_RETRIES; i++) {
		__u32 slot = (__u32)((hash + i * 0x9e3779b1u) % size);
		__u32 *id = bpf_map_lookup_elem(table, &slot);
		struct vigil_xdp_backend *b;

		if (!id)
			return -1;
		b = bpf_map_lookup_elem(&xdp_backends, id);
		if (!backend_fits(b, family))
			continue;
		if (first < 0)
			first = *id;
		if (backend_usable(b))
			return *id;
	}
	return first;
}

/* ---- passive health ------------------------------------------------------- */

static __always_inline bool same_endpoint(const struct vigil_endpoint *a,
					  const struct vigil_endpoint *b)
{
	const __u16 *x = (const __u16 *)a, *y = (const __u16 *)b;

	for (int i = 0; i < (int)(sizeof(*a) / 2); i++)
		if (x[i] != y[i])
			return false;
	return true;
}

static __always_inline void syn_forwarded(const struct vigil_endpoint *backend, __u64 hash)
{
	struct vigil_inflight fl = { .peer = *backend, .role = VIGIL_ROLE_CLIENT };
	struct vigil_backend_stats *st = backend_of(backend);
	__u64 key = inflight_key(hash);
	struct vigil_inflight *cur = bpf_map_lookup_elem(&inflight, &key);

	/* A retransmitted SYN of an attempt still waiting for its SYN-ACK: not a
	 * new attempt (the socket monitor counts it the same way), and the
	 * attempt's clock keeps running for latency and the timeout scan. */
	if (cur && same_endpoint(&cur->peer, backend)) {
		if (st)
			COUNT(st->syn_retrans, 1);
		return;
	}
	if (st)
		COUNT(st->connect_attempts, 1);
	fl.syn_sent_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &key, &fl, BPF_ANY);
}

static __always_inline void synack_returned(const struct vigil_endpoint *backend, __u64 key)
{
	struct vigil_inflight *fl = bpf_map_lookup_elem(&inflight, &key);
	struct vigil_backend_stats *st;
	__u64 now;

	if (!fl)
		return; /* a retransmitted SYN-ACK: already counted */
	now = bpf_ktime_get_ns();
	st = backend_of(backend);
	if (st) {
		COUNT(st->established, 1);
		hist_add(st->connect_lat_us, now - fl->syn_sent_ns);
	}
	health_success(backend, now);
	bpf_map_delete_elem(&inflight, &key);
}

/* A RST while the SYN is pending is a refused connect: a hard failure. A RST
 * later is only counted: without the TCP state machine the packet path
 * cannot tell an aborted live connection from the RST that answers a late
 * segment after an ordinary close, and the latter is no failure. */
static __always_inline void reset_returned(const struct vigil_endpoint *backend, __u64 key)
{
	struct vigil_backend_stats *st = backend_of(backend);
	bool refused = bpf_map_lookup_elem(&inflight, &key) != NULL;
	__u64 now;

	if (!refused) {
		if (st)
			COUNT(st->resets_rcvd, 1);
		return;
	}
	now = bpf_ktime_get_ns();
	if (st)
		COUNT(st->refused, 1);
	emit_event(backend, VIGIL_EV_REFUSED, now);
	health_failure(backend, now);
	bpf_map_delete_elem(&inflight, &key);
}

/* ---- rewriting ------------------------------------------------------------ */

/* Replace one address (dst when to_dst, else src) and port of the packet. */
static __always_inline int rewrite(struct pkt *p, const struct vigil_endpoint *to, bool to_dst)
{
	__u16 port = bpf_htons(to->port);
	__u16 *old_port = to_dst ? &p->tcp->dest : &p->tcp->source;

	if (p->ip4) {
		__u32 addr, *old = to_dst ? &p->ip4->daddr : &p->ip4->saddr;

		if (to->family != VIGIL_AF_INET)
			return -1;
		__builtin_memcpy(&addr, &to->addr[12], 4);
		csum_replace4(&p->ip4->check, *old, addr);
		csum_replace4(&p->tcp->check, *old, addr);
		*old = addr;
	} else {
		__u32 addr[4], *old;

		/* The verifier cannot tell that ip6 is set whenever ip4 is not. */
		if (!p->ip6 || to->family != VIGIL_AF_INET6)
			return -1;
		old = to_dst ? p->ip6->daddr.in6_u.u6_addr32 : p->ip6->saddr.in6_u.u6_addr32;
		__builtin_memcpy(addr, to->addr, 16);
		csum_replace16(&p->tcp->check, old, addr);
		__builtin_memcpy(old, addr, 16);
	}
	csum_replace2(&p->tcp->check, *old_port, port);
	*old_port = port;
	return 0;
}

static __always_inline void make_reverse_key(const struct pkt *p, const struct vigil_endpoint *b,
					     struct vigil_flow_key *rk)
{
	__builtin_memcpy(rk->src, b->addr, 16);
	__builtin_memcpy(rk->dst, p->key.src, 16);
	rk->sport = b->port;
	rk->dport = p->key.sport;
	rk->family = p->key.family;
	rk->proto = IPPROTO_TCP;
	rk->pad = 0;
}

/* ---- directions ----------------------------------------------------------- */

/* The flow's backend: kept while selectable, or while draining; chosen anew
 * for a new flow or when its backend was ejected on hard failure/removed. */
static __always_inline struct vigil_xdp_backend *
backend_for_flow(struct pkt *p, const struct vigil_xdp_service *svc, __u64 hash, __u32 *id_out,
		 bool *chosen, bool *moved)
{
	struct vigil_flow *fl = bpf_map_lookup_elem(&xdp_flows, &p->key);
	struct vigil_flow nf = { .service_id = svc->service_id };
	struct vigil_xdp_backend *b;
	__s64 id;

	if (fl) {
		bool syn = p->tcp->syn && !p->tcp->ack;

		b = bpf_map_lookup_elem(&xdp_backends, &fl->backend_id);
		/* A SYN on a known 5-tuple opens a new connection: it stays with the
		 * old backend only while that one is still selectable. */
		if (backend_fits(b, p->key.family) && !(b->flags & VIGIL_XB_RESELECT) &&
		    !(syn && !(b->flags & VIGIL_XB_SELECTABLE))) {
			if (syn) /* a new connection on a reused 5-tuple */
				count(VIGIL_XDP_NEW_FLOWS);
			*id_out = fl->backend_id;
			*chosen = false;
			return b;
		}
		if (syn) {
			count(VIGIL_XDP_NEW_FLOWS);
		} else {
			count(VIGIL_XDP_RESELECTED);
			*moved = true;
		}
	} else {
		count(VIGIL_XDP_NEW_FLOWS);
	}
	id = maglev_pick(svc, hash, p->key.family);
	if (id < 0)
		return NULL;
	nf.backend_id = (__u32)id;
	b = bpf_map_lookup_elem(&xdp_backends, &nf.backend_id);
	if (!b)
		return NULL;
	bpf_map_update_elem(&xdp_flows, &p->key, &nf, BPF_ANY);
	*id_out = nf.backend_id;
	*chosen = true;
	return b;
}

static __always_inline int to_backend(struct pkt *p, const struct vigil_xdp_service *svc)
{
	struct vigil_rev_flow rev = { .vip.family = p->key.family };
	struct vigil_flow_key rk;
	struct vigil_xdp_backend *b;
	__u64 hash = flow_hash(&p->key);
	bool chosen = false, moved = false, syn = p->tcp->syn && !p->tcp->ack;
	__u32 id;

	b = backend_for_flow(p, svc, hash, &id, &chosen, &moved);
	if (!b) {
		count(VIGIL_XDP_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	__builtin_memcpy(rev.vip.addr, p->key.dst, 16);
	rev.vip.port = p->key.dport;
	rev.backend_id = id;
	rev.flow_hash = inflight_key(hash) | (moved && !syn ? FLOW_MOVED : 0);
	/* The reverse entry is written when the flow gets its backend (a new
	 * flow, or one moved off a failed backend) and refreshed on every SYN. */
	if (chosen || syn) {
		make_reverse_key(p, &b->ep, &rk);
		bpf_map_update_elem(&xdp_rev_flows, &rk, &rev, BPF_ANY);
	}
	if (syn)
		syn_forwarded(&b->ep, hash);
	if (rewrite(p, &b->ep, true) < 0) {
		count(VIGIL_XDP_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	count(VIGIL_XDP_FORWARDED);
	return XDP_PASS;
}

static __always_inline int to_client(struct pkt *p, const struct vigil_rev_flow *rev)
{
	struct vigil_rev_flow r = *rev; /* copy: the packet rewrite may race an update */
	struct vigil_endpoint backend = { .family = p->key.family, .port = p->key.sport };

	__builtin_memcpy(backend.addr, p->key.src, 16);
	if (p->tcp->rst && !(r.flow_hash & FLOW_MOVED))
		reset_returned(&backend, r.flow_hash);
	else if (p->tcp->syn && p->tcp->ack)
		synack_returned(&backend, inflight_key(r.flow_hash));
	if (rewrite(p, &r.vip, false) < 0)
		return XDP_PASS;
	count(VIGIL_XDP_REVERSED);
	return XDP_PASS;
}

SEC("xdp")
int vigil_xdp_lb(struct xdp_md *ctx)
{
	struct pkt p = {};
	struct vigil_endpoint vip = {};
	struct vigil_xdp_service *svc;
	struct vigil_rev_flow *rev;
	int res = parse_packet(ctx, &p);

	if (res != PARSE_TCP) {
		count(res == PARSE_TCP_TRUNCATED ? VIGIL_XDP_PASS_MALFORMED : VIGIL_XDP_PASS_NOT_TCP);
		return XDP_PASS;
	}
	__builtin_memcpy(vip.addr, p.key.dst, 16);
	vip.port = p.key.dport;
	vip.family = p.key.family;
	svc = bpf_map_lookup_elem(&xdp_services, &vip);
	if (svc)
		return to_backend(&p, svc);
	rev = bpf_map_lookup_elem(&xdp_rev_flows, &p.key);
	if (rev)
		return to_client(&p, rev);
	count(VIGIL_XDP_PASS_OTHER);
	return XDP_PASS;
}
