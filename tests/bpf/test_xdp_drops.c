// SPDX-License-Identifier: MIT
/*
 * BPF_PROG_TEST_RUN tests of the packet load balancer's drop counters
 * (xdp_drops, enum vigil_drop_reason): every XDP_DROP / TC_ACT_SHOT is
 * counted under exactly one reason, by exactly one, and nothing else moves a
 * drop counter.
 *
 * Reasons triggered here: VIGIL_DROP_NO_BACKEND (XDP and tc, IPv4 and IPv6)
 * and VIGIL_DROP_REDIRECT_MISS (XDP). The tc helper failures (REDIRECT,
 * NAT_REWRITE, HOP_REWRITE, MAC_REWRITE) cannot be caused by a test run: the
 * parser has already proven every offset the helpers touch, and the redirect
 * helpers are called with constant, valid flags.
 *
 * Fixture, addresses and the test's own network namespace (va/vb) are the
 * shared ones of tests/bpf/xdp_helpers.h.
 *
 *   test_xdp_drops [NAME...]   run all tests, or the named ones
 */
#include "xdp_helpers.h"

#define TC_ACT_SHOT 2
#define NO_DROP VIGIL_DROP_SLOTS /* expect_drops: no reason moves */

/* ---- configuration ------------------------------------------------------------------ */

/* vip served from outer slot sid by a table of 7 slots all naming id;
 * no_table: the service entry only (vigild has not installed the table). */
static bool serve(const struct vigil_endpoint *vip, __u32 sid, __u32 id, bool no_table)
{
	return (no_table || install_table(sid, 7, &id, 1)) && add_service(vip, sid, 7);
}

static bool backend(__u32 id, const struct vigil_endpoint *ep)
{
	return add_backend(id, ep, VIGIL_XB_SELECTABLE);
}

/* One run of the XDP (tc false) or tc entry with the packet arriving on ifindex. */
static int run_one(bool tc, __u32 ifindex, const struct vigil_endpoint *src,
		   const struct vigil_endpoint *dst, uint8_t flags, __u32 *verdict)
{
	struct spec s = tcp_spec(src, dst, flags);
	uint8_t in[PKT_MAX];
	size_t len = build(&s, in);
	static struct run r;

	run_on(tc ? F.tc_prog : F.prog, tc, ifindex, in, len, &r);
	*verdict = r.retval;
	return r.err;
}

/* ---- counters ------------------------------------------------------------------------- */

static void read_drops(__u64 *d)
{
	for (__u32 i = 0; i < VIGIL_DROP_SLOTS; i++)
		d[i] = drop_count(i);
}

/* Since before: reason moved by exactly one and no other slot moved
 * (reason NO_DROP: nothing moved). before is updated to now. */
static bool expect_drops(__u64 *before, __u32 reason)
{
	__u64 now[VIGIL_DROP_SLOTS];
	bool ok = true;

	read_drops(now);
	for (__u32 i = 0; i < VIGIL_DROP_SLOTS; i++) {
		__u64 want = before[i] + (i == reason);

		if (now[i] != want) {
			printf("  drop counter %u: %llu, expected %llu\n", i, (unsigned long long)now[i],
			       (unsigned long long)want);
			ok = false;
		}
	}
	memcpy(before, now, sizeof(now));
	return ok;
}

/* One packet through an entry: the verdict, then exactly the drop counter
 * of reason moved by one (NO_DROP: none). */
static bool expect(bool tc, __u32 ifindex, const struct vigil_endpoint *src,
		   const struct vigil_endpoint *dst, uint8_t flags, __u32 want_verdict,
		   __u32 reason, __u64 *drops)
{
	__u32 verdict = ~0u;
	int err = run_one(tc, ifindex, src, dst, flags, &verdict);

	if (!ASSERT_EQ(err, 0) || !ASSERT_EQ(verdict, want_verdict)) {
		printf("  (%s entry)\n", tc ? "tc" : "xdp");
		return false;
	}
	return expect_drops(drops, reason);
}

/* Backend 1 (B1) serves vip from outer slot 3 (no_table: see serve()); the
 * drop counters as they are then, into d. */
