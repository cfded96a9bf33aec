/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "suites.h"

static void fill(struct vigil_snapshot *snap, __u64 attempts, __u64 accepted)
{
	memset(snap, 0, sizeof(*snap));
	snap->backends = calloc(1, sizeof(*snap->backends));
	snap->locals = calloc(1, sizeof(*snap->locals));
	ck_assert_ptr_nonnull(snap->backends);
	ck_assert_ptr_nonnull(snap->locals);
	snap->n_backends = snap->n_locals = 1;
	snap->backends[0].ep.family = VIGIL_AF_INET;
	snap->backends[0].ep.port = 80;
	snap->backends[0].s.connect_attempts = attempts;
	snap->locals[0].port = 8080;
	snap->locals[0].s.accepted = accepted;
}

/* The copy is independent: a delta computed on it leaves the original, which
 * becomes the next interval's base, untouched. */
START_TEST(copy_then_delta)
{
	struct vigil_snapshot before, now, delta;

	fill(&before, 10, 4);
	fill(&now, 25, 9);
	ck_assert_int_eq(vigil_snapshot_copy(&delta, &now), 0);
	vigil_snapshot_delta(&delta, &before);
	ck_assert_uint_eq(delta.backends[0].s.connect_attempts, 15);
	ck_assert_uint_eq(delta.locals[0].s.accepted, 5);
	ck_assert_uint_eq(now.backends[0].s.connect_attempts, 25);
	ck_assert_uint_eq(now.locals[0].s.accepted, 9);
	vigil_snapshot_free(&delta);
	vigil_snapshot_free(&before);
	vigil_snapshot_free(&now);
}
END_TEST

/* Loss and rescue counters are deltas per interval like the rows, clamped at
 * 0 if the pin was recreated in between; fill levels are levels and stay as
 * read. */
START_TEST(loss_delta)
{
	struct vigil_snapshot before, now;

	fill(&before, 0, 0);
	fill(&now, 0, 0);
	before.loss[VIGIL_LOSS_RINGBUF_FULL] = 7;
	now.loss[VIGIL_LOSS_RINGBUF_FULL] = 19;
	before.loss[VIGIL_LOSS_INFLIGHT_FULL] = 5;
	now.loss[VIGIL_LOSS_INFLIGHT_FULL] = 2;
	before.rescue[VIGIL_RESCUE_MOVED] = 3;
	now.rescue[VIGIL_RESCUE_MOVED] = 10;
	before.rescue[VIGIL_RESCUE_RST_WITHHELD] = 4;
	now.rescue[VIGIL_RESCUE_RST_WITHHELD] = 1;
	now.fill[VIGIL_FILL_INFLIGHT] = (struct vigil_fill){ 100, 16384 };
	vigil_snapshot_delta(&now, &before);
	ck_assert_uint_eq(now.loss[VIGIL_LOSS_RINGBUF_FULL], 12);
	ck_assert_uint_eq(now.loss[VIGIL_LOSS_INFLIGHT_FULL], 0);
	ck_assert_uint_eq(now.rescue[VIGIL_RESCUE_MOVED], 7);
	ck_assert_uint_eq(now.rescue[VIGIL_RESCUE_RST_WITHHELD], 0);
	ck_assert_uint_eq(now.fill[VIGIL_FILL_INFLIGHT].entries, 100);
	vigil_snapshot_free(&before);
	vigil_snapshot_free(&now);
}
END_TEST

START_TEST(copy_empty)
{
	struct vigil_snapshot empty = { .inflight = 3 }, copy;

	ck_assert_int_eq(vigil_snapshot_copy(&copy, &empty), 0);
	ck_assert_uint_eq(copy.n_backends, 0);
	ck_assert_uint_eq(copy.inflight, 3);
	vigil_snapshot_free(&copy);
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");

	UNIT_TCASE(s, "snapshot", { copy_then_delta }, { loss_delta }, { copy_empty });
	return s;
}
