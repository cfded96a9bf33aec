// SPDX-License-Identifier: MIT
/*
 * xdp_bench: per-packet cost of the XDP load balancer (bpf/xdp_lb.bpf.c)
 * through BPF_PROG_TEST_RUN, Maglev table build / swap times and the memory
 * of the flow maps. Figures, not assertions: `make bench` runs it.
 *
 *   xdp_bench        root; runs in its own network namespace (unshare, the
 *                    fixture of tests/bpf/xdp_helpers.h), so run it under
 *                    flock /tmp/vigil-net.lock
 *
 * Output: lines starting with xdp_bench, xdp_mem, maglev_bench.
 * Exit 0, 1 when a run did not do what it measures, 77 when not root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../bpf/xdp_helpers.h"
#include "maglev.h"

/* ---- bench ------------------------------------------------------------------------- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned long long fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Kernel hash-map element: struct htab_elem header (48 bytes on 64-bit, LRU
 * node included) + key and value each rounded up to 8. */
static size_t htab_elem(size_t key, size_t value)
{
	return 48 + (key + 7) / 8 * 8 + (value + 7) / 8 * 8;
}

#define BENCH_REPEAT 1000000
#define BENCH_ROUNDS 5
#define BENCH_NEW 200000

/* Median over rounds of the kernel's average ns per run at repeat=BENCH_REPEAT:
 * a VM's occasional long stall (vCPU preemption) skews single rounds. */
static double repeat_median(const uint8_t *in, size_t len, struct run *r)
{
	double v[BENCH_ROUNDS];
	int err = 0;

	for (int i = 0; i < BENCH_ROUNDS; i++) {
		run_pkt(in, len, r, BENCH_REPEAT);
		err = err ? err : r->err;
		v[i] = r->duration;
	}
	r->err = err;
	return median(v, BENCH_ROUNDS);
}

struct dist {
	double mean, trimmed, median, p99, max;
};

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/* Sorts d. trimmed: mean of the values below the 99th percentile. */
static void summarize(__u32 *d, int n, struct dist *out)
{
	int p99 = n * 99 / 100;
	double sum = 0, tsum = 0;

	qsort(d, (size_t)n, sizeof(*d), cmp_u32);
	for (int i = 0; i < n; i++) {
		sum += d[i];
		if (i < p99)
			tsum += d[i];
	}
	out->mean = sum / n;
	out->trimmed = tsum / p99;
	out->median = n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2.0;
	out->p99 = d[p99];
	out->max = d[n - 1];
}

/* Tracked flow at repeat=BENCH_REPEAT. BPF_PROG_TEST_RUN re-runs the program
 * on the same buffer without restoring it, so after the first rewrite the
 * packet would no longer be addressed to the VIP. Backend 1 is therefore the
 * VIP itself: every iteration does the full work (service lookup, conntrack
 * hit, backend lookup, address/port rewrite with checksum updates, and in
 * redirect mode the FIB lookup: bench() routes the VIP's subnet on va without
 * a neighbour entry, so the lookup does its whole work (route and neighbour)
 * and answers NO_NEIGH, which leaves MACs and TTL alone) and leaves the
 * packet as it was. Checked with the FORWARDED counter. Returns ns per packet,
 * or -1. */
static double bench_tracked_identity(void)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	const __u32 one = 1;
	uint8_t in[PKT_MAX];
	double ns;
	struct run r;
	size_t len;
	__u64 c0;

	if (!add_backend(1, &VIP, VIGIL_XB_SELECTABLE) || !install_table(SID, 7, &one, 1) ||
	    !add_service(&VIP, SID, 7))
		return -1;
	len = build(&s, in);
	run_pkt(in, len, &r, 1);
	s.flags = TH_ACK;
	len = build(&s, in);
	c0 = counter(VIGIL_XDP_FORWARDED);
	ns = repeat_median(in, len, &r);
	if (r.err || r.retval != XDP_PASS ||
	    counter(VIGIL_XDP_FORWARDED) - c0 != (__u64)BENCH_ROUNDS * BENCH_REPEAT) {
		fprintf(stderr, "bench: tracked-flow run did not forward every iteration (err %d)\n",
			r.err);
		return -1;
	}
	return ns;
}

/* Tracked flow sent by the program itself: FIB hit, MAC rewrite, TTL,
 * XDP_REDIRECT. The rewrite changes the packet (TTL), so repeats would not be
 * alike: one call each (repeat=1), kernel duration per call. */
