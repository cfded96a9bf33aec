/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The packet load balancer's decision, independent of the hook: service and
 * flow lookup, Maglev selection, the flow policy and passive health. The
 * entry points in bpf/xdp_lb.bpf.c apply the resulting rewrite their own way
 * (direct writes in XDP, checksum helpers in tc). */
#ifndef VIGIL_BPF_LB_CORE_H
#define VIGIL_BPF_LB_CORE_H

#include "endpoint.h"

enum lb_verdict {
	LB_PASS,    /* not ours: hand to the stack untouched */
	LB_DROP,    /* for a VIP, but no backend to give (VIGIL_DROP_NO_BACKEND) */
	LB_REWRITE, /* rewrite as in struct lb_rewrite, then forward */
};

/* Replace the destination (to_dst) or the source address and port with to. */
struct lb_rewrite {
	struct vigil_endpoint to;
	bool to_dst;
	struct vigil_next_hop *hop; /* next-hop cache of this flow direction, or NULL */
};

/* Probes of further Maglev slots when the chosen backend is down in the fast
 * path and vigild has not rebuilt the table yet. */
#define DOWN_RETRIES 4

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
	update_or_count(&inflight, &key, &fl, BPF_ANY, VIGIL_LOSS_INFLIGHT_FULL);
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
		hist_add(st->connect_lat_us, &st->connect_lat_sum_ns, now - fl->syn_sent_ns);
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

/* ---- directions ----------------------------------------------------------- */

/* How a packet's flow got its backend. */
struct flow_choice {
	__u32 id;                   /* backend id */
	bool chosen;                /* from the Maglev table now (new or moved flow) */
	bool moved;                 /* taken off a backend it may no longer use */
	struct vigil_next_hop *hop; /* the flow entry's next-hop cache, NULL if none */
	struct vigil_flow *flow;    /* the flow entry, NULL if none */
	__u64 hash;                 /* flow_hash of the key, when hashed */
	bool hashed;
};

/* The flow's backend: kept while selectable, or while draining; chosen anew
 * for a new flow or when its backend was ejected on hard failure/removed. */
static __always_inline struct vigil_xdp_backend *
backend_for_flow(struct pkt *p, const struct vigil_xdp_service *svc, struct flow_choice *c)
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
#ifdef VIGIL_MUTANT_XDP_RESELECT
		/* Mutation smoke test (see tests/mutants.sh): a tracked flow keeps
		 * its backend, even one ejected (RESELECT), unselectable for a new
		 * SYN, or removed (then the packet is dropped). */
		if (true) {
			if (!backend_fits(b, p->key.family))
				return NULL;
#else
		if (backend_fits(b, p->key.family) && !(b->flags & VIGIL_XB_RESELECT) &&
		    !(syn && !(b->flags & VIGIL_XB_SELECTABLE))) {
#endif
			if (syn) /* a new connection on a reused 5-tuple */
				count(VIGIL_XDP_NEW_FLOWS);
			c->id = fl->backend_id;
			c->hop = &fl->hop;
			c->flow = fl;
			return b;
		}
		if (syn) {
			count(VIGIL_XDP_NEW_FLOWS);
		} else {
			count(VIGIL_XDP_RESELECTED);
			c->moved = true;
		}
	} else {
		count(VIGIL_XDP_NEW_FLOWS);
	}
	c->hash = flow_hash(&p->key);
	c->hashed = true;
	id = maglev_pick(svc, c->hash, p->key.family);
	if (id < 0)
		return NULL;
	nf.backend_id = (__u32)id;
	b = bpf_map_lookup_elem(&xdp_backends, &nf.backend_id);
	if (!b)
		return NULL;
	/* A new backend starts with an empty next-hop cache. */
	bpf_map_update_elem(&xdp_flows, &p->key, &nf, BPF_ANY);
	fl = bpf_map_lookup_elem(&xdp_flows, &p->key);
	c->hop = fl ? &fl->hop : NULL;
	c->flow = fl;
	c->id = nf.backend_id;
	c->chosen = true;
	return b;
}

