/* SPDX-License-Identifier: MIT */
/* Single-line levelled logging to stderr; quiet (warnings and errors) by default.
 * A line is "2026-12-06 01:30:12.345 info message" (local time), or
 * "info message" when timestamps are off (the journal stamps lines itself). */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum vigil_log_level {
	VIGIL_LOG_ERROR = 0,
	VIGIL_LOG_WARN = 1,
	VIGIL_LOG_INFO = 2,
	VIGIL_LOG_DEBUG = 3,
};

/* "YYYY-MM-DD HH:MM:SS.mmm" plus the terminating NUL. */
#define VIGIL_LOG_TIME_LEN 24

void vigil_log_set_level(enum vigil_log_level level);
enum vigil_log_level vigil_log_get_level(void);
/* "error"/"warn"/"info"/"debug" -> level; returns -1 for anything else. */
int vigil_log_level_parse(const char *name);
const char *vigil_log_level_name(enum vigil_log_level level);

/* Lines carry a timestamp unless turned off (on by default). */
void vigil_log_set_timestamps(bool on);
/* Formats ts as local "YYYY-MM-DD HH:MM:SS.mmm" into buf; returns its length,
 * -ENOSPC if len is below VIGIL_LOG_TIME_LEN, -EINVAL if ts is out of range. */
int vigil_log_format_time(char *buf, size_t len, const struct timespec *ts);
/* True if journal_stream (the JOURNAL_STREAM variable systemd sets, "DEV:INO",
 * NULL when unset) names the file (dev, ino): stderr is then the journal's
 * stream, as systemd.exec(5) says to check. */
bool vigil_log_is_journal(const char *journal_stream, dev_t dev, ino_t ino);

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)   vigil_log(VIGIL_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  vigil_log(VIGIL_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  vigil_log(VIGIL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) vigil_log(VIGIL_LOG_DEBUG, __VA_ARGS__)

#endif
