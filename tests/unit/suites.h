/* SPDX-License-Identifier: MIT */
/* Check suites linked into build/unit-tests; test_main.c runs them all. */
#ifndef VIGIL_TEST_SUITES_H
#define VIGIL_TEST_SUITES_H

#include <check.h>
#include <stddef.h>

/* The number of elements of an array, as the int a loop test's end is. */
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One test of a test case: { test } or, for a loop test run with _i = 0 ..
 * loops - 1, { test, loops }. */
struct unit_test {
	const TTest *test;
	int loops;
};

/* Adds to s the test case name with the tests (struct unit_test
 * initializers, in their order); returns it, for a fixture or a timeout.
 * { test } leaves loops out on purpose: no -Wmissing-field-initializers. */
#define UNIT_TCASE(s, name, ...)                                                           \
	({                                                                                 \
		_Pragma("GCC diagnostic push")                                             \
		_Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")         \
		const struct unit_test _t[] = { __VA_ARGS__ };                             \
		_Pragma("GCC diagnostic pop")                                              \
		unit_tcase((s), (name), _t, sizeof(_t) / sizeof(_t[0]));                   \
	})

static inline TCase *unit_tcase(Suite *s, const char *name, const struct unit_test *tests,
				size_t n)
{
	TCase *tc = tcase_create(name);

	for (size_t i = 0; i < n; i++) {
		if (tests[i].loops)
			tcase_add_loop_test(tc, tests[i].test, 0, tests[i].loops);
		else
			tcase_add_test(tc, tests[i].test);
	}
	suite_add_tcase(s, tc);
	return tc;
}

Suite *addr_suite(void);
Suite *hist_suite(void);
Suite *config_suite(void);
Suite *detector_suite(void);
Suite *cluster_suite(void);
Suite *maglev_suite(void);
Suite *stats_suite(void);
Suite *reload_suite(void);
Suite *log_suite(void);
Suite *maperr_suite(void);
Suite *path_suite(void);
Suite *procstat_suite(void);
Suite *history_filter_suite(void);
Suite *metrics_suite(void);
Suite *lbfeed_suite(void);
Suite *set_slots_suite(void);
Suite *watch_ports_suite(void);
Suite *pending_suite(void);
Suite *syn_frame_suite(void);

#endif
