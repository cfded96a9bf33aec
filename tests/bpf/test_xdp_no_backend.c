// SPDX-License-Identifier: MIT
/*
 * Services the XDP load balancer cannot serve: no table, table size 0, table
 * slots naming an unconfigured or wrong-family backend: the packet is
 * dropped and no state is left behind.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_no_backend [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_no_backend: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

BPF_TEST(no_backend)
{
	struct vigil_endpoint vip2 = ep4("10.0.0.102", 80);
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	uint8_t in[PKT_MAX];
	struct run r;
	size_t len;

	/* service without a table */
	T(add_backend(1, &B1, VIGIL_XB_SELECTABLE) && add_service(&VIP, SID, 7));
	len = build(&s, in);
	run_pkt(in, len, &r, 1);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_DROP));
	T(ASSERT_EQ(counter(VIGIL_XDP_DROP_NO_BACKEND), 1));
	/* service with table size 0 (table present) */
	{
		const __u32 one = 1;

		T(install_table(5, 7, &one, 1) && add_service(&vip2, 5, 0));
	}
	s = tcp_spec(&CL, &vip2, TH_SYN);
	len = build(&s, in);
	run_pkt(in, len, &r, 1);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_DROP));
	T(ASSERT_EQ(counter(VIGIL_XDP_DROP_NO_BACKEND), 2));
	/* an ACK too */
	s.flags = TH_ACK;
	len = build(&s, in);
	run_pkt(in, len, &r, 1);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_DROP));
	T(ASSERT_EQ(counter(VIGIL_XDP_DROP_NO_BACKEND), 3));
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 0));
	/* no state for dropped packets */
	return ASSERT_EQ(map_count(F.flows), 0) && ASSERT_EQ(map_count(F.rev), 0) &&
	       ASSERT_EQ(map_count(F.inflight), 0);
}

/* Table slots naming a backend the packet cannot be sent to: a table
 * installed but not filled yet (all slots 0, xdp_backends[0] unconfigured), or
 * an IPv6 backend behind an IPv4 VIP. The SYN must be dropped without leaving
 * conntrack / passive-health state behind, and the client's retransmitted SYN
 * must reach the backend once the table is filled. */
BPF_TEST(no_backend_unusable_id)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct vigil_endpoint zero = { 0 };
	struct vigil_backend_stats st;
	uint8_t in[PKT_MAX];
	struct run r;
	size_t len = build(&s, in);
	bool ok = true;

	T(add_backend(1, &B1, VIGIL_XB_SELECTABLE));
	T(install_table(SID, 7, NULL, 0) && add_service(&VIP, SID, 7));
	run_pkt(in, len, &r, 1);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_DROP));
	T(ASSERT_EQ(counter(VIGIL_XDP_DROP_NO_BACKEND), 1));
	/* no conntrack / passive-health state for a dropped packet */
	ok &= ASSERT_EQ(map_count(F.flows), 0);
	ok &= ASSERT_EQ(map_count(F.rev), 0);
	ok &= ASSERT_EQ(map_count(F.inflight), 0);
	ok &= ASSERT_TRUE(!bstats(&zero, &st));
	/* vigild fills the table; the SYN retransmission must go to backend 1 */
	T(ASSERT_TRUE(F.n_inner == 1) && fill_table(F.inner[0], 7, (const __u32[]){ 1 }, 1));
	ok &= expect_rewrite(&s, &B1, true);
	/* IPv4 VIP whose table names an IPv6 backend */
	{
		struct vigil_endpoint vip2 = ep4("10.0.0.102", 80);
		struct vigil_flow_key k2 = flow_key(&CL, &vip2);
		struct vigil_flow f;

		T(add_backend(6, &B6, VIGIL_XB_SELECTABLE));
		T(install_table(5, 7, (const __u32[]){ 6 }, 1) && add_service(&vip2, 5, 7));
		__u64 d0 = counter(VIGIL_XDP_DROP_NO_BACKEND);

		s = tcp_spec(&CL, &vip2, TH_SYN);
		len = build(&s, in);
		run_pkt(in, len, &r, 1);
		T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_DROP));
		T(ASSERT_EQ(counter(VIGIL_XDP_DROP_NO_BACKEND), d0 + 1));
		ok &= ASSERT_TRUE(!get_flow(&k2, &f));
		ok &= ASSERT_TRUE(!bstats(&B6, &st));
	}
	return ok;
}

XDP_TEST_MAIN("xdp_no_backend")
