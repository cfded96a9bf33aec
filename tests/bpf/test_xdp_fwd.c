// SPDX-License-Identifier: MIT
/*
 * Forwarding from the XDP entry: FIB lookup, MAC rewrite and TTL,
 * XDP_REDIRECT / XDP_TX, what is left to the kernel, the per-flow next-hop
 * cache, and xdp.forward: kernel.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_fwd [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_fwd: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

/* Next hop known, egress allowed: MACs from the FIB, TTL - 1, XDP_REDIRECT to
 * another device or XDP_TX back out of the ingress one. */
BPF_TEST(fwd_xdp_redirect)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN);
	struct fwd_case redirect = { .ingress = IF_VB, .verdict = XDP_REDIRECT,
				     .next_hop_mac = B1_MAC, .hop_used = true };
	struct fwd_case tx = { .ingress = IF_VA, .verdict = XDP_TX, .next_hop_mac = B1_MAC,
			       .hop_used = true };

	T(std_setup() && allow_redirect_to(IF_VA));
	T(expect_fwd(&syn, &B1, true, &redirect));
	syn.flags = TH_ACK;
	T(expect_fwd(&syn, &B1, true, &tx));
	T(ASSERT_EQ(counter(VIGIL_XDP_FWD_DIRECT), 2) && ASSERT_EQ(counter(VIGIL_XDP_FWD_KERNEL), 0));
	return ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 2);
}

BPF_TEST(fwd_xdp_ipv6)
{
	struct spec syn = tcp_spec(&CL6, &VIP6, TH_SYN);
	struct fwd_case redirect = { .ingress = IF_VB, .verdict = XDP_REDIRECT,
				     .next_hop_mac = B6_MAC, .hop_used = true };
	const __u32 one = 1;

	T(add_backend(1, &B6, VIGIL_XB_SELECTABLE) && install_table(SID, 7, &one, 1) &&
	  add_service(&VIP6, SID, 7) && allow_redirect_to(IF_VA));
	T(expect_fwd(&syn, &B6, true, &redirect));
	return ASSERT_EQ(counter(VIGIL_XDP_FWD_DIRECT), 1);
}

/* Whatever the program cannot send itself goes to the kernel rewritten but
 * otherwise as it came (own MAC, TTL untouched): the kernel must see a
 * packet addressed to this host and do the hop itself. */
BPF_TEST(fwd_xdp_to_kernel)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN), reply = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	struct fwd_case kernel = { .ingress = IF_VB, .verdict = XDP_PASS };
	const __u32 two = 2;

	T(std_setup());
	T(expect_fwd(&s, &B1, true, &kernel)); /* egress va is no redirect target */
	T(allow_redirect_to(IF_VA));
	s.sport = 40001;
	s.ttl = 1; /* expiring: the kernel sends the ICMP error */
	T(expect_fwd(&s, &B1, true, &kernel));
	T(expect_fwd(&reply, &VIP, false, &kernel)); /* no route to the client */
	T(install_table(SID, 7, &two, 1));
	s = tcp_spec(&CL, &VIP, TH_SYN);
	s.sport = 40002;
	T(expect_fwd(&s, &B2, true, &kernel)); /* B2: no neighbour entry yet */
	T(ASSERT_EQ(counter(VIGIL_XDP_FWD_KERNEL), 4));
	return ASSERT_EQ(counter(VIGIL_XDP_FWD_DIRECT), 0);
}

static bool age_hop_cache(const struct vigil_flow_key *k)
{
	struct vigil_flow f;

	if (!ASSERT_EQ(bpf_map_lookup_elem(F.flows, k, &f), 0) || !ASSERT_NE(f.hop.ifindex, 0))
		return false;
	f.hop.resolved_jiffies = 0; /* boot time: older than any cache lifetime */
	return ASSERT_EQ(bpf_map_update_elem(F.flows, k, &f, BPF_EXIST), 0);
}

/* A tracked flow reuses the next hop its first packet resolved (the flow
 * entry's cache) until the cache is VIGIL_HOP_CACHE_JIFFIES old; then a new
 * FIB lookup picks up a changed neighbour. */
BPF_TEST(fwd_hop_cache)
{
	static const uint8_t NEW_MAC[6] = { 2, 0, 0, 0, 0, 0xc1 };
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct fwd_case old_hop = { .ingress = IF_VB, .verdict = XDP_REDIRECT,
				    .next_hop_mac = B1_MAC, .hop_used = true };
	struct fwd_case new_hop = old_hop;
	bool ok;

	new_hop.next_hop_mac = NEW_MAC;
	T(std_setup() && allow_redirect_to(IF_VA));
	T(expect_fwd(&s, &B1, true, &old_hop));
	ok = system("ip neigh replace 10.1.0.1 lladdr 02:00:00:00:00:c1 dev va nud permanent") == 0;
	s.flags = TH_ACK;
	ok = ok && expect_fwd(&s, &B1, true, &old_hop) && age_hop_cache(&k) &&
	     expect_fwd(&s, &B1, true, &new_hop) && expect_fwd(&s, &B1, true, &new_hop);
	if (system("ip neigh replace 10.1.0.1 lladdr 02:00:00:00:00:b1 dev va nud permanent"))
		ok = false;
	return ok && ASSERT_EQ(counter(VIGIL_XDP_FWD_DIRECT), 4);
}

/* xdp.forward: kernel: never a FIB lookup, always XDP_PASS after the rewrite. */
BPF_TEST(fwd_mode_kernel)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct fwd_case kernel = { .ingress = IF_VB, .verdict = XDP_PASS };
	struct fwd_case tc_kernel = { .tc = true, .ingress = IF_VB, .verdict = TC_ACT_OK };
	bool ok;

	teardown();
	setup_forward_mode = VIGIL_FWD_KERNEL;
	ok = setup();
	setup_forward_mode = VIGIL_FWD_REDIRECT;
	T(ok && std_setup() && allow_redirect_to(IF_VA));
	T(expect_fwd(&s, &B1, true, &kernel));
	s.sport = 40001;
	T(expect_fwd(&s, &B1, true, &tc_kernel));
	return ASSERT_EQ(counter(VIGIL_XDP_FWD_KERNEL), 2);
}

XDP_TEST_MAIN("xdp_fwd")
