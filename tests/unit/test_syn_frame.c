/* SPDX-License-Identifier: MIT */
/* user/lib/syn_frame.c: the SYN vigild replays, rebuilt from its copy. The
 * expected checksums were computed independently (RFC 1071 over the
 * pseudo-header and segment, in Python) for these exact frames. */
#include <string.h>

#include "addr.h"
#include "suites.h"
#include "syn_frame.h"

static const unsigned char DST_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const unsigned char SRC_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Linux's SYN options: MSS 1460, SACK permitted, timestamps 1/0, NOP, wscale 7. */
static const __u8 LINUX_OPTS[20] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1,
				     0, 0, 0, 0, 1, 3, 3, 7 };

static unsigned rd16(const unsigned char *p) { return (unsigned)(p[0] << 8 | p[1]); }

static struct vigil_syn_copy copy_of(const char *client, __u32 seq, __u16 window,
				     const __u8 *opts, __u8 opts_len)
{
	struct vigil_syn_copy c = { .seq = seq, .window = window, .opts_len = opts_len };
	struct vigil_endpoint ep;

	ck_assert_int_eq(vigil_endpoint_parse(client, &ep), 0);
	memcpy(c.client, ep.addr, 16);
	c.client_port = ep.port;
	memcpy(c.opts, opts, opts_len);
	return c;
}

static struct vigil_endpoint endpoint(const char *text)
{
	struct vigil_endpoint ep;

	ck_assert_int_eq(vigil_endpoint_parse(text, &ep), 0);
	return ep;
}

START_TEST(ipv4_syn)
{
	struct vigil_syn_copy c = copy_of("10.0.0.1:40000", 0x01020304, 64240, LINUX_OPTS, 20);
	struct vigil_endpoint vip = endpoint("10.0.0.100:80");
	unsigned char f[VIGIL_SYN_FRAME_MAX];
	const unsigned char *ip = f + 14, *tcp = f + 34;

	ck_assert_uint_eq(vigil_syn_frame(&c, &vip, DST_MAC, SRC_MAC, f), 14 + 20 + 40);
	ck_assert_mem_eq(f, DST_MAC, 6);
	ck_assert_mem_eq(f + 6, SRC_MAC, 6);
	ck_assert_uint_eq(rd16(f + 12), 0x0800);
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(rd16(ip + 2), 60);
	ck_assert_uint_eq(ip[9], 6);
	ck_assert_mem_eq(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x64", 8);
	ck_assert_uint_eq(rd16(ip + 10), 0x2658);
	ck_assert_uint_eq(rd16(tcp), 40000);
	ck_assert_uint_eq(rd16(tcp + 2), 80);
	ck_assert_mem_eq(tcp + 4, "\x01\x02\x03\x04\x00\x00\x00\x00", 8);
	ck_assert_uint_eq(tcp[12], 10 << 4);
	ck_assert_uint_eq(tcp[13], 0x02);
	ck_assert_uint_eq(rd16(tcp + 14), 64240);
	ck_assert_mem_eq(tcp + 20, LINUX_OPTS, 20);
	ck_assert_uint_eq(rd16(tcp + 16), 0x9813);
}
END_TEST

START_TEST(ipv6_syn)
{
	static const __u8 mss[4] = { 2, 4, 5, 0xa0 };
	struct vigil_syn_copy c = copy_of("[fd00::1]:40000", 0xfedcba98, 65535, mss, 4);
	struct vigil_endpoint vip = endpoint("[fd00::64]:80");
	unsigned char f[VIGIL_SYN_FRAME_MAX];
	const unsigned char *ip = f + 14, *tcp = f + 54;

	ck_assert_uint_eq(vigil_syn_frame(&c, &vip, DST_MAC, SRC_MAC, f), 14 + 40 + 24);
	ck_assert_uint_eq(rd16(f + 12), 0x86dd);
	ck_assert_uint_eq(ip[0], 0x60);
	ck_assert_uint_eq(rd16(ip + 4), 24);
	ck_assert_uint_eq(ip[6], 6);
	ck_assert_mem_eq(ip + 8, c.client, 16);
	ck_assert_mem_eq(ip + 24, vip.addr, 16);
	ck_assert_uint_eq(tcp[12], 6 << 4);
	ck_assert_uint_eq(rd16(tcp + 16), 0x47ce);
}
END_TEST

/* A copy that cannot make a SYN to the VIP makes no frame. */
START_TEST(unusable_copies)
{
	struct vigil_syn_copy c = copy_of("10.0.0.1:40000", 1, 1, LINUX_OPTS, 20);
	struct vigil_endpoint vip6 = endpoint("[fd00::64]:80"), vip4 = endpoint("10.0.0.100:80");
	unsigned char f[VIGIL_SYN_FRAME_MAX];

	ck_assert_uint_eq(vigil_syn_frame(&c, &vip6, DST_MAC, SRC_MAC, f), 0);
	c.opts_len = 3;
	ck_assert_uint_eq(vigil_syn_frame(&c, &vip4, DST_MAC, SRC_MAC, f), 0);
	c.opts_len = VIGIL_SYN_OPTS_MAX + 4;
	ck_assert_uint_eq(vigil_syn_frame(&c, &vip4, DST_MAC, SRC_MAC, f), 0);
	c.opts_len = 0;
	vip4.family = 0;
	ck_assert_uint_eq(vigil_syn_frame(&c, &vip4, DST_MAC, SRC_MAC, f), 0);
}
END_TEST

Suite *syn_frame_suite(void)
{
	Suite *s = suite_create("syn_frame");

	UNIT_TCASE(s, "frame", { ipv4_syn }, { ipv6_syn }, { unusable_copies });
	return s;
}
