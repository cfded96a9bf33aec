/* SPDX-License-Identifier: MIT */
/* The clocks vigil reads (the detector reads none: time is its argument). */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <linux/types.h>

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns, of every *_ns
 * timestamp the monitor writes and of the detector's times. */
__u64 vigil_now_ns(void);

/* CLOCK_REALTIME in ns: the *_wall_ns fields of the published state. */
__u64 vigil_wall_ns(void);

/* The wall-clock time of mono_ns, a CLOCK_MONOTONIC time in the past. */
__u64 vigil_wall_of_mono_ns(__u64 mono_ns);

#endif
