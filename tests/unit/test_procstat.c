/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>

#include "procstat.h"
#include "suites.h"

START_TEST(start_ticks)
{
	unsigned long long t = 0;

	ck_assert_int_eq(vigil_proc_start_ticks("10176 (cat) R 10127 10127 20321 0 -1 4194304 99 0 0 "
						"0 0 0 0 0 20 0 1 0 1135768 3133440 390 1844\n",
						&t), 0);
	ck_assert_uint_eq(t, 1135768);
}
END_TEST

/* A command name with spaces and a ')' of its own. */
START_TEST(odd_command_name)
{
	unsigned long long t = 0;

	ck_assert_int_eq(vigil_proc_start_ticks("7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
						"42 0 0", &t), 0);
	ck_assert_uint_eq(t, 42);
}
END_TEST

START_TEST(not_a_stat_line)
{
	unsigned long long t = 0;

	ck_assert_int_eq(vigil_proc_start_ticks("", &t), -EINVAL);
	ck_assert_int_eq(vigil_proc_start_ticks("1 (x) S 1 2 3", &t), -EINVAL);
	ck_assert_int_eq(vigil_proc_start_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x 0",
						&t), -EINVAL);
}
END_TEST

Suite *procstat_suite(void)
{
	Suite *s = suite_create("procstat");

	UNIT_TCASE(s, "start_ticks", { start_ticks }, { odd_command_name }, { not_a_stat_line });
	return s;
}
