/* SPDX-License-Identifier: MIT */
#include "syn_frame.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "addr.h"

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define TCP_LEN 20
#define TCP_FLAG_SYN 0x02

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Ones' complement sum of len bytes (big-endian words) added to sum. */
static __u32 sum_bytes(const unsigned char *p, size_t len, __u32 sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static void put_ip4(unsigned char *ip, const __u8 src[16], const __u8 dst[16], size_t tcp_len)
{
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(IP4_LEN + tcp_len));
	put16(ip + 6, 0x4000); /* don't fragment, as the kernel sends SYNs */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, src + 12, 4);
	memcpy(ip + 16, dst + 12, 4);
	put16(ip + 10, fold(sum_bytes(ip, IP4_LEN, 0)));
}

static void put_ip6(unsigned char *ip, const __u8 src[16], const __u8 dst[16], size_t tcp_len)
{
	ip[0] = 0x60;
	put16(ip + 4, (unsigned)tcp_len);
	ip[6] = IPPROTO_TCP;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

/* The TCP checksum over the pseudo-header of the family (v4: the last 4
 * bytes of the mapped addresses) and the segment. */
static __u16 tcp_checksum(bool v4, const __u8 src[16], const __u8 dst[16],
			  const unsigned char *tcp, size_t len)
{
	size_t alen = v4 ? 4 : 16, off = v4 ? 12 : 0;
	__u32 sum = sum_bytes(src + off, alen, 0);

	sum = sum_bytes(dst + off, alen, sum);
	sum += IPPROTO_TCP + (__u32)len;
	return fold(sum_bytes(tcp, len, sum));
}

static void put_tcp(unsigned char *tcp, const struct vigil_syn_copy *syn, __u16 dport)
{
	size_t len = TCP_LEN + syn->opts_len;

	put16(tcp, syn->client_port);
	put16(tcp + 2, dport);
	put32(tcp + 4, syn->seq);
	tcp[12] = (unsigned char)((len / 4) << 4);
	tcp[13] = TCP_FLAG_SYN;
	put16(tcp + 14, syn->window);
	memcpy(tcp + TCP_LEN, syn->opts, syn->opts_len);
}

size_t vigil_syn_frame(const struct vigil_syn_copy *syn, const struct vigil_endpoint *vip,
		       const unsigned char dst_mac[6], const unsigned char src_mac[6],
		       unsigned char *frame)
{
	bool v4 = vip->family == VIGIL_AF_INET;
	size_t ip_len = v4 ? IP4_LEN : IP6_LEN, tcp_len = TCP_LEN + syn->opts_len;
	unsigned char *ip = frame + ETH_LEN, *tcp = ip + ip_len;

	if ((vip->family != VIGIL_AF_INET && vip->family != VIGIL_AF_INET6) ||
	    vigil_addr_is_v4_mapped(syn->client) != v4 || syn->opts_len % 4 || syn->opts_len > VIGIL_SYN_OPTS_MAX)
		return 0;
	memset(frame, 0, VIGIL_SYN_FRAME_MAX);
	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, src_mac, 6);
	put16(frame + 12, v4 ? 0x0800 : 0x86dd);
	if (v4)
		put_ip4(ip, syn->client, vip->addr, tcp_len);
	else
		put_ip6(ip, syn->client, vip->addr, tcp_len);
	put_tcp(tcp, syn, vip->port);
	put16(tcp + 16, tcp_checksum(v4, syn->client, vip->addr, tcp, tcp_len));
	return ETH_LEN + ip_len + tcp_len;
}
