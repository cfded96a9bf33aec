// SPDX-License-Identifier: MIT
/*
 * xdp_ab: the new-flow and non-service cost of several builds of the XDP
 * program (bpf/xdp_lb.bpf.c), measured alternately in one process. Separate
 * runs of xdp_bench on the shared test VM differ by up to 30 %, which hides
 * a change of a few tens of ns; here every build gets its SYNs in turns of
 * 500 (the order rotating), so all see the same load.
 *
 *   xdp_ab OBJ...    root; OBJ: an xdp_lb.bpf.o (e.g. build-main/xdp_lb.bpf.o
 *                    and build/xdp_lb.bpf.o), 1 to 8 of them; the same object
 *                    twice shows the spread between two loads of one build.
 *                    XDP_AB_FLOWS: new flows per object (default 200000).
 *                    Runs in its own network namespace (the fixture of
 *                    tests/bpf/xdp_helpers.h): run it under
 *                    flock /tmp/vigil-net.lock
 *
 * Each object gets its own maps (not pinned) and xdp_bench's service: VIP
 * -> backend 2, the same SYNs as xdp_bench's new_flow (distinct 5-tuples,
 * repeat=1, the kernel's duration per call, so ~25 ns of timer included).
 * The objects must agree with this tree on struct vigil_xdp_backend and
 * struct vigil_xdp_service.
 *
 * Output: one line per object, "xdp_ab OBJ new_flow_ns=... (mean below p99)
 * median=... p25=... p75=... non_service_ns=..." (repeat average).
 * Exit 0, 1 when an object fails to load or a run does not pass the packet,
 * 77 when not root.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/xdp_helpers.h"

#define AB_MAX 8
#define AB_TURN 500
#define AB_REPEAT 200000
#define AB_ROUNDS 10

struct build {
	const char *path;
	struct bpf_object *obj;
	int prog;
	int table;
	__u32 *dur;
};

static int map_fd(struct bpf_object *obj, const char *name)
{
	return bpf_object__find_map_fd_by_name(obj, name);
}

/* xdp_bench's new-flow service: VIP -> a 7-slot table of backend 2. */
static bool configure(struct build *b)
{
	struct vigil_xdp_backend be = { .ep = B2, .flags = VIGIL_XB_SELECTABLE };
	struct vigil_xdp_service svc = { .service_id = SID, .table_size = 7, .version = 1 };
	__u32 id = 2, sid = SID;

	b->table = new_table(7);
	if (b->table < 0 || bpf_map_update_elem(map_fd(b->obj, "xdp_backends"), &id, &be, BPF_ANY))
		return false;
	for (__u32 slot = 0; slot < 7; slot++)
		if (bpf_map_update_elem(b->table, &slot, &id, BPF_ANY))
			return false;
	return !bpf_map_update_elem(map_fd(b->obj, "xdp_tables"), &sid, &b->table, BPF_ANY) &&
	       !bpf_map_update_elem(map_fd(b->obj, "xdp_services"), &VIP, &svc, BPF_ANY);
}

/* The object with maps of its own: pins would share them between builds. */
static bool load(struct build *b, int flows)
{
	struct bpf_program *prog;
	struct bpf_map *m;

	b->obj = bpf_object__open_file(b->path, NULL);
	if (!b->obj)
		return false;
	bpf_object__for_each_map(m, b->obj)
		bpf_map__set_pin_path(m, NULL);
	if (bpf_object__load(b->obj))
		return false;
	prog = bpf_object__find_program_by_name(b->obj, "vigil_xdp_lb");
	b->prog = prog ? bpf_program__fd(prog) : -1;
	b->dur = calloc((size_t)flows, sizeof(*b->dur));
	return b->prog >= 0 && b->dur && configure(b);
}

/* SYN number i of every build: xdp_bench's new-flow 5-tuples. */
static size_t syn(int i, uint8_t *in)
{
	struct vigil_endpoint c = CL;
	struct spec s;

	c.addr[13] = (uint8_t)(200 + i / 50000);
	c.port = (uint16_t)(10000 + i % 50000);
	s = tcp_spec(&c, &VIP, TH_SYN);
	return build(&s, in);
}

