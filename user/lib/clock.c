/* SPDX-License-Identifier: MIT */
#include "clock.h"

#include <time.h>

static __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 vigil_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

__u64 vigil_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

__u64 vigil_wall_of_mono_ns(__u64 mono_ns)
{
	return vigil_wall_ns() - (vigil_now_ns() - mono_ns);
}
