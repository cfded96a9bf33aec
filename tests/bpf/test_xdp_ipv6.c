// SPDX-License-Identifier: MIT
/*
 * IPv6 services in the XDP load balancer: rewrite both ways, conntrack and
 * passive health of an IPv6 flow next to an IPv4 service.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_ipv6 [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_ipv6: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

BPF_TEST(ipv6_syn)
{
	struct spec syn = tcp_spec(&CL6, &VIP6, TH_SYN), sa = tcp_spec(&B6, &CL6, TH_SYN | TH_ACK);
	struct vigil_flow_key k = flow_key(&CL6, &VIP6), rk = flow_key(&B6, &CL6);
	struct vigil_flow f;
	struct vigil_rev_flow rv;
	struct vigil_backend_stats st;
	const __u32 five = 5;

	T(std_setup());
	T(add_backend(5, &B6, VIGIL_XB_SELECTABLE));
	T(install_table(4, 65537, &five, 1) && add_service(&VIP6, 4, 65537));
	syn.payload = 7;
	T(expect_rewrite(&syn, &B6, true));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 5) && ASSERT_EQ(f.service_id, 4));
	T(ASSERT_TRUE(get_rev(&rk, &rv)) && ASSERT_TRUE(ep_eq(&rv.vip, &VIP6)));
	T(ASSERT_TRUE(bstats(&B6, &st)) && ASSERT_EQ(st.connect_attempts, 1));
	/* the SYN's copy for vigild's replay: the IPv6 client, its options
	 * (Linux's 20 bytes: MSS, SACK, timestamps, NOP, window scale) */
	{
		static const uint8_t opts[20] = { 2, 4, 5, 0xa0, 4, 2, 8, 10, 0, 0, 0, 9,
						  0, 0, 0, 0, 1, 3, 3, 7 };
		struct vigil_pkt_inflight fl;

		memcpy(syn.tcp_opts, opts, sizeof(opts));
		syn.tcp_opts_len = sizeof(opts);
		syn.payload = 0;
		clear_map(F.inflight);
		T(expect_rewrite(&syn, &B6, true));
		T(ASSERT_EQ(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &fl), 0));
		T(ASSERT_EQ(memcmp(fl.syn.client, CL6.addr, 16), 0) && ASSERT_EQ(fl.syn.client_port, CL6.port));
		T(ASSERT_EQ(fl.syn.opts_len, 20) && ASSERT_EQ(memcmp(fl.syn.opts, opts, 20), 0));
		T(ASSERT_GT(fl.syn.ifindex, 0));
	}
	T(expect_rewrite(&sa, &VIP6, false));
	T(ASSERT_TRUE(bstats(&B6, &st)) && ASSERT_EQ(st.established, 1));
	T(ASSERT_EQ(map_count(F.inflight), 0));
	/* the IPv4 service is untouched by the IPv6 one (two SYNs forwarded) */
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 2) && ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 1));
	/* the IPv6 VIP on another port is not the service */
	{
		struct vigil_endpoint other = VIP6;
		struct spec s;
		uint8_t in[PKT_MAX];

		other.port = 444;
		s = tcp_spec(&CL6, &other, TH_SYN);
		T(expect_unchanged(in, build(&s, in), XDP_PASS));
	}
	return ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 1);
}

XDP_TEST_MAIN("xdp_ipv6")
