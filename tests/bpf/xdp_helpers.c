// SPDX-License-Identifier: MIT
/*
 * Fixture of the XDP load balancer tests (see xdp_helpers.h): packet
 * builder, checksum verification, skeleton setup, map configuration the way
 * vigild writes it, BPF_PROG_TEST_RUN wrappers and the forwarding namespace.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mman.h>

/* ---- checksums (own implementation, RFC 1071) ------------------------------ */

static uint64_t sum_be16(uint64_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t pseudo_sum(bool v6, const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint64_t s = 0;

	if (v6) {
		s = sum_be16(s, ip + 8, 32);
		s += (l4len >> 16) + (l4len & 0xffff);
	} else {
		s = sum_be16(s, ip + 12, 8);
		s += l4len;
	}
	return s + proto;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* Verifies the IPv4 header checksum (if IPv4) and the TCP checksum of an
 * Ethernet frame from scratch. */
bool csums_ok(const uint8_t *pkt, size_t len)
{
	const uint8_t *ip = pkt + 14;
	bool v6 = rd16(pkt + 12) == 0x86dd;
	size_t hlen, l4len;

	if (!ASSERT_GE(len, 14 + (v6 ? 40 : 20)))
		return false;
	if (v6) {
		hlen = 40;
		l4len = rd16(ip + 4);
		if (!ASSERT_EQ(ip[6], IPPROTO_TCP))
			return false;
	} else {
		hlen = (ip[0] & 0xf) * 4;
		if (!ASSERT_EQ(fold(sum_be16(0, ip, hlen)), 0xffff))
			return false; /* IPv4 header checksum */
		l4len = rd16(ip + 2) - hlen;
	}
	if (!ASSERT_GE(len, 14 + hlen + l4len))
		return false;
	/* TCP checksum over pseudo-header and segment */
	return ASSERT_EQ(fold(sum_be16(pseudo_sum(v6, ip, IPPROTO_TCP, l4len), ip + hlen, l4len)),
			 0xffff);
}

/* ---- packets ----------------------------------------------------------------- */

/* Ethernet + IPv4/IPv6 (+ options / one extension header) + TCP/UDP with
 * correct checksums. Returns the frame length. */
size_t build(const struct spec *s, uint8_t *p)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	uint8_t proto = s->proto ? s->proto : IPPROTO_TCP;
	uint8_t *ip = p + 14, *l4;
	size_t hlen = s->v6 ? 40 + (s->v6_ext ? 8 : 0) : 20 + s->ip_opts_len, l4len, i;

	uint8_t ttl = s->ttl ? s->ttl : 64;

	memset(p, 0, PKT_MAX);
	memcpy(p, s->macs ? s->macs : macs, 12);
	wr16(p + 12, s->v6 ? 0x86dd : 0x0800);
	l4 = ip + hlen;
	if (proto == IPPROTO_TCP) {
		size_t th = 20 + s->tcp_opts_len;

		wr16(l4, s->sport);
		wr16(l4 + 2, s->dport);
		wr32(l4 + 4, s->seq ? s->seq : 0x01020304);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)((th / 4) << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, 64240);
		wr16(l4 + 18, 0); /* urgent pointer */
		memcpy(l4 + 20, s->tcp_opts, s->tcp_opts_len);
		l4len = th + s->payload;
	} else {
		wr16(l4, s->sport);
		wr16(l4 + 2, s->dport);
		l4len = 8 + s->payload;
		wr16(l4 + 4, (uint16_t)l4len);
	}
	for (i = 0; i < s->payload; i++)
		l4[l4len - s->payload + i] = (uint8_t)(0xa5 ^ i * 7);
	if (s->v6) {
		wr32(ip, 0x60012345); /* version 6, traffic class 0, flow label 0x12345 */
		wr16(ip + 4, (uint16_t)(hlen - 40 + l4len));
		ip[6] = s->v6_ext == EXT_HOPOPTS    ? IPPROTO_HOPOPTS
			: s->v6_ext == EXT_FRAGMENT ? IPPROTO_FRAGMENT
						    : proto;
		ip[7] = ttl;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
		if (s->v6_ext) {
			uint8_t *e = ip + 40;

			e[0] = proto;
			if (s->v6_ext == EXT_FRAGMENT) {
				wr16(e + 2, 0x0001); /* offset 0, more fragments */
				wr32(e + 4, 0xabcd);
			} else {
				e[2] = 1; /* PadN, 4 bytes */
				e[3] = 4;
			}
		}
	} else {
		ip[0] = (uint8_t)(0x40 | hlen / 4);
		ip[1] = 0x10;
		wr16(ip + 2, (uint16_t)(hlen + l4len));
		wr16(ip + 4, 0x1234);
		wr16(ip + 6, s->frag);
		ip[8] = ttl;
		ip[9] = proto;
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		memcpy(ip + 20, s->ip_opts, s->ip_opts_len);
		wr16(ip + 10, (uint16_t)~fold(sum_be16(0, ip, hlen)));
	}
	/* L4 checksum: for IPv6 the pseudo-header carries the upper-layer protocol. */
	{
		uint8_t *ck = l4 + (proto == IPPROTO_TCP ? 16 : 6);
		uint16_t c = (uint16_t)~fold(sum_be16(pseudo_sum(s->v6, ip, proto, l4len), l4, l4len));

		if (proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		wr16(ck, c);
	}
	return 14 + hlen + l4len;
}

/* ---- addresses --------------------------------------------------------------- */

struct vigil_endpoint ep4(const char *ip, uint16_t port)
{
	struct vigil_endpoint ep = { .port = port, .family = VIGIL_AF_INET };

	ep.addr[10] = ep.addr[11] = 0xff;
	if (inet_pton(AF_INET, ip, &ep.addr[12]) != 1)
		abort();
	return ep;
}

struct vigil_endpoint ep6(const char *ip, uint16_t port)
{
	struct vigil_endpoint ep = { .port = port, .family = VIGIL_AF_INET6 };

	if (inet_pton(AF_INET6, ip, ep.addr) != 1)
		abort();
	return ep;
}

static void spec_set(struct spec *s, const struct vigil_endpoint *src,
		     const struct vigil_endpoint *dst)
{
	s->v6 = src->family == VIGIL_AF_INET6;
	memcpy(s->src, s->v6 ? src->addr : &src->addr[12], s->v6 ? 16 : 4);
	memcpy(s->dst, s->v6 ? dst->addr : &dst->addr[12], s->v6 ? 16 : 4);
	s->sport = src->port;
	s->dport = dst->port;
}

struct spec tcp_spec(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		     uint8_t flags)
{
	struct spec s = { .flags = flags };

	spec_set(&s, src, dst);
	return s;
}

struct vigil_flow_key flow_key(const struct vigil_endpoint *src,
			       const struct vigil_endpoint *dst)
{
	struct vigil_flow_key k = { .sport = src->port, .dport = dst->port,
				    .family = src->family, .proto = IPPROTO_TCP };

	memcpy(k.src, src->addr, 16);
	memcpy(k.dst, dst->addr, 16);
	return k;
}

bool ep_eq(const struct vigil_endpoint *a, const struct vigil_endpoint *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* ---- fixture ----------------------------------------------------------------- */

struct xdp_fixture F;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct vigil_event) && F.n_ev < MAX_EVENTS)
		memcpy(&F.ev[F.n_ev++], data, sizeof(struct vigil_event));
	return 0;
}

