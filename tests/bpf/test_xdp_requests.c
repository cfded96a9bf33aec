// SPDX-License-Identifier: MIT
/*
 * Request tracking of the XDP load balancer (bpf/xdp_requests.h), on crafted
 * packets of established flows: client data opens a request, the backend's
 * ACK acknowledges it, its data answers it (a request-latency sample), more
 * client data on the same acknowledgment number is the same request, client
 * data that does not advance the sequence number is a retransmission, a
 * backend FIN or RST ends a request without a sample, and the per-backend
 * pending_requests summary follows every boundary. IPv4 and IPv6 where the
 * paths differ (payload length), the tc entry once.
 *
 * BPF_PROG_TEST_RUN tests (fixture: xdp_helpers.h).
 *   test_xdp_requests [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "xdp_requests: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root.
 */
#define _GNU_SOURCE
#include "xdp_helpers.h"

#define CISN 1000u /* the client's initial sequence number: its data starts at CISN + 1 */
#define BISN 7000u /* the backend's */

/* One family's service: the client's address, the VIP, its only backend
 * and that backend's id. */
struct fam {
	const char *name;
	const struct vigil_endpoint *client, *vip, *backend;
	__u32 id;
};

static const struct fam FAMS[] = {
	{ "ipv4", &CL, &VIP, &B1, 1 },
	{ "ipv6", &CL6, &VIP6, &B6, 5 },
};

/* std_setup (VIP -> B1, id 1) and VIP6 -> B6 (id 5). */
static bool two_services(void)
{
	const __u32 five = 5;

	return std_setup() && add_backend(5, &B6, VIGIL_XB_SELECTABLE) &&
	       install_table(4, 7, &five, 1) && add_service(&VIP6, 4, 7);
}

static struct spec seg(const struct vigil_endpoint *src, const struct vigil_endpoint *dst,
		       uint8_t flags, uint32_t seq, uint32_t ack, size_t len)
{
	struct spec s = tcp_spec(src, dst, flags);

	s.seq = seq;
	s.ack = ack;
	s.payload = len;
	return s;
}

/* A segment of client c to the VIP, forwarded to the backend. */
static bool from_client(const struct fam *f, const struct vigil_endpoint *c, uint8_t flags,
			uint32_t seq, uint32_t ack, size_t len)
{
	struct spec s = seg(c, f->vip, flags, seq, ack, len);

	return expect_rewrite(&s, f->backend, true);
}

/* A segment of the backend to client c, sent back from the VIP. */
static bool from_backend(const struct fam *f, const struct vigil_endpoint *c, uint8_t flags,
			 uint32_t seq, uint32_t ack, size_t len)
{
	struct spec s = seg(f->backend, c, flags, seq, ack, len);

	return expect_rewrite(&s, f->vip, false);
}

static bool handshake(const struct fam *f, const struct vigil_endpoint *c)
{
	return from_client(f, c, TH_SYN, CISN, 0, 0) &&
	       from_backend(f, c, TH_SYN | TH_ACK, BISN, CISN + 1, 0) &&
	       from_client(f, c, TH_ACK, CISN + 1, BISN + 1, 0);
}

/* The request waiting on client c's flow (all zero when none). */
static struct vigil_flow_request request_of(const struct fam *f, const struct vigil_endpoint *c)
{
	struct vigil_flow_key rk = flow_key(f->backend, c);
	struct vigil_rev_flow rv;

	memset(&rv, 0, sizeof(rv));
	get_rev(&rk, &rv);
	return rv.req;
}

static struct vigil_pending_requests pending_of(const struct fam *f)
{
	struct vigil_pending_requests p;

	memset(&p, 0, sizeof(p));
	get_pending(f->id, &p);
	return p;
}

/* two_services(), then fn for each family. */
static bool each_family(bool (*fn)(const struct fam *))
{
	T(two_services());
	for (size_t i = 0; i < ARRAY_SIZE(FAMS); i++)
		T(fn(&FAMS[i]));
	return true;
}

