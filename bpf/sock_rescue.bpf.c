// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil socket datapath: rescue of connects to a backend that fails before
 * answering (abi.h, "rescue of connects to a failed backend").
 *
 * connect4|6 (bpf/sock_lb.bpf.c) hand a socket of lb.cgroup one backend. If
 * that backend is black-holed or dies before it answers, the socket would
 * retransmit its SYN to it until the client gives up. Instead:
 *
 *   vigil_rescue_out  tc clsact egress of the interfaces the backends are
 *                     reached through. A SYN retransmit of a service
 *                     connection whose backend is no longer serving (ejected
 *                     from the set, or marked down by the fast path) is
 *                     rewritten to a healthy backend of the same service,
 *                     chosen by the connect() rule (bpf/set_pick.h); the flow
 *                     is recorded (rescue_flows) and its later packets follow.
 *   vigil_rescue_in   tc clsact ingress of the same interfaces. Packets of the
 *                     new backend get the original backend's address back, so
 *                     the socket's 4-tuple and getpeername never change; late
 *                     packets of the backend the connection left are dropped.
 *                     A RST refusing a service connection's SYN is withheld
 *                     once when another backend is healthy: the refusal is
 *                     recorded as the monitor would (bpf/signals.h: events,
 *                     fast path), and the SYN retransmit moves on egress.
 *   vigil_rescue_ops  sockops on lb.cgroup: the initial SYN retransmission
 *                     timeout of a service's connections (rescue_svc), so
 *                     the retransmit that moves comes after a few hundred ms
 *                     rather than the kernel's 1 s.
 *
 * The monitor (bpf/monitor.bpf.c) gives a moved connect's outcome to the
 * backend that answered and frees the flow's entries when the socket closes.
 * Both tc programs run on every packet of those interfaces, so they filter
 * first on the count of live flows (rescue_live, bpf/maps_rescue.h): while
 * it is 0, a packet that is no SYN retransmit (egress) or reset (ingress)
 * leaves before any parse or hash lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_signals.h"
#include "maps_sets.h"
#include "maps_sock.h"
#include "maps_rescue.h"
#include "signals.h"
#include "set_pick.h"
#include "xdp_parse.h"
#include "tc_nat.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TC_ACT_UNSPEC_ (-1) /* not ours: the next filter, or the default action */
#define TC_ACT_SHOT_ 2
#define AF_INET_ 2
#define AF_INET6_ 10

/* The RTO is in jiffies; 0 when libbpf cannot read the kernel's config
 * (then the sockops program leaves the kernel's timeout alone). */
extern unsigned int CONFIG_HZ __kconfig __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_rescue_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rescue_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_RESCUE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rescue_stats SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&rescue_stats, &counter);

	if (c)
		*c += 1; /* per-CPU, and tc runs with bottom halves off: no atomics */
}

/* ---- the socket behind a packet -------------------------------------------------- */

/* The service a socket of lb.cgroup connected to (connect4|6 recorded it
 * in the socket's storage, maps_sock.h), or NULL for any other socket. */
static __always_inline struct vigil_endpoint *service_of(void *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	struct vigil_sock_state *st;

	if (!tp)
		return NULL;
	st = bpf_sk_storage_get(&sock_state, tp, 0, 0);
	return st && st->vip.family ? &st->vip : NULL;
}

/* Tell the monitor this socket's connect is the rescue's (vigil_sock_state
 * rescued; the socket has the storage: service_of found it). */
static __always_inline void mark(void *sk)
{
	struct vigil_sock_state *st = bpf_sk_storage_get(&sock_state, sk, 0, 0);

	if (st)
		st->rescued = 1;
}

static __always_inline bool syn_only(const struct pkt *p)
{
	return p->tcp->syn && !p->tcp->ack;
}

/* The key of p's flow in the other direction: of an ingress packet, the
 * forward key of its connection; of an egress packet, its reverse key. */
static __always_inline void swapped_key(const struct pkt *p, struct vigil_flow_key *k)
{
	__builtin_memcpy(k->src, p->key.dst, 16);
	__builtin_memcpy(k->dst, p->key.src, 16);
	k->sport = p->key.dport;
	k->dport = p->key.sport;
	k->family = p->key.family;
	k->proto = p->key.proto;
	k->pad = 0;
}