void teardown(void)
{
	for (int i = 0; i < F.n_inner; i++)
		close(F.inner[i]);
	ring_buffer__free(F.rb);
	xdp_lb_bpf__destroy(F.skel);
	memset(&F, 0, sizeof(F));
}

/* xdp.forward of the next setup() (read-only data of the program). */
__u32 setup_forward_mode = VIGIL_FWD_REDIRECT;

bool setup(void)
{
	memset(&F, 0, sizeof(F));
	F.skel = xdp_lb_bpf__open();
	if (!ASSERT_OPENED_UNPINNED(F.skel))
		return false;
	F.skel->rodata->forward_mode = setup_forward_mode;
	if (!ASSERT_EQ(xdp_lb_bpf__load(F.skel), 0))
		return false;
	F.prog = bpf_program__fd(F.skel->progs.vigil_xdp_lb);
	F.tc_prog = bpf_program__fd(F.skel->progs.vigil_tc_lb);
	F.tx_ports = bpf_map__fd(F.skel->maps.xdp_tx_ports);
	F.services = bpf_map__fd(F.skel->maps.xdp_services);
	F.backends = bpf_map__fd(F.skel->maps.xdp_backends);
	F.tables = bpf_map__fd(F.skel->maps.xdp_tables);
	F.flows = bpf_map__fd(F.skel->maps.xdp_flows);
	F.rev = bpf_map__fd(F.skel->maps.xdp_rev_flows);
	F.stats = bpf_map__fd(F.skel->maps.xdp_stats);
	F.drops = bpf_map__fd(F.skel->maps.xdp_drops);
	F.sets = bpf_map__fd(F.skel->maps.xdp_sets);
	F.health = bpf_map__fd(F.skel->maps.backend_health);
	F.bstats = bpf_map__fd(F.skel->maps.backend_stats);
	F.inflight = bpf_map__fd(F.skel->maps.inflight);
	F.pending = bpf_map__fd(F.skel->maps.pending_requests);
	F.ncpus = libbpf_num_possible_cpus();
	F.rb = ring_buffer__new(bpf_map__fd(F.skel->maps.events), on_event, NULL, NULL);
	return ASSERT_GT(F.ncpus, 0) && ASSERT_TRUE(F.rb != NULL);
}

