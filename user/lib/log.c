/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum vigil_log_level current_level = VIGIL_LOG_WARN;

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

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec now;
	va_list ap;

	if (level > current_level)
		return;
	/* Format into one buffer and write once so concurrent lines never interleave. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(stderr, "%lld.%03ld %s %s\n", (long long)now.tv_sec, now.tv_nsec / 1000000,
		vigil_log_level_name(level), line);
}
