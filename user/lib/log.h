/* SPDX-License-Identifier: MIT */
/* Single-line levelled logging to stderr; quiet (warnings and errors) by default. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum vigil_log_level {
	VIGIL_LOG_ERROR = 0,
	VIGIL_LOG_WARN = 1,
	VIGIL_LOG_INFO = 2,
	VIGIL_LOG_DEBUG = 3,
};

void vigil_log_set_level(enum vigil_log_level level);
enum vigil_log_level vigil_log_get_level(void);
/* "error"/"warn"/"info"/"debug" -> level; returns -1 for anything else. */
int vigil_log_level_parse(const char *name);
const char *vigil_log_level_name(enum vigil_log_level level);

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)   vigil_log(VIGIL_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  vigil_log(VIGIL_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  vigil_log(VIGIL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) vigil_log(VIGIL_LOG_DEBUG, __VA_ARGS__)

#endif
