// SPDX-License-Identifier: MIT
/*
 * The socket rescue's tc programs (bpf/sock_rescue.bpf.c) on crafted packets
 * with BPF_PROG_TEST_RUN: the egress translation of a moved flow (destination
 * rewritten, next hop from the FIB), the ingress translation back (source
 * rewritten, so the socket sees its original peer), checksums verified from
 * scratch, IPv4 and IPv6; the move of a refused connect's SYN retransmit to a
 * healthy backend (the connect() rule: not the refusing backend, not one the
 * fast path marked down, the backup tier when no primary is left); the drop
 * of the abandoned backend's late packets; and what passes untouched.
 * What needs a real socket (a SYN retransmit of a service connection, the
 * refusal withheld, the SYN timeout) is covered by the integration tests
 * test_failover_blackhole and test_failover_kill.
 *
 *   test_sock_rescue [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "sock_rescue: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root. Runs in its own
 * network namespace (xdp_helpers.h, fwd_env()): run it under
 * flock /tmp/vigil-net.lock.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"
#include "sock_rescue.skel.h"

#define TC_ACT_UNSPEC 0xffffffffu
#define TC_ACT_SHOT 2

static struct {
	struct sock_rescue_bpf *skel;
	int out, in, flows, sets, health, stats, live;
} R;

/* B2 (10.1.0.2) has no neighbour entry in the test namespace, B1 has one:
 * a flow moved to B1 leaves with B1's MAC; B2x is B2's IPv6 twin. */
static struct vigil_endpoint B2x, B3;

static bool rescue_setup(void)
{
	memset(&R, 0, sizeof(R));
	R.skel = sock_rescue_bpf__open();
	if (!ASSERT_OPENED_UNPINNED(R.skel) || !ASSERT_EQ(sock_rescue_bpf__load(R.skel), 0))
		return false;
	R.out = bpf_program__fd(R.skel->progs.vigil_rescue_out);
	R.in = bpf_program__fd(R.skel->progs.vigil_rescue_in);
	R.flows = bpf_map__fd(R.skel->maps.rescue_flows);
	R.sets = bpf_map__fd(R.skel->maps.service_sets);
	R.health = bpf_map__fd(R.skel->maps.backend_health);
	R.stats = bpf_map__fd(R.skel->maps.rescue_stats);
	R.live = bpf_map__fd(R.skel->maps.rescue_live);
	return true;
}

static void rescue_teardown(void)
{
	sock_rescue_bpf__destroy(R.skel);
	memset(&R, 0, sizeof(R));
}

static int rescue_init(void)
{
	B2x = ep6("fd00:1::2", 8443);
	B3 = ep4("10.1.0.3", 8080);
	return xdp_test_init();
}

/* ---- configuration ---------------------------------------------------------------- */

/* rescue_live: the forward entries the programs count (abi.h). */
static __u64 live_count(void)
{
	__u32 zero = 0;
	__u64 n = ~0ull;

	bpf_map_lookup_elem(R.live, &zero, &n);
	return n;
}

static bool set_live(__u64 n)
{
	__u32 zero = 0;

	return ASSERT_EQ(bpf_map_update_elem(R.live, &zero, &n, BPF_ANY), 0);
}

/* An entry as the programs write it: a forward one counted in rescue_live
 * unless flags say it was (VIGIL_RESCUE_COUNTED) or is not to be (an older
 * vigil's entry: `raw`). */
static bool put_entry(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		      __u32 kind, const struct vigil_endpoint *to, __u32 flags, bool raw)
{
	struct vigil_rescue_flow f = { .kind = kind, .flags = flags, .vip = VIP };
	struct vigil_flow_key k = flow_key(src, dst);
	bool count = !raw && kind == VIGIL_RESCUE_FORWARD && !(flags & VIGIL_RESCUE_COUNTED);

	if (to)
		f.to = *to;
	if (count)
		f.flags |= VIGIL_RESCUE_COUNTED;
	return ASSERT_EQ(bpf_map_update_elem(R.flows, &k, &f, BPF_ANY), 0) &&
	       (!count || set_live(live_count() + 1));
}

static bool put_flow(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		     __u32 kind, const struct vigil_endpoint *to, __u32 flags)
{
	return put_entry(src, dst, kind, to, flags, false);
}

static bool get_rescue(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		       struct vigil_rescue_flow *f)
{
	struct vigil_flow_key k = flow_key(src, dst);

	return bpf_map_lookup_elem(R.flows, &k, f) == 0;
}

