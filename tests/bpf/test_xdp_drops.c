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
 * Each test loads a fresh skeleton (nothing pinned) in the program's own
 * network namespace (veth va/vb, see net_env), so FIB lookups see only what
 * it sets up.
 *
 *   test_xdp_drops [NAME...]   run all tests, or the named ones
 *
 * Output: "PASS name" / "FAIL name" per test, then "xdp_drops: N passed, M
 * failed". Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <vigil/abi.h>

#include "xdp_lb.skel.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#define NO_DROP VIGIL_DROP_SLOTS /* expect_drops: no reason moves */

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
			return false;                                              \
		}                                                                  \
	} while (0)

/* ---- fixture ------------------------------------------------------------------ */

static struct {
	struct xdp_lb_bpf *skel;
	int xdp, tc, services, backends, tables, tx_ports, drops, stats;
	int inner[4];
	int n_inner;
	int ncpus;
} F;

static __u32 IF_VA, IF_VB;

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void teardown(void)
{
	for (int i = 0; i < F.n_inner; i++)
		close(F.inner[i]);
	xdp_lb_bpf__destroy(F.skel);
	memset(&F, 0, sizeof(F));
}

static bool setup(void)
{
	struct bpf_map *m;

	memset(&F, 0, sizeof(F));
	F.skel = xdp_lb_bpf__open();
	CHECK(F.skel != NULL);
	/* Fresh maps per test: not pinned (LIBBPF_PIN_BY_NAME would pin in /sys/fs/bpf). */
	bpf_object__for_each_map(m, F.skel->obj)
		CHECK(bpf_map__set_pin_path(m, NULL) == 0);
	F.skel->rodata->forward_mode = VIGIL_FWD_REDIRECT;
	CHECK(xdp_lb_bpf__load(F.skel) == 0);
	F.xdp = bpf_program__fd(F.skel->progs.vigil_xdp_lb);
	F.tc = bpf_program__fd(F.skel->progs.vigil_tc_lb);
	F.services = bpf_map__fd(F.skel->maps.xdp_services);
	F.backends = bpf_map__fd(F.skel->maps.xdp_backends);
	F.tables = bpf_map__fd(F.skel->maps.xdp_tables);
	F.tx_ports = bpf_map__fd(F.skel->maps.xdp_tx_ports);
	F.drops = bpf_map__fd(F.skel->maps.xdp_drops);
	F.stats = bpf_map__fd(F.skel->maps.xdp_stats);
	F.ncpus = libbpf_num_possible_cpus();
	CHECK(F.ncpus > 0);
	CHECK(bpf_map__max_entries(F.skel->maps.xdp_drops) == VIGIL_DROP_SLOTS);
	return true;
}

/* The test's own network namespace: va (10.1.0.254/16, fd00:1::fe/64) and its
 * peer vb; backend 10.1.0.1 / fd00:1::1 has a permanent neighbour entry. */
static int net_env(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add va address 02:00:00:00:00:a1 type veth peer name vb",
		"ip addr add 10.1.0.254/16 dev va",
		"ip -6 addr add fd00:1::fe/64 dev va nodad",
		"ip link set va up",
		"ip link set vb up",
		"ip neigh replace 10.1.0.1 lladdr 02:00:00:00:00:b1 dev va nud permanent",
		"ip -6 neigh replace fd00:1::1 lladdr 02:00:00:00:00:b6 dev va nud permanent",
		"sysctl -qw net.ipv4.conf.all.forwarding=1",
		"sysctl -qw net.ipv6.conf.all.forwarding=1",
	};

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (system(cmds[i]) != 0) {
			fprintf(stderr, "test network namespace: '%s' failed\n", cmds[i]);
			return -1;
		}
	IF_VA = if_nametoindex("va");
	IF_VB = if_nametoindex("vb");
	return IF_VA && IF_VB ? 0 : -1;
}

/* ---- addresses and configuration (what vigild writes) ------------------------------ */

static struct vigil_endpoint ep(const char *ip, uint16_t port)
{
	struct vigil_endpoint e = { .port = port };

