// SPDX-License-Identifier: MIT
/*
 * Packet parsing of the XDP load balancer and traffic that is not for a
 * service: other addresses and ports pass untouched, truncated and malformed
 * headers, IPv4 options, fragments and IPv6 extension headers, UDP/ICMP.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_parse [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_parse: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

BPF_TEST(non_service)
{
	struct vigil_endpoint other = ep4("10.0.0.101", 80), wrong_port = VIP, v4in6;
	uint8_t in[PKT_MAX];
	struct spec s;

	wrong_port.port = 81;
	T(std_setup());
	s = tcp_spec(&CL, &other, TH_SYN);
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 1));
	s = tcp_spec(&CL, &wrong_port, TH_SYN);
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 2));
	/* backend -> client without a reverse entry */
	s = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 3));
	/* IPv6 packet to ::ffff:10.0.0.100 is not the IPv4 VIP */
	v4in6 = VIP;
	v4in6.family = VIGIL_AF_INET6;
	s = tcp_spec(&CL6, &v4in6, TH_SYN);
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 4));
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 0) && ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 0));
	return ASSERT_EQ(map_count(F.flows), 0) && ASSERT_EQ(map_count(F.inflight), 0);
}

BPF_TEST(truncated)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN), s6 = tcp_spec(&CL6, &VIP6, TH_SYN);
	uint8_t in[PKT_MAX];
	size_t len = build(&s, in), len6;
	struct run r;

	T(std_setup());
	/* shorter than an Ethernet header: the kernel refuses to run it
	 * (BPF_PROG_TEST_RUN requires ETH_HLEN), or the program passes it */
	run_pkt(in, 13, &r, 1);
	printf("  info: 13-byte frame: %s\n", r.err == -EINVAL ? "refused by BPF_PROG_TEST_RUN (EINVAL)" : "run");
	if (r.err != -EINVAL)
		T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_PASS) && ASSERT_MEM(r.out, in, 13));
	/* Ethernet header only, IPv4 ethertype */
	T(expect_unchanged(in, 14, XDP_PASS));
	/* IPv4 header cut at 19 bytes */
	T(expect_unchanged(in, 14 + 19, XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 2 + (r.err == 0)));
	/* ihl < 5 */
	in[14] = 0x44;
	T(expect_unchanged(in, len, XDP_PASS));
	in[14] = 0x40;
	T(expect_unchanged(in, len, XDP_PASS));
	/* ihl larger than the packet */
	in[14] = 0x4f;
	T(expect_unchanged(in, 14 + 40, XDP_PASS));
	in[14] = 0x45;
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 5 + (r.err == 0)));
	/* TCP header truncated: 19 bytes of it */
	T(expect_unchanged(in, 14 + 20 + 19, XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_MALFORMED), 1));
	/* doff says 40 bytes, 20 present */
	in[14 + 20 + 12] = 0xa0;
	T(expect_unchanged(in, len, XDP_PASS));
	/* doff < 5 */
	in[14 + 20 + 12] = 0x40;
	T(expect_unchanged(in, len, XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_MALFORMED), 3));
	/* IPv6 header cut at 39 bytes, IPv6 TCP cut */
	len6 = build(&s6, in);
	T(expect_unchanged(in, 14 + 39, XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 6 + (r.err == 0)));
	T(expect_unchanged(in, len6 - 1, XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_MALFORMED), 4));
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 0) && ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 0));
	return ASSERT_EQ(map_count(F.flows), 0) && ASSERT_EQ(map_count(F.inflight), 0);
}

BPF_TEST(ipv4_options)
{
	/* router alert (4 bytes) */
	static const uint8_t ra[4] = { 0x94, 0x04, 0x00, 0x00 };
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN), ack;
	struct vigil_endpoint c2 = client_port(&CL, 40002);

	T(std_setup());
	memcpy(s.ip_opts, ra, 4);
	s.ip_opts_len = 4;
	T(expect_rewrite(&s, &B1, true));
	/* 40 bytes of options (ihl 15): timestamp option + NOPs, with TCP options too */
	s = tcp_spec(&c2, &VIP, TH_SYN);
	s.ip_opts[0] = 0x44; /* timestamp, len 36, pointer 5 */
	s.ip_opts[1] = 36;
	s.ip_opts[2] = 5;
	for (int i = 36; i < 40; i++)
		s.ip_opts[i] = 1; /* NOP */
	s.ip_opts_len = 40;
	s.tcp_opts[0] = 2; /* MSS 1460, SACK permitted, NOP NOP, wscale 7, NOP pad */
	s.tcp_opts[1] = 4;
	s.tcp_opts[2] = 0x05;
	s.tcp_opts[3] = 0xb4;
	s.tcp_opts[4] = 4;
	s.tcp_opts[5] = 2;
	s.tcp_opts[6] = 1;
	s.tcp_opts[7] = 1;
	s.tcp_opts[8] = 1;
	s.tcp_opts[9] = 3;
	s.tcp_opts[10] = 3;
	s.tcp_opts[11] = 7;
	s.tcp_opts_len = 12;
	T(expect_rewrite(&s, &B1, true));
	ack = s;
	ack.flags = TH_ACK;
	ack.payload = 33;
	T(expect_rewrite(&ack, &B1, true));
	return ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 3) && ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2);
}

BPF_TEST(fragments_ext_headers)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	uint8_t in[PKT_MAX];

	T(std_setup());
	s.frag = 0x2000; /* MF, offset 0 */
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	s.frag = 0x0064; /* last fragment, offset 800 */
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	s.frag = 0x2001; /* middle fragment */
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 3));
	/* IPv6 with extension headers */
	T(add_backend(5, &B6, VIGIL_XB_SELECTABLE));
	{
		const __u32 five = 5;

		T(install_table(4, 7, &five, 1) && add_service(&VIP6, 4, 7));
	}
	s = tcp_spec(&CL6, &VIP6, TH_SYN);
	s.v6_ext = EXT_HOPOPTS;
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	s.v6_ext = EXT_FRAGMENT;
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 5));
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 0) && ASSERT_EQ(map_count(F.flows), 0));
	/* DF is not a fragment: handled */
	s = tcp_spec(&CL, &VIP, TH_SYN);
	s.frag = 0x4000;
	T(expect_rewrite(&s, &B1, true));
	return ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 1);
}

BPF_TEST(udp)
{
	struct spec s = tcp_spec(&CL, &VIP, 0);
	uint8_t in[PKT_MAX];

	T(std_setup());
	s.proto = IPPROTO_UDP;
	s.payload = 20;
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	s.proto = IPPROTO_ICMP;
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	s = tcp_spec(&CL6, &VIP6, 0);
	s.proto = IPPROTO_UDP;
	T(expect_unchanged(in, build(&s, in), XDP_PASS));
	return ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 3) &&
	       ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 0) && ASSERT_EQ(map_count(F.flows), 0);
}

XDP_TEST_MAIN("xdp_parse")
