/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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

/* ---- sinks: the journal's fields, the lines a sink gets, error capture ---- */

START_TEST(journal_entry_fields)
{
	struct vigil_log_fields f = { .service = "web", .backend = "10.0.0.2:8080",
				      .rule = "fast_path", .state = "ejected" };
	struct vigil_journal_entry e;

	vigil_journal_entry_make(&e, VIGIL_LOG_WARN, &f, "service web backend ...", "vigild");
	ck_assert_int_eq(e.n, 7);
	ck_assert_str_eq(e.field[0], "MESSAGE=service web backend ...");
	ck_assert_str_eq(e.field[1], "PRIORITY=4");
	ck_assert_str_eq(e.field[2], "SYSLOG_IDENTIFIER=vigild");
	ck_assert_str_eq(e.field[3], "VIGIL_SERVICE=web");
	ck_assert_str_eq(e.field[4], "VIGIL_BACKEND=10.0.0.2:8080");
	ck_assert_str_eq(e.field[5], "VIGIL_RULE=fast_path");
	ck_assert_str_eq(e.field[6], "VIGIL_STATE=ejected");
}
END_TEST

/* Fields a line has not are left out, not written empty. */
START_TEST(journal_entry_partial)
{
	struct vigil_log_fields f = { .service = "web", .state = "backups" };
	struct vigil_journal_entry e;
	char msg[1200];

	vigil_journal_entry_make(&e, VIGIL_LOG_ERROR, NULL, "plain", "vigild");
	ck_assert_int_eq(e.n, 3);
	ck_assert_str_eq(e.field[1], "PRIORITY=3");
	vigil_journal_entry_make(&e, VIGIL_LOG_INFO, &f, "m", "vigild");
	ck_assert_int_eq(e.n, 5);
	ck_assert_str_eq(e.field[1], "PRIORITY=6");
	ck_assert_str_eq(e.field[3], "VIGIL_SERVICE=web");
	ck_assert_str_eq(e.field[4], "VIGIL_STATE=backups");
	/* the longest line vigil_log formats (1023 characters) fits whole */
	memset(msg, 'x', 1023);
	msg[1023] = '\0';
	vigil_journal_entry_make(&e, VIGIL_LOG_DEBUG, NULL, msg, "vigild");
	ck_assert_uint_eq(strlen(e.field[0]), strlen("MESSAGE=") + 1023);
	ck_assert_str_eq(e.field[1], "PRIORITY=7");
}
END_TEST

static struct {
	int calls;
	enum vigil_log_level level;
	struct vigil_log_fields f;
	bool has_fields;
	char msg[1024];
} got;

static void record(enum vigil_log_level level, const struct vigil_log_fields *f, const char *msg)
{
	got.calls++;
	got.level = level;
	got.has_fields = f != NULL;
	if (f)
		got.f = *f;
	snprintf(got.msg, sizeof(got.msg), "%s", msg);
}

static void sink_setup(void)
{
	memset(&got, 0, sizeof(got));
	vigil_log_set_sink(record);
	vigil_log_set_level(VIGIL_LOG_WARN);
}

static void sink_teardown(void)
{
	vigil_log_set_sink(NULL);
	vigil_log_capture_errors(NULL, 0);
}

START_TEST(sink_gets_lines_and_fields)
{
	struct vigil_log_fields f = { .service = "web", .backend = "[fd00::2]:80" };

	pr_warn_f(&f, "service %s: %d\nsecond line", "web", 3);
	ck_assert_int_eq(got.calls, 1);
	ck_assert_int_eq(got.level, VIGIL_LOG_WARN);
	ck_assert(got.has_fields);
	ck_assert_str_eq(got.f.service, "web");
	ck_assert_str_eq(got.f.backend, "[fd00::2]:80");
	ck_assert_str_eq(got.msg, "service web: 3"); /* one line, no level, no time */
	pr_err("no fields");
	ck_assert_int_eq(got.calls, 2);
	ck_assert(!got.has_fields);
	/* the level still filters before any sink */
	pr_info_f(&f, "not at warn");
	pr_debug("nor this");
	ck_assert_int_eq(got.calls, 2);
}
END_TEST

static void *log_an_error(void *arg)
{
	(void)arg;
	pr_err("from another thread");
	return NULL;
}

START_TEST(capture_errors)
{
	char why[64] = "untouched";
	pthread_t t;

	vigil_log_capture_errors(why, sizeof(why));
	pr_warn("a warning is no reason");
	ck_assert_str_eq(why, "untouched");
	pr_err("reload refused: %s", "x.yaml:3: bad");
	ck_assert_str_eq(why, "reload refused: x.yaml:3: bad");
	/* only this thread's errors */
	ck_assert_int_eq(pthread_create(&t, NULL, log_an_error, NULL), 0);
	pthread_join(t, NULL);
	ck_assert_str_eq(why, "reload refused: x.yaml:3: bad");
	vigil_log_capture_errors(NULL, 0);
	pr_err("after the capture");
	ck_assert_str_eq(why, "reload refused: x.yaml:3: bad");
	ck_assert_int_eq(got.calls, 4); /* the sink got them all */
}
END_TEST

START_TEST(syslog_priorities)
{
	ck_assert_int_eq(vigil_log_syslog_priority(VIGIL_LOG_ERROR), 3);
	ck_assert_int_eq(vigil_log_syslog_priority(VIGIL_LOG_WARN), 4);
	ck_assert_int_eq(vigil_log_syslog_priority(VIGIL_LOG_INFO), 6);
	ck_assert_int_eq(vigil_log_syslog_priority(VIGIL_LOG_DEBUG), 7);
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
	UNIT_TCASE(s, "journal", { journal_entry_fields }, { journal_entry_partial },
		   { syslog_priorities });
	tc = UNIT_TCASE(s, "sink", { sink_gets_lines_and_fields }, { capture_errors });
	tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
	return s;
}
