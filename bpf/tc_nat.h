/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Address and port translation of a parsed TCP packet (xdp_parse.h) in a tc
 * program, through the kernel's checksum helpers, which also handle packets
 * whose TCP checksum is still partial (local senders with checksum offload).
 * Shared by the packet load balancer's tc entry (bpf/xdp_lb.bpf.c) and the
 * socket datapath's rescue (bpf/sock_rescue.bpf.c). */
#ifndef VIGIL_BPF_TC_NAT_H
#define VIGIL_BPF_TC_NAT_H

/* TTL or hop limit as the packet arrived. */
static __always_inline __u8 hops_left(const struct pkt *p)
{
	if (p->ip4)
		return p->ip4->ttl;
	return p->ip6 ? p->ip6->hop_limit : 0;
}

/* Offsets (from the Ethernet header) of everything the tc rewrite touches,
 * taken while the parsed pointers are still valid: every checksum or store
 * helper invalidates them. */
struct tc_fields {
	__u32 l3, csum, port, addr;
	__u16 old_port;
	__u8 old_addr[16];
	__u8 hops;
};

static __always_inline void tc_fields_of(const struct pkt *p, bool to_dst, __u32 l3, __u32 l4,
					 struct tc_fields *f)
{
	f->l3 = l3;
	f->csum = l4 + offsetof(struct tcphdr, check);
	f->hops = hops_left(p);
	if (to_dst) {
		f->port = l4 + offsetof(struct tcphdr, dest);
		f->old_port = p->tcp->dest;
		__builtin_memcpy(f->old_addr, p->key.dst, 16);
		f->addr = l3 + (p->ip4 ? offsetof(struct iphdr, daddr) : offsetof(struct ipv6hdr, daddr));
	} else {
		f->port = l4 + offsetof(struct tcphdr, source);
		f->old_port = p->tcp->source;
		__builtin_memcpy(f->old_addr, p->key.src, 16);
		f->addr = l3 + (p->ip4 ? offsetof(struct iphdr, saddr) : offsetof(struct ipv6hdr, saddr));
	}
}

/* The rewrite through the kernel's helpers: bpf_l4_csum_replace knows the
 * skb's checksum state and updates a partial checksum as a partial one. */
static __always_inline int tc_rewrite(struct __sk_buff *skb, const struct tc_fields *f,
				      const struct vigil_endpoint *to_ep, bool v4)
{
	__u16 port = bpf_htons(to_ep->port);

	if (v4) {
		__u32 from, to;

		__builtin_memcpy(&from, &f->old_addr[12], 4);
		__builtin_memcpy(&to, &to_ep->addr[12], 4);
		if (bpf_l4_csum_replace(skb, f->csum, from, to, BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, f->l3 + offsetof(struct iphdr, check), from, to, 4) ||
		    bpf_skb_store_bytes(skb, f->addr, &to, 4, 0))
			return -1;
	} else {
		__s64 diff = bpf_csum_diff((__be32 *)f->old_addr, 16, (__be32 *)to_ep->addr, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, f->csum, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, f->addr, to_ep->addr, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, f->csum, f->old_port, port, 2) ||
	    bpf_skb_store_bytes(skb, f->port, &port, 2, 0))
		return -1;
	return 0;
}

/* Headers beyond the linear part of the skb are pulled in once. */
static __always_inline int tc_parse(struct __sk_buff *skb, struct pkt *p)
{
	int res = parse_packet((void *)(long)skb->data, (void *)(long)skb->data_end, p);
	__u32 want = skb->len < 128 ? skb->len : 128;

	if (res == PARSE_TCP || skb->data_end - skb->data >= want)
		return res;
	if (bpf_skb_pull_data(skb, want))
		return res;
	__builtin_memset(p, 0, sizeof(*p));
	return parse_packet((void *)(long)skb->data, (void *)(long)skb->data_end, p);
}

/* Header offsets: the parser accepts only Ethernet + IPv4 with options or
 * Ethernet + plain IPv6, so both follow from the IP header. */
static __always_inline __u32 tc_l4_offset(const struct pkt *p)
{
	return p->ip4 ? sizeof(struct ethhdr) + p->ip4->ihl * 4
		      : sizeof(struct ethhdr) + sizeof(struct ipv6hdr);
}

#endif
