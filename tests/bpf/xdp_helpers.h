/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the BPF_PROG_TEST_RUN tests of the XDP load balancer
 * (bpf/xdp_lb.bpf.c), one test_xdp_*.c per feature, and of the bench tool.
 *
 * Every test loads a fresh skeleton (nothing pinned), configures services,
 * backends and Maglev tables the way vigild does, runs hand-built packets
 * through vigil_xdp_lb (or vigil_tc_lb) and checks the verdict, the exact
 * output bytes (against a packet built from scratch with the expected
 * addresses), that the IPv4 header and TCP checksums of the output verify
 * from scratch (own checksum code, independent of bpf/csum.h), and the map
 * side effects.
 *
 * A test binary is:
 *	BPF_TEST(name) { ... }   (any number of them, see helpers.h)
 *	XDP_TEST_MAIN("xdp_feature")
 * It runs in its own network namespace (see fwd_env()), so run it under
 * flock /tmp/vigil-net.lock like every test that creates namespaces.
 */
#ifndef VIGIL_TESTS_BPF_XDP_HELPERS_H
#define VIGIL_TESTS_BPF_XDP_HELPERS_H

/* What the tests use besides the fixture: errno values, system(), memcpy, usleep. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <vigil/abi.h>

#include "helpers.h"
#include "xdp_lb.skel.h"

/* ---- packets ------------------------------------------------------------------- */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

enum { EXT_NONE, EXT_HOPOPTS, EXT_FRAGMENT };

struct spec {
	bool v6;
	uint8_t src[16], dst[16]; /* IPv4: first 4 bytes */
	uint16_t sport, dport;
	uint8_t flags;
	uint8_t proto;            /* 0: TCP */
	uint16_t frag;            /* IPv4 frag_off field (flags + offset), host order */
	uint8_t ip_opts[40];
	size_t ip_opts_len;       /* multiple of 4 */
	uint8_t tcp_opts[40];
	size_t tcp_opts_len;      /* multiple of 4 */
	size_t payload;
	int v6_ext;               /* EXT_NONE, EXT_HOPOPTS or EXT_FRAGMENT */
	uint32_t seq, ack;
	uint8_t ttl;              /* TTL / hop limit, 0: 64 */
	const uint8_t *macs;      /* destination then source MAC, NULL: the defaults */
};

#define PKT_MAX 1600

/* The frame s describes, checksums correct, into p (PKT_MAX bytes); its length. */
size_t build(const struct spec *s, uint8_t *p);
/* IPv4 header and TCP checksums of an Ethernet frame verify from scratch. */
bool csums_ok(const uint8_t *pkt, size_t len);

/* ---- addresses ----------------------------------------------------------------- */

struct vigil_endpoint ep4(const char *ip, uint16_t port);
struct vigil_endpoint ep6(const char *ip, uint16_t port);
struct spec tcp_spec(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		     uint8_t flags);
/* s with its destination (to_dst) or source replaced by to. */
struct spec spec_rewritten(const struct spec *s, const struct vigil_endpoint *to, bool to_dst);
struct vigil_flow_key flow_key(const struct vigil_endpoint *src,
			       const struct vigil_endpoint *dst);
bool ep_eq(const struct vigil_endpoint *a, const struct vigil_endpoint *b);
struct vigil_endpoint client_port(const struct vigil_endpoint *c, uint16_t port);

/* ---- fixture: one loaded skeleton per test --------------------------------------- */

#define MAX_EVENTS 64

struct xdp_fixture {
	struct xdp_lb_bpf *skel;
	int prog, tc_prog, services, backends, tables, flows, rev, stats, health, bstats, inflight;
	int pending;
	int tx_ports, drops, sets;
	int inner[8];
	int n_inner;
	struct ring_buffer *rb;
	struct vigil_event ev[MAX_EVENTS];
	int n_ev;
	int ncpus;
};
extern struct xdp_fixture F;

/* xdp.forward of the next setup() (read-only data of the program). */
extern __u32 setup_forward_mode;

bool setup(void);
void teardown(void);
/* Ring-buffer events received so far (in F.ev). */
int events(void);

/* ---- configuration (what vigild writes) --------------------------------------------- */

