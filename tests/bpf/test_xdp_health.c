// SPDX-License-Identifier: MIT
/*
 * Passive health and the kernel fast path in the XDP load balancer: SYN-ACKs
 * count established connections with their latency, RSTs count refusals up
 * to the fast-path threshold (down flag, events), a retransmitted SYN is not
 * a new attempt, and new flows skip a backend the fast path marked down.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_health [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_health: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

BPF_TEST(ipv4_synack_reply)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN), sa = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	struct vigil_backend_stats st;
	struct vigil_backend_health h;
	struct run r;

	T(std_setup());
	T(set_health(&B1, 3, 2, 0));
	T(send_spec(&syn, XDP_PASS, &r));
	T(ASSERT_EQ(map_count(F.inflight), 1));
	usleep(2000); /* a latency sample in a bucket above 0 */
	sa.ack = 0x01020305;
	T(expect_rewrite(&sa, &VIP, false));
	T(ASSERT_TRUE(bstats(&B1, &st)));
	T(ASSERT_EQ(st.connect_attempts, 1) && ASSERT_EQ(st.established, 1));
	T(ASSERT_EQ(hist_total(st.connect_lat_us), 1));
	T(ASSERT_EQ(st.connect_lat_us[0], 0)); /* slept 2 ms: bucket >= 10 */
	T(ASSERT_EQ(map_count(F.inflight), 0));
	T(ASSERT_EQ(bpf_map_lookup_elem(F.health, &B1, &h), 0));
	T(ASSERT_EQ(h.consecutive_failures, 0) && ASSERT_GT(h.last_success_ns, 0));
	T(ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 1) && ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 1));
	/* a retransmitted SYN-ACK is rewritten but not counted again */
	T(expect_rewrite(&sa, &VIP, false));
	T(ASSERT_TRUE(bstats(&B1, &st)) && ASSERT_EQ(st.established, 1));
	/* data from the backend */
	{
		struct spec d = tcp_spec(&B1, &CL, TH_ACK | TH_PSH);

		d.payload = 64;
		T(expect_rewrite(&d, &VIP, false));
	}
	T(ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 3));
	return ASSERT_EQ(events(), 0);
}

BPF_TEST(ipv4_rst_refused_fastpath)
{
	struct vigil_backend_stats st;
	struct vigil_backend_health h;
	struct run r;

	T(std_setup());
	T(set_health(&B1, 3, 0, 0));
	for (int i = 0; i < 3; i++) {
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(41000 + i));
		struct spec syn = tcp_spec(&c, &VIP, TH_SYN), rst = tcp_spec(&B1, &c, TH_RST | TH_ACK);

		T(send_spec(&syn, XDP_PASS, &r));
		T(expect_rewrite(&rst, &VIP, false));
		T(ASSERT_TRUE(bstats(&B1, &st)) && ASSERT_EQ(st.refused, (__u64)i + 1));
		T(ASSERT_EQ(st.resets_rcvd, 0));
		T(ASSERT_EQ(map_count(F.inflight), 0));
		T(ASSERT_EQ(bpf_map_lookup_elem(F.health, &B1, &h), 0));
		T(ASSERT_EQ(h.consecutive_failures, (__u32)i + 1));
		T(ASSERT_EQ(h.down, i == 2));
		T(ASSERT_EQ(events(), i + 1 + (i == 2)));
		T(ASSERT_EQ(F.ev[i].kind, VIGIL_EV_REFUSED) && ASSERT_TRUE(ep_eq(&F.ev[i].backend, &B1)));
		T(ASSERT_GT(F.ev[i].ts_ns, 0));
	}
	/* the third failure reached the threshold: down in the fast path */
	T(ASSERT_EQ(F.ev[3].kind, VIGIL_EV_KERNEL_DOWN) && ASSERT_TRUE(ep_eq(&F.ev[3].backend, &B1)));
	T(ASSERT_GT(h.down_since_ns, 0));
	T(ASSERT_EQ(st.connect_attempts, 3) && ASSERT_EQ(st.established, 0));
	return ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 3);
}

BPF_TEST(ipv4_rst_established)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN), sa = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	struct spec rst = tcp_spec(&B1, &CL, TH_RST);
	struct vigil_backend_stats st;
	struct run r;

	T(std_setup());
	T(send_spec(&syn, XDP_PASS, &r));
	T(send_spec(&sa, XDP_PASS, &r));
	T(expect_rewrite(&rst, &VIP, false));
	T(ASSERT_TRUE(bstats(&B1, &st)));
	T(ASSERT_EQ(st.refused, 0) && ASSERT_EQ(st.resets_rcvd, 1));
	/* counted, but no failure event: the packet path cannot tell an aborted
	 * connection from a RST answering a late segment after a close */
	return ASSERT_EQ(events(), 0);
}