/* A moved connection: CL -> orig goes to `to`, and back. */
static bool moved(const struct vigil_endpoint *cl, const struct vigil_endpoint *orig,
		  const struct vigil_endpoint *to)
{
	return put_flow(cl, orig, VIGIL_RESCUE_FORWARD, to, 0) &&
	       put_flow(to, cl, VIGIL_RESCUE_REVERSE, orig, 0);
}

/* VIP's set: primaries, then the fallback tier (backups). */
static bool publish(const struct vigil_endpoint *primaries, size_t np,
		    const struct vigil_endpoint *backups, size_t nb)
{
	struct vigil_backend_set set = { .count = (__u32)(np + nb), .n_preferred = (__u32)np };

	for (size_t i = 0; i < np + nb; i++) {
		set.entries[i].backend = i < np ? primaries[i] : backups[i - np];
		set.entries[i].weight = 1;
	}
	set.total_weight = (__u32)np;
	return ASSERT_EQ(bpf_map_update_elem(R.sets, &VIP, &set, BPF_ANY), 0);
}

static bool mark_down(const struct vigil_endpoint *ep)
{
	struct vigil_backend_health h = { .threshold = 3, .consecutive_failures = 3, .down = 1 };

	return ASSERT_EQ(bpf_map_update_elem(R.health, ep, &h, BPF_ANY), 0);
}

static __u64 rescue_counter(__u32 idx)
{
	int n = libbpf_num_possible_cpus();
	__u64 v[n > 0 ? n : 1], sum = 0;

	if (n <= 0 || bpf_map_lookup_elem(R.stats, &idx, v))
		return ~0ull;
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

/* ---- running ---------------------------------------------------------------------- */

/* s through prog on va: the verdict, the output equal to s rebuilt with the
 * new endpoint (and MACs, when given), checksums valid from scratch. */
static bool expect_translated(int prog, const struct spec *s, const struct vigil_endpoint *to,
			      bool to_dst, const uint8_t *dmac, __u32 verdict)
{
	uint8_t in[PKT_MAX], want[PKT_MAX], macs[12];
	struct spec e = spec_rewritten(s, to, to_dst);
	size_t len = build(s, in), wlen;
	struct run r;

	if (dmac) {
		memcpy(macs, dmac, 6);
		memcpy(macs + 6, VA_MAC, 6);
		e.macs = macs;
	}
	wlen = build(&e, want);
	run_on(prog, true, IF_VA, in, len, &r);
	return ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, verdict) && ASSERT_EQ(r.out_len, wlen) &&
	       csums_ok(r.out, r.out_len) && ASSERT_MEM(r.out, want, wlen);
}

static bool expect_untouched(int prog, const struct spec *s, __u32 verdict)
{
	uint8_t in[PKT_MAX];
	size_t len = build(s, in);
	struct run r;

	run_on(prog, true, IF_VA, in, len, &r);
	return ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, verdict) && ASSERT_EQ(r.out_len, len) &&
	       ASSERT_MEM(r.out, in, len);
}

/* ---- tests ------------------------------------------------------------------------ */

/* A moved IPv4 flow both ways: the client's packets to the original backend
 * leave for the new one (its MAC from the FIB), the new backend's answers
 * come back from the original one; data and options survive. */
