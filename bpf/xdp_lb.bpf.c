// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil packet load balancer for traffic from other hosts (NAT mode), with
 * two entry points sharing one decision (bpf/lb_core.h) and one set of maps:
 *
 *   vigil_xdp_lb  XDP on the ingress interfaces (xdp.hook: xdp, the default):
 *                 rewrites in place with incremental checksum updates.
 *   vigil_tc_lb   tc clsact ingress (xdp.hook: tc): rewrites with the kernel's
 *                 checksum helpers, which also handle packets whose TCP
 *                 checksum is still partial (local senders with checksum
 *                 offload), something XDP cannot see.
 *
 * client -> VIP:port   matched in xdp_services; the flow's backend comes from
 *                      the connection table, or for a new flow (or one whose
 *                      backend must be left) from the service's Maglev table;
 *                      destination rewritten to the backend.
 * backend -> client    matched in xdp_rev_flows; source rewritten back to the
 *                      VIP. A RST refusing a connect is withheld once per flow
 *                      and the flow moved, so that the client's SYN
 *                      retransmit opens the connection on another backend
 *                      (docs/xdp.md, "Rescue of a connect").
 *
 * Forwarding (xdp.forward: redirect, the default): a FIB lookup in the
 * program gives the egress device and next-hop MAC; the packet leaves with
 * XDP_TX / XDP_REDIRECT (XDP; the answer is cached in the flow entry for
 * about a second) or bpf_redirect / bpf_redirect_neigh (tc), TTL decremented
 * like a router. Whatever the program cannot send itself
 * (no neighbour entry yet in XDP, TTL expiring, MTU exceeded, an egress
 * device without XDP transmit) is handed to the kernel's IP forwarding after
 * the rewrite, which always works (xdp.forward: kernel does that for all).
 *
 * Every packet either entry drops (XDP_DROP, TC_ACT_SHOT) is counted in
 * xdp_drops under its enum vigil_drop_reason, through drop().
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
#include "tc_nat.h"
#include "lb_maps.h"
#include "xdp_requests.h"
#include "set_pick.h"
#include "lb_core.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_INET_ 2
#define AF_INET6_ 10
#define TC_ACT_OK_ 0
#define TC_ACT_SHOT_ 2

/* xdp.forward, set by vigild before load. */
const volatile __u32 forward_mode = VIGIL_FWD_REDIRECT;

/* ---- forwarding, common ------------------------------------------------------ */

/* FIB query for the packet as it will be after the rewrite; addresses come
 * from the flow key and the rewrite order because the tc entry can no longer
 * read the headers once its helpers have rewritten them. */
static __always_inline void fib_prepare(struct bpf_fib_lookup *fib, const struct pkt *p,
					const struct lb_rewrite *rw, __u32 ifindex)
{
	__u8 src[16], dst[16];

	/* Branches, not a pointer select: the verifier tracks them better. */
	if (rw->to_dst) {
		__builtin_memcpy(src, p->key.src, 16);
		__builtin_memcpy(dst, rw->to.addr, 16);
	} else {
		__builtin_memcpy(src, rw->to.addr, 16);
		__builtin_memcpy(dst, p->key.dst, 16);
	}
	fib->ifindex = ifindex;
	fib->l4_protocol = IPPROTO_TCP;
	if (p->ip4) {
		fib->family = AF_INET_;
		fib->tos = p->ip4->tos;
		fib->tot_len = bpf_ntohs(p->ip4->tot_len);
		__builtin_memcpy(&fib->ipv4_src, &src[12], 4);
		__builtin_memcpy(&fib->ipv4_dst, &dst[12], 4);
	} else if (p->ip6) {
		fib->family = AF_INET6_;
		fib->tot_len = bpf_ntohs(p->ip6->payload_len) + sizeof(struct ipv6hdr);
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	}
}

/* The IPv4 checksum word holding ttl: TTL is its high byte, the protocol
 * (unchanged by a hop) its low byte, which cancels out of an update. */
static __always_inline __u16 ttl_csum_word(__u8 ttl)
{
	return bpf_htons((__u16)ttl << 8);
}

/* ---- XDP entry ------------------------------------------------------------------ */