static int bench_tracked_direct(__u32 *dur, int n, struct dist *out)
{
	struct spec s = tcp_spec(&CL, &VIP, TH_SYN);
	const __u32 three = 3;
	uint8_t in[PKT_MAX];
	struct run r;
	size_t len;

	if (!add_backend(3, &B1, VIGIL_XB_SELECTABLE) || !install_table(SID, 7, &three, 1) ||
	    !allow_redirect_to(IF_VA))
		return -1;
	s.sport = 30000;
	len = build(&s, in);
	run_on(F.prog, false, IF_VB, in, len, &r);
	s.flags = TH_ACK;
	len = build(&s, in);
	for (int i = 0; i < n; i++) {
		run_on(F.prog, false, IF_VB, in, len, &r);
		if (r.err || r.retval != XDP_REDIRECT) {
			fprintf(stderr, "bench: direct tracked flow: verdict %u (err %d)\n", r.retval,
				r.err);
			return -1;
		}
		dur[i] = r.duration;
	}
	summarize(dur, n, out);
	return 0;
}

/* One call of the XDP entry on IF_VB that must be sent by the program; its
 * kernel duration, or -1. */
static double direct_call(const struct spec *s, const char *what)
{
	uint8_t in[PKT_MAX];
	struct run r;

	run_on(F.prog, false, IF_VB, in, build(s, in), &r);
	if (r.err || r.retval != XDP_REDIRECT) {
		fprintf(stderr, "bench: %s: verdict %u (err %d)\n", what, r.retval, r.err);
		return -1;
	}
	return r.duration;
}

/* Tracked flow CL:30001 -> VIP -> B1 (set up by bench_tracked_direct), both
 * directions sent by the program, packets carrying data (request tracking,
 * bpf/xdp_requests.h): data[] client segments that continue one request
 * (sequence numbers advancing, one acknowledgment number); open[] client
 * segments that acknowledge new backend data, each opening a request, and
 * answer[] the backend's data segment answering it. n calls each. */
static int bench_requests(__u32 *data, __u32 *open, __u32 *answer, int n)
{
	struct vigil_endpoint c = client_port(&CL, 30001);
	struct spec s = tcp_spec(&c, &VIP, TH_SYN), b = tcp_spec(&B1, &c, TH_SYN | TH_ACK);
	__u32 cseq = 1001, bseq = 5001;
	double d;

	s.seq = 1000;
	b.seq = 5000;
	b.ack = cseq;
	if (direct_call(&s, "request flow SYN") < 0 || direct_call(&b, "request flow SYN-ACK") < 0)
		return -1;
	s.flags = b.flags = TH_ACK | TH_PSH;
	s.payload = b.payload = 100;
	s.ack = bseq;
	for (int i = 0; i < n; i++, cseq += 100) {
		s.seq = cseq;
		if ((d = direct_call(&s, "continued request")) < 0)
			return -1;
		data[i] = (__u32)d;
	}
	for (int i = 0; i < n; i++, cseq += 100, bseq += 100) {
		s.seq = cseq;
		s.ack = bseq;
		b.seq = bseq;
		b.ack = cseq + 100;
		if ((d = direct_call(&s, "request")) < 0)
			return -1;
		open[i] = (__u32)d;
		if ((d = direct_call(&b, "answer")) < 0)
			return -1;
		answer[i] = (__u32)d;
	}
	return 0;
}

/* What vigild does on a backend-set change with its double-buffered tables
 * (vigil_pkt_dp_publish): build the Maglev table of n backends straight into
 * a table buffer that is already installed and mapped, switch the VIP to it
 * with one hash update. Median of 51 in us, or -1. */
static double bench_rebuild_switch(const struct vigil_maglev_backend *bk, size_t n)
{
	const __u32 size = VIGIL_MAGLEV_DEFAULT_SIZE, slot = SID + 2;
	int fd = new_table(size);
	__u64 *mem = MAP_FAILED;
	double t[51];

	if (fd >= 0 && F.n_inner < 8) {
		F.inner[F.n_inner++] = fd; /* closed by teardown() */
		mem = mmap(NULL, table_bytes(size), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_POPULATE, fd, 0);
	}
	if (mem == MAP_FAILED || bpf_map_update_elem(F.tables, &slot, &fd, BPF_ANY))
		return -1;
	for (int i = 0; i < 51; i++) {
		struct vigil_xdp_service svc = { .service_id = slot, .table_size = size,
						 .version = (__u64)i + 1 };
		double t0 = now_ns();

		if (vigil_maglev_build_strided(bk, n, size, mem, sizeof(*mem)))
			break;
		if (bpf_map_update_elem(F.services, &VIP6, &svc, BPF_ANY))
			break;
		t[i] = now_ns() - t0;
	}
	munmap(mem, table_bytes(size));
	return median(t, 51) / 1000;
}