/* A span holds requests opened after the progress time. */
static __u32 span_count(const struct vigil_pending_span *s, __u64 progress_ns)
{
	return s->first_ns > progress_ns ? s->count : 0;
}

static bool backend_stats_are(const struct fam *f, __u64 requests, __u64 retrans)
{
	struct vigil_backend_stats st;

	return ASSERT_TRUE(bstats(f->backend, &st)) && ASSERT_EQ(st.requests, requests) &&
	       ASSERT_EQ(hist_total(st.request_lat_us), requests) &&
	       ASSERT_EQ(st.data_retrans, retrans);
}

/* Request, ACK, answer in several packets, next request. */
static bool answered(const struct fam *f)
{
	const struct vigil_endpoint *c = f->client;
	struct vigil_flow_request rq;
	struct vigil_pending_requests pr;
	struct vigil_backend_stats st;

	printf("  %s\n", f->name);
	T(handshake(f, c));
	T(ASSERT_EQ(request_of(f, c).start_ns, 0)); /* the handshake opens nothing */
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 100));
	rq = request_of(f, c);
	T(ASSERT_GT(rq.start_ns, 0) && ASSERT_EQ(rq.seq, CISN + 101) && ASSERT_EQ(rq.acked, 0));
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unacked, pr.acked_ns), 1));
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 1));
	T(ASSERT_EQ(pr.unacked.first_ns, rq.start_ns) && ASSERT_EQ(pr.unanswered.last_ns, rq.start_ns));
	usleep(2000); /* a latency sample in a bucket above 0 */
	/* the backend's ACK: acknowledged, not answered */
	T(from_backend(f, c, TH_ACK, BISN + 1, CISN + 101, 0));
	T(ASSERT_EQ(request_of(f, c).acked, 1) && ASSERT_EQ(request_of(f, c).start_ns, rq.start_ns));
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unacked, pr.acked_ns), 0) && ASSERT_GT(pr.acked_ns, 0));
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 1));
	/* the answer, in two segments: one sample */
	T(from_backend(f, c, TH_ACK | TH_PSH, BISN + 1, CISN + 101, 300));
	T(ASSERT_EQ(request_of(f, c).start_ns, 0));
	T(from_backend(f, c, TH_ACK | TH_PSH, BISN + 301, CISN + 101, 300));
	T(backend_stats_are(f, 1, 0));
	T(ASSERT_TRUE(bstats(f->backend, &st)) && ASSERT_EQ(st.request_lat_us[0], 0));
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 0));
	/* the client acknowledges it; then its next request opens anew */
	T(from_client(f, c, TH_ACK, CISN + 101, BISN + 601, 0));
	T(ASSERT_EQ(request_of(f, c).start_ns, 0));
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 101, BISN + 601, 50));
	rq = request_of(f, c);
	T(ASSERT_GT(rq.start_ns, pr.answered_ns) && ASSERT_EQ(rq.seq, CISN + 151));
	pr = pending_of(f);
	return ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 1) &&
	       ASSERT_EQ(pr.unanswered.first_ns, rq.start_ns);
}

BPF_TEST(request_answered)
{
	return each_family(answered);
}

/* A request sent in several segments (an upload) is one request; an ACK
 * beyond the data known at its opening moves its time on and counts as
 * progress of the backend. */