/* Replace one address (dst when to_dst, else src) and port of the packet. */
static __always_inline void xdp_rewrite(struct pkt *p, const struct vigil_endpoint *to,
					bool to_dst)
{
	__u16 port = bpf_htons(to->port);
	__u16 *old_port = to_dst ? &p->tcp->dest : &p->tcp->source;

	if (p->ip4) {
		__u32 addr, *old = to_dst ? &p->ip4->daddr : &p->ip4->saddr;

		__builtin_memcpy(&addr, &to->addr[12], 4);
		csum_replace4(&p->ip4->check, *old, addr);
		csum_replace4(&p->tcp->check, *old, addr);
		*old = addr;
	} else if (p->ip6) {
		__u32 addr[4], *old;

		old = to_dst ? p->ip6->daddr.in6_u.u6_addr32 : p->ip6->saddr.in6_u.u6_addr32;
		__builtin_memcpy(addr, to->addr, 16);
		csum_replace16(&p->tcp->check, old, addr);
		__builtin_memcpy(old, addr, 16);
	}
	csum_replace2(&p->tcp->check, *old_port, port);
	*old_port = port;
}

static __always_inline void xdp_decrement_hops(struct pkt *p)
{
	if (p->ip4) {
		__u8 ttl = p->ip4->ttl;

		csum_replace2(&p->ip4->check, ttl_csum_word(ttl), ttl_csum_word(ttl - 1));
		p->ip4->ttl = ttl - 1;
	} else if (p->ip6) {
		p->ip6->hop_limit--;
	}
}

/* The next hop from the FIB, if the program may send there itself: only to
 * the interfaces vigild attached to (the device map). */
static __always_inline int xdp_resolve(struct xdp_md *ctx, struct bpf_fib_lookup *fib,
				       struct vigil_next_hop *hop)
{
	__u32 egress;

	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	egress = fib->ifindex;
	if (!bpf_map_lookup_elem(&xdp_tx_ports, &egress))
		return -1;
	hop->ifindex = egress;
	__builtin_memcpy(hop->dmac, fib->dmac, 6);
	__builtin_memcpy(hop->smac, fib->smac, 6);
	return 0;
}

/* A FIB lookup for the packet after the rewrite; the answer is cached in the
 * flow direction. A call of its own: its lookup structure stays out of the
 * entry's frame, which the load balancer's decision needs. */
static __noinline int xdp_fib_hop(struct xdp_md *ctx, const struct pkt *p,
				  const struct lb_rewrite *rw, struct vigil_next_hop *hop, __u64 now)
{
	struct bpf_fib_lookup fib = {};

	fib_prepare(&fib, p, rw, ctx->ingress_ifindex);
	if (xdp_resolve(ctx, &fib, hop))
		return -1;
	hop->resolved_jiffies = now;
	if (rw->hop)
		*rw->hop = *hop;
	return 0;
}

/* The flow direction's cached next hop while fresh, else a FIB lookup. */
static __always_inline int xdp_next_hop(struct xdp_md *ctx, const struct pkt *p,
					const struct lb_rewrite *rw, struct vigil_next_hop *hop)
{
	__u64 now = bpf_jiffies64();

	if (rw->hop && rw->hop->ifindex && now - rw->hop->resolved_jiffies < VIGIL_HOP_CACHE_JIFFIES) {
		*hop = *rw->hop;
		return 0;
	}
	return xdp_fib_hop(ctx, p, rw, hop, now);
}

/* Send the rewritten packet out to its next hop, or leave it to the kernel.
 * MACs and TTL change only once the program knows it sends the packet
 * itself: the kernel must get a packet addressed to this host. */
static __always_inline int xdp_forward(struct xdp_md *ctx, struct pkt *p,
				       const struct lb_rewrite *rw, void *data)
{
	struct vigil_next_hop hop;
	struct ethhdr *eth = data;
	int verdict;

	if (forward_mode != VIGIL_FWD_REDIRECT || hops_left(p) <= 1 ||
	    xdp_next_hop(ctx, p, rw, &hop)) {
		count(VIGIL_XDP_FWD_KERNEL);
		return XDP_PASS;
	}
	xdp_decrement_hops(p);
	__builtin_memcpy(eth->h_dest, hop.dmac, 6);
	__builtin_memcpy(eth->h_source, hop.smac, 6);
	if (hop.ifindex == ctx->ingress_ifindex) {
		count(VIGIL_XDP_FWD_DIRECT);
		return XDP_TX;
	}
	/* An egress vigild took out of the map since the hop was cached: the
	 * frame, already addressed to the next hop, is dropped. */
	verdict = (int)bpf_redirect_map(&xdp_tx_ports, hop.ifindex, XDP_DROP);
	if (verdict == XDP_DROP)
		return drop(VIGIL_DROP_REDIRECT_MISS, XDP_DROP);
	count(VIGIL_XDP_FWD_DIRECT);
	return verdict;
}

