/* SPDX-License-Identifier: MIT */
/* Building file paths (pins, namespace files) with truncation detected. */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include <stddef.h>

/* snprintf into buf (len bytes, normally PATH_MAX): 0, or -ENAMETOOLONG when
 * the path did not fit; buf then holds its truncated start, for a message
 * naming it. */
int vigil_path_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
