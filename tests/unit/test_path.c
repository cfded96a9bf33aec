/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>

#include "path.h"
#include "suites.h"

START_TEST(fits_exactly)
{
	char buf[8];

	ck_assert_int_eq(vigil_path_fmt(buf, sizeof(buf), "%s/%s", "abc", "def"), 0);
	ck_assert_str_eq(buf, "abc/def");
}
END_TEST

/* One byte short: an error, and the truncated start is there to name it. */
START_TEST(truncation_detected)
{
	char buf[8];

	ck_assert_int_eq(vigil_path_fmt(buf, sizeof(buf), "%s/%s", "abc", "defg"), -ENAMETOOLONG);
	ck_assert_str_eq(buf, "abc/def");
}
END_TEST

Suite *path_suite(void)
{
	Suite *s = suite_create("path");

	UNIT_TCASE(s, "fmt", { fits_exactly }, { truncation_detected });
	return s;
}
