/* SPDX-License-Identifier: MIT */
#include <check.h>

#include "maperr.h"
#include "suites.h"

#define SEC VIGIL_MAPERR_LOG_INTERVAL_NS

/* The first failure is logged; the ones within the next second are only
 * counted, and the next line says how many there were. */
START_TEST(first_logged_then_one_per_second)
{
	struct vigil_map_err e = { .map = "m" };
	__u64 sup = 99;

	ck_assert(vigil_map_err_note(&e, 5 * SEC, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(!vigil_map_err_note(&e, 5 * SEC + 1, &sup));
	ck_assert(!vigil_map_err_note(&e, 6 * SEC - 1, &sup));
	ck_assert(vigil_map_err_note(&e, 6 * SEC, &sup));
	ck_assert_uint_eq(sup, 2);
	ck_assert_uint_eq(e.failures, 4);
	ck_assert(vigil_map_err_note(&e, 60 * SEC, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert_uint_eq(e.failures, 5);
}
END_TEST

/* A failure at monotonic time 0 is still the first: logged. */
START_TEST(first_at_time_zero)
{
	struct vigil_map_err e = { .map = "m" };
	__u64 sup;

	ck_assert(vigil_map_err_note(&e, 0, &sup));
	ck_assert(!vigil_map_err_note(&e, 0, &sup));
	ck_assert_uint_eq(e.unlogged, 1);
}
END_TEST

Suite *maperr_suite(void)
{
	Suite *s = suite_create("maperr");

	UNIT_TCASE(s, "ratelimit", { first_logged_then_one_per_second },
		   { first_at_time_zero });
	return s;
}
