// SPDX-License-Identifier: MIT
/*
 * Rescue of connects in the XDP load balancer, on crafted packets:
 *   - a backend's RST refusing a SYN is counted as a refusal (same fast-path
 *     failure as a forwarded one), withheld from the client (drop reason
 *     rst_withheld), and the flow is moved so that the client's SYN
 *     retransmit goes to another backend; a refusal by that one reaches the
 *     client (once per flow);
 *   - a retransmitted SYN whose backend has since been marked down or
 *     ejected goes to another backend (a black-holed backend's SYNs);
 *   - with every primary marked down by the fast path, new flows go to a
 *     healthy backup at once (the service's set in xdp_sets, chosen by the
 *     socket load balancer's rule, bpf/set_pick.h).
 *
 * World: primaries B1 (id 1) and B2 (id 2) alternate in a 7-slot table;
 * backup B3 (id 3) is in the set's fallback tier only.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_rescue [NAME...]   run all tests, or the named ones
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

#define TC_ACT_SHOT 2
#define REV_RESCUED (1ull << 62) /* FLOW_RESCUED of bpf/lb_core.h */

static struct vigil_endpoint B3;

/* Primaries 1, 2 in the table, backup 3 in the set's fallback tier, every
 * backend with fast-path threshold 3. */
static bool primaries_and_backup(void)
{
	const __u32 ids[3] = { 1, 2, 3 };
	struct vigil_endpoint eps[3];

	B3 = ep4("10.1.0.3", 8082);
	eps[0] = B1, eps[1] = B2, eps[2] = B3;
	return add_backend(1, &B1, VIGIL_XB_SELECTABLE) && add_backend(2, &B2, VIGIL_XB_SELECTABLE) &&
	       add_backend(3, &B3, 0) && install_table(SID, 7, ids, 2) && add_service(&VIP, SID, 7) &&
	       set_xdp_set(&VIP, eps, ids, 3, 2) && set_health(&B1, 3, 0, 0) &&
	       set_health(&B2, 3, 0, 0) && set_health(&B3, 3, 0, 0);
}

/* The backend id the flow c -> VIP is tracked on (0 if none), and its flags. */
static __u32 flow_backend(const struct vigil_endpoint *c, __u32 *flags)
{
	struct vigil_flow_key k = flow_key(c, &VIP);
	struct vigil_flow f;

	if (!get_flow(&k, &f))
		return 0;
	if (flags)
		*flags = f.flags;
	return f.backend_id;
}

/* A client port whose SYN went to backend id (the SYN is sent), into c. */
static bool client_on(__u32 id, struct vigil_endpoint *c)
{
	struct run r;

	for (uint16_t port = 40000; port < 40100; port++) {
		struct spec syn;

		*c = client_port(&CL, port);
		syn = tcp_spec(c, &VIP, TH_SYN);
		if (!send_spec(&syn, XDP_PASS, &r))
			return false;
		if (flow_backend(c, NULL) == id)
			return true;
	}
	printf("  no client port of 100 placed on backend %u\n", id);
	return false;
}

static __u64 refused(const struct vigil_endpoint *ep)
{
	struct vigil_backend_stats st;

	return bstats(ep, &st) ? st.refused : ~0ull;
}

static __u32 failures(const struct vigil_endpoint *ep)
{
	struct vigil_backend_health h;

	return bpf_map_lookup_elem(F.health, ep, &h) ? ~0u : h.consecutive_failures;
}

/* B1 refuses c's SYN: the RST is withheld and counted like a forwarded one,
 * and c's flow moves to backend to (flagged rescued). */
static bool refusal_withheld_to(const struct vigil_endpoint *c, __u32 to)
{
	struct spec rst = tcp_spec(&B1, c, TH_RST | TH_ACK);
	struct vigil_flow_key rk = flow_key(&B1, c);
	struct vigil_rev_flow rv;
	__u32 flags = 0;
	struct run r;

	T(send_spec(&rst, XDP_DROP, &r));
	T(ASSERT_EQ(drop_count(VIGIL_DROP_RST_WITHHELD), 1) && ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 1));
	T(ASSERT_EQ(refused(&B1), 1) && ASSERT_EQ(failures(&B1), 1));
	T(ASSERT_EQ(events(), 1) && ASSERT_EQ(F.ev[0].kind, VIGIL_EV_REFUSED));
	T(ASSERT_EQ(flow_backend(c, &flags), to) && ASSERT_EQ(flags, VIGIL_FLOW_RESCUED));
	/* the refusing backend's reverse entry is gone */
	return ASSERT_TRUE(!get_rev(&rk, &rv));
}

/* ---- a refused connect ------------------------------------------------------------------ */