static bool b1_serves(const struct vigil_endpoint *vip, bool no_table, __u64 *d)
{
	if (!backend(1, &B1) || !serve(vip, 3, 1, no_table))
		return false;
	read_drops(d);
	return true;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* One slot per reason and room for more (the pinned map must not change). */
BPF_TEST(map_size)
{
	return ASSERT_EQ(bpf_map__max_entries(F.skel->maps.xdp_drops), VIGIL_DROP_SLOTS) &&
	       ASSERT_EQ(bpf_map__type(F.skel->maps.xdp_drops), BPF_MAP_TYPE_PERCPU_ARRAY);
}


/* A VIP without a table (vigild has not installed one yet), XDP and tc. */
BPF_TEST(no_backend_no_table)
{
	__u64 d[VIGIL_DROP_SLOTS];

	T(b1_serves(&VIP, true, d));
	T(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	T(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	T(expect(true, IF_VB, &CL, &VIP, TH_SYN, TC_ACT_SHOT, VIGIL_DROP_NO_BACKEND, d));
	/* the old counter of the same drops keeps counting too */
	return counter(VIGIL_XDP_DROP_NO_BACKEND) == 3;
}

/* An IPv6 VIP whose table names only an IPv4 backend: no backend of the
 * packet's family. */
BPF_TEST(no_backend_family)
{
	__u64 d[VIGIL_DROP_SLOTS];

	T(b1_serves(&VIP6, false, d));
	T(expect(false, IF_VB, &CL6, &VIP6, TH_SYN, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	T(expect(true, IF_VB, &CL6, &VIP6, TH_SYN, TC_ACT_SHOT, VIGIL_DROP_NO_BACKEND, d));
	return true;
}

/* The flow's first packet resolves and caches its next hop (egress va, in
 * the device map); vigild then detaches va (takes it out of the map): the
 * next packet, sent on the cached hop, misses the device map and is dropped.
 * It is no fwd_direct packet. */
BPF_TEST(redirect_miss)
{
	__u64 d[VIGIL_DROP_SLOTS], direct;

	T(b1_serves(&VIP, false, d) && allow_redirect_to(IF_VA));
	T(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_REDIRECT, NO_DROP, d));
	T(counter(VIGIL_XDP_FWD_DIRECT) == 1);
	T(bpf_map_delete_elem(F.tx_ports, &IF_VA) == 0);
	direct = counter(VIGIL_XDP_FWD_DIRECT);
	T(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d));
	T(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d));
	T(counter(VIGIL_XDP_FWD_DIRECT) == direct);
	/* back in the map: sent again, nothing dropped */
	T(allow_redirect_to(IF_VA));
	T(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_REDIRECT, NO_DROP, d));
	/* the same flow's IPv6 twin, for the other address family */
	T(backend(6, &B6) && serve(&VIP6, 5, 6, false));
	T(expect(false, IF_VB, &CL6, &VIP6, TH_SYN, XDP_REDIRECT, NO_DROP, d));
	T(bpf_map_delete_elem(F.tx_ports, &IF_VA) == 0);
	return expect(false, IF_VB, &CL6, &VIP6, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d);
}

/* Every verdict that is not a drop leaves the drop counters alone: passed
 * (not for a VIP), rewritten and left to the kernel, XDP_REDIRECT, XDP_TX,
 * tc redirect with and without a neighbour entry, a tc reply to the kernel. */
BPF_TEST(no_drop_paths)
{
	struct vigil_endpoint other = ep4("10.0.0.101", 80), b2 = ep4("10.1.0.2", 8081);
	__u64 d[VIGIL_DROP_SLOTS];

	T(b1_serves(&VIP, false, d));
	T(expect(false, IF_VB, &CL, &other, TH_SYN, XDP_PASS, NO_DROP, d)); /* pass_other */
	T(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_PASS, NO_DROP, d));   /* va not allowed: kernel */
	T(allow_redirect_to(IF_VA));
	T(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_REDIRECT, NO_DROP, d));
	{
		struct vigil_endpoint c2 = CL;

		c2.port = 40001;
		T(expect(false, IF_VB, &c2, &VIP, TH_SYN, XDP_REDIRECT, NO_DROP, d));
		c2.port = 40002;
		T(expect(false, IF_VA, &c2, &VIP, TH_SYN, XDP_TX, NO_DROP, d));
		c2.port = 40003;
		T(expect(true, IF_VB, &c2, &VIP, TH_SYN, TC_ACT_REDIRECT, NO_DROP, d));
	}
	/* a backend without a neighbour entry: bpf_redirect_neigh in tc */
	T(backend(2, &b2) && serve(&other, 4, 2, false));
	T(expect(true, IF_VB, &CL, &other, TH_SYN, TC_ACT_REDIRECT, NO_DROP, d));
	/* the reply direction */
	T(expect(true, IF_VB, &B1, &CL, TH_SYN | TH_ACK, TC_ACT_OK, NO_DROP, d));
	return counter(VIGIL_XDP_DROP_NO_BACKEND) == 0;
}

/* Over a mix of packets through both entries, the drop counters add up to
 * the number of XDP_DROP / TC_ACT_SHOT verdicts: no drop goes uncounted. */
BPF_TEST(every_drop_counted)
{
	struct vigil_endpoint empty = ep4("10.0.0.102", 80);
	const struct vigil_endpoint *dsts[] = { &VIP, &empty, &VIP6 };
	__u64 d[VIGIL_DROP_SLOTS], total = 0, dropped = 0;

	T(backend(1, &B1) && serve(&VIP, 3, 1, false) &&
	      serve(&empty, 4, 1, true) && serve(&VIP6, 5, 1, false) &&
	      allow_redirect_to(IF_VA));
	for (int i = 0; i < 60; i++) {
		bool tc = i & 1;
		const struct vigil_endpoint *dst = dsts[i % 3];
		struct vigil_endpoint src = dst->family == VIGIL_AF_INET6 ? CL6 : CL;
		__u32 verdict;

		/* XDP packets to VIP come in pairs per flow (i % 12 == 0 and 6); the
		 * egress leaves the device map between them, and comes back. */
		src.port = (uint16_t)(42000 + i / 12);
		if (i % 12 == 3)
			bpf_map_delete_elem(F.tx_ports, &IF_VA);
		else if (i % 12 == 9)
			allow_redirect_to(IF_VA);
		T(run_one(tc, IF_VB, &src, dst, i % 4 ? TH_ACK : TH_SYN, &verdict) == 0);
		dropped += tc ? verdict == TC_ACT_SHOT : verdict == XDP_DROP;
	}
	read_drops(d);
	for (int i = 0; i < VIGIL_DROP_SLOTS; i++)
		total += d[i];
	printf("  info: %llu of 60 packets dropped: %llu no backend, %llu device-map misses\n",
	       (unsigned long long)dropped, (unsigned long long)d[VIGIL_DROP_NO_BACKEND],
	       (unsigned long long)d[VIGIL_DROP_REDIRECT_MISS]);
	T(d[VIGIL_DROP_NO_BACKEND] > 0 && d[VIGIL_DROP_REDIRECT_MISS] > 0);
	return total == dropped;
}

XDP_TEST_MAIN("xdp_drops")
