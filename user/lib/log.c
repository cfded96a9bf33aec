/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum vigil_log_level current_level = VIGIL_LOG_WARN;
static bool timestamps = true;
static vigil_log_sink sink;
static _Thread_local char *capture_buf;
static _Thread_local size_t capture_len;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vigil_log_set_level(enum vigil_log_level level)
{
	current_level = level;
}

enum vigil_log_level vigil_log_get_level(void)
{
	return current_level;
}

int vigil_log_level_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *vigil_log_level_name(enum vigil_log_level level)
{
	if (level < VIGIL_LOG_ERROR || level > VIGIL_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void vigil_log_set_timestamps(bool on)
{
	timestamps = on;
}

int vigil_log_format_time(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	size_t n;

	if (len < VIGIL_LOG_TIME_LEN)
		return -ENOSPC;
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L || !localtime_r(&ts->tv_sec, &tm))
		return -EINVAL;
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	/* A year beyond 9999 does not fit the fixed width: refuse it rather than cut it. */
	if (n != VIGIL_LOG_TIME_LEN - 5)
		return -EINVAL;
	snprintf(buf + n, len - n, ".%03ld", ts->tv_nsec / 1000000);
	return VIGIL_LOG_TIME_LEN - 1;
}

/* Parses "DEV:INO" in decimal, nothing before or after. */
static bool parse_dev_ino(const char *s, uintmax_t *dev, uintmax_t *ino)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*dev = strtoumax(s, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	*ino = strtoumax(end + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

bool vigil_log_is_journal(const char *journal_stream, dev_t dev, ino_t ino)
{
	uintmax_t d, i;

	if (!journal_stream || !parse_dev_ino(journal_stream, &d, &i))
		return false;
	return d == (uintmax_t)dev && i == (uintmax_t)ino;
}

void vigil_log_write_plain(enum vigil_log_level level, const char *msg)
{
	char stamp[VIGIL_LOG_TIME_LEN];
	struct timespec now;

	/* One fprintf per line, so concurrent lines never interleave. */
	if (timestamps && clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    vigil_log_format_time(stamp, sizeof(stamp), &now) > 0)
		fprintf(stderr, "%s %s %s\n", stamp, vigil_log_level_name(level), msg);
	else
		fprintf(stderr, "%s %s\n", vigil_log_level_name(level), msg);
}

static void emit(enum vigil_log_level level, const struct vigil_log_fields *f, const char *fmt,
		 va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (level == VIGIL_LOG_ERROR && capture_buf)
		snprintf(capture_buf, capture_len, "%s", line);
	if (sink)
		sink(level, f, line);
	else
		vigil_log_write_plain(level, line);
}

void vigil_log_f(enum vigil_log_level level, const struct vigil_log_fields *f, const char *fmt,
		 ...)
{
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	emit(level, f, fmt, ap);
	va_end(ap);
}

void vigil_log_set_sink(vigil_log_sink s)
{
	sink = s;
}

void vigil_log_capture_errors(char *buf, size_t len)
{
	capture_buf = len ? buf : NULL;
	capture_len = len;
}

int vigil_log_syslog_priority(enum vigil_log_level level)
{
	/* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG of <syslog.h> */
	static const int prio[] = { 3, 4, 6, 7 };

	return level >= VIGIL_LOG_ERROR && level <= VIGIL_LOG_DEBUG ? prio[level] : 7;
}

static void add_field(struct vigil_journal_entry *e, const char *key, const char *value)
{
	if (value && e->n < VIGIL_JOURNAL_MAX_FIELDS)
		snprintf(e->field[e->n++], sizeof(e->field[0]), "%s=%s", key, value);
}

void vigil_journal_entry_make(struct vigil_journal_entry *e, enum vigil_log_level level,
			      const struct vigil_log_fields *f, const char *msg, const char *ident)
{
	char prio[4];

	e->n = 0;
	snprintf(prio, sizeof(prio), "%d", vigil_log_syslog_priority(level));
	add_field(e, "MESSAGE", msg);
	add_field(e, "PRIORITY", prio);
	add_field(e, "SYSLOG_IDENTIFIER", ident);
	if (!f)
		return;
	add_field(e, "VIGIL_SERVICE", f->service);
	add_field(e, "VIGIL_BACKEND", f->backend);
	add_field(e, "VIGIL_RULE", f->rule);
	add_field(e, "VIGIL_STATE", f->state);
}
