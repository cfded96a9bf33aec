/* SPDX-License-Identifier: MIT */
/* user/lib/pending.c: stuck and stalled counts from sampled counters. */
#include <string.h>

#include "pending.h"
#include "suites.h"

#define MS 1000000ull

static const struct vigil_pending_limits LIM = { 50 * MS, 300 * MS, 500 * MS };

/* The backend's counters as the monitor keeps them. */
static struct vigil_backend_stats ctr;

static void open_connects(unsigned n) { ctr.connects_opened += n; }
static void close_connects(unsigned n) { ctr.connects_closed += n; }
static void open_requests(unsigned n) { ctr.requests_opened += n; }
static void close_requests(unsigned n) { ctr.requests_closed += n; }
static void retransmit(unsigned n) { ctr.requests_retrans += n; }

/* vigild's ticks: a sample every 10 ms from *t up to end. */
static void tick_until(struct vigil_pending *p, __u64 *t, __u64 end)
{
	for (; *t <= end; *t += 10 * MS)
		vigil_pending_sample(p, *t, &ctr);
}

static struct vigil_pending P;

static struct vigil_pending_stuck stuck_with(const struct vigil_pending_limits *lim,
					     const struct vigil_det_stall *stalls, size_t n)
{
	struct vigil_pending_stuck s;

	vigil_pending_stuck(&P, lim, stalls, n, &s);
	return s;
}

/* Connects, retransmitted requests and stalled requests counted now. */
#define ASSERT_STUCK(c, r, st)                                              \
	do {                                                                \
		struct vigil_pending_stuck _s = stuck_with(&LIM, NULL, 0);  \
		ck_assert_uint_eq(_s.connects, (c));                        \
		ck_assert_uint_eq(_s.requests, (r));                        \
		ck_assert_uint_eq(_s.stalled, (st));                        \
	} while (0)

/* Sampled up to ms milliseconds (from the test's t), then counted. */
#define STUCK_AT(ms, c, r, st)                \
	do {                                  \
		tick_until(&P, &t, (ms) * MS); \
		ASSERT_STUCK(c, r, st);        \
	} while (0)

static void setup(void)
{
	memset(&ctr, 0, sizeof(ctr));
	vigil_pending_init(&P);
}

START_TEST(empty_history)
{
	ASSERT_STUCK(0, 0, 0);
	ck_assert_uint_eq(stuck_with(&LIM, NULL, 0).oldest_us, 0);
}
END_TEST

/* A black hole: 3 connects and 2 requests open from t = 100 ms, nothing
 * answers, nothing new opens, the requests' data is retransmitted. Stuck
 * once a sample after they opened is a limit old, not before; the oldest
 * wait is at least the limit. */
START_TEST(black_hole)
{
	__u64 t = 0;

	open_connects(40);
	close_connects(40);
	open_requests(900);
	close_requests(900);
	tick_until(&P, &t, 95 * MS);
	open_connects(3);
	open_requests(2);
	STUCK_AT(140, 0, 0, 0);
	STUCK_AT(150, 3, 0, 0);
	retransmit(2);
	STUCK_AT(400, 3, 2, 0);
	ck_assert_uint_ge(stuck_with(&LIM, NULL, 0).oldest_us, 300000);
	ck_assert_uint_le(stuck_with(&LIM, NULL, 0).oldest_us, 310000);
}
END_TEST

/* A stopped process: its kernel acknowledges the requests (nothing is
 * retransmitted), nothing answers them: stalled past the stall limit, never
 * stuck. */
START_TEST(stopped_process)
{
	__u64 t = 0;

	tick_until(&P, &t, 0);
	open_requests(4);
	STUCK_AT(500, 0, 0, 0);
	STUCK_AT(510, 0, 0, 4);
	/* one of them retransmitted after all: 3 stalled, and 1 stuck */
	retransmit(1);
	STUCK_AT(520, 0, 1, 3);
}
END_TEST

/* A backend that answers: connects and requests come and go, a few open at
 * any sample; none is counted. */
START_TEST(answering_backend)
{
	__u64 t = 0;

	for (int i = 0; i < 200; i++) {
		open_connects(5);
		open_requests(50);
		close_connects(i ? 5 : 3);
		close_requests(i ? 50 : 46);
		tick_until(&P, &t, t);
	}
	ASSERT_STUCK(0, 0, 0);
	ck_assert_uint_eq(stuck_with(&LIM, NULL, 0).oldest_us, 0);
}
END_TEST

