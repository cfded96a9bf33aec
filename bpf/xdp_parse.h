/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Bounds-checked parsing of Ethernet / IPv4 / IPv6 / TCP for the packet load
 * balancer (XDP and tc entry points).
 *
 * Rule for packets the load balancer does not handle (documented in
 * docs/xdp.md and proven by tests/bpf): anything that is not a complete,
 * unfragmented IPv4 or IPv6 TCP packet is passed to the kernel untouched,
 * including TCP with a truncated header (counted as malformed): nothing is
 * rewritten that was not parsed whole.
 */
#ifndef VIGIL_BPF_XDP_PARSE_H
#define VIGIL_BPF_XDP_PARSE_H

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6_ 0x86DD
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

enum parse_result {
	PARSE_TCP = 0,      /* pkt filled, TCP header complete */
	PARSE_PASS,         /* not ours to judge: pass to the stack */
	PARSE_TCP_TRUNCATED /* L3 fine, TCP header incomplete: passed, counted */
};

struct pkt {
	struct iphdr *ip4;   /* one of ip4 / ip6 */
	struct ipv6hdr *ip6;
	struct tcphdr *tcp;  /* NULL when truncated */
	struct vigil_flow_key key;
};

static __always_inline void v4_mapped(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(&dst[12], &addr, 4);
}

static __always_inline int parse_tcp(void *end, void *l4, struct pkt *p)
{
	struct tcphdr *tcp = l4;

	if ((void *)(tcp + 1) > end || tcp->doff < 5 || l4 + tcp->doff * 4 > end)
		return PARSE_TCP_TRUNCATED;
	p->tcp = tcp;
	p->key.sport = bpf_ntohs(tcp->source);
	p->key.dport = bpf_ntohs(tcp->dest);
	return PARSE_TCP;
}

static __always_inline int parse_ipv4(void *end, void *l3, struct pkt *p)
{
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > end || ip->ihl < 5 || l3 + ip->ihl * 4 > end)
		return PARSE_PASS;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_PASS;
	if (ip->protocol != IPPROTO_TCP)
		return PARSE_PASS;
	p->ip4 = ip;
	p->key.family = VIGIL_AF_INET;
	p->key.proto = IPPROTO_TCP;
	v4_mapped(p->key.src, ip->saddr);
	v4_mapped(p->key.dst, ip->daddr);
	return parse_tcp(end, l3 + ip->ihl * 4, p);
}

/* Extension headers (including fragments) before TCP are passed. */
static __always_inline int parse_ipv6(void *end, void *l3, struct pkt *p)
{
	struct ipv6hdr *ip6 = l3;

	if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
		return PARSE_PASS;
	p->ip6 = ip6;
	p->key.family = VIGIL_AF_INET6;
	p->key.proto = IPPROTO_TCP;
	__builtin_memcpy(p->key.src, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst, &ip6->daddr, 16);
	return parse_tcp(end, (void *)(ip6 + 1), p);
}

/* The connection-tracking key of the replies to p's flow once it goes to
 * backend b: from b to p's client. */
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

/* data..end: the packet from its Ethernet header (XDP and tc alike). */
static __always_inline int parse_packet(void *data, void *end, struct pkt *p)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return PARSE_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IPV4))
		return parse_ipv4(end, eth + 1, p);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6_))
		return parse_ipv6(end, eth + 1, p);
	return PARSE_PASS;
}

#endif
