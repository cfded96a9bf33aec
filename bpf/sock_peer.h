/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The remote endpoint of a socket as the maps key it (struct vigil_endpoint,
 * IPv4 v4-mapped): shared by the monitor and the tear-down iterator, so a
 * backend is the same key to both. */
#ifndef VIGIL_BPF_SOCK_PEER_H
#define VIGIL_BPF_SOCK_PEER_H

static __always_inline bool is_v4_mapped(const __u8 *a)
{
	return *(const __u64 *)a == 0 && *(const __u16 *)(a + 8) == 0 &&
	       *(const __u16 *)(a + 10) == 0xffff;
}

static __always_inline void sock_peer(const struct sock_common *skc, struct vigil_endpoint *ep)
{
	__u16 family = skc->skc_family;

	ep->port = bpf_ntohs(skc->skc_dport);
	ep->pad = 0;
	if (family == VIGIL_AF_INET) {
		__u32 v4 = skc->skc_daddr;

		__builtin_memset(ep->addr, 0, 10);
		ep->addr[10] = 0xff;
		ep->addr[11] = 0xff;
		__builtin_memcpy(&ep->addr[12], &v4, 4);
		ep->family = VIGIL_AF_INET;
		return;
	}
	__builtin_memcpy(ep->addr, skc->skc_v6_daddr.in6_u.u6_addr8, 16);
	/* A dual-stack socket talking to an IPv4 peer reports it as IPv4. */
	ep->family = is_v4_mapped(ep->addr) ? VIGIL_AF_INET : VIGIL_AF_INET6;
}

#endif