/* A lower bound: when newer ones come and go, an old one left open may go
 * uncounted, but nothing is counted that is not open. */
START_TEST(lower_bound)
{
	__u64 t = 0;

	tick_until(&P, &t, 0);
	open_requests(1); /* never answered */
	STUCK_AT(600, 0, 0, 1);
	open_requests(1);
	close_requests(1); /* a later one answered: the counters cannot tell which */
	tick_until(&P, &t, 620 * MS);
	ck_assert_uint_le(stuck_with(&LIM, NULL, 0).stalled, 1);
	STUCK_AT(1200, 0, 0, 1);
}
END_TEST

/* After a vigild restart the history starts empty: what was open before it
 * counts from the first sample, like a wait that began then. */
START_TEST(restart_counts_from_start)
{
	__u64 t = 5000 * MS;

	open_requests(1000);
	close_requests(996); /* 4 waiting when vigild starts */
	STUCK_AT(5490, 0, 0, 0);
	STUCK_AT(5500, 0, 0, 4);
}
END_TEST

/* Restart reconciliation: 6 requests counted open, 2 of them on sockets a
 * census found alive, 1 opened during the census (it may be among the
 * live): 3 are dead for sure, and only the rest can be stuck. */
START_TEST(dead_offset)
{
	struct vigil_pending_open live = { 0, 2, 0 }, dead;
	struct vigil_backend_stats before;
	__u64 t = 0;

	open_requests(100);
	close_requests(94);
	before = ctr;
	open_requests(1);
	dead = vigil_pending_dead(&before, &ctr, &live);
	ck_assert_uint_eq(dead.requests, 3);
	ck_assert_uint_eq(dead.connects, 0);
	vigil_pending_set_dead(&P, &dead);
	STUCK_AT(600, 0, 0, 4);
	/* nothing alive was counted dead: a census finding all alive drops none */
	live.requests = 6;
	ck_assert_uint_eq(vigil_pending_dead(&before, &before, &live).requests, 0);
}
END_TEST

/* Time nobody ran is nobody's evidence: a 1 s stall right after the
 * requests opened leaves them 20 ms of waiting, not 1020. */
START_TEST(stalls_not_counted)
{
	struct vigil_det_stall stall = { 20 * MS, 1020 * MS };
	__u64 t = 0;

	tick_until(&P, &t, 0);
	open_requests(3);
	tick_until(&P, &t, 10 * MS);
	t = 1030 * MS;
	tick_until(&P, &t, 1030 * MS);
	ck_assert_uint_eq(stuck_with(&LIM, &stall, 1).stalled, 0);
	ASSERT_STUCK(0, 0, 3);
	tick_until(&P, &t, 1530 * MS);
	ck_assert_uint_eq(stuck_with(&LIM, &stall, 1).stalled, 3);
}
END_TEST

/* Limits longer than the fine ring's 0.64 s are read from the coarse one. */
START_TEST(long_limit)
{
	struct vigil_pending_limits lim = LIM;
	__u64 t = 0;

	tick_until(&P, &t, 100 * MS);
	open_requests(5);
	tick_until(&P, &t, 2500 * MS);
	lim.stall_ns = 2000 * MS;
	ck_assert_uint_eq(stuck_with(&lim, NULL, 0).stalled, 5);
	lim.stall_ns = 2500 * MS;
	ck_assert_uint_eq(stuck_with(&lim, NULL, 0).stalled, 0);
}
END_TEST

/* The stats entry was evicted and made again (counters back near 0): the
 * history starts over rather than compare counts of two entries. */
START_TEST(counters_went_back)
{
	__u64 t = 0;

	open_connects(100);
	tick_until(&P, &t, 200 * MS);
	memset(&ctr, 0, sizeof(ctr));
	open_connects(2);
	STUCK_AT(220, 0, 0, 0);
	STUCK_AT(280, 2, 0, 0);
}
END_TEST

Suite *pending_suite(void)
{
	Suite *s = suite_create("pending");
	TCase *tc = UNIT_TCASE(s, "stuck", { empty_history }, { black_hole }, { stopped_process },
			       { answering_backend }, { lower_bound }, { restart_counts_from_start },
			       { dead_offset }, { stalls_not_counted }, { long_limit },
			       { counters_went_back });

	tcase_add_checked_fixture(tc, setup, NULL);
	return s;
}
