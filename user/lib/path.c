/* SPDX-License-Identifier: MIT */
#include "path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int vigil_path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= len ? -ENAMETOOLONG : 0;
}