static bool run_turn(struct build *b, int first, int n)
{
	uint8_t in[PKT_MAX];
	struct run r;

	for (int i = first; i < first + n; i++) {
		run_prog(b->prog, NULL, 0, in, syn(i, in), &r, 1);
		if (r.err || r.retval != XDP_PASS) {
			fprintf(stderr, "xdp_ab: %s: SYN %d: verdict %u (err %d)\n", b->path, i,
				r.retval, r.err);
			return false;
		}
		b->dur[i] = r.duration;
	}
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* A packet for no service, repeat average, the builds in turn. */
static void non_service(struct build *bs, int n, double *avg)
{
	struct vigil_endpoint other = ep4("10.0.0.101", 80);
	struct spec s = tcp_spec(&CL, &other, TH_ACK);
	uint8_t in[PKT_MAX];
	size_t len = build(&s, in);
	struct run r;

	for (int round = 0; round < AB_ROUNDS; round++)
		for (int k = 0; k < n; k++) {
			run_prog(bs[k].prog, NULL, 0, in, len, &r, AB_REPEAT);
			avg[k] += (double)r.duration / AB_ROUNDS;
		}
}

static void report(struct build *b, int flows, double non_service_ns)
{
	int p99 = flows * 99 / 100;
	double sum = 0;

	qsort(b->dur, (size_t)flows, sizeof(*b->dur), cmp_u32);
	for (int i = 0; i < p99; i++)
		sum += b->dur[i];
	printf("xdp_ab %s new_flow_ns=%.0f median=%u p25=%u p75=%u non_service_ns=%.0f\n", b->path,
	       sum / p99, b->dur[flows / 2], b->dur[flows / 4], b->dur[flows * 3 / 4],
	       non_service_ns);
}

static int bench(struct build *bs, int n, int flows)
{
	double ns[AB_MAX] = { 0 };

	for (int k = 0; k < n; k++)
		if (!load(&bs[k], flows)) {
			fprintf(stderr, "xdp_ab: cannot load %s\n", bs[k].path);
			return 1;
		}
	for (int first = 0; first < flows; first += AB_TURN)
		for (int k = 0; k < n; k++) {
			struct build *b = &bs[(first / AB_TURN + k) % n];

			if (!run_turn(b, first, flows - first < AB_TURN ? flows - first : AB_TURN))
				return 1;
		}
	non_service(bs, n, ns);
	for (int k = 0; k < n; k++)
		report(&bs[k], flows, ns[k]);
	printf("xdp_ab_method new_flow: %d SYNs per object with distinct 5-tuples, repeat=1, "
	       "in turns of %d alternating between the objects, mean below p99; non_service: "
	       "repeat=%d, mean of %d rounds alternating\n", flows, AB_TURN, AB_REPEAT, AB_ROUNDS);
	return 0;
}

int main(int argc, char **argv)
{
	struct build bs[AB_MAX] = { 0 };
	const char *env = getenv("XDP_AB_FLOWS");
	int n = argc - 1, flows = env ? atoi(env) : 200000, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n < 1 || n > AB_MAX || flows < 4 || flows > 250000) {
		fprintf(stderr, "usage: xdp_ab OBJ... (1 to %d xdp_lb.bpf.o; XDP_AB_FLOWS 4 to "
			"250000)\n", AB_MAX);
		return 1;
	}
	if (geteuid() != 0) {
		printf("SKIP xdp_ab: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	bpf_test_quiet_libbpf();
	if (xdp_test_init() || system("ip route replace 10.0.0.0/24 dev va") != 0)
		return 1;
	for (int k = 0; k < n; k++)
		bs[k].path = argv[k + 1];
	rc = bench(bs, n, flows);
	for (int k = 0; k < n; k++) {
		if (bs[k].table > 0)
			close(bs[k].table);
		bpf_object__close(bs[k].obj);
		free(bs[k].dur);
	}
	return rc;
}