/* bench_requests' three distributions, or -1. */
static int bench_payload(struct dist *data, struct dist *open, struct dist *answer)
{
	__u32 *d = calloc(3 * (size_t)BENCH_NEW, sizeof(*d));
	int rc = d ? bench_requests(d, d + BENCH_NEW, d + 2 * BENCH_NEW, BENCH_NEW) : -1;

	if (!rc) {
		summarize(d, BENCH_NEW, data);
		summarize(d + BENCH_NEW, BENCH_NEW, open);
		summarize(d + 2 * BENCH_NEW, BENCH_NEW, answer);
	}
	free(d);
	return rc;
}

static int bench(void)
{
	struct vigil_endpoint other = ep4("10.0.0.101", 80);
	struct spec s;
	uint8_t in[PKT_MAX];
	struct run r;
	size_t len;
	double tracked, tracked_kernel, non_service, overhead;
	struct dist nf, base, direct, data = { 0 }, open = { 0 }, answer = { 0 };
	__u32 *dur = calloc(BENCH_NEW, sizeof(*dur));
	__u64 c0;
	int rc = 0;

	/* (a) tracked flow, first without and then with the FIB lookup */
	/* the VIP's subnet (below), and the clients' via B1, so that answers of
	 * the request flow are sent by the program too */
	if (system("ip route replace 10.0.0.0/24 dev va") != 0 ||
	    system("ip route replace 192.168.1.0/24 via 10.1.0.1 dev va") != 0) {
		free(dur);
		return 1;
	}
	setup_forward_mode = VIGIL_FWD_KERNEL;
	tracked_kernel = setup() ? bench_tracked_identity() : -1;
	teardown();
	setup_forward_mode = VIGIL_FWD_REDIRECT;
	if (!dur || tracked_kernel < 0 || !setup() || (tracked = bench_tracked_identity()) < 0) {
		free(dur);
		teardown();
		return 1;
	}
	/* (c) non-service traffic: unchanged by the program, so repeat is exact */
	s = tcp_spec(&CL, &other, TH_ACK);
	len = build(&s, in);
	c0 = counter(VIGIL_XDP_PASS_OTHER);
	non_service = repeat_median(in, len, &r);
	if (r.err || counter(VIGIL_XDP_PASS_OTHER) - c0 != (__u64)BENCH_ROUNDS * BENCH_REPEAT) {
		fprintf(stderr, "bench: non-service run miscounted (err %d)\n", r.err);
		rc = 1;
	}
	/* same packet, measured the way new flows must be (repeat=1 per call),
	 * to show the per-call timer overhead included in new_flow_ns */
	for (int i = 0; i < BENCH_NEW; i++) {
		run_pkt(in, len, &r, 1);
		dur[i] = r.duration;
	}
	summarize(dur, BENCH_NEW, &base);
	/* (b) new flows: a SYN with a distinct 5-tuple per call, repeat=1, the
	 * kernel-measured duration of each call. Real rewrite to backend 2. */
	if (!add_backend(2, &B2, VIGIL_XB_SELECTABLE) ||
	    !install_table(SID, 7, (const __u32[]){ 2 }, 1)) {
		free(dur);
		teardown();
		return 1;
	}
	c0 = counter(VIGIL_XDP_NEW_FLOWS);
	for (int i = 0; i < BENCH_NEW; i++) {
		struct vigil_endpoint c = CL;

		c.addr[13] = (uint8_t)(200 + i / 50000); /* 192.200-203.1.10: never CL */
		c.port = (uint16_t)(10000 + i % 50000);
		s = tcp_spec(&c, &VIP, TH_SYN);
		len = build(&s, in);
		run_pkt(in, len, &r, 1);
		if (r.err || r.retval != XDP_PASS)
			rc = 1;
		dur[i] = r.duration;
	}
	summarize(dur, BENCH_NEW, &nf);
	if (counter(VIGIL_XDP_NEW_FLOWS) - c0 != BENCH_NEW) {
		fprintf(stderr, "bench: not every new-flow run created a flow\n");
		rc = 1;
	}
	if (bench_tracked_direct(dur, BENCH_NEW, &direct))
		rc = 1;
	if (!rc && bench_payload(&data, &open, &answer))
		rc = 1;
	free(dur);
	/* The per-call figures carry the timer overhead of a repeat=1 run: the
	 * per-call floor minus the same packet's repeat average. */
	overhead = base.median - non_service;
	printf("xdp_bench tracked_flow_ns=%.0f new_flow_ns=%.0f non_service_ns=%.0f\n",
	       direct.median - overhead, nf.trimmed, non_service);
	printf("xdp_bench tracked_flow_kernel_ns=%.0f tracked_flow_fib_lookup_ns=%.0f\n",
	       tracked_kernel, tracked);
	printf("xdp_bench tracked_data_ns=%.0f request_open_ns=%.0f request_answer_ns=%.0f\n",
	       data.median - overhead, open.median - overhead, answer.median - overhead);
	printf("xdp_bench_method tracked_flow: sent by the program (cached next hop, MAC rewrite, "
	       "TTL, XDP_REDIRECT), %d calls at repeat=1: median %.0f ns minus the per-call timer "
	       "overhead %.0f ns (per-call floor %.0f minus non_service_ns)\n",
	       BENCH_NEW, direct.median, overhead, base.median);
	printf("xdp_bench_method tracked_data, request_open, request_answer: as tracked_flow, "
	       "segments with 100 bytes of data (%d calls each): client data continuing one "
	       "request; client data opening a request (it acknowledges new backend data); the "
	       "backend's data answering it\n", BENCH_NEW);
	printf("xdp_bench_method tracked_flow_kernel: xdp.forward: kernel (rewrite, XDP_PASS, no "
	       "FIB lookup); tracked_flow_fib_lookup: a FIB lookup on every packet (route found, no "
	       "neighbour: what a packet pays when its flow's next-hop cache is empty or stale)\n");
	printf("xdp_bench_method tracked_flow_kernel, tracked_flow_fib_lookup, non_service: BPF_PROG_TEST_RUN repeat=%d, kernel "
	       "average per run, median of %d rounds\n", BENCH_REPEAT, BENCH_ROUNDS);
	printf("xdp_bench_method new_flow: %d SYNs with distinct 5-tuples, one call each "
	       "(repeat=1), kernel duration per call: mean below p99 %.0f, median %.0f, p99 %.0f, "
	       "raw mean %.0f, max %.0f ns\n",
	       BENCH_NEW, nf.trimmed, nf.median, nf.p99, nf.mean, nf.max);
	printf("xdp_bench_method repeat=1 per-call floor (non-service packet, same method): "
	       "mean below p99 %.0f, median %.0f ns: included in new_flow_ns\n",
	       base.trimmed, base.median);
	printf("xdp_bench_note tracked_flow_kernel, tracked_flow_fib_lookup: backend = VIP (identity rewrite, full work each run: "
	       "test_run does not restore the packet between repeats); new flows fill "
	       "xdp_flows/xdp_rev_flows (%d of %d entries) and inflight (LRU, %d: evicts after "
	       "that); cpus=%d\n",
	       BENCH_NEW, VIGIL_MAX_FLOWS, VIGIL_MAX_INFLIGHT, F.ncpus);

	/* Maglev build: 65537 slots x 100 backends */
	{
		struct vigil_maglev_backend bk[100];
		__u32 *table = calloc(VIGIL_MAGLEV_DEFAULT_SIZE, sizeof(__u32));
		double t[21] = { 0 }, tp[21] = { 0 };
		char buf[32];

		for (int i = 0; i < 100; i++) {
			snprintf(buf, sizeof(buf), "10.2.%d.%d", i / 250, 1 + i % 250);
			bk[i] = (struct vigil_maglev_backend){ .ep = ep4(buf, 8080), .weight = 1,
							       .id = (__u32)i + 1 };
		}
		/* Alternating with builds that use no SIMD (the AVX2 gathers'
		 * share of the gain; portable_build_us is what a CPU without
		 * AVX2 gets). */
		for (int i = 0; i < 21 && table; i++) {
			double t0 = now_ns();

			if (vigil_maglev_build(bk, 100, VIGIL_MAGLEV_DEFAULT_SIZE, table)) {
				rc = 1;
				break;
			}
			t[i] = now_ns() - t0;
			vigil_maglev_allow_simd(false);
			t0 = now_ns();
			if (vigil_maglev_build(bk, 100, VIGIL_MAGLEV_DEFAULT_SIZE, table))
				rc = 1;
			tp[i] = now_ns() - t0;
			vigil_maglev_allow_simd(true);
		}
		printf("maglev_bench build_us=%.0f portable_build_us=%.0f slots=%u backends=100 "
		       "(median of 21, alternating)\n",
		       median(t, 21) / 1000, median(tp, 21) / 1000, VIGIL_MAGLEV_DEFAULT_SIZE);
		printf("maglev_bench rebuild_switch_us backends=3: %.0f, backends=100: %.0f (build "
		       "into the idle mapped buffer, one xdp_services update; median of 51)\n",
		       bench_rebuild_switch(bk, 3), bench_rebuild_switch(bk, 100));

		/* table swap: create + mmap fill + outer-map update (+ close
		 * of the replaced table), median of 50 */
		{
			double tc[50] = { 0 }, tf[50] = { 0 }, tu[50] = { 0 }, tx[50] = { 0 };
			double tt[50] = { 0 };
			size_t bytes = table_bytes(VIGIL_MAGLEV_DEFAULT_SIZE);
			int old = -1;

			for (int i = 0; i < 50 && table; i++) {
				double t0 = now_ns(), t1, t2, t3, t4;
				int fd = new_table(VIGIL_MAGLEV_DEFAULT_SIZE);
				void *m;

				t1 = now_ns();
				m = fd < 0 ? MAP_FAILED
					   : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (m == MAP_FAILED) {
					rc = 1;
					break;
				}
				/* not one memcpy: slots are 8 bytes apart */
				for (__u32 j = 0; j < VIGIL_MAGLEV_DEFAULT_SIZE; j++)
					((__u64 *)m)[j] = table[j];
				munmap(m, bytes);
				t2 = now_ns();
				if (bpf_map_update_elem(F.tables, &(__u32){ SID }, &fd, BPF_ANY))
					rc = 1;
				t3 = now_ns();
				if (old >= 0)
					close(old);
				old = fd;
				t4 = now_ns();
				tc[i] = t1 - t0;
				tf[i] = t2 - t1;
				tu[i] = t3 - t2;
				tx[i] = t4 - t3;
				tt[i] = t4 - t0;
			}
			if (old >= 0 && F.n_inner < 8)
				F.inner[F.n_inner++] = old; /* closed by teardown() */
			printf("maglev_bench swap_us=%.0f create_us=%.0f fill_us=%.0f update_us=%.0f "
			       "close_old_us=%.0f (median of 50, %u slots; update_us is the outer-map "
			       "update syscall, which waits for an RCU grace period)\n",
			       median(tt, 50) / 1000, median(tc, 50) / 1000, median(tf, 50) / 1000,
			       median(tu, 50) / 1000, median(tx, 50) / 1000, VIGIL_MAGLEV_DEFAULT_SIZE);
			printf("xdp_mem table_bytes=%zu (%u slots x 8-byte array stride, page-rounded) "
			       "table_memlock=%llu\n",
			       bytes, VIGIL_MAGLEV_DEFAULT_SIZE, old >= 0 ? fd_memlock(old) : 0ull);
		}
		free(table);
	}
	printf("xdp_mem per_flow_payload_bytes=%zu (xdp_flows %zu+%zu, xdp_rev_flows %zu+%zu) "
	       "per_flow_kernel_bytes~%zu; inflight per pending SYN %zu+%zu (~%zu)\n",
	       sizeof(struct vigil_flow_key) * 2 + sizeof(struct vigil_flow) +
		       sizeof(struct vigil_rev_flow),
	       sizeof(struct vigil_flow_key), sizeof(struct vigil_flow),
	       sizeof(struct vigil_flow_key), sizeof(struct vigil_rev_flow),
	       htab_elem(sizeof(struct vigil_flow_key), sizeof(struct vigil_flow)) +
		       htab_elem(sizeof(struct vigil_flow_key), sizeof(struct vigil_rev_flow)),
	       sizeof(__u64), sizeof(struct vigil_pkt_inflight),
	       htab_elem(sizeof(__u64), sizeof(struct vigil_pkt_inflight)));
	printf("xdp_mem shared_maps_memlock xdp_flows=%llu xdp_rev_flows=%llu inflight=%llu "
	       "(LRU maps are preallocated: %d entries per direction, shared by all services)\n",
	       fd_memlock(F.flows), fd_memlock(F.rev), fd_memlock(F.inflight), VIGIL_MAX_FLOWS);
	teardown();
	return rc;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP xdp_bench: BPF_PROG_TEST_RUN needs root\n");
		return 77;
	}
	bpf_test_quiet_libbpf();
	if (xdp_test_init())
		return 1;
	return bench();
}