BPF_TEST(moved_flow_ipv4)
{
	struct spec syn = tcp_spec(&CL, &B2, TH_SYN), data = tcp_spec(&CL, &B2, TH_ACK | TH_PSH);
	struct spec synack = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);

	T(moved(&CL, &B2, &B1));
	syn.tcp_opts_len = 4;
	memcpy(syn.tcp_opts, "\x02\x04\x05\xb4", 4); /* MSS */
	data.payload = 300;
	data.seq = 1000;
	data.ack = 5000;
	T(expect_translated(R.out, &syn, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	T(expect_translated(R.out, &data, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	return expect_translated(R.in, &synack, &B2, false, NULL, TC_ACT_UNSPEC);
}

/* IPv6: the pseudo-header checksum over 16-byte addresses; a new backend
 * with no neighbour entry yet is handed to bpf_redirect_neigh. */
BPF_TEST(moved_flow_ipv6)
{
	struct spec out = tcp_spec(&CL6, &B6, TH_ACK), back = tcp_spec(&B2x, &CL6, TH_ACK | TH_PSH);

	T(moved(&CL6, &B6, &B2x));
	out.payload = 100;
	back.payload = 1200;
	T(expect_translated(R.out, &out, &B2x, true, NULL, TC_ACT_REDIRECT));
	T(expect_translated(R.in, &back, &B6, false, NULL, TC_ACT_UNSPEC));
	/* and the other way round: to B6, whose neighbour is known */
	T(moved(&CL6, &B2x, &B6));
	out = tcp_spec(&CL6, &B2x, TH_SYN);
	return expect_translated(R.out, &out, &B6, true, B6_MAC, TC_ACT_UNSPEC);
}

/* A connect B2 refused (its RST withheld): the SYN retransmit moves to the
 * other primary, the flow is recorded both ways, B2's late packets are
 * dropped; the refusal is remembered (the flag stays). */
BPF_TEST(refused_connect_moves)
{
	const struct vigil_endpoint prim[] = { B2, B1 };
	struct spec syn = tcp_spec(&CL, &B2, TH_SYN), late = tcp_spec(&B2, &CL, TH_RST | TH_ACK);
	struct vigil_rescue_flow f;

	T(publish(prim, 2, NULL, 0));
	T(put_flow(&CL, &B2, VIGIL_RESCUE_FORWARD, NULL, VIGIL_RESCUE_REFUSED));
	T(expect_translated(R.out, &syn, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	T(ASSERT_TRUE(get_rescue(&CL, &B2, &f)) && ASSERT_TRUE(ep_eq(&f.to, &B1)) &&
	  ASSERT_EQ(f.flags, VIGIL_RESCUE_REFUSED | VIGIL_RESCUE_COUNTED) &&
	  ASSERT_GT(f.moved_ns, 0) && ASSERT_EQ(live_count(), 1) &&
	  ASSERT_TRUE(ep_eq(&f.vip, &VIP)));
	T(ASSERT_TRUE(get_rescue(&B1, &CL, &f)) && ASSERT_EQ(f.kind, VIGIL_RESCUE_REVERSE) &&
	  ASSERT_TRUE(ep_eq(&f.to, &B2)));
	T(ASSERT_TRUE(get_rescue(&B2, &CL, &f)) && ASSERT_EQ(f.kind, VIGIL_RESCUE_ABANDONED));
	T(expect_untouched(R.in, &late, TC_ACT_SHOT));
	/* the next retransmit follows the recorded move, no second choice */
	T(expect_translated(R.out, &syn, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	return ASSERT_EQ(rescue_counter(VIGIL_RESCUE_MOVED), 1) &&
	       ASSERT_EQ(rescue_counter(VIGIL_RESCUE_LATE_DROPPED), 1);
}

/* Where a refused connect may go: never to a backend the fast path marked
 * down; to the backup tier when no primary is left; nowhere (the SYN stays)
 * when nothing is healthy, or when its port already talks to the one that
 * is. */
BPF_TEST(refused_connect_targets)
{
	const struct vigil_endpoint prim[] = { B2, B1 }, backup[] = { B3 };
	struct vigil_endpoint cl2 = client_port(&CL, 40001);
	struct spec syn = tcp_spec(&CL, &B2, TH_SYN);
	struct vigil_rescue_flow f;

	T(publish(prim, 2, backup, 1) && mark_down(&B1));
	T(put_flow(&CL, &B2, VIGIL_RESCUE_FORWARD, NULL, VIGIL_RESCUE_REFUSED));
	/* B3 has no neighbour entry: the kernel resolves it */
	T(expect_translated(R.out, &syn, &B3, true, NULL, TC_ACT_REDIRECT));
	T(ASSERT_TRUE(get_rescue(&CL, &B2, &f)) && ASSERT_TRUE(ep_eq(&f.to, &B3)));
	syn = tcp_spec(&cl2, &B2, TH_SYN);
	T(publish(prim, 2, NULL, 0));
	T(put_flow(&cl2, &B2, VIGIL_RESCUE_FORWARD, NULL, VIGIL_RESCUE_REFUSED));
	T(expect_untouched(R.out, &syn, TC_ACT_UNSPEC));
	T(ASSERT_TRUE(get_rescue(&cl2, &B2, &f)) && ASSERT_EQ(f.to.family, 0));
	T(ASSERT_EQ(rescue_counter(VIGIL_RESCUE_NO_TARGET), 1) &&
	  ASSERT_EQ(rescue_counter(VIGIL_RESCUE_MOVED), 1));
	/* B1 is healthy again, but this client port already talks to it (here:
	 * another moved flow): moving there would mix two connections */
	T(ASSERT_EQ(bpf_map_delete_elem(R.health, &B1), 0));
	T(put_flow(&B1, &cl2, VIGIL_RESCUE_REVERSE, &B3, 0));
	T(expect_untouched(R.out, &syn, TC_ACT_UNSPEC));
	return ASSERT_EQ(rescue_counter(VIGIL_RESCUE_PORT_BUSY), 1) &&
	       ASSERT_EQ(rescue_counter(VIGIL_RESCUE_MOVED), 1);
}

/* What is not the rescue's passes untouched to the next filter: a flow with
 * no entry, a SYN without a service socket behind it (the test run's skb has
 * none), an answer from a backend no flow moved to, a RST no socket waits
 * for; a reverse entry never rewrites egress. */
BPF_TEST(unrelated_untouched)
{
	struct spec syn = tcp_spec(&CL, &B1, TH_SYN), data = tcp_spec(&CL, &B1, TH_ACK);
	struct spec back = tcp_spec(&B1, &CL, TH_ACK), rst = tcp_spec(&B1, &CL, TH_RST | TH_ACK);
	const struct vigil_endpoint prim[] = { B1, B2 };

	T(publish(prim, 2, NULL, 0));
	T(expect_untouched(R.out, &syn, TC_ACT_UNSPEC) && expect_untouched(R.out, &data, TC_ACT_UNSPEC));
	T(expect_untouched(R.in, &back, TC_ACT_UNSPEC) && expect_untouched(R.in, &rst, TC_ACT_UNSPEC));
	T(put_flow(&CL, &B1, VIGIL_RESCUE_REVERSE, &B2, 0));
	T(expect_untouched(R.out, &data, TC_ACT_UNSPEC));
	return ASSERT_EQ(map_count(R.flows), 1) && ASSERT_EQ(rescue_counter(VIGIL_RESCUE_MOVED), 0);
}

/* Filter first: while rescue_live is 0 neither program looks a flow up, so
 * entries it does not count (left by an older vigil) translate nothing;
 * once a flow counts, every flow's packets are looked up again: data and
 * answers of a moved flow are translated while an unrelated flow's packets
 * pass. */
BPF_TEST(filter_follows_live_count)
{
	struct spec data = tcp_spec(&CL, &B2, TH_ACK | TH_PSH), back = tcp_spec(&B1, &CL, TH_ACK);
	struct vigil_endpoint cl2 = client_port(&CL, 40002);
	struct spec other = tcp_spec(&cl2, &B1, TH_ACK), other_back = tcp_spec(&B1, &cl2, TH_ACK);

	data.payload = 200;
	T(put_entry(&CL, &B2, VIGIL_RESCUE_FORWARD, &B1, 0, true) &&
	  put_entry(&B1, &CL, VIGIL_RESCUE_REVERSE, &B2, 0, true) && ASSERT_EQ(live_count(), 0));
	T(expect_untouched(R.out, &data, TC_ACT_UNSPEC) && expect_untouched(R.in, &back, TC_ACT_UNSPEC));
	T(set_live(1));
	T(expect_translated(R.out, &data, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	T(expect_translated(R.in, &back, &B2, false, NULL, TC_ACT_UNSPEC));
	return expect_untouched(R.out, &other, TC_ACT_UNSPEC) &&
	       expect_untouched(R.in, &other_back, TC_ACT_UNSPEC);
}

/* An older vigil's refused connect (its forward entry not counted) moves
 * all the same, and the move counts it: its answers are translated. */
BPF_TEST(move_counts_flow)
{
	const struct vigil_endpoint prim[] = { B2, B1 };
	struct spec syn = tcp_spec(&CL, &B2, TH_SYN), synack = tcp_spec(&B1, &CL, TH_SYN | TH_ACK);
	struct vigil_rescue_flow f;

	T(publish(prim, 2, NULL, 0));
	T(put_entry(&CL, &B2, VIGIL_RESCUE_FORWARD, NULL, VIGIL_RESCUE_REFUSED, true) &&
	  set_live(1)); /* stands for another flow: a SYN of no socket moves only then */
	T(expect_translated(R.out, &syn, &B1, true, B1_MAC, TC_ACT_UNSPEC));
	T(ASSERT_TRUE(get_rescue(&CL, &B2, &f)) &&
	  ASSERT_EQ(f.flags, VIGIL_RESCUE_REFUSED | VIGIL_RESCUE_COUNTED) &&
	  ASSERT_EQ(live_count(), 2));
	return expect_translated(R.in, &synack, &B2, false, NULL, TC_ACT_UNSPEC);
}

int main(int argc, char **argv)
{
	return bpf_test_main(&(const struct bpf_test_suite){ .name = "sock_rescue",
							     .init = rescue_init,
							     .setup = rescue_setup,
							     .teardown = rescue_teardown },
			     argc, argv);
}
