// SPDX-License-Identifier: MIT
/*
 * The tc (clsact) entry of the load balancer: the same decision as XDP, the
 * rewrite through the checksum helpers, bpf_redirect / bpf_redirect_neigh,
 * TC_ACT_OK for what it does not handle.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_tc [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_tc: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

/* The tc entry: the same decision, the rewrite through the checksum helpers,
 * bpf_redirect with the FIB's MACs, bpf_redirect_neigh without a neighbour
 * entry (the kernel resolves it: MACs left alone), TC_ACT_OK otherwise. */
BPF_TEST(tc_entry)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct spec reply = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	struct fwd_case redirect = { .tc = true, .ingress = IF_VB, .verdict = TC_ACT_REDIRECT,
				     .next_hop_mac = B1_MAC, .hop_used = true };
	struct fwd_case neigh = { .tc = true, .ingress = IF_VB, .verdict = TC_ACT_REDIRECT,
				  .hop_used = true };
	struct fwd_case kernel = { .tc = true, .ingress = IF_VB, .verdict = TC_ACT_OK };
	const __u32 two = 2;
	struct vigil_backend_stats st;

	T(std_setup());
	T(expect_fwd(&s, &B1, true, &redirect)); /* no tx_ports entry needed in tc */
	T(expect_fwd(&reply, &VIP, false, &kernel));
	T(ASSERT_TRUE(bstats(&B1, &st)) && ASSERT_EQ(st.connect_attempts, 1) &&
	  ASSERT_EQ(st.established, 1));
	T(install_table(SID, 7, &two, 1));
	s.sport = 40001;
	T(expect_fwd(&s, &B2, true, &neigh));
	s.sport = 40002;
	s.ttl = 1;
	T(expect_fwd(&s, &B2, true, &kernel));
	T(ASSERT_EQ(counter(VIGIL_XDP_FWD_DIRECT), 2) && ASSERT_EQ(counter(VIGIL_XDP_FWD_KERNEL), 2));
	return ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 3) && ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 1);
}

BPF_TEST(tc_ipv6_and_unhandled)
{
	struct spec s = tcp_spec(&CL6, &VIP6, TH_SYN), frag = tcp_spec(&CL, &VIP, TH_SYN);
	struct fwd_case redirect = { .tc = true, .ingress = IF_VB, .verdict = TC_ACT_REDIRECT,
				     .next_hop_mac = B6_MAC, .hop_used = true };
	uint8_t in[PKT_MAX];
	const __u32 one = 1, two = 2;
	struct run r;
	size_t len;

	T(add_backend(1, &B6, VIGIL_XB_SELECTABLE) && install_table(SID, 7, &one, 1) &&
	  add_service(&VIP6, SID, 7));
	T(add_backend(2, &B1, VIGIL_XB_SELECTABLE) && install_table(SID + 1, 7, &two, 1) &&
	  add_service(&VIP, SID + 1, 7));
	T(expect_fwd(&s, &B6, true, &redirect));
	/* a fragment to a VIP and a truncated TCP header pass untouched */
	frag.frag = 0x2000;
	len = build(&frag, in);
	run_on(F.tc_prog, true, IF_VB, in, len, &r);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, TC_ACT_OK) && ASSERT_MEM(r.out, in, len));
	len = build(&s, in) - 8;
	run_on(F.tc_prog, true, IF_VB, in, len, &r);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, TC_ACT_OK) && ASSERT_MEM(r.out, in, len));
	return ASSERT_EQ(counter(VIGIL_XDP_PASS_NOT_TCP), 1) &&
	       ASSERT_EQ(counter(VIGIL_XDP_PASS_MALFORMED), 1);
}

XDP_TEST_MAIN("xdp_tc")