static bool continued(const struct fam *f)
{
	const struct vigil_endpoint *c = f->client;
	struct vigil_flow_request rq, later;
	struct vigil_pending_requests pr;

	printf("  %s\n", f->name);
	T(handshake(f, c));
	T(from_client(f, c, TH_ACK, CISN + 1, BISN + 1, 1000));
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 1001, BISN + 1, 1000));
	rq = request_of(f, c);
	T(ASSERT_EQ(rq.seq, CISN + 1001)); /* what the opening knew */
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 1) && ASSERT_EQ(pr.unanswered.count, 1));
	usleep(1000);
	T(from_backend(f, c, TH_ACK, BISN + 1, CISN + 2001, 0));
	later = request_of(f, c);
	T(ASSERT_EQ(later.seq, CISN + 2001) && ASSERT_EQ(later.acked, 1));
	T(ASSERT_GT(later.start_ns, rq.start_ns));
	pr = pending_of(f);
	T(ASSERT_EQ(pr.answered_ns, later.start_ns) && ASSERT_EQ(pr.acked_ns, later.start_ns));
	T(from_backend(f, c, TH_ACK | TH_PSH, BISN + 1, CISN + 2001, 10));
	return backend_stats_are(f, 1, 0);
}

BPF_TEST(request_continued)
{
	return each_family(continued);
}

/* The same data again is a retransmission, counted once per segment and
 * opening nothing; data overlapping with new bytes, or no data, is not. */
static bool retransmitted(const struct fam *f)
{
	const struct vigil_endpoint *c = f->client;
	struct vigil_flow_request rq;
	struct vigil_pending_requests pr;

	printf("  %s\n", f->name);
	T(handshake(f, c));
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 100));
	rq = request_of(f, c);
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 100));
	T(backend_stats_are(f, 0, 1));
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 60)); /* repacketized */
	T(backend_stats_are(f, 0, 2));
	T(from_client(f, c, TH_ACK | TH_PSH, CISN + 51, BISN + 1, 100)); /* 50 new bytes */
	T(from_client(f, c, TH_ACK, CISN + 1, BISN + 1, 0));               /* no data */
	T(backend_stats_are(f, 0, 2));
	T(ASSERT_EQ(request_of(f, c).start_ns, rq.start_ns));
	pr = pending_of(f);
	return ASSERT_EQ(pr.unanswered.count, 1) && ASSERT_EQ(pr.unacked.count, 1);
}

BPF_TEST(client_retransmission)
{
	return each_family(retransmitted);
}

/* Three kept-alive clients send a request each into a black hole: three
 * unacknowledged, unanswered requests in the summary, oldest first. One
 * ACK from the backend empties the unacknowledged span (the backend's TCP
 * is alive) but not the unanswered one; a later request starts the
 * unacknowledged span anew. */
BPF_TEST(black_hole_summary)
{
	const struct fam *f = &FAMS[0];
	struct vigil_endpoint c[4];
	struct vigil_pending_requests pr;

	T(two_services());
	for (int i = 0; i < 4; i++) {
		c[i] = client_port(&CL, (uint16_t)(41000 + i));
		T(handshake(f, &c[i]));
	}
	for (int i = 0; i < 3; i++) {
		T(from_client(f, &c[i], TH_ACK | TH_PSH, CISN + 1, BISN + 1, 20));
		usleep(100);
	}
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unacked, pr.acked_ns), 3));
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 3));
	T(ASSERT_GT(pr.unacked.last_ns, pr.unacked.first_ns));
	T(ASSERT_EQ(pr.unacked.first_ns, request_of(f, &c[0]).start_ns));
	T(ASSERT_EQ(pr.unacked.last_ns, request_of(f, &c[2]).start_ns));
	/* c[1]'s request is acknowledged */
	T(from_backend(f, &c[1], TH_ACK, BISN + 1, CISN + 21, 0));
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unacked, pr.acked_ns), 0));
	T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 3));
	T(from_client(f, &c[3], TH_ACK | TH_PSH, CISN + 1, BISN + 1, 20));
	pr = pending_of(f);
	T(ASSERT_EQ(span_count(&pr.unacked, pr.acked_ns), 1));
	return ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 4);
}

/* The backend ends a waiting request with RST, FIN, or FIN with data: only
 * the last is an answer with a latency sample; each is progress. */