	if (inet_pton(AF_INET6, ip, e.addr) == 1) {
		e.family = VIGIL_AF_INET6;
	} else {
		e.family = VIGIL_AF_INET;
		e.addr[10] = e.addr[11] = 0xff;
		if (inet_pton(AF_INET, ip, &e.addr[12]) != 1)
			abort();
	}
	return e;
}

static struct vigil_endpoint VIP, VIP6, B1, B6, CL, CL6;

static bool add_backend(__u32 id, const struct vigil_endpoint *e)
{
	struct vigil_xdp_backend b = { .ep = *e, .flags = VIGIL_XB_SELECTABLE };

	return bpf_map_update_elem(F.backends, &id, &b, BPF_ANY) == 0;
}

/* vip served from outer slot sid by a table of size slots all naming id;
 * no_table: the service entry only (vigild has not installed the table). */
static bool add_service(const struct vigil_endpoint *vip, __u32 sid, __u32 id, bool no_table)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	struct vigil_xdp_service svc = { .service_id = sid, .table_size = 7, .version = 1 };
	int fd;

	if (!no_table) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "maglev", 4, 4, 7, &o);
		if (fd < 0 || F.n_inner >= 4)
			return false;
		F.inner[F.n_inner++] = fd;
		for (__u32 slot = 0; slot < 7; slot++)
			if (bpf_map_update_elem(fd, &slot, &id, BPF_ANY))
				return false;
		if (bpf_map_update_elem(F.tables, &sid, &fd, BPF_ANY))
			return false;
	}
	return bpf_map_update_elem(F.services, vip, &svc, BPF_ANY) == 0;
}

static bool allow_redirect_to(__u32 ifindex)
{
	return bpf_map_update_elem(F.tx_ports, &ifindex, &ifindex, BPF_ANY) == 0;
}

/* ---- packets ---------------------------------------------------------------------- */

#define TH_SYN 0x02
#define TH_ACK 0x10
#define PKT_MAX 256

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Ethernet + IPv4/IPv6 + 20-byte TCP header, checksums valid. */
static size_t build(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		    uint8_t flags, uint8_t *p)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 0xa1, 2, 0, 0, 0, 0, 0xc1 };
	bool v6 = src->family == VIGIL_AF_INET6;
	size_t hlen = v6 ? 40 : 20;
	uint8_t *ip = p + 14, *tcp = ip + hlen;
	uint32_t s;

	memset(p, 0, PKT_MAX);
	memcpy(p, macs, 12);
	put16(p + 12, v6 ? 0x86dd : 0x0800);
	put16(tcp, src->port);
	put16(tcp + 2, dst->port);
	tcp[7] = 1; /* seq */
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, 20);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, src->addr, 16);
		memcpy(ip + 24, dst->addr, 16);
		s = csum_add(0, ip + 8, 32) + 20 + IPPROTO_TCP;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, 40);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, &src->addr[12], 4);
		memcpy(ip + 16, &dst->addr[12], 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		s = csum_add(0, ip + 12, 8) + 20 + IPPROTO_TCP;
	}
	put16(tcp + 16, csum_fold(csum_add(s, tcp, 20)));
	return 14 + hlen + 20;
}

