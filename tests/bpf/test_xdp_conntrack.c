// SPDX-License-Identifier: MIT
/*
 * Connection tracking and the flow policy of the XDP load balancer: a SYN
 * creates both conntrack directions and the passive-health in-flight entry;
 * later packets of a flow stay on its backend across table rebuilds; what
 * happens to flows of a backend that is no longer selectable (draining keeps
 * them, VIGIL_XB_RESELECT moves them, another backend's flag does not, a SYN
 * on a tracked 5-tuple picks anew, a removed backend's flows move).
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_conntrack [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_conntrack: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

static bool test_ipv4_syn(void)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct vigil_flow_key k = flow_key(&CL, &VIP), rk = flow_key(&B1, &CL);
	struct vigil_flow f;
	struct vigil_rev_flow rv;
	struct vigil_inflight fl;
	struct vigil_backend_stats st;
	static const uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };

	memcpy(s.tcp_opts, mss, 4);
	s.tcp_opts_len = 4;
	T(std_setup());
	T(expect_rewrite(&s, &B1, true));
	/* conntrack, both directions */
	T(ASSERT_TRUE(get_flow(&k, &f)));
	T(ASSERT_EQ(f.backend_id, 1) && ASSERT_EQ(f.service_id, SID));
	T(ASSERT_TRUE(get_rev(&rk, &rv)));
	T(ASSERT_TRUE(ep_eq(&rv.vip, &VIP)) && ASSERT_EQ(rv.backend_id, 1));
	T(ASSERT_EQ(rv.flow_hash >> 63, 0));
	T(ASSERT_EQ(map_count(F.flows), 1) && ASSERT_EQ(map_count(F.rev), 1));
	/* passive health */
	T(ASSERT_TRUE(bstats(&B1, &st)) && ASSERT_EQ(st.connect_attempts, 1));
	T(ASSERT_EQ(map_count(F.inflight), 1));
	T(ASSERT_EQ(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &fl), 0));
	T(ASSERT_TRUE(ep_eq(&fl.peer, &B1)) && ASSERT_EQ(fl.role, VIGIL_ROLE_CLIENT));
	T(ASSERT_GT(fl.syn_sent_ns, 0));
	T(ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 1) && ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 1));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 0) && ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0));
	return ASSERT_EQ(events(), 0);
}

static bool test_ipv4_ack_conntrack(void)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN), ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct spec data = tcp_spec(&CL, &VIP, TH_ACK | TH_PSH);
	struct vigil_backend_stats st;
	const __u32 two = 2;
	struct run r;

	T(std_setup());
	T(send_spec(&syn, XDP_PASS, &r));
	/* vigild rebuilds the table: new flows would go to backend 2 now. */
	T(install_table(SID, 7, &two, 1));
	ack.ack = 0x11111111;
	T(expect_rewrite(&ack, &B1, true));
	data.ack = 0x11111111;
	data.payload = 101; /* odd length: exercises the checksum's last byte */
	T(expect_rewrite(&data, &B1, true));
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 3) && ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 1));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0));
	T(ASSERT_TRUE(bstats(&B1, &st)) && ASSERT_EQ(st.connect_attempts, 1));
	/* a different client port is a new flow: it follows the new table */
	{
		struct vigil_endpoint c2 = client_port(&CL, 40001);
		struct spec s2 = tcp_spec(&c2, &VIP, TH_SYN);

		T(expect_rewrite(&s2, &B2, true));
	}
	return ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2);
}

/* Flow on backend 1, then backend 1 leaves the table (rebuilt: all backend 2). */
static bool flow_then_rebuild(void)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN);
	const __u32 two = 2;
	struct run r;

	return std_setup() && send_spec(&syn, XDP_PASS, &r) && install_table(SID, 7, &two, 1);
}

static bool test_policy_draining(void)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct vigil_flow f;

	T(flow_then_rebuild());
	T(set_flags(1, 0)); /* draining: not selectable, no RESELECT */
	T(expect_rewrite(&ack, &B1, true));
	T(expect_rewrite(&ack, &B1, true));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 1));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0));
	/* new flows avoid it */
	{
		struct vigil_endpoint c2 = client_port(&CL, 40001);
		struct spec s2 = tcp_spec(&c2, &VIP, TH_SYN);

		T(expect_rewrite(&s2, &B2, true));
	}
	return ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2);
}

static bool test_policy_reselect(void)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_flow_key k = flow_key(&CL, &VIP), rk2 = flow_key(&B2, &CL);
	struct vigil_flow f;
	struct vigil_rev_flow rv;

	T(flow_then_rebuild());
	T(set_flags(1, VIGIL_XB_RESELECT));
	T(expect_rewrite(&ack, &B2, true));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 1));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 2) && ASSERT_EQ(f.service_id, SID));
	/* replies from the new backend are mapped back to the VIP */
	T(ASSERT_TRUE(get_rev(&rk2, &rv)) && ASSERT_EQ(rv.backend_id, 2));
	T(ASSERT_TRUE(ep_eq(&rv.vip, &VIP)));
	{
		struct spec rst = tcp_spec(&B2, &CL, TH_RST);

		T(expect_rewrite(&rst, &VIP, false));
	}
	/* the flow stays on its new backend */
	T(expect_rewrite(&ack, &B2, true));
	return ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 1) &&
	       ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 1);
}

static bool test_policy_other_reselect(void)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct vigil_flow f;

	T(flow_then_rebuild());
	T(set_flags(2, VIGIL_XB_RESELECT));
	T(expect_rewrite(&ack, &B1, true));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 1));
	return ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0);
}

/* A SYN on a tracked 5-tuple opens a new connection (a client reusing its
 * port): while the flow's backend drains it keeps the established traffic,
 * but the SYN is given a backend from the table anew. */
static bool test_policy_syn_repick(void)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN), ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct vigil_flow f;

	T(flow_then_rebuild());
	T(set_flags(1, 0)); /* draining: not selectable, no RESELECT */
	T(expect_rewrite(&ack, &B1, true));
	T(expect_rewrite(&syn, &B2, true));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 2));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0));
	return ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2);
}

/* A tracked flow whose backend was removed (its xdp_backends entry cleared)
 * moves to the backend the table names now instead of being dropped. */
static bool test_policy_removed(void)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct vigil_endpoint none = { 0 };
	struct vigil_flow f;

	T(flow_then_rebuild());
	T(add_backend(1, &none, 0));
	T(expect_rewrite(&ack, &B2, true));
	T(ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, 2));
	return ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 1);
}

static const struct bpf_test tests[] = {
	{ "ipv4_syn", test_ipv4_syn },
	{ "ipv4_ack_conntrack", test_ipv4_ack_conntrack },
	{ "policy_draining", test_policy_draining },
	{ "policy_reselect", test_policy_reselect },
	{ "policy_other_reselect", test_policy_other_reselect },
	{ "policy_syn_repick", test_policy_syn_repick },
	{ "policy_removed", test_policy_removed },
};

int main(int argc, char **argv)
{
	return XDP_TEST_MAIN("xdp_conntrack", tests);
}
