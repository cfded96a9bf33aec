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
	LB_DROP,    /* drop, counted under lb_rewrite.drop_reason */
	LB_REWRITE, /* rewrite as in struct lb_rewrite, then forward */
};

/* Replace the destination (to_dst) or the source address and port with to. */
struct lb_rewrite {
	struct vigil_endpoint to;
	bool to_dst;
	struct vigil_next_hop *hop; /* next-hop cache of this flow direction, or NULL */
	__u32 drop_reason;          /* enum vigil_drop_reason, for LB_DROP */
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
/* The next bit marks the connect of a rescued flow (VIGIL_FLOW_RESCUED) to
 * its new backend: a refusal from there is not withheld again. */
#define FLOW_RESCUED (1ull << 62)

static __always_inline __u64 inflight_key(__u64 hash)
{
	return hash & ~(FLOW_MOVED | FLOW_RESCUED);
}

/* In the table and not marked down (failing_too: see backend_unhealthy()). */
static __always_inline bool backend_usable(const struct vigil_xdp_backend *b, bool failing_too)
{
	return (b->flags & VIGIL_XB_SELECTABLE) && !backend_unhealthy(&b->ep, failing_too);
}

/* A backend entry a packet of this family can be sent to. xdp_backends is an
 * array: an id vigild never configured (or cleared) reads as all zeroes. */
static __always_inline bool backend_fits(const struct vigil_xdp_backend *b, __u8 family)
{
	return b && b->ep.family == family;
}

/* The kernel's fallback when Maglev's probes found only backends the fast
 * path marked down: the service's set by connect()'s rule (set_pick.h), so
 * a primary the probes missed, else a healthy backup, takes the flow before
 * vigild switches the table. -1 without a published set. */
static __noinline __s64 set_fallback(const struct vigil_endpoint *vip, __u64 hash,
				     const struct vigil_endpoint *avoid, bool failing_too)
{
	struct vigil_xdp_set *xs = bpf_map_lookup_elem(&xdp_sets, vip);
	struct pick_filter f = { .family = vip->family, .failing_too = failing_too,
				 .last_resort = 1 };
	__s32 i;

#ifdef VIGIL_MUTANT_XDP_BACKUPS
	/* Mutation smoke test (see tests/mutants.sh): new flows wait for vigild's
	 * table, whatever the fast path marked down. */
	xs = NULL;
#endif
	if (!xs)
		return -1;
	if (avoid) {
		f.avoid = *avoid;
		f.has_avoid = 1;
	}
	i = set_pick(&xs->set, &f, (__u32)(hash >> 32));
	return i < 0 ? -1 : xs->ids[i & (VIGIL_MAX_SET - 1)];
}

/* Maglev lookup for a flow to vip; skips slots whose backend the fast path
 * marked down (failing_too, for a connect being rescued: or whose last
 * connect failed), slots whose backend cannot take the packet at all (never
 * a fallback), and avoid (may be NULL) unless nothing else is left. */
static __always_inline __s64 maglev_pick(const struct vigil_xdp_service *svc,
					 const struct vigil_endpoint *vip, __u64 hash,
					 const struct vigil_endpoint *avoid, bool failing_too)
{
	__u32 sid = svc->service_id, size = svc->table_size;
	void *table = bpf_map_lookup_elem(&xdp_tables, &sid);
	__s64 first = -1, avoided = -1, other;

	if (!table || size == 0)
		return -1;
	for (__u32 i = 0; i < DOWN_RETRIES; i++) {
		__u32 slot = (__u32)((hash + i * 0x9e3779b1u) % size);
		__u32 *id = bpf_map_lookup_elem(table, &slot);
		struct vigil_xdp_backend *b;

		if (!id)
			return -1;
		b = bpf_map_lookup_elem(&xdp_backends, id);
		if (!backend_fits(b, vip->family))
			continue;
		if (avoid && same_endpoint(&b->ep, avoid)) {
			avoided = *id;
			continue;
		}
		if (first < 0)
			first = *id;
		if (backend_usable(b, failing_too))
			return *id;
	}
	other = set_fallback(vip, hash, avoid, failing_too);
	if (other >= 0)
		return other;
	return first >= 0 ? first : avoided;
}

/* ---- passive health ------------------------------------------------------- */

/* The SYN (tcp, the packet ending at end, in on ifindex) as vigild would
 * replay it, options verbatim, into this CPU's syn_scratch; syn_forwarded()
 * adds the client. The options are copied 4 bytes at a time (their length
 * is a multiple of 4) within the packet's bounds. A call of its own: the
 * entry points' frames have no room for its locals. */
static __noinline void keep_syn(const struct tcphdr *tcp, const void *end, __u32 ifindex)
{
	const __u8 *opts = (const __u8 *)(tcp + 1);
	__u32 zero = 0, len = tcp->doff * 4 - sizeof(*tcp);
	struct vigil_pkt_inflight *v = bpf_map_lookup_elem(&syn_scratch, &zero);

	if (!v)
		return;
	v->syn.seq = bpf_ntohl(tcp->seq);
	v->syn.window = bpf_ntohs(tcp->window);
	v->syn.ifindex = ifindex;
	v->syn.opts_len = 0;
	for (__u32 i = 0; i < VIGIL_SYN_OPTS_MAX / 4; i++) {
		if (i * 4 >= len || (const void *)(opts + i * 4 + 4) > end)
			break;
		__builtin_memcpy(&v->syn.opts[i * 4], opts + i * 4, 4);
		v->syn.opts_len = (__u8)(i * 4 + 4);
	}
	/* Options beyond the linear data (tc) or the copy's room: a replay
	 * with part of them could set the connection up wrongly; none is made. */
	if (v->syn.opts_len != len)
		v->syn.ifindex = 0;
}

static __always_inline void syn_forwarded(const struct pkt *p, const struct vigil_endpoint *backend,
					  __u64 hash)
{
	struct vigil_backend_stats *st = backend_of(backend);
	__u64 key = inflight_key(hash);
	struct vigil_pkt_inflight *cur = bpf_map_lookup_elem(&inflight, &key), *fl;
	__u32 zero = 0;

	/* A retransmitted SYN of an attempt still waiting for its SYN-ACK: not a
	 * new attempt (the socket monitor counts it the same way), and the
	 * attempt's clock keeps running for latency and the timeout scan. */
	if (cur && same_endpoint(&cur->fl.peer, backend)) {
		if (st)
			COUNT(st->syn_retrans, 1);
		return;
	}
	if (st)
		COUNT(st->connect_attempts, 1);
	fl = bpf_map_lookup_elem(&syn_scratch, &zero);
	if (!fl)
		return;
	__builtin_memset(&fl->fl, 0, sizeof(fl->fl));
	fl->fl.peer = *backend;
	fl->fl.role = VIGIL_ROLE_CLIENT;
	fl->fl.syn_sent_ns = bpf_ktime_get_ns();
	__builtin_memcpy(fl->syn.client, p->key.src, 16);
	fl->syn.client_port = p->key.sport;
	update_or_count(&inflight, &key, fl, BPF_ANY, VIGIL_LOSS_INFLIGHT_FULL);
}

static __always_inline void synack_returned(const struct vigil_endpoint *backend, __u64 key)
{
	struct vigil_pkt_inflight *fl = bpf_map_lookup_elem(&inflight, &key);
	struct vigil_backend_stats *st;
	__u64 now;

	if (!fl)
		return; /* a retransmitted SYN-ACK: already counted */
	now = bpf_ktime_get_ns();
	st = backend_of(backend);
	if (st) {
		COUNT(st->established, 1);
		hist_add(st->connect_lat_us, &st->connect_lat_sum_ns, now - fl->fl.syn_sent_ns);
	}
	health_success(backend, now);
	bpf_map_delete_elem(&inflight, &key);
}

/* A RST while the SYN is pending is a refused connect: a hard failure. A RST
 * later is only counted: without the TCP state machine the packet path
 * cannot tell an aborted live connection from the RST that answers a late
 * segment after an ordinary close, and the latter is no failure. True for a
 * refused connect. */
static __always_inline bool reset_returned(const struct vigil_endpoint *backend, __u64 key)
{
	struct vigil_backend_stats *st = backend_of(backend);
	bool refused = bpf_map_lookup_elem(&inflight, &key) != NULL;
	__u64 now;

	if (!refused) {
		if (st)
			COUNT(st->resets_rcvd, 1);
		return false;
	}
	now = bpf_ktime_get_ns();
	if (st)
		COUNT(st->refused, 1);
	emit_event(backend, VIGIL_EV_REFUSED, now);
	health_failure(backend, now);
	bpf_map_delete_elem(&inflight, &key);
	return true;
}

/* ---- flows ---------------------------------------------------------------- */

/* The client -> VIP key of the flow a backend's packet p belongs to. */
static __always_inline void make_forward_key(const struct pkt *p, const struct vigil_endpoint *vip,
					     struct vigil_flow_key *k)
{
	__builtin_memcpy(k->src, p->key.dst, 16);
	__builtin_memcpy(k->dst, vip->addr, 16);
	k->sport = p->key.dport;
	k->dport = vip->port;
	k->family = p->key.family;
	k->proto = IPPROTO_TCP;
	k->pad = 0;
}

/* ---- rescue of a refused connect ---------------------------------------------- */

/* A backend for a connect that refused refused: not it and not marked down;
 * -1 if there is none. */
static __always_inline __s64 rescue_target(const struct vigil_endpoint *vip, __u64 hash,
					   const struct vigil_endpoint *refused)
{
	struct vigil_xdp_service *svc = bpf_map_lookup_elem(&xdp_services, vip);
	struct vigil_xdp_backend *b;
	__s64 pick;
	__u32 id;

	if (!svc)
		return -1;
	pick = maglev_pick(svc, vip, hash, refused, true);
	if (pick < 0)
		return -1;
	id = (__u32)pick;
	b = bpf_map_lookup_elem(&xdp_backends, &id);
	if (!backend_fits(b, vip->family) || backend_down(&b->ep) || same_endpoint(&b->ep, refused))
		return -1;
	return pick;
}

/* Move the flow of a connect that backend refused to another backend, so
 * that the client's SYN retransmit goes there, and forget the refusing
 * backend's reverse entry (p's). True when moved: the RST is then withheld. */
static __always_inline bool rescue_refused(const struct pkt *p, const struct vigil_rev_flow *r,
					   const struct vigil_endpoint *backend)
{
	struct vigil_flow_key k;
	struct vigil_flow *fl;
	__s64 id;

#ifdef VIGIL_MUTANT_RST_RESCUE
	/* Mutation smoke test (see tests/mutants.sh): every refusal reaches the
	 * client. */
	return false;
#endif
	make_forward_key(p, &r->vip, &k);
	fl = bpf_map_lookup_elem(&xdp_flows, &k);
	if (!fl || fl->backend_id != r->backend_id)
		return false;
	id = rescue_target(&r->vip, inflight_key(r->flow_hash), backend);
	if (id < 0)
		return false;
	/* In place: nothing else of this flow is on the wire while its SYN waits
	 * (and a new backend starts with an empty next-hop cache). */
	fl->hop.ifindex = 0;
	fl->backend_id = (__u32)id;
	fl->flags |= VIGIL_FLOW_RESCUED;
	bpf_map_delete_elem(&xdp_rev_flows, &p->key);
	count(VIGIL_XDP_RESCUED);
	return true;
}

/* The rescued connect's new backend answered (SYN-ACK or RST): a later
 * connection on the same 5-tuple may be rescued again. */
static __always_inline void rescue_over(const struct pkt *p, const struct vigil_rev_flow *r)
{
	struct vigil_flow_key k;
	struct vigil_flow *fl;

	make_forward_key(p, &r->vip, &k);
	fl = bpf_map_lookup_elem(&xdp_flows, &k);
	if (fl)
		fl->flags &= ~VIGIL_FLOW_RESCUED;
}

/* A RST refusing the connect of p's flow: withheld (true) once per flow when
 * the flow could be moved; the refusal of a rescued connect goes through. */
static __always_inline bool refusal_withheld(const struct pkt *p, const struct vigil_rev_flow *r,
					const struct vigil_endpoint *backend)
{
	if (r->flow_hash & FLOW_RESCUED) {
		rescue_over(p, r);
		return false;
	}
	return rescue_refused(p, r, backend);
}

/* ---- directions ----------------------------------------------------------- */

/* How a packet's flow got its backend. */
struct flow_choice {
	__u32 id;                   /* backend id */
	__u32 flags;                /* the flow's VIGIL_FLOW_* */
	bool chosen;                /* from the Maglev table now (new or moved flow) */
	bool moved;                 /* taken off a backend it may no longer use */
	struct vigil_next_hop *hop; /* the flow entry's next-hop cache, NULL if none */
	struct vigil_flow *flow;    /* the flow entry, NULL if none */
	__u64 hash;                 /* flow_hash of the key, when hashed */
	bool hashed;
};

/* Whether a tracked flow keeps its backend b for this packet: while
 * selectable, or while draining, unless ejected on hard failure (RESELECT);
 * a SYN (a new connection on a reused 5-tuple, or the retransmit of a
 * connect still waiting) only while b is usable, so a SYN sent to a backend
 * that has since been ejected or marked down by the fast path is rescued.
 * The backend a refused connect was rescued to (flow flags) may be a backup
 * outside the table: its SYN stays there while its last connect did not
 * fail (when every primary dies at once, the first rescue may have picked
 * another dead one, whose refusal would reach the client). */
static __always_inline bool flow_keeps(const struct vigil_xdp_backend *b, __u8 family, bool syn,
				       __u32 flow_flags)
{
	if (!backend_fits(b, family) || (b->flags & VIGIL_XB_RESELECT))
		return false;
	if (!syn)
		return true;
	if (flow_flags & VIGIL_FLOW_RESCUED)
		return !backend_unhealthy(&b->ep, true);
	return backend_usable(b, false);
}

/* A SYN taken off its flow's backend old: the retransmit of a connect still
 * waiting on old, or of one already rescued (counted as rescued), or a new
 * connection on a reused 5-tuple (a new flow). */
static __always_inline void count_repicked_syn(const struct vigil_flow *fl,
					       const struct vigil_xdp_backend *old, __u64 hash)
{
	__u64 key = inflight_key(hash);
	struct vigil_pkt_inflight *cur = bpf_map_lookup_elem(&inflight, &key);
	bool waiting = cur && old && same_endpoint(&cur->fl.peer, &old->ep);

	count(waiting || (fl->flags & VIGIL_FLOW_RESCUED) ? VIGIL_XDP_RESCUED : VIGIL_XDP_NEW_FLOWS);
}

/* A backend from the table for a new flow, or for a tracked flow fl whose
 * backend it does not keep. A function of its own (a BPF-to-BPF call) so that
 * its stack, and the Maglev fallback's, stay out of the entry points' frame:
 * tracked flows never come here. */
static __noinline struct vigil_xdp_backend *
flow_place(struct pkt *p, const struct vigil_xdp_service *svc, const struct vigil_endpoint *vip,
	   const struct vigil_flow *fl, struct flow_choice *c)
{
	struct vigil_flow nf = { .service_id = svc->service_id };
	const struct vigil_endpoint *avoid = NULL;
	struct vigil_xdp_backend *b = NULL;
	struct vigil_flow *placed;
	__s64 id;

	c->hash = flow_hash(&p->key);
	c->hashed = true;
	if (fl) {
		nf.flags = fl->flags;
		b = bpf_map_lookup_elem(&xdp_backends, &fl->backend_id);
	}
	if (!fl) {
		count(VIGIL_XDP_NEW_FLOWS);
	} else if (p->tcp->syn && !p->tcp->ack) {
		count_repicked_syn(fl, b, c->hash);
		/* A connect being rescued: not back to the backend it is taken
		 * off, and preferably to one whose last connect did not fail. */
		avoid = b ? &b->ep : NULL;
	} else {
		count(VIGIL_XDP_RESELECTED);
		c->moved = true;
	}
	id = maglev_pick(svc, vip, c->hash, avoid, avoid != NULL);
	if (id < 0)
		return NULL;
	nf.backend_id = (__u32)id;
	b = bpf_map_lookup_elem(&xdp_backends, &nf.backend_id);
	if (!b)
		return NULL;
	/* A new backend starts with an empty next-hop cache. */
	bpf_map_update_elem(&xdp_flows, &p->key, &nf, BPF_ANY);
	placed = bpf_map_lookup_elem(&xdp_flows, &p->key);
	c->hop = placed ? &placed->hop : NULL;
	c->flow = placed;
	c->id = nf.backend_id;
	c->flags = nf.flags;
	c->chosen = true;
	return b;
}

/* The flow's backend: kept while flow_keeps() says so; chosen anew for a new
 * flow or when its backend was ejected on hard failure/removed. */
static __always_inline struct vigil_xdp_backend *
backend_for_flow(struct pkt *p, const struct vigil_xdp_service *svc,
		 const struct vigil_endpoint *vip, struct flow_choice *c)
{
	struct vigil_flow *fl = bpf_map_lookup_elem(&xdp_flows, &p->key);
	struct vigil_xdp_backend *b;

	if (fl) {
		bool syn = p->tcp->syn && !p->tcp->ack;

		b = bpf_map_lookup_elem(&xdp_backends, &fl->backend_id);
#ifdef VIGIL_MUTANT_XDP_RESELECT
		/* Mutation smoke test (see tests/mutants.sh): a tracked flow keeps
		 * its backend, even one ejected (RESELECT), unselectable for a new
		 * SYN, or removed (then the packet is dropped). */
		if (true) {
			if (!backend_fits(b, p->key.family))
				return NULL;
#else
		if (flow_keeps(b, p->key.family, syn, fl->flags)) {
#endif
			if (syn) /* a new connection on a reused 5-tuple */
				count(VIGIL_XDP_NEW_FLOWS);
			c->id = fl->backend_id;
			c->flags = fl->flags;
			c->hop = &fl->hop;
			c->flow = fl;
			return b;
		}
	}
	return flow_place(p, svc, vip, fl, c);
}

/* Reverse entry and in-flight state for a flow that just got its backend or
 * opens a connection: work a tracked flow's packets skip (a call of its own,
 * like flow_place). */
static __noinline void flow_setup(struct pkt *p, const struct vigil_xdp_backend *b,
				       const struct flow_choice *c, bool syn)
{
	struct vigil_rev_flow rev = { .vip.family = p->key.family, .backend_id = c->id };
	__u64 hash = c->hashed ? c->hash : flow_hash(&p->key);
	struct vigil_flow_key rk;

	__builtin_memcpy(rev.vip.addr, p->key.dst, 16);
	rev.vip.port = p->key.dport;
	rev.flow_hash = inflight_key(hash) | (c->moved && !syn ? FLOW_MOVED : 0) |
			(c->flags & VIGIL_FLOW_RESCUED ? FLOW_RESCUED : 0);
	make_reverse_key(p, &b->ep, &rk);
	bpf_map_update_elem(&xdp_rev_flows, &rk, &rev, BPF_ANY);
	if (syn)
		syn_forwarded(p, &b->ep, hash);
}

/* Request tracking of a client's packet (bpf/xdp_requests.h). A call of its
 * own: its locals stay out of the entry's frame, which the deepest call chain
 * (flow_place and the set choice) shares. */
static __noinline void client_sent(const struct pkt *p, const struct flow_choice *c,
				   const struct vigil_endpoint *backend)
{
	requests_from_client(p, c->id, backend, c->flow);
}

static __always_inline int to_backend(struct pkt *p, const struct vigil_xdp_service *svc,
				      const struct vigil_endpoint *vip, struct lb_rewrite *rw)
{
	struct flow_choice c = {};
	struct vigil_xdp_backend *b;
	bool syn = p->tcp->syn && !p->tcp->ack;

	b = backend_for_flow(p, svc, vip, &c);
	if (!b || b->ep.family != p->key.family) {
		count(VIGIL_XDP_DROP_NO_BACKEND);
		rw->drop_reason = VIGIL_DROP_NO_BACKEND;
		return LB_DROP;
	}
	/* The reverse entry is written when the flow gets its backend (a new
	 * flow, or one moved off a failed backend) and refreshed on every SYN. */
	if (c.chosen || syn)
		flow_setup(p, b, &c, syn);
	/* A moved flow's next segment only draws the new backend's RST. */
	if (c.flow && !c.moved)
		client_sent(p, &c, &b->ep);
	rw->to = b->ep;
	rw->to_dst = true;
	rw->hop = c.hop;
	count(VIGIL_XDP_FORWARDED);
	return LB_REWRITE;
}

/* The endpoint a packet came from: the backend, for its packets to a client. */
static __always_inline void sender_of(const struct pkt *p, struct vigil_endpoint *ep)
{
	__builtin_memset(ep, 0, sizeof(*ep));
	ep->family = p->key.family;
	ep->port = p->key.sport;
	__builtin_memcpy(ep->addr, p->key.src, 16);
}

/* Passive health of a backend's SYN-ACK or RST (p, reverse entry r), and
 * the rescue of a refused connect: true when the RST is to be withheld. A
 * call of its own (see flow_place): data packets never come here. */
static __noinline bool reply_control(const struct pkt *p, const struct vigil_rev_flow *r)
{
	struct vigil_endpoint backend;

	sender_of(p, &backend);
	if (p->tcp->rst) {
		/* Counted as any refusal first: the rescue changes what the client
		 * sees, not the backend's failure. */
		return reset_returned(&backend, inflight_key(r->flow_hash)) &&
		       refusal_withheld(p, r, &backend);
	}
	synack_returned(&backend, inflight_key(r->flow_hash));
	if (r->flow_hash & FLOW_RESCUED)
		rescue_over(p, r);
	return false;
}

/* Request tracking of a backend's packet (bpf/xdp_requests.h). A call of its
 * own, like reply_control: the backend's endpoint stays out of to_client's
 * frame. */
static __noinline void replied(const struct pkt *p, struct vigil_rev_flow *rev)
{
	struct vigil_endpoint backend;

	sender_of(p, &backend);
	requests_from_backend(p, rev, &backend);
}

static __always_inline int to_client(struct pkt *p, struct vigil_rev_flow *rev,
				     struct lb_rewrite *rw)
{
	__u64 flow_hash = rev->flow_hash;

	/* The RSTs of a flow moved mid-stream are the policy at work (FLOW_MOVED). */
	if (((p->tcp->rst && !(flow_hash & FLOW_MOVED)) || (p->tcp->syn && p->tcp->ack)) &&
	    reply_control(p, rev)) {
		rw->drop_reason = VIGIL_DROP_RST_WITHHELD;
		return LB_DROP;
	}
	rw->to = rev->vip; /* a copy: the packet rewrite may race an update */
	if (rw->to.family != p->key.family)
		return LB_PASS;
	replied(p, rev);
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
		return to_backend(p, svc, &vip, rw);
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