int events(void)
{
	ring_buffer__consume(F.rb);
	return F.n_ev;
}

/* ---- configuration (what vigild writes) ---------------------------------------- */

bool add_backend(__u32 id, const struct vigil_endpoint *ep, __u32 flags)
{
	struct vigil_xdp_backend b = { .ep = *ep, .flags = flags };

	return ASSERT_EQ(bpf_map_update_elem(F.backends, &id, &b, BPF_ANY), 0);
}

bool set_flags(__u32 id, __u32 flags)
{
	struct vigil_xdp_backend b;

	if (!ASSERT_EQ(bpf_map_lookup_elem(F.backends, &id, &b), 0))
		return false;
	b.flags = flags;
	return ASSERT_EQ(bpf_map_update_elem(F.backends, &id, &b, BPF_ANY), 0);
}

int new_table(__u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);

	return bpf_map_create(BPF_MAP_TYPE_ARRAY, "maglev", 4, 4, size, &o);
}

/* An array map lays its elements out round_up(value_size, 8) bytes apart, so
 * the mmap of a table of __u32 ids has a stride of 8 bytes. */
#define SLOT_STRIDE 8

size_t table_bytes(__u32 size)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return ((size_t)size * SLOT_STRIDE + pg - 1) / pg * pg;
}

/* Fills slot i with ids[i % n] through an mmap of the array (as vigild does),
 * then reads the last slot back through the syscall as a layout check. */