bool add_backend(__u32 id, const struct vigil_endpoint *ep, __u32 flags);
bool set_flags(__u32 id, __u32 flags);
/* A Maglev table (inner array map) of size slots; its fd. */
int new_table(__u32 size);
/* Bytes of an mmap of a table (8-byte slot stride, page-rounded). */
size_t table_bytes(__u32 size);
bool fill_table(int fd, __u32 size, const __u32 *ids, size_t n);
bool install_table(__u32 sid, __u32 size, const __u32 *ids, size_t n);
bool add_service(const struct vigil_endpoint *vip, __u32 sid, __u32 size);
bool set_health(const struct vigil_endpoint *ep, __u32 threshold, __u32 failures, __u32 down);
/* xdp_sets[vip] as vigild writes it: eps[0, n) weight 1 with backend ids
 * ids, the first n_preferred serving, the rest the fallback tier. */
bool set_xdp_set(const struct vigil_endpoint *vip, const struct vigil_endpoint *eps,
		 const __u32 *ids, __u32 n, __u32 n_preferred);
bool allow_redirect_to(__u32 ifindex);

/* ---- readers ---------------------------------------------------------------------- */

__u64 counter(__u32 idx);
/* Packets dropped for reason (enum vigil_drop_reason), summed over CPUs. */
__u64 drop_count(__u32 reason);
bool bstats(const struct vigil_endpoint *ep, struct vigil_backend_stats *out);
__u64 hist_total(const __u64 *h);
int map_count(int fd);
void clear_map(int fd);
bool get_flow(const struct vigil_flow_key *k, struct vigil_flow *f);
bool get_rev(const struct vigil_flow_key *k, struct vigil_rev_flow *r);
bool get_pending(__u32 backend_id, struct vigil_pending_requests *out);

/* ---- running ---------------------------------------------------------------------- */

struct run {
	int err;
	__u32 retval;
	__u32 out_len;
	__u32 duration;
	uint8_t out[PKT_MAX + 256];
};

void run_prog(int prog, const void *ctx, size_t ctx_size, const void *in, size_t len,
	      struct run *r, int repeat);
/* Through the XDP entry, no context. */
void run_pkt(const void *in, size_t len, struct run *r, int repeat);
/* Through the XDP (tc false) or tc entry with the ingress device set. */
void run_on(int prog, bool tc, __u32 ifindex, const void *in, size_t len, struct run *r);
bool expect_unchanged(const uint8_t *in, size_t len, __u32 verdict);
bool expect_rewrite(const struct spec *s, const struct vigil_endpoint *to, bool to_dst);
bool send_spec(const struct spec *s, __u32 verdict, struct run *r);

/* ---- common scenario -------------------------------------------------------------- */

#define SID 3 /* not 0, so a confusion of service id and index shows */

extern struct vigil_endpoint VIP, B1, B2, CL, VIP6, B6, CL6;

void addresses(void);
/* VIP -> table of 7 slots all backend 1; backend 2 configured too. */
bool std_setup(void);

/* ---- forwarding (FIB lookup, MAC rewrite, TX/redirect) and the tc entry ------------ */

/* The test's own network namespace (fwd_env(): unshare, no name): va
 * (10.1.0.254/16, fd00:1::fe/64, MAC 02:00:00:00:00:a1) and its peer vb; B1
 * and B6 have permanent neighbour entries, B2 (10.1.0.2) none, the clients no
 * route. Every test binary runs in it, so FIB lookups see only this. */
extern const uint8_t VA_MAC[6], B1_MAC[6], B6_MAC[6];
extern __u32 IF_VA, IF_VB;

#define TC_ACT_OK 0
#define TC_ACT_REDIRECT 7

int fwd_env(void);

struct fwd_case {
	bool tc;
	__u32 ingress;
	__u32 verdict;
	const uint8_t *next_hop_mac; /* NULL: the packet was not sent by the program */
	bool hop_used;               /* TTL / hop limit decremented */
};

bool expect_fwd(const struct spec *s, const struct vigil_endpoint *to, bool to_dst,
		const struct fwd_case *c);

/* ---- runner ----------------------------------------------------------------------- */

/* addresses() and fwd_env(): the suite's init. */
int xdp_test_init(void);

/* main() of a test binary: its BPF_TESTs with this fixture. */
#define XDP_TEST_MAIN(suite_name)                                                          \
	int main(int argc, char **argv)                                                     \
	{                                                                                   \
		return bpf_test_main(&(const struct bpf_test_suite){ .name = (suite_name),  \
								     .init = xdp_test_init, \
								     .setup = setup,        \
								     .teardown = teardown }, \
				     argc, argv);                                           \
	}

#endif