/* A retransmitted SYN is not a new connection attempt (the socket monitor
 * counts it in syn_retrans), and it must not restart the in-flight clock that
 * vigild's connect-timeout scan and the connect latency are based on. */
BPF_TEST(syn_retransmit)
{
	struct spec syn = tcp_spec(&CL, &VIP, TH_SYN);
	struct vigil_flow_key rk = flow_key(&B1, &CL);
	struct vigil_rev_flow rv;
	struct vigil_pkt_inflight a, b;
	struct vigil_backend_stats st;
	struct run r;
	bool ok = true;

	T(std_setup());
	T(send_spec(&syn, XDP_PASS, &r));
	T(ASSERT_TRUE(get_rev(&rk, &rv)));
	T(ASSERT_EQ(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &a), 0));
	usleep(1000);
	T(send_spec(&syn, XDP_PASS, &r));
	T(ASSERT_EQ(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &b), 0));
	T(ASSERT_TRUE(bstats(&B1, &st)));
	ok &= ASSERT_EQ(st.connect_attempts, 1);
	ok &= ASSERT_EQ(st.syn_retrans, 1);
	ok &= ASSERT_EQ(b.fl.syn_sent_ns, a.fl.syn_sent_ns);
	return ok;
}

/* Backends 1 and 2 alternate in a 65537-slot table. The same 256 new flows
 * are sent with both backends up (each lands on its first slot's backend),
 * then, with conntrack cleared, again with backend 1 down in the fast path:
 * flows whose first slot is backend 2 must not move; flows whose first slot is
 * backend 1 must go to backend 2 unless every probed slot holds backend 1
 * (the program then falls back to the first slot; with independent probes
 * that is 1 in 2^(probes-1) of them). Independent of the hash function. */
#define SKIP_FLOWS 256

BPF_TEST(fastpath_skip)
{
	const __u32 size = 65537, ids[2] = { 1, 2 };
	__u32 ctl[SKIP_FLOWS];
	int first_a = 0, moved = 0, stayed = 0, pin = -1;
	struct vigil_flow f;
	struct run r;

	T(add_backend(1, &B1, VIGIL_XB_SELECTABLE) && add_backend(2, &B2, VIGIL_XB_SELECTABLE));
	T(install_table(SID, size, ids, 2) && add_service(&VIP, SID, size));
	for (int i = 0; i < SKIP_FLOWS; i++) {
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(30000 + i));
		struct vigil_flow_key k = flow_key(&c, &VIP);
		struct spec s = tcp_spec(&c, &VIP, TH_SYN);

		T(send_spec(&s, XDP_PASS, &r));
		T(ASSERT_TRUE(get_flow(&k, &f)));
		ctl[i] = f.backend_id;
		if (f.backend_id == 1) {
			first_a++;
			if (pin < 0)
				pin = i;
		}
	}
	printf("  info: %d of %d flows on backend 1 with both up\n", first_a, SKIP_FLOWS);
	T(ASSERT_GT(first_a, SKIP_FLOWS / 4) && ASSERT_GT(SKIP_FLOWS * 3 / 4, first_a));
	clear_map(F.flows);
	clear_map(F.rev);
	clear_map(F.inflight);
	T(ASSERT_EQ(map_count(F.flows), 0));
	/* one flow established on backend 1 before it goes down */
	{
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(30000 + pin));
		struct spec s = tcp_spec(&c, &VIP, TH_SYN);

		T(expect_rewrite(&s, &B1, true));
	}
	T(set_health(&B1, 3, 3, 1));
	for (int i = 0; i < SKIP_FLOWS; i++) {
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(30000 + i));
		struct vigil_flow_key k = flow_key(&c, &VIP);
		struct spec s = tcp_spec(&c, &VIP, TH_SYN);

		if (i == pin)
			continue;
		T(send_spec(&s, XDP_PASS, &r));
		T(ASSERT_TRUE(get_flow(&k, &f)));
		if (ctl[i] == 2) {
			T(ASSERT_EQ(f.backend_id, 2));
			continue;
		}
		moved += f.backend_id == 2;
		stayed += f.backend_id == 1;
		if (f.backend_id == 2)
			T(ASSERT_EQ(r.out[14 + 19], 2)); /* dst 10.1.0.2 */
	}
	printf("  info: backend 1 down: of the %d flows whose first slot is backend 1, %d skipped to backend 2, %d fell back to it (all probes on backend 1)\n",
	       first_a - 1, moved, stayed);
	T(ASSERT_GT(moved, 0) && ASSERT_GE(first_a - 1, moved + stayed));
	T(ASSERT_GT(moved, 2 * stayed));
	/* the established flow on the down backend is not moved (only RESELECT moves) */
	{
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(30000 + pin));
		struct spec ack = tcp_spec(&c, &VIP, TH_ACK);

		T(expect_rewrite(&ack, &B1, true));
	}
	return ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 0);
}

XDP_TEST_MAIN("xdp_health")
