/* SPDX-License-Identifier: MIT */
/* A thread at the normal scheduling policy that notes the time every few
 * milliseconds. vigild itself may run SCHED_RR (daemon.sched_priority) and
 * keep running while ordinary processes, the backends' servers among them,
 * wait for a CPU; the canary's silence tells it when they did. */
#ifndef VIGIL_CANARY_H
#define VIGIL_CANARY_H

#include <linux/types.h>

struct vigil_canary;

/* Start the thread (SCHED_OTHER whatever the caller's policy), noting
 * CLOCK_MONOTONIC every period_ms. NULL with errno set on failure. */
struct vigil_canary *vigil_canary_start(unsigned int period_ms);

/* The last time the canary ran (CLOCK_MONOTONIC ns); 0 before its first run. */
__u64 vigil_canary_last_ns(const struct vigil_canary *c);

void vigil_canary_stop(struct vigil_canary *c);

#endif