/* ---- choosing where a connection goes ----------------------------------------------- */

struct find_ctx {
	const struct vigil_backend_set *set;
	struct vigil_endpoint ep;
	__u32 count;
	bool found;
};

static long find_entry(__u32 i, void *data)
{
	struct find_ctx *c = data;

	if (i >= VIGIL_MAX_SET || i >= c->count)
		return 1;
	if (!same_endpoint(&c->set->entries[i & (VIGIL_MAX_SET - 1)].backend, &c->ep))
		return 0;
	c->found = true;
	return 1;
}

/* Whether connect() could still hand out ep for vip: in the published set
 * (any tier) and not marked down by the fast path. A service vigild no
 * longer publishes is left alone. */
static __always_inline bool still_serving(const struct vigil_endpoint *vip,
					  const struct vigil_endpoint *ep)
{
	const struct vigil_backend_set *set = bpf_map_lookup_elem(&service_sets, vip);
	struct find_ctx c = { .set = set, .ep = *ep };

	if (!set)
		return true;
	c.count = set->count;
	bpf_loop(VIGIL_MAX_SET, find_entry, &c, 0);
	return c.found && !backend_down(ep);
}

/* The one place the rescue asks for a backend: the connect() rule
 * (bpf/set_pick.h) without the backend being left, of the packet's family
 * (the socket's addresses cannot change family), healthy or nothing. */
static __always_inline const struct vigil_set_entry *
rescue_choice(const struct vigil_endpoint *vip, const struct vigil_endpoint *leaving, __u8 family)
{
	const struct vigil_backend_set *set = bpf_map_lookup_elem(&service_sets, vip);
	struct pick_filter f = { .avoid = *leaving, .has_avoid = 1, .family = family };

	return set ? choose(set, &f) : NULL;
}

/* Write forward entry f at k, counted in rescue_live (abi.h) before it is
 * written unless it was already: the count is never below the entries. 0,
 * or -1 when the map refused it (counted in loss). */
static __always_inline int put_forward(const struct vigil_flow_key *k, struct vigil_rescue_flow *f)
{
	bool add = !(f->flags & VIGIL_RESCUE_COUNTED);

	if (add)
		rescue_live_add(1);
	f->flags |= VIGIL_RESCUE_COUNTED;
	if (!update_or_count(&rescue_flows, k, f, BPF_ANY, VIGIL_LOSS_RESCUE_FULL))
		return 0;
	if (add)
		rescue_live_add(-1);
	return -1;
}

/* Record that the flow of p (client -> original backend) now goes to `to`:
 * the reverse translation, the drop of the original backend's late packets,
 * then the forward entry, which counts the flow as live (none of its
 * packets has gone to `to` yet: no answer can need the reverse entry
 * before). 0, or -1 when a map refused an entry (counted). */
static __always_inline int record_move(const struct pkt *p, const struct vigil_endpoint *vip,
				       const struct vigil_endpoint *to, __u32 flags)
{
	struct vigil_rescue_flow fwd = { .to = *to, .vip = *vip, .kind = VIGIL_RESCUE_FORWARD,
					 .flags = flags };
	struct vigil_rescue_flow back = { .kind = VIGIL_RESCUE_REVERSE };
	struct vigil_flow_key k;

	rescue_original(&p->key, &back.to);
	rescue_key_from(&p->key, to, &k);
	if (update_or_count(&rescue_flows, &k, &back, BPF_ANY, VIGIL_LOSS_RESCUE_FULL))
		return -1;
	back.kind = VIGIL_RESCUE_ABANDONED;
	rescue_key_from(&p->key, &back.to, &k);
	if (update_or_count(&rescue_flows, &k, &back, BPF_ANY, VIGIL_LOSS_RESCUE_FULL))
		return -1;
	fwd.moved_ns = bpf_ktime_get_ns();
	if (put_forward(&p->key, &fwd))
		return -1;
	count(VIGIL_RESCUE_MOVED);
	return 0;
}

/* The socket (released by the caller) that packets from `from` to the
 * client of p would reach: a connection already using that 4-tuple. */