BPF_TEST(rst_withheld_syn_resteered)
{
	struct vigil_endpoint c;
	struct vigil_flow_key rk;
	struct vigil_rev_flow rv;
	struct vigil_backend_stats st;
	struct spec syn, rst2;
	__u32 flags = ~0u;
	__u64 attempts;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(refusal_withheld_to(&c, 2));
	/* the client's SYN retransmit (same sequence number) goes to B2, a new
	 * attempt there (other client ports of client_on() made some before) */
	attempts = bstats(&B2, &st) ? st.connect_attempts : 0;
	syn = tcp_spec(&c, &VIP, TH_SYN);
	T(expect_rewrite(&syn, &B2, true));
	T(ASSERT_TRUE(bstats(&B2, &st)) && ASSERT_EQ(st.connect_attempts, attempts + 1));
	rk = flow_key(&B2, &c);
	T(ASSERT_TRUE(get_rev(&rk, &rv)) && ASSERT_EQ(rv.flow_hash & REV_RESCUED, REV_RESCUED));
	/* B2 refuses too: that RST reaches the client, counted as B2's failure */
	rst2 = tcp_spec(&B2, &c, TH_RST | TH_ACK);
	T(expect_rewrite(&rst2, &VIP, false));
	T(ASSERT_EQ(refused(&B2), 1) && ASSERT_EQ(failures(&B2), 1));
	T(ASSERT_EQ(drop_count(VIGIL_DROP_RST_WITHHELD), 1) && ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 1));
	/* and the rescue is over: the flag is cleared for a later connection */
	T(ASSERT_EQ(flow_backend(&c, &flags), 2));
	return ASSERT_EQ(flags, 0);
}

/* The rescued connect completes: SYN-ACK from the new backend, which counts
 * as its success; the flow's rescue flag is cleared. */
BPF_TEST(rescued_connect_established)
{
	struct vigil_endpoint c;
	struct vigil_backend_stats st;
	struct vigil_flow_key rk;
	struct vigil_rev_flow rv;
	struct vigil_pkt_inflight fl;
	struct spec syn, sa;
	__u32 flags = ~0u;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(refusal_withheld_to(&c, 2));
	syn = tcp_spec(&c, &VIP, TH_SYN);
	T(expect_rewrite(&syn, &B2, true));
	rk = flow_key(&B2, &c);
	T(ASSERT_TRUE(get_rev(&rk, &rv)));
	rv.flow_hash &= ~REV_RESCUED;
	T(ASSERT_EQ(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &fl), 0));
	sa = tcp_spec(&B2, &c, TH_SYN | TH_ACK);
	T(expect_rewrite(&sa, &VIP, false));
	T(ASSERT_TRUE(bstats(&B2, &st)) && ASSERT_EQ(st.established, 1));
	T(ASSERT_TRUE(bpf_map_lookup_elem(F.inflight, &rv.flow_hash, &fl) != 0));
	T(ASSERT_EQ(flow_backend(&c, &flags), 2));
	return ASSERT_EQ(flags, 0) && ASSERT_EQ(refused(&B1), 1);
}

/* The same through the tc entry: the withheld RST is TC_ACT_SHOT. */
BPF_TEST(rst_withheld_tc)
{
	struct vigil_endpoint c;
	struct spec rst;
	uint8_t in[PKT_MAX];
	struct run r;
	size_t len;

	T(primaries_and_backup());
	T(client_on(1, &c));
	rst = tcp_spec(&B1, &c, TH_RST | TH_ACK);
	len = build(&rst, in);
	run_on(F.tc_prog, true, IF_VB, in, len, &r);
	T(ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, TC_ACT_SHOT));
	T(ASSERT_EQ(drop_count(VIGIL_DROP_RST_WITHHELD), 1) && ASSERT_EQ(refused(&B1), 1));
	return ASSERT_EQ(flow_backend(&c, NULL), 2);
}

/* No other backend to go to (the only other one marked down, no set): the
 * refusal reaches the client. */
BPF_TEST(rst_passes_without_other_backend)
{
	const __u32 ids[2] = { 1, 2 };
	struct vigil_endpoint c;
	struct spec rst;

	T(add_backend(1, &B1, VIGIL_XB_SELECTABLE) && add_backend(2, &B2, VIGIL_XB_SELECTABLE));
	T(install_table(SID, 7, ids, 2) && add_service(&VIP, SID, 7));
	T(set_health(&B1, 3, 0, 0) && set_health(&B2, 3, 3, 1));
	T(client_on(1, &c));
	rst = tcp_spec(&B1, &c, TH_RST | TH_ACK);
	T(expect_rewrite(&rst, &VIP, false));
	T(ASSERT_EQ(drop_count(VIGIL_DROP_RST_WITHHELD), 0) && ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 0));
	T(ASSERT_EQ(refused(&B1), 1) && ASSERT_EQ(failures(&B1), 1));
	return ASSERT_EQ(flow_backend(&c, NULL), 1);
}

/* The other primary is down: the refused connect is rescued by the backup. */
BPF_TEST(rst_rescued_by_backup)
{
	struct vigil_endpoint c;
	struct spec syn;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(set_health(&B2, 3, 3, 1));
	T(refusal_withheld_to(&c, 3));
	syn = tcp_spec(&c, &VIP, TH_SYN);
	return expect_rewrite(&syn, &B3, true);
}

/* The other primary's last connect failed (every primary died at once, say):
 * the refused connect goes to the backup rather than there. */
