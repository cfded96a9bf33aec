/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')).
 * Values are 16/32-bit words exactly as they sit in the packet; the
 * one's-complement sum does not care about byte order as long as old and new
 * words are taken the same way. */
#ifndef VIGIL_BPF_CSUM_H
#define VIGIL_BPF_CSUM_H

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 c = (__u16)~*sum;

	c += (__u16)~from;
	c += to;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	csum_replace2(sum, (__u16)(from >> 16), (__u16)(to >> 16));
	csum_replace2(sum, (__u16)from, (__u16)to);
}

/* A 16-byte address replaced inside a checksummed pseudo-header. */
static __always_inline void csum_replace16(__u16 *sum, const __u32 *from, const __u32 *to)
{
	csum_replace4(sum, from[0], to[0]);
	csum_replace4(sum, from[1], to[1]);
	csum_replace4(sum, from[2], to[2]);
	csum_replace4(sum, from[3], to[3]);
}

#endif