/* One run of the XDP (tc false) or tc entry with the packet arriving on ifindex. */
static int run(bool tc, __u32 ifindex, const struct vigil_endpoint *src,
	       const struct vigil_endpoint *dst, uint8_t flags, __u32 *verdict)
{
	uint8_t in[PKT_MAX], out[PKT_MAX + 64];
	size_t len = build(src, dst, flags, in);
	struct xdp_md xctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (tc) {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	} else {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	if (bpf_prog_test_run_opts(tc ? F.tc : F.xdp, &o))
		return -errno;
	*verdict = o.retval;
	return 0;
}

/* ---- counters ------------------------------------------------------------------------- */

static __u64 percpu_sum(int fd, __u32 idx)
{
	__u64 v[F.ncpus], sum = 0;

	if (bpf_map_lookup_elem(fd, &idx, v))
		return ~0ull;
	for (int c = 0; c < F.ncpus; c++)
		sum += v[c];
	return sum;
}

static void read_drops(__u64 *d)
{
	for (__u32 i = 0; i < VIGIL_DROP_SLOTS; i++)
		d[i] = percpu_sum(F.drops, i);
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
	int err = run(tc, ifindex, src, dst, flags, &verdict);

	if (err || verdict != want_verdict) {
		printf("  %s run: err %d verdict %u, expected %u\n", tc ? "tc" : "xdp", err, verdict,
		       want_verdict);
		return false;
	}
	return expect_drops(drops, reason);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* A VIP without a table (vigild has not installed one yet), XDP and tc. */
static bool test_no_backend_no_table(void)
{
	__u64 d[VIGIL_DROP_SLOTS];

	CHECK(add_backend(1, &B1) && add_service(&VIP, 3, 1, true));
	read_drops(d);
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	CHECK(expect(true, IF_VB, &CL, &VIP, TH_SYN, TC_ACT_SHOT, VIGIL_DROP_NO_BACKEND, d));
	/* the old counter of the same drops keeps counting too */
	return percpu_sum(F.stats, VIGIL_XDP_DROP_NO_BACKEND) == 3;
}

/* An IPv6 VIP whose table names only an IPv4 backend: no backend of the
 * packet's family. */
static bool test_no_backend_family(void)
{
	__u64 d[VIGIL_DROP_SLOTS];

	CHECK(add_backend(1, &B1) && add_service(&VIP6, 3, 1, false));
	read_drops(d);
	CHECK(expect(false, IF_VB, &CL6, &VIP6, TH_SYN, XDP_DROP, VIGIL_DROP_NO_BACKEND, d));
	CHECK(expect(true, IF_VB, &CL6, &VIP6, TH_SYN, TC_ACT_SHOT, VIGIL_DROP_NO_BACKEND, d));
	return true;
}

/* The flow's first packet resolves and caches its next hop (egress va, in
 * the device map); vigild then detaches va (takes it out of the map): the
 * next packet, sent on the cached hop, misses the device map and is dropped.
 * It is no fwd_direct packet. */
static bool test_redirect_miss(void)
{
	__u64 d[VIGIL_DROP_SLOTS], direct;

	CHECK(add_backend(1, &B1) && add_service(&VIP, 3, 1, false) && allow_redirect_to(IF_VA));
	read_drops(d);
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_REDIRECT, NO_DROP, d));
	CHECK(percpu_sum(F.stats, VIGIL_XDP_FWD_DIRECT) == 1);
	CHECK(bpf_map_delete_elem(F.tx_ports, &IF_VA) == 0);
	direct = percpu_sum(F.stats, VIGIL_XDP_FWD_DIRECT);
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d));
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d));
	CHECK(percpu_sum(F.stats, VIGIL_XDP_FWD_DIRECT) == direct);
	/* back in the map: sent again, nothing dropped */
	CHECK(allow_redirect_to(IF_VA));
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_REDIRECT, NO_DROP, d));
	/* the same flow's IPv6 twin, for the other address family */
	CHECK(add_backend(6, &B6) && add_service(&VIP6, 5, 6, false));
	CHECK(expect(false, IF_VB, &CL6, &VIP6, TH_SYN, XDP_REDIRECT, NO_DROP, d));
	CHECK(bpf_map_delete_elem(F.tx_ports, &IF_VA) == 0);
	return expect(false, IF_VB, &CL6, &VIP6, TH_ACK, XDP_DROP, VIGIL_DROP_REDIRECT_MISS, d);
}

/* Every verdict that is not a drop leaves the drop counters alone: passed
 * (not for a VIP), rewritten and left to the kernel, XDP_REDIRECT, XDP_TX,
 * tc redirect with and without a neighbour entry, a tc reply to the kernel. */