BPF_TEST(backend_close_ends_request)
{
	const struct fam *f = &FAMS[0];
	static const uint8_t flags[3] = { TH_RST | TH_ACK, TH_FIN | TH_ACK, TH_FIN | TH_ACK | TH_PSH };
	struct vigil_pending_requests pr;

	T(two_services());
	for (int i = 0; i < 3; i++) {
		struct vigil_endpoint c = client_port(&CL, (uint16_t)(42000 + i));

		T(handshake(f, &c));
		T(from_client(f, &c, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 20));
		T(from_backend(f, &c, flags[i], BISN + 1, CISN + 21, i == 2 ? 40 : 0));
		T(ASSERT_EQ(request_of(f, &c).start_ns, 0));
		pr = pending_of(f);
		T(ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 0));
		T(backend_stats_are(f, i == 2, 0));
	}
	return true;
}

/* A flow moved off a backend ejected on hard failure (VIGIL_XB_RESELECT)
 * opens no request on its new backend, which only answers it with a RST. */
BPF_TEST(moved_flow_untracked)
{
	const struct fam *f = &FAMS[0];
	const __u32 two = 2;
	struct vigil_flow_key rk = flow_key(&B2, &CL);
	struct vigil_rev_flow rv;
	struct vigil_pending_requests pr;
	struct spec s = seg(&CL, &VIP, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 20);

	T(two_services());
	T(handshake(f, &CL));
	T(set_flags(1, VIGIL_XB_RESELECT) && install_table(SID, 7, &two, 1));
	T(expect_rewrite(&s, &B2, true));
	T(ASSERT_EQ(counter(VIGIL_XDP_RESELECTED), 1));
	T(ASSERT_TRUE(get_rev(&rk, &rv)) && ASSERT_EQ(rv.req.start_ns, 0));
	T(ASSERT_TRUE(get_pending(2, &pr)) && ASSERT_EQ(pr.unanswered.count, 0));
	return ASSERT_EQ(pending_of(f).unanswered.count, 0);
}

/* The tc entry shares the decision: a request and its answer give a sample
 * and leave nothing pending. */
BPF_TEST(tc_entry)
{
	const struct fam *f = &FAMS[0];
	static const struct {
		bool client;
		uint8_t flags;
		uint32_t seq, ack;
		size_t len;
	} pkts[] = {
		{ true, TH_SYN, CISN, 0, 0 },
		{ false, TH_SYN | TH_ACK, BISN, CISN + 1, 0 },
		{ true, TH_ACK | TH_PSH, CISN + 1, BISN + 1, 30 },
		{ false, TH_ACK | TH_PSH, BISN + 1, CISN + 31, 30 },
	};
	struct vigil_pending_requests pr;

	T(std_setup());
	for (size_t i = 0; i < ARRAY_SIZE(pkts); i++) {
		struct spec s = pkts[i].client ? seg(&CL, &VIP, pkts[i].flags, pkts[i].seq, pkts[i].ack, pkts[i].len)
					       : seg(&B1, &CL, pkts[i].flags, pkts[i].seq, pkts[i].ack, pkts[i].len);
		uint8_t in[PKT_MAX];
		struct run r;

		run_on(F.tc_prog, true, IF_VB, in, build(&s, in), &r);
		T(ASSERT_EQ(r.err, 0));
		T(ASSERT_TRUE(r.retval == TC_ACT_OK || r.retval == TC_ACT_REDIRECT));
	}
	T(ASSERT_EQ(counter(VIGIL_XDP_FORWARDED), 2) && ASSERT_EQ(counter(VIGIL_XDP_REVERSED), 2));
	T(backend_stats_are(f, 1, 0));
	pr = pending_of(f);
	return ASSERT_EQ(pr.unanswered.count, 1) &&
	       ASSERT_EQ(span_count(&pr.unanswered, pr.answered_ns), 0);
}

XDP_TEST_MAIN("xdp_requests")