/* Reverse entry and in-flight state for a flow that just got its backend or
 * opens a connection: work a tracked flow's packets skip. */
static __always_inline void flow_setup(struct pkt *p, const struct vigil_xdp_backend *b,
				       const struct flow_choice *c, bool syn)
{
	struct vigil_rev_flow rev = { .vip.family = p->key.family, .backend_id = c->id };
	__u64 hash = c->hashed ? c->hash : flow_hash(&p->key);
	struct vigil_flow_key rk;

	__builtin_memcpy(rev.vip.addr, p->key.dst, 16);
	rev.vip.port = p->key.dport;
	rev.flow_hash = inflight_key(hash) | (c->moved && !syn ? FLOW_MOVED : 0);
	make_reverse_key(p, &b->ep, &rk);
	bpf_map_update_elem(&xdp_rev_flows, &rk, &rev, BPF_ANY);
	if (syn)
		syn_forwarded(&b->ep, hash);
}

static __always_inline int to_backend(struct pkt *p, const struct vigil_xdp_service *svc,
				      struct lb_rewrite *rw)
{
	struct flow_choice c = {};
	struct vigil_xdp_backend *b;
	bool syn = p->tcp->syn && !p->tcp->ack;

	b = backend_for_flow(p, svc, &c);
	if (!b || b->ep.family != p->key.family) {
		count(VIGIL_XDP_DROP_NO_BACKEND);
		return LB_DROP;
	}
	/* The reverse entry is written when the flow gets its backend (a new
	 * flow, or one moved off a failed backend) and refreshed on every SYN. */
	if (c.chosen || syn)
		flow_setup(p, b, &c, syn);
	/* A moved flow's next segment only draws the new backend's RST. */
	if (c.flow && !c.moved)
		requests_from_client(p, c.id, &b->ep, c.flow);
	rw->to = b->ep;
	rw->to_dst = true;
	rw->hop = c.hop;
	count(VIGIL_XDP_FORWARDED);
	return LB_REWRITE;
}

static __always_inline int to_client(struct pkt *p, struct vigil_rev_flow *rev,
				     struct lb_rewrite *rw)
{
	struct vigil_rev_flow r = *rev; /* copy: the packet rewrite may race an update */
	struct vigil_endpoint backend = { .family = p->key.family, .port = p->key.sport };

	__builtin_memcpy(backend.addr, p->key.src, 16);
	if (p->tcp->rst && !(r.flow_hash & FLOW_MOVED))
		reset_returned(&backend, r.flow_hash);
	else if (p->tcp->syn && p->tcp->ack)
		synack_returned(&backend, inflight_key(r.flow_hash));
	if (r.vip.family != p->key.family)
		return LB_PASS;
	requests_from_backend(p, rev, &backend);
	rw->to = r.vip;
	rw->to_dst = false;
	rw->hop = &rev->hop;
	count(VIGIL_XDP_REVERSED);
	return LB_REWRITE;
}

/* The load-balancing decision for a parsed TCP packet, shared by the XDP and
 * tc entry points (which differ in how they rewrite and send it). */
static __always_inline int lb_decide(struct pkt *p, struct lb_rewrite *rw)
{
	struct vigil_endpoint vip = { .port = p->key.dport, .family = p->key.family };
	struct vigil_xdp_service *svc;
	struct vigil_rev_flow *rev;

	__builtin_memcpy(vip.addr, p->key.dst, 16);
	svc = bpf_map_lookup_elem(&xdp_services, &vip);
	if (svc)
		return to_backend(p, svc, rw);
	rev = bpf_map_lookup_elem(&xdp_rev_flows, &p->key);
	if (rev)
		return to_client(p, rev, rw);
	count(VIGIL_XDP_PASS_OTHER);
	return LB_PASS;
}

/* The counter for a packet parse_packet() did not accept. */
static __always_inline void count_unparsed(int parse_result)
{
	count(parse_result == PARSE_TCP_TRUNCATED ? VIGIL_XDP_PASS_MALFORMED
						  : VIGIL_XDP_PASS_NOT_TCP);
}

#endif
