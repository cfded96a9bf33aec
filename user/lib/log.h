/* SPDX-License-Identifier: MIT */
/* Single-line levelled logging; quiet (warnings and errors) by default.
 * By default a line goes to stderr as "2026-12-06 01:30:12.345 info message"
 * (local time), or "info message" when timestamps are off. A sink can take
 * the lines instead (vigild's journal sink keeps their fields). Pure: the
 * only system calls are stdio and the clock. */
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

/* What a line is about, for sinks that keep structured fields (the journal:
 * VIGIL_SERVICE, VIGIL_BACKEND, VIGIL_RULE, VIGIL_STATE). NULL members, or
 * no fields at all, are left out; the message says it all anyway. */
struct vigil_log_fields {
	const char *service;
	const char *backend; /* "10.0.0.2:8080", "[fd00::2]:8080" */
	const char *rule;    /* vigil_rule_name() */
	const char *state;   /* a backend's new state, or a service's serving tier */
};

/* A line at level, with the fields f (NULL: none); vigil_log(level, fmt, ...)
 * is the same without fields. */
void vigil_log_f(enum vigil_log_level level, const struct vigil_log_fields *f, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));
#define vigil_log(level, ...) vigil_log_f((level), NULL, __VA_ARGS__)

/* Where lines go: a sink gets every line the level lets through, the message
 * (no level, no timestamp, no newline) and its fields (f may be NULL). It may
 * be called from any thread. Set it before starting threads; NULL: plain
 * lines on stderr. */
typedef void (*vigil_log_sink)(enum vigil_log_level level, const struct vigil_log_fields *f,
			       const char *msg);
void vigil_log_set_sink(vigil_log_sink sink);
/* The plain line on stderr, as written without a sink (a sink's fallback). */
void vigil_log_write_plain(enum vigil_log_level level, const char *msg);

/* Copy the message of every error this thread logs into buf (the last one
 * wins; buf is left alone while none is logged), until called with NULL:
 * how a caller learns why a step it called failed when that step only logs. */
void vigil_log_capture_errors(char *buf, size_t len);

/* syslog(3) priority of a level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
int vigil_log_syslog_priority(enum vigil_log_level level);

/* One journal entry: "KEY=value" fields for sd_journal_sendv, MESSAGE first,
 * then PRIORITY, SYSLOG_IDENTIFIER and the VIGIL_* fields f has. A value too
 * long for a field is cut (MESSAGE holds any line vigil_log formats). */
#define VIGIL_JOURNAL_MAX_FIELDS 7
#define VIGIL_JOURNAL_FIELD_LEN 1040
struct vigil_journal_entry {
	int n;
	char field[VIGIL_JOURNAL_MAX_FIELDS][VIGIL_JOURNAL_FIELD_LEN];
};
void vigil_journal_entry_make(struct vigil_journal_entry *e, enum vigil_log_level level,
			      const struct vigil_log_fields *f, const char *msg, const char *ident);

#define pr_err(...)   vigil_log(VIGIL_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  vigil_log(VIGIL_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  vigil_log(VIGIL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) vigil_log(VIGIL_LOG_DEBUG, __VA_ARGS__)
/* The same with the fields of struct vigil_log_fields: pr_warn_f(&f, ...). */
#define pr_err_f(f, ...)   vigil_log_f(VIGIL_LOG_ERROR, (f), __VA_ARGS__)
#define pr_warn_f(f, ...)  vigil_log_f(VIGIL_LOG_WARN, (f), __VA_ARGS__)
#define pr_info_f(f, ...)  vigil_log_f(VIGIL_LOG_INFO, (f), __VA_ARGS__)
#define pr_debug_f(f, ...) vigil_log_f(VIGIL_LOG_DEBUG, (f), __VA_ARGS__)

#endif
