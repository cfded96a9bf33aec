/* SPDX-License-Identifier: MIT */
#include "procstat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STARTTIME_FIELD 22

int vigil_proc_start_ticks(const char *stat, unsigned long long *ticks)
{
	const char *p = strrchr(stat, ')');
	char *end;

	if (!p || !strchr(stat, '('))
		return -EINVAL;
	p++; /* the space before field 3 */
	for (int field = 3; field < STARTTIME_FIELD; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	if (p[0] != ' ' || p[1] < '0' || p[1] > '9')
		return -EINVAL;
	*ticks = strtoull(p + 1, &end, 10);
	return *end == ' ' || *end == '\n' || *end == '\0' ? 0 : -EINVAL;
}
