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

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
{
	char line[1024], stamp[VIGIL_LOG_TIME_LEN];
	struct timespec now;
	va_list ap;

	if (level > current_level)
		return;
	/* Format into one buffer and write once so concurrent lines never interleave. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	if (timestamps && clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    vigil_log_format_time(stamp, sizeof(stamp), &now) > 0)
		fprintf(stderr, "%s %s %s\n", stamp, vigil_log_level_name(level), line);
	else
		fprintf(stderr, "%s %s\n", vigil_log_level_name(level), line);
}