bool fill_table(int fd, __u32 size, const __u32 *ids, size_t n)
{
	__u64 *t = mmap(NULL, table_bytes(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	__u32 last = size - 1, v = ~0u;

	if (!ASSERT_TRUE(t != MAP_FAILED))
		return false;
	for (__u32 i = 0; i < size; i++)
		t[i] = ids[i % n];
	munmap(t, table_bytes(size));
	return ASSERT_EQ(bpf_map_lookup_elem(fd, &last, &v), 0) && ASSERT_EQ(v, ids[last % n]);
}

/* A new inner table filled with ids[i % n] installed as xdp_tables[sid]. */
bool install_table(__u32 sid, __u32 size, const __u32 *ids, size_t n)
{
	int fd = new_table(size);

	if (!ASSERT_GE(fd, 0) || !ASSERT_TRUE(F.n_inner < 8))
		return false;
	F.inner[F.n_inner++] = fd;
	if (n && !fill_table(fd, size, ids, n))
		return false;
	return ASSERT_EQ(bpf_map_update_elem(F.tables, &sid, &fd, BPF_ANY), 0);
}

bool add_service(const struct vigil_endpoint *vip, __u32 sid, __u32 size)
{
	struct vigil_xdp_service svc = { .service_id = sid, .table_size = size, .version = 1 };

	return ASSERT_EQ(bpf_map_update_elem(F.services, vip, &svc, BPF_ANY), 0);
}

bool set_health(const struct vigil_endpoint *ep, __u32 threshold, __u32 failures,
		__u32 down)
{
	struct vigil_backend_health h = { .threshold = threshold,
					  .consecutive_failures = failures, .down = down };

	return ASSERT_EQ(bpf_map_update_elem(F.health, ep, &h, BPF_ANY), 0);
}

bool set_xdp_set(const struct vigil_endpoint *vip, const struct vigil_endpoint *eps,
		 const __u32 *ids, __u32 n, __u32 n_preferred)
{
	struct vigil_xdp_set xs = { .set = { .count = n, .n_preferred = n_preferred } };

	for (__u32 i = 0; i < n && i < VIGIL_MAX_SET; i++) {
		xs.set.entries[i] = (struct vigil_set_entry){ .backend = eps[i], .weight = 1 };
		xs.ids[i] = ids[i];
		xs.set.total_weight += i < n_preferred;
	}
	return ASSERT_EQ(bpf_map_update_elem(F.sets, vip, &xs, BPF_ANY), 0);
}

/* ---- readers ------------------------------------------------------------------- */

/* Entry idx of the per-CPU array fd summed over CPUs (~0 if unreadable). */
static __u64 percpu_sum(int fd, __u32 idx)
{
	__u64 v[F.ncpus], sum = 0;

	if (bpf_map_lookup_elem(fd, &idx, v))
		return ~0ull;
	for (int i = 0; i < F.ncpus; i++)
		sum += v[i];
	return sum;
}

__u64 counter(__u32 idx)
{
	return percpu_sum(F.stats, idx);
}

__u64 drop_count(__u32 reason)
{
	return percpu_sum(F.drops, reason);
}

/* backend_stats summed over CPUs; false if there is no entry. */
bool bstats(const struct vigil_endpoint *ep, struct vigil_backend_stats *out)
{
	struct vigil_backend_stats *v = calloc((size_t)F.ncpus, sizeof(*v));
	__u64 *o = (__u64 *)out;
	bool found;

	memset(out, 0, sizeof(*out));
	if (!v)
		return false;
	found = bpf_map_lookup_elem(F.bstats, ep, v) == 0;
	for (int c = 0; found && c < F.ncpus; c++)
		for (size_t i = 0; i < sizeof(*out) / 8; i++)
			o[i] += ((__u64 *)&v[c])[i];
	free(v);
	return found;
}

__u64 hist_total(const __u64 *h)
{
	__u64 n = 0;

	for (int i = 0; i < VIGIL_HIST_BUCKETS; i++)
		n += h[i];
	return n;
}

int map_count(int fd)
{
	uint8_t k[64], nk[64];
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		memcpy(k, nk, sizeof(k));
		prev = k;
		n++;
	}
	return n;
}

bool get_flow(const struct vigil_flow_key *k, struct vigil_flow *f)
{
	return bpf_map_lookup_elem(F.flows, k, f) == 0;
}

bool get_rev(const struct vigil_flow_key *k, struct vigil_rev_flow *r)
{
	return bpf_map_lookup_elem(F.rev, k, r) == 0;
}

bool get_pending(__u32 backend_id, struct vigil_pending_requests *out)
{
	return bpf_map_lookup_elem(F.pending, &backend_id, out) == 0;
}

/* ---- running ------------------------------------------------------------------- */

/* One BPF_PROG_TEST_RUN of prog on in; ctx (ctx_size bytes) may be NULL. */
void run_prog(int prog, const void *ctx, size_t ctx_size, const void *in, size_t len,
	      struct run *r, int repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = repeat,
		    .ctx_in = ctx, .ctx_size_in = (__u32)ctx_size);

	memset(r->out, 0, sizeof(r->out));
	r->err = bpf_prog_test_run_opts(prog, &o) ? -errno : 0;
	r->retval = o.retval;
	r->out_len = o.data_size_out;
	r->duration = o.duration;
}

void run_pkt(const void *in, size_t len, struct run *r, int repeat)
{
	run_prog(F.prog, NULL, 0, in, len, r, repeat);
}

/* One run with the ingress device set: XDP through xdp_md, tc through
 * __sk_buff (ifindex and ingress_ifindex), so FIB lookups start there. */
void run_on(int prog, bool tc, __u32 ifindex, const void *in, size_t len, struct run *r)
{
	struct xdp_md xctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex, .ingress_ifindex = ifindex };

	if (tc)
		run_prog(prog, &sctx, sizeof(sctx), in, len, r, 1);
	else
		run_prog(prog, &xctx, sizeof(xctx), in, len, r, 1);
}

/* in -> verdict, output identical to the input. */
bool expect_unchanged(const uint8_t *in, size_t len, __u32 verdict)
{
	struct run r;

	run_pkt(in, len, &r, 1);
	return ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, verdict) && ASSERT_EQ(r.out_len, len) &&
	       ASSERT_MEM(r.out, in, len);
}

/* s with its destination (to_dst) or source replaced by to. */
struct spec spec_rewritten(const struct spec *s, const struct vigil_endpoint *to,
			   bool to_dst)
{
	struct spec e = *s;

	if (to_dst) {
		memcpy(e.dst, s->v6 ? to->addr : &to->addr[12], s->v6 ? 16 : 4);
		e.dport = to->port;
	} else {
		memcpy(e.src, s->v6 ? to->addr : &to->addr[12], s->v6 ? 16 : 4);
		e.sport = to->port;
	}
	return e;
}

