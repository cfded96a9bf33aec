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

/* The CL -> VIP flow is tracked on backend id, and the program has moved
 * reselected flows so far (VIGIL_XDP_RESELECTED). */
static bool flow_on(__u32 id, __u64 reselected)
{
	struct vigil_flow_key k = flow_key(&CL, &VIP);
	struct vigil_flow f;

	return ASSERT_TRUE(get_flow(&k, &f)) && ASSERT_EQ(f.backend_id, id) &&
	       ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), reselected);
}

/* A SYN from another client port is a new flow (the second one): it goes to
 * backend 2, the one the rebuilt table names. */
static bool second_flow_to_b2(void)
{
	struct vigil_endpoint c2 = client_port(&CL, 40001);
	struct spec s2 = tcp_spec(&c2, &VIP, TH_SYN);

	return expect_rewrite(&s2, &B2, true) && ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2);
}

BPF_TEST(ipv4_syn)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	struct vigil_flow_key k = flow_key(&CL, &VIP), rk = flow_key(&B1, &CL);
	struct vigil_flow f;
	struct vigil_rev_flow rv;
	struct vigil_pkt_inflight fl;
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
	T(ASSERT_TRUE(ep_eq(&fl.fl.peer, &B1)) && ASSERT_EQ(fl.fl.role, VIGIL_ROLE_CLIENT));
	T(ASSERT_GT(fl.fl.syn_sent_ns, 0));
	/* the copy vigild replays: the client, its sequence number, its options */
	T(ASSERT_EQ(memcmp(fl.syn.client, k.src, 16), 0) && ASSERT_EQ(fl.syn.client_port, CL.port));
	T(ASSERT_EQ(fl.syn.seq, 0x01020304) && ASSERT_EQ(fl.syn.window, 64240));
	T(ASSERT_EQ(fl.syn.opts_len, 4) && ASSERT_EQ(memcmp(fl.syn.opts, mss, 4), 0));
	T(ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 1) && ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 1));
	T(ASSERT_EQ(counter(VIGIL_XDP_PASS_OTHER), 0) && ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0));
	return ASSERT_EQ(events(), 0);
}

BPF_TEST(ipv4_ack_conntrack)
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
	return second_flow_to_b2();
}

/* Flow on backend 1, then backend 1 leaves the table (rebuilt: all backend 2). */
static bool flow_then_rebuild(void)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN);
	const __u32 two = 2;
	struct run r;

	return std_setup() && send_spec(&syn, XDP_PASS, &r) && install_table(SID, 7, &two, 1);
}

/* flow_then_rebuild(), then backend 1 drains (not selectable, no RESELECT):
 * the flow's ACK stays on it. */
static bool flow_then_drain(void)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);

	return flow_then_rebuild() && set_flags(1, 0) && expect_rewrite(&ack, &B1, true);
}

BPF_TEST(policy_draining)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);

	T(flow_then_drain());
	T(expect_rewrite(&ack, &B1, true));
	T(flow_on(1, 0));
	/* new flows avoid it */
	return second_flow_to_b2();
}

BPF_TEST(policy_reselect)
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

BPF_TEST(policy_other_reselect)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);

	T(flow_then_rebuild());
	T(set_flags(2, VIGIL_XB_RESELECT));
	T(expect_rewrite(&ack, &B1, true));
	return flow_on(1, 0);
}

/* A SYN on a tracked 5-tuple whose connection was established opens a new
 * connection (a client reusing its port): while the flow's backend drains it
 * keeps the established traffic, but the SYN is given a backend from the
 * table anew. (A SYN whose first copy is still waiting is a retransmit:
 * test_xdp_rescue.) */
BPF_TEST(policy_syn_repick)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN), sa = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);

	T(flow_then_drain());
	T(expect_rewrite(&sa, &VIP, false));
	syn.seq = 0x0a0b0c0d;
	T(expect_rewrite(&syn, &B2, true));
	T(flow_on(2, 0));
	return ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), 2) && ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 0);
}

/* A tracked flow whose backend was removed (its xdp_backends entry cleared)
 * moves to the backend the table names now instead of being dropped. */
BPF_TEST(policy_removed)
{
	struct spec ack = tcp_spec(&CL, &VIP, TH_ACK);
	struct vigil_endpoint none = { 0 };

	T(flow_then_rebuild());
	T(add_backend(1, &none, 0));
	T(expect_rewrite(&ack, &B2, true));
	return flow_on(2, 1);
}

XDP_TEST_MAIN("xdp_conntrack")