SEC("xdp")
int vigil_xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct lb_rewrite rw = {};
	struct pkt p = {};
	int res = parse_packet(data, end, &p);

	if (res != PARSE_TCP) {
		count_unparsed(res);
		return XDP_PASS;
	}
	if (p.tcp->syn && !p.tcp->ack)
		keep_syn(p.tcp, end, ctx->ingress_ifindex);
	res = lb_decide(&p, &rw);
	if (res == LB_DROP)
		return drop(rw.drop_reason, XDP_DROP);
	if (res != LB_REWRITE)
		return XDP_PASS;
	xdp_rewrite(&p, &rw.to, rw.to_dst);
	return xdp_forward(ctx, &p, &rw, data);
}

/* ---- tc entry -------------------------------------------------------------------- */

static __always_inline int tc_decrement_hops(struct __sk_buff *skb, const struct tc_fields *f,
					     bool v4)
{
	__u8 hops = f->hops - 1;

	if (!v4)
		return bpf_skb_store_bytes(skb, f->l3 + offsetof(struct ipv6hdr, hop_limit), &hops, 1, 0);
	if (bpf_l3_csum_replace(skb, f->l3 + offsetof(struct iphdr, check),
				ttl_csum_word(f->hops), ttl_csum_word(hops), 2))
		return -1;
	return bpf_skb_store_bytes(skb, f->l3 + offsetof(struct iphdr, ttl), &hops, 1, 0);
}

/* bpf_redirect with the FIB's MACs, or bpf_redirect_neigh when the next hop
 * has no neighbour entry yet (the kernel resolves it and queues the packet). */
static __always_inline int tc_forward(struct __sk_buff *skb, struct bpf_fib_lookup *fib,
				      const struct tc_fields *f, bool v4)
{
	long rc;
	int verdict;

	if (forward_mode != VIGIL_FWD_REDIRECT || f->hops <= 1)
		goto kernel;
	rc = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		goto kernel;
	if (tc_decrement_hops(skb, f, v4))
		return drop(VIGIL_DROP_HOP_REWRITE, TC_ACT_SHOT_);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		verdict = (int)bpf_redirect_neigh(fib->ifindex, NULL, 0, 0);
	} else {
		if (bpf_skb_store_bytes(skb, 0, fib->dmac, 6, 0) ||
		    bpf_skb_store_bytes(skb, 6, fib->smac, 6, 0))
			return drop(VIGIL_DROP_MAC_REWRITE, TC_ACT_SHOT_);
		verdict = (int)bpf_redirect(fib->ifindex, 0);
	}
	if (verdict == TC_ACT_SHOT_)
		return drop(VIGIL_DROP_REDIRECT, TC_ACT_SHOT_);
	count(VIGIL_XDP_FWD_DIRECT);
	return verdict;
kernel:
	count(VIGIL_XDP_FWD_KERNEL);
	return TC_ACT_OK_;
}

/* Rewrite the packet as rw says (tc_nat.h) and send it on. A call of its
 * own: the FIB query and the rewrite's offsets stay out of the entry's frame,
 * which the load balancer's decision needs. */
static __noinline int tc_apply(struct __sk_buff *skb, const struct pkt *p,
			       const struct lb_rewrite *rw)
{
	struct bpf_fib_lookup fib = {};
	struct tc_fields f = {};
	bool v4 = p->ip4 != NULL;

	if (forward_mode == VIGIL_FWD_REDIRECT) /* before the helpers end header access */
		fib_prepare(&fib, p, rw, skb->ingress_ifindex);
	tc_fields_of(p, rw->to_dst, sizeof(struct ethhdr), tc_l4_offset(p), &f);
	/* A packet the helpers could only half rewrite must not leave. */
	if (tc_rewrite(skb, &f, &rw->to, v4))
		return drop(VIGIL_DROP_NAT_REWRITE, TC_ACT_SHOT_);
	return tc_forward(skb, &fib, &f, v4);
}

SEC("tc")
int vigil_tc_lb(struct __sk_buff *skb)
{
	struct lb_rewrite rw = {};
	struct pkt p = {};
	int res = tc_parse(skb, &p);

	if (res != PARSE_TCP) {
		count_unparsed(res);
		return TC_ACT_OK_;
	}
	if (p.tcp->syn && !p.tcp->ack)
		keep_syn(p.tcp, (void *)(long)skb->data_end, skb->ingress_ifindex);
	res = lb_decide(&p, &rw);
	if (res == LB_DROP)
		return drop(rw.drop_reason, TC_ACT_SHOT_);
	if (res != LB_REWRITE)
		return TC_ACT_OK_;
	return tc_apply(skb, &p, &rw);
}