/* s -> XDP_PASS with the output equal to s rebuilt with the given endpoints
 * (dst when to_dst else src): every other byte unchanged, checksums from
 * scratch valid. The byte comparison includes the checksum fields: an
 * incremental update (RFC 1624 eqn. 3) and a full recomputation agree except
 * for the +0/-0 ambiguity, which csums_ok() would accept and these packets do
 * not hit. */
bool expect_rewrite(const struct spec *s, const struct vigil_endpoint *to, bool to_dst)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct spec e = spec_rewritten(s, to, to_dst);
	size_t len = build(s, in), wlen;
	struct run r;

	wlen = build(&e, want);
	run_pkt(in, len, &r, 1);
	return ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, XDP_PASS) && ASSERT_EQ(r.out_len, wlen) &&
	       csums_ok(r.out, r.out_len) && ASSERT_MEM(r.out, want, wlen);
}

bool send_spec(const struct spec *s, __u32 verdict, struct run *r)
{
	uint8_t in[PKT_MAX];
	size_t len = build(s, in);

	run_pkt(in, len, r, 1);
	return ASSERT_EQ(r->err, 0) && ASSERT_EQ(r->retval, verdict);
}

/* ---- common scenario ------------------------------------------------------------ */

struct vigil_endpoint VIP, B1, B2, CL, VIP6, B6, CL6;

void addresses(void)
{
	VIP = ep4("10.0.0.100", 80);
	B1 = ep4("10.1.0.1", 8080);
	B2 = ep4("10.1.0.2", 8081);
	CL = ep4("192.168.1.10", 40000);
	VIP6 = ep6("fd00::100", 443);
	B6 = ep6("fd00:1::1", 8443);
	CL6 = ep6("fd00:2::10", 50000);
}

/* VIP -> table of 7 slots all backend 1; backend 2 configured too. */
bool std_setup(void)
{
	const __u32 one = 1;

	return add_backend(1, &B1, VIGIL_XB_SELECTABLE) && add_backend(2, &B2, VIGIL_XB_SELECTABLE) &&
	       install_table(SID, 7, &one, 1) && add_service(&VIP, SID, 7);
}

struct vigil_endpoint client_port(const struct vigil_endpoint *c, uint16_t port)
{
	struct vigil_endpoint e = *c;

	e.port = port;
	return e;
}

void clear_map(int fd)
{
	uint8_t k[64];

	while (bpf_map_get_next_key(fd, NULL, k) == 0)
		if (bpf_map_delete_elem(fd, k))
			break;
}

/* ---- forwarding (FIB lookup, MAC rewrite, TX/redirect) and the tc entry ----------- */

const uint8_t VA_MAC[6] = { 2, 0, 0, 0, 0, 0xa1 };
const uint8_t B1_MAC[6] = { 2, 0, 0, 0, 0, 0xb1 };
const uint8_t B6_MAC[6] = { 2, 0, 0, 0, 0, 0xb6 };
__u32 IF_VA, IF_VB;

int fwd_env(void)
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

	/* FIB lookups must see only what this program sets up. */
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

bool allow_redirect_to(__u32 ifindex)
{
	return ASSERT_EQ(bpf_map_update_elem(F.tx_ports, &ifindex, &ifindex, BPF_ANY), 0);
}

/* s through the XDP or tc entry on an ingress device: the verdict, and the
 * output equal to s rebuilt with the new endpoint and, when the program sent
 * it, the MACs of the hop and one hop less; checksums valid from scratch. */
bool expect_fwd(const struct spec *s, const struct vigil_endpoint *to, bool to_dst,
		const struct fwd_case *c)
{
	uint8_t in[PKT_MAX], want[PKT_MAX], macs[12];
	struct spec e = spec_rewritten(s, to, to_dst);
	size_t len = build(s, in), wlen;
	struct run r;

	if (c->next_hop_mac) {
		memcpy(macs, c->next_hop_mac, 6);
		memcpy(macs + 6, VA_MAC, 6);
		e.macs = macs;
	}
	if (c->hop_used)
		e.ttl = (s->ttl ? s->ttl : 64) - 1;
	wlen = build(&e, want);
	run_on(c->tc ? F.tc_prog : F.prog, c->tc, c->ingress, in, len, &r);
	return ASSERT_EQ(r.err, 0) && ASSERT_EQ(r.retval, c->verdict) &&
	       ASSERT_EQ(r.out_len, wlen) && csums_ok(r.out, r.out_len) &&
	       ASSERT_MEM(r.out, want, wlen);
}

int xdp_test_init(void)
{
	addresses();
	return fwd_env();
}
