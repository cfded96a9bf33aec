/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "suites.h"

/* 2026-12-06 01:30:12 UTC */
#define T_2026 ((time_t)1796520612)

/* The timestamp is local time; the tests pin the zone and put it back. */
static char *saved_tz;

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void tz_setup(void)
{
	const char *tz = getenv("TZ");

	saved_tz = tz ? strdup(tz) : NULL;
}

static void tz_teardown(void)
{
	if (saved_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved_tz);
	saved_tz = NULL;
}

START_TEST(time_utc_with_millis)
{
	struct timespec ts = { .tv_sec = T_2026, .tv_nsec = 345678901 };
	char buf[VIGIL_LOG_TIME_LEN];

	set_tz("UTC");
	ck_assert_int_eq(vigil_log_format_time(buf, sizeof(buf), &ts), VIGIL_LOG_TIME_LEN - 1);
	ck_assert_str_eq(buf, "2026-12-06 01:30:12.345");
}
END_TEST

/* Milliseconds are truncated, never rounded up into the next second. */
START_TEST(time_millis_truncated_and_padded)
{
	struct timespec late = { .tv_sec = T_2026, .tv_nsec = 999999999 };
	struct timespec early = { .tv_sec = T_2026, .tv_nsec = 7000000 };
	char buf[64];

	set_tz("UTC");
	vigil_log_format_time(buf, sizeof(buf), &late);
	ck_assert_str_eq(buf, "2026-12-06 01:30:12.999");
	vigil_log_format_time(buf, sizeof(buf), &early);
	ck_assert_str_eq(buf, "2026-12-06 01:30:12.007");
}
END_TEST

/* Local time: a zone two hours east of UTC moves the clock and the date. */
START_TEST(time_is_local)
{
	struct timespec ts = { .tv_sec = T_2026 - 2 * 3600, .tv_nsec = 0 };
	char buf[VIGIL_LOG_TIME_LEN];

	set_tz("XXX-2");
	vigil_log_format_time(buf, sizeof(buf), &ts);
	ck_assert_str_eq(buf, "2026-12-06 01:30:12.000");
	set_tz("UTC");
	vigil_log_format_time(buf, sizeof(buf), &ts);
	ck_assert_str_eq(buf, "2026-12-05 23:30:12.000");
}
END_TEST

START_TEST(time_rejects_short_buffer_and_bad_input)
{
	struct timespec ts = { .tv_sec = T_2026, .tv_nsec = 0 };
	struct timespec bad = { .tv_sec = T_2026, .tv_nsec = 1000000000L };
	char buf[VIGIL_LOG_TIME_LEN];

	set_tz("UTC");
	ck_assert_int_eq(vigil_log_format_time(buf, sizeof(buf) - 1, &ts), -ENOSPC);
	ck_assert_int_eq(vigil_log_format_time(buf, sizeof(buf), &bad), -EINVAL);
	bad.tv_nsec = -1;
	ck_assert_int_eq(vigil_log_format_time(buf, sizeof(buf), &bad), -EINVAL);
}
END_TEST

START_TEST(journal_stream_matches_dev_ino)
{
	ck_assert(vigil_log_is_journal("12:345", 12, 345));
	ck_assert(!vigil_log_is_journal("12:345", 12, 346));
	ck_assert(!vigil_log_is_journal("12:345", 13, 345));
	ck_assert(!vigil_log_is_journal(NULL, 12, 345));
}
END_TEST

START_TEST(journal_stream_malformed_is_not_journal)
{
	static const char *const bad[] = { "", "12", "12:", ":345", "12:345x", " 12:345",
					   "-12:345", "12:-345", "12:345:6", "x" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!vigil_log_is_journal(bad[i], 12, 345), "'%s' accepted", bad[i]);
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = UNIT_TCASE(s, "format", { time_utc_with_millis },
			{ time_millis_truncated_and_padded }, { time_is_local },
			{ time_rejects_short_buffer_and_bad_input },
			{ journal_stream_matches_dev_ino },
			{ journal_stream_malformed_is_not_journal });
	tcase_add_checked_fixture(tc, tz_setup, tz_teardown);
	return s;
}