static bool test_no_drop_paths(void)
{
	struct vigil_endpoint other = ep("10.0.0.101", 80), b2 = ep("10.1.0.2", 8081);
	__u64 d[VIGIL_DROP_SLOTS];

	CHECK(add_backend(1, &B1) && add_service(&VIP, 3, 1, false));
	read_drops(d);
	CHECK(expect(false, IF_VB, &CL, &other, TH_SYN, XDP_PASS, NO_DROP, d)); /* pass_other */
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_SYN, XDP_PASS, NO_DROP, d));   /* va not allowed: kernel */
	CHECK(allow_redirect_to(IF_VA));
	CHECK(expect(false, IF_VB, &CL, &VIP, TH_ACK, XDP_REDIRECT, NO_DROP, d));
	{
		struct vigil_endpoint c2 = CL;

		c2.port = 40001;
		CHECK(expect(false, IF_VB, &c2, &VIP, TH_SYN, XDP_REDIRECT, NO_DROP, d));
		c2.port = 40002;
		CHECK(expect(false, IF_VA, &c2, &VIP, TH_SYN, XDP_TX, NO_DROP, d));
		c2.port = 40003;
		CHECK(expect(true, IF_VB, &c2, &VIP, TH_SYN, TC_ACT_REDIRECT, NO_DROP, d));
	}
	/* a backend without a neighbour entry: bpf_redirect_neigh in tc */
	CHECK(add_backend(2, &b2) && add_service(&other, 4, 2, false));
	CHECK(expect(true, IF_VB, &CL, &other, TH_SYN, TC_ACT_REDIRECT, NO_DROP, d));
	/* the reply direction */
	CHECK(expect(true, IF_VB, &B1, &CL, TH_SYN | TH_ACK, TC_ACT_OK, NO_DROP, d));
	return percpu_sum(F.stats, VIGIL_XDP_DROP_NO_BACKEND) == 0;
}

/* Over a mix of packets through both entries, the drop counters add up to
 * the number of XDP_DROP / TC_ACT_SHOT verdicts: no drop goes uncounted. */
static bool test_every_drop_counted(void)
{
	struct vigil_endpoint empty = ep("10.0.0.102", 80);
	const struct vigil_endpoint *dsts[] = { &VIP, &empty, &VIP6 };
	__u64 d[VIGIL_DROP_SLOTS], total = 0, dropped = 0;

	CHECK(add_backend(1, &B1) && add_service(&VIP, 3, 1, false) &&
	      add_service(&empty, 4, 1, true) && add_service(&VIP6, 5, 1, false) &&
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
		CHECK(run(tc, IF_VB, &src, dst, i % 4 ? TH_ACK : TH_SYN, &verdict) == 0);
		dropped += tc ? verdict == TC_ACT_SHOT : verdict == XDP_DROP;
	}
	read_drops(d);
	for (int i = 0; i < VIGIL_DROP_SLOTS; i++)
		total += d[i];
	printf("  info: %llu of 60 packets dropped: %llu no backend, %llu device-map misses\n",
	       (unsigned long long)dropped, (unsigned long long)d[VIGIL_DROP_NO_BACKEND],
	       (unsigned long long)d[VIGIL_DROP_REDIRECT_MISS]);
	CHECK(d[VIGIL_DROP_NO_BACKEND] > 0 && d[VIGIL_DROP_REDIRECT_MISS] > 0);
	return total == dropped;
}

struct test {
	const char *name;
	bool (*fn)(void);
};

static const struct test tests[] = {
	{ "no_backend_no_table", test_no_backend_no_table },
	{ "no_backend_family", test_no_backend_family },
	{ "redirect_miss", test_redirect_miss },
	{ "no_drop_paths", test_no_drop_paths },
	{ "every_drop_counted", test_every_drop_counted },
};

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP xdp_drops: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	libbpf_set_print(libbpf_quiet);
	if (net_env())
		return 1;
	VIP = ep("10.0.0.100", 80);
	VIP6 = ep("fd00::100", 443);
	B1 = ep("10.1.0.1", 8080);
	B6 = ep("fd00:1::1", 8443);
	CL = ep("192.168.1.10", 40000);
	CL6 = ep("fd00:2::10", 50000);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool ok, want = argc <= 1;

		for (int a = 1; a < argc; a++)
			want |= strcmp(argv[a], tests[i].name) == 0;
		if (!want)
			continue;
		ok = setup() && tests[i].fn();
		teardown();
		printf("%s %s\n", ok ? "PASS" : "FAIL", tests[i].name);
		if (ok)
			passed++;
		else
			failed++;
	}
	printf("xdp_drops: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