static __always_inline struct bpf_sock *socket_from(struct __sk_buff *skb, const struct pkt *p,
						   const struct vigil_endpoint *from)
{
	struct bpf_sock_tuple t = {};

	if (p->ip4) {
		__builtin_memcpy(&t.ipv4.saddr, &from->addr[12], 4);
		__builtin_memcpy(&t.ipv4.daddr, &p->key.src[12], 4);
		t.ipv4.sport = bpf_htons(from->port);
		t.ipv4.dport = bpf_htons(p->key.sport);
		return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	__builtin_memcpy(t.ipv6.saddr, from->addr, 16);
	__builtin_memcpy(t.ipv6.daddr, p->key.src, 16);
	t.ipv6.sport = bpf_htons(from->port);
	t.ipv6.dport = bpf_htons(p->key.sport);
	return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
}

/* Whether the client's port already talks to `to`: a connection of its own
 * (the kernel picks a source port unique per destination, not per host), or
 * another moved flow. Moving there would mix two connections. */
static __always_inline bool tuple_busy(struct __sk_buff *skb, const struct pkt *p,
				       const struct vigil_endpoint *to)
{
	struct bpf_sock *sk = socket_from(skb, p, to);
	struct vigil_flow_key k;
	bool busy = false;

	if (sk) {
		busy = sk->state != BPF_TCP_LISTEN;
		bpf_sk_release(sk);
	}
	rescue_key_from(&p->key, to, &k);
	return busy || bpf_map_lookup_elem(&rescue_flows, &k);
}

/* Move the flow of SYN p to a healthy backend of vip: 0 with *to set, or -1. */
static __always_inline int move(struct __sk_buff *skb, const struct pkt *p,
				const struct vigil_endpoint *vip, __u32 flags,
				struct vigil_endpoint *to)
{
	const struct vigil_set_entry *e;
	struct vigil_endpoint leaving;

#ifdef VIGIL_MUTANT_SOCK_RESCUE
	/* Mutation smoke test (see tests/mutants.sh): a connect stays with the
	 * backend connect() chose, black-holed or refusing. */
	return -1;
#endif
	rescue_original(&p->key, &leaving);
	e = rescue_choice(vip, &leaving, p->key.family);
	if (!e) {
		count(VIGIL_RESCUE_NO_TARGET);
		return -1;
	}
	*to = e->backend;
	if (tuple_busy(skb, p, to)) {
		count(VIGIL_RESCUE_PORT_BUSY); /* the next retransmit tries again */
		return -1;
	}
	return record_move(p, vip, to, flags);
}

/* ---- rewriting ---------------------------------------------------------------------- */

/* FIB query, egress view, for the packet once its destination is `to`. */
static __always_inline void fib_for(struct bpf_fib_lookup *fib, const struct pkt *p,
				    const struct vigil_endpoint *to, __u32 ifindex)
{
	fib->ifindex = ifindex;
	fib->l4_protocol = IPPROTO_TCP;
	if (p->ip4) {
		fib->family = AF_INET_;
		__builtin_memcpy(&fib->ipv4_src, &p->key.src[12], 4);
		__builtin_memcpy(&fib->ipv4_dst, &to->addr[12], 4);
	} else {
		fib->family = AF_INET6_;
		__builtin_memcpy(fib->ipv6_src, p->key.src, 16);
		__builtin_memcpy(fib->ipv6_dst, to->addr, 16);
	}
}

/* The new backend's next hop need not be the original's (two hosts on the
 * client's LAN have different MACs): its neighbour, or the kernel resolves
 * it (bpf_redirect_neigh). Whatever the FIB cannot answer on this interface
 * (a local address, a route through another interface) leaves as it is. */
static __always_inline int to_next_hop(struct __sk_buff *skb, struct bpf_fib_lookup *fib)
{
	long rc = bpf_fib_lookup(skb, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT);

	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return (int)bpf_redirect_neigh(fib->ifindex, NULL, 0, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_UNSPEC_;
	if (bpf_skb_store_bytes(skb, 0, fib->dmac, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, fib->smac, 6, 0)) {
		count(VIGIL_RESCUE_REWRITE_FAILED);
		return TC_ACT_SHOT_;
	}
	return fib->ifindex == skb->ifindex ? TC_ACT_UNSPEC_ : (int)bpf_redirect(fib->ifindex, 0);
}

/* Replace the destination (to_dst, egress) or the source (ingress) of p. A
 * packet the helpers could only half rewrite must not go on. */
static __always_inline int translate(struct __sk_buff *skb, const struct pkt *p,
				     const struct vigil_endpoint *to, bool to_dst)
{
	struct bpf_fib_lookup fib = {};
	struct tc_fields f = {};

	tc_fields_of(p, to_dst, sizeof(struct ethhdr), tc_l4_offset(p), &f);
	if (to_dst)
		fib_for(&fib, p, to, skb->ifindex);
	if (tc_rewrite(skb, &f, to, p->ip4 != NULL)) {
		count(VIGIL_RESCUE_REWRITE_FAILED);
		return TC_ACT_SHOT_;
	}
	return to_dst ? to_next_hop(skb, &fib) : TC_ACT_UNSPEC_;
}

/* ---- egress --------------------------------------------------------------------------- */

/* A packet of a flow the rescue knows: moved already, or refused once and
 * waiting for its SYN retransmit to move. */
static __always_inline int follow(struct __sk_buff *skb, const struct pkt *p,
				  const struct vigil_rescue_flow *f)
{
	struct vigil_rescue_flow cur = *f; /* copy: the map entry may change under us */

	if (!cur.to.family && (!syn_only(p) || move(skb, p, &cur.vip, cur.flags, &cur.to)))
		return TC_ACT_UNSPEC_;
	return translate(skb, p, &cur.to, true);
}

/* The TCP state of the socket sending skb, NULL when there is none (a
 * test run's skb, a reset the kernel sends on no socket's behalf). */
static __always_inline struct bpf_tcp_sock *sender_of(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	return sk ? bpf_tcp_sock(sk) : NULL;
}

/* segs_out counts this segment already: 1 on the first transmission. */
static __always_inline bool first_syn(struct __sk_buff *skb)
{
	struct bpf_tcp_sock *tp = sender_of(skb);

	return tp && tp->segs_out < 2;
}

/* A new connection whose 4-tuple a moved flow uses (the kernel does not know
 * the moved flow owns it): held back until that flow is gone, or the
 * answers of the one would reach the other. */
static __always_inline int new_connect(const struct pkt *p)
{
	struct vigil_flow_key k;
	struct vigil_rescue_flow *f;

	swapped_key(p, &k);
	f = bpf_map_lookup_elem(&rescue_flows, &k);
	if (!f || f->kind != VIGIL_RESCUE_REVERSE)
		return TC_ACT_UNSPEC_;
	count(VIGIL_RESCUE_PORT_BUSY);
	return TC_ACT_SHOT_;
}

/* A SYN retransmit of a socket with no rescue entry: it moves if its
 * backend stopped serving. */
static __always_inline int syn_retransmit(struct __sk_buff *skb, const struct pkt *p)
{
	struct vigil_endpoint vip, orig, to;
	struct vigil_endpoint *v;
	struct bpf_sock *sk = skb->sk;

	if (!sk || !(sk = bpf_sk_fullsock(sk)))
		return TC_ACT_UNSPEC_;
	v = service_of(sk);
	if (!v)
		return TC_ACT_UNSPEC_;
	vip = *v;
	rescue_original(&p->key, &orig);
	if (still_serving(&vip, &orig) || move(skb, p, &vip, 0, &to))
		return TC_ACT_UNSPEC_;
	mark(sk);
	return translate(skb, p, &to, true);
}

/* A SYN with no rescue entry: the first one goes where connect() chose a
 * moment ago. */
static __always_inline int syn_out(struct __sk_buff *skb, const struct pkt *p)
{
	struct bpf_tcp_sock *tp = sender_of(skb);

	if (!tp)
		return TC_ACT_UNSPEC_;
	return tp->segs_out < 2 ? new_connect(p) : syn_retransmit(skb, p);
}

/* While rescues are live: a packet of a local connection that is past its
 * SYN and that the rescue never took over (no mark in its socket's storage)
 * has nothing to follow or move. The rescue marks a socket before it sends
 * anything the flow's entries change. A socket in SYN_SENT (its SYN may
 * move) or CLOSE (its last reset; a test run's stand-in socket) takes the
 * whole path. */
static __always_inline bool untouched_sender(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct vigil_sock_state *st;

	if (!sk || !(sk = bpf_sk_fullsock(sk)) || sk->state == BPF_TCP_SYN_SENT ||
	    sk->state == BPF_TCP_CLOSE)
		return false;
	st = bpf_sk_storage_get(&sock_state, sk, 0, 0);
	return !st || !st->rescued;
}

/* A SYN retransmit of a connecting socket: the one packet that can start a
 * rescue on egress. Its state is read before any helper runs (every
 * socket behind an skb has one). */
static __always_inline bool resending_syn(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct bpf_tcp_sock *tp;

	if (!sk || sk->state != BPF_TCP_SYN_SENT || !(sk = bpf_sk_fullsock(sk)))
		return false;
	tp = bpf_tcp_sock(sk);
	return tp && tp->segs_out >= 2; /* segs_out counts this one: 1 the first time */
}

/* Filter first (tracker issue 12): with no flow live (rescue_live 0) there
 * is nothing to follow or hold back, so every packet but a SYN retransmit
 * leaves after the count and a look at its socket, before the parse and
 * any hash lookup. */
static __always_inline bool nothing_to_do_out(struct __sk_buff *skb)
{
	return rescues_live() ? untouched_sender(skb) : !resending_syn(skb);
}

SEC("tc")
int vigil_rescue_out(struct __sk_buff *skb)
{
	struct vigil_rescue_flow *f;
	struct pkt p = {};

	if (nothing_to_do_out(skb) || tc_parse(skb, &p) != PARSE_TCP)
		return TC_ACT_UNSPEC_;
	f = bpf_map_lookup_elem(&rescue_flows, &p.key);
	if (!f)
		return syn_only(&p) ? syn_out(skb, &p) : TC_ACT_UNSPEC_;
	if (f->kind != VIGIL_RESCUE_FORWARD)
		return TC_ACT_UNSPEC_;
	/* A first SYN on a forward entry: left by a socket whose close was not
	 * seen; this is another connection. */
	if (syn_only(&p) && first_syn(skb)) {
		rescue_forget(&p.key);
		return new_connect(&p);
	}
	return follow(skb, &p, f);
}

/* ---- ingress --------------------------------------------------------------------------- */

/* The socket a packet arrives for, as the kernel will find it (the tuple is
 * the packet's own: source = the peer). Released by the caller. */
static __always_inline struct bpf_sock *socket_of(struct __sk_buff *skb, const struct pkt *p)
{
	struct bpf_sock_tuple t = {};

	if (p->ip4) {
		t.ipv4.saddr = p->ip4->saddr;
		t.ipv4.daddr = p->ip4->daddr;
		t.ipv4.sport = p->tcp->source;
		t.ipv4.dport = p->tcp->dest;
		return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	__builtin_memcpy(t.ipv6.saddr, p->key.src, 16);
	__builtin_memcpy(t.ipv6.daddr, p->key.dst, 16);
	t.ipv6.sport = p->tcp->source;
	t.ipv6.dport = p->tcp->dest;
	return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
}

/* A RST to sk: a refusal of its SYN by a service backend? Withheld (and
 * recorded as the refusal it is) the first time, when another backend of the
 * service is healthy; the SYN retransmit then moves (follow()). */
static __always_inline int judge_refusal(const struct pkt *p, struct bpf_sock *sk)
{
	struct vigil_rescue_flow fwd = { .kind = VIGIL_RESCUE_FORWARD, .flags = VIGIL_RESCUE_REFUSED };
	struct vigil_endpoint orig, *vip;
	struct bpf_tcp_sock *tp;
	struct vigil_flow_key k;

	/* Only a RST the socket will accept: it acknowledges the SYN (snd_una is
	 * the SYN's sequence number; snd_nxt may not count the SYN yet, the
	 * answer can arrive before the sender has returned from sending it). */
	tp = bpf_tcp_sock(sk);
	if (sk->state != BPF_TCP_SYN_SENT || !tp || !p->tcp->ack ||
	    bpf_ntohl(p->tcp->ack_seq) != tp->snd_una + 1)
		return TC_ACT_UNSPEC_;
	vip = service_of(sk);
	if (!vip)
		return TC_ACT_UNSPEC_;
	fwd.vip = *vip;
	swapped_key(p, &k);
	rescue_original(&k, &orig);
	if (bpf_map_lookup_elem(&rescue_flows, &k) || !rescue_choice(&fwd.vip, &orig, k.family)) {
		count(VIGIL_RESCUE_RST_PASSED); /* refused twice, or nowhere to go */
		return TC_ACT_UNSPEC_;
	}
	if (put_forward(&k, &fwd))
		return TC_ACT_UNSPEC_;
	connect_failed(&orig, true, bpf_ktime_get_ns());
	mark(sk);
	count(VIGIL_RESCUE_RST_WITHHELD);
	return TC_ACT_SHOT_;
}

static __always_inline int reset_arrived(struct __sk_buff *skb, const struct pkt *p)
{
	struct bpf_sock *sk = socket_of(skb, p);
	int verdict;

	if (!sk)
		return TC_ACT_UNSPEC_;
	verdict = judge_refusal(p, sk);
	bpf_sk_release(sk);
	return verdict;
}

/* False only when skb's linear data shows it is no TCP reset: not TCP, or
 * TCP without RST. What it cannot see (a header beyond the linear data, a
 * fragment) goes to the parse. */
static __always_inline bool maybe_reset(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;
	struct tcphdr *tcp;
	struct iphdr *ip;

	if ((void *)(eth + 1) > end)
		return true;
	if (eth->h_proto == bpf_htons(ETH_P_IPV4)) {
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return true;
		if (ip->protocol != IPPROTO_TCP)
			return false;
		tcp = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6_)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return true;
		if (ip6->nexthdr != IPPROTO_TCP)
			return false; /* the parse passes extension headers too */
		tcp = (void *)(ip6 + 1);
	} else {
		return false;
	}
	return (void *)(tcp + 1) > end || tcp->rst;
}

/* Filter first (tracker issue 12): with no flow live (rescue_live 0) there
 * is no translation to look up; only a reset may be a refusal to judge. */
SEC("tc")
int vigil_rescue_in(struct __sk_buff *skb)
{
	struct vigil_rescue_flow *f;
	struct vigil_endpoint orig;
	struct pkt p = {};

	if ((!rescues_live() && !maybe_reset(skb)) || tc_parse(skb, &p) != PARSE_TCP)
		return TC_ACT_UNSPEC_;
	f = bpf_map_lookup_elem(&rescue_flows, &p.key);
	if (f && f->kind == VIGIL_RESCUE_REVERSE) {
		orig = f->to;
		return translate(skb, &p, &orig, false);
	}
	if (f && f->kind == VIGIL_RESCUE_ABANDONED) {
		count(VIGIL_RESCUE_LATE_DROPPED);
		return TC_ACT_SHOT_;
	}
	return p.tcp->rst ? reset_arrived(skb, &p) : TC_ACT_UNSPEC_;
}

/* ---- sockops -------------------------------------------------------------------------- */

/* Called for every socket operation of lb.cgroup's TCP sockets; only the
 * initial SYN timeout of a service connection is ours (connect4|6 ran
 * before: the socket's storage has its VIP). reply 0: the kernel's default. */
SEC("sockops")
int vigil_rescue_ops(struct bpf_sock_ops *ops)
{
	struct vigil_rescue_svc *svc;
	struct vigil_sock_state *st;
	struct bpf_sock *sk;

	if (ops->op != BPF_SOCK_OPS_TIMEOUT_INIT || !CONFIG_HZ)
		return 1;
	sk = ops->sk;
	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&sock_state, sk, 0, 0);
	if (!st || !st->vip.family)
		return 1;
	svc = bpf_map_lookup_elem(&rescue_svc, &st->vip);
	if (svc && svc->syn_rto_ms)
		ops->reply = (int)((svc->syn_rto_ms * CONFIG_HZ + 999) / 1000);
	return 1;
}