BPF_TEST(rst_rescue_avoids_failing_backend)
{
	struct vigil_endpoint c;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(set_health(&B2, 3, 1, 0));
	return refusal_withheld_to(&c, 3);
}

/* The rescue target fails meanwhile (another connect it refused, before its
 * third failure marks it down): the SYN retransmit goes elsewhere, neither
 * back to it nor to the first backend, whose last connect failed too. */
BPF_TEST(rescue_target_failing_resteered)
{
	struct vigil_endpoint c;
	struct spec syn;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(refusal_withheld_to(&c, 2));
	T(set_health(&B2, 3, 1, 0));
	syn = tcp_spec(&c, &VIP, TH_SYN);
	T(expect_rewrite(&syn, &B3, true));
	return ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 2) && ASSERT_EQ(flow_backend(&c, NULL), 3);
}

/* A RST after the handshake is no refusal: it passes, nothing is moved. */
BPF_TEST(rst_established_passes)
{
	struct vigil_endpoint c;
	struct spec sa, rst;

	T(primaries_and_backup());
	T(client_on(1, &c));
	sa = tcp_spec(&B1, &c, TH_SYN | TH_ACK);
	T(expect_rewrite(&sa, &VIP, false));
	rst = tcp_spec(&B1, &c, TH_RST);
	T(expect_rewrite(&rst, &VIP, false));
	T(ASSERT_EQ(drop_count(VIGIL_DROP_RST_WITHHELD), 0) && ASSERT_EQ(refused(&B1), 0));
	return ASSERT_EQ(flow_backend(&c, NULL), 1);
}

/* ---- a SYN waiting on a backend that failed meanwhile ------------------------------------ */

/* The SYN got no answer (black hole); the fast path marks B1 down before
 * vigild ejects it: the retransmitted SYN goes to B2, a rescue, not a new
 * flow. */
BPF_TEST(syn_retransmit_resteered_when_down)
{
	struct vigil_endpoint c;
	struct spec syn;
	__u64 new_flows;

	T(primaries_and_backup());
	T(client_on(1, &c));
	new_flows = counter(VIGIL_XDP_NEW_FLOWS);
	T(set_health(&B1, 3, 3, 1));
	syn = tcp_spec(&c, &VIP, TH_SYN);
	T(expect_rewrite(&syn, &B2, true));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 1) && ASSERT_EQ(counter(VIGIL_XDP_NEW_FLOWS), new_flows));
	return ASSERT_EQ(flow_backend(&c, NULL), 2);
}

/* vigild ejected B1 (stuck connects): flows RESELECT, table rebuilt with B2
 * only; the retransmitted SYN goes to B2. */
BPF_TEST(syn_retransmit_resteered_when_ejected)
{
	const __u32 two = 2;
	struct vigil_endpoint c;
	struct spec syn;

	T(primaries_and_backup());
	T(client_on(1, &c));
	T(set_flags(1, VIGIL_XB_RESELECT) && install_table(SID, 7, &two, 1));
	syn = tcp_spec(&c, &VIP, TH_SYN);
	T(expect_rewrite(&syn, &B2, true));
	return ASSERT_EQ(counter(VIGIL_XDP_RESCUED), 1) && ASSERT_EQ(flow_backend(&c, NULL), 2);
}

/* ---- backups in the kernel --------------------------------------------------------------- */

/* Both primaries marked down by the fast path, the table not rebuilt yet:
 * every new flow goes to the backup. With the backup down too, new flows
 * still get a primary (rather than no backend: vigild fails open next). */
BPF_TEST(all_primaries_down_backup)
{
	struct vigil_endpoint c;
	struct run r;

	T(primaries_and_backup());
	T(set_health(&B1, 3, 3, 1) && set_health(&B2, 3, 3, 1));
	for (uint16_t port = 41000; port < 41016; port++) {
		struct spec syn;

		c = client_port(&CL, port);
		syn = tcp_spec(&c, &VIP, TH_SYN);
		T(expect_rewrite(&syn, &B3, true));
	}
	T(set_health(&B3, 3, 3, 1));
	c = client_port(&CL, 41100);
	{
		struct spec syn = tcp_spec(&c, &VIP, TH_SYN);
		__u32 id;

		T(send_spec(&syn, XDP_PASS, &r));
		id = flow_backend(&c, NULL);
		T(ASSERT_TRUE(id == 1 || id == 2));
	}
	return true;
}

/* One primary down: new flows whose probes all hit it still reach the other
 * primary (the set's serving tier), never the backup. */
BPF_TEST(one_primary_down_no_backup)
{
	const __u32 one = 1;

	T(primaries_and_backup());
	/* a table naming only B1 (vigild has not rebuilt it yet) */
	T(install_table(SID, 7, &one, 1));
	T(set_health(&B1, 3, 3, 1));
	for (uint16_t port = 42000; port < 42016; port++) {
		struct vigil_endpoint c = client_port(&CL, port);
		struct spec syn = tcp_spec(&c, &VIP, TH_SYN);

		T(expect_rewrite(&syn, &B2, true));
	}
	return true;
}

XDP_TEST_MAIN("xdp_rescue")
