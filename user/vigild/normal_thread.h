/* SPDX-License-Identifier: MIT */
/* Threads of vigild that must not share its real-time priority: the
 * scheduling canary and the metrics server. */
#ifndef VIGIL_NORMAL_THREAD_H
#define VIGIL_NORMAL_THREAD_H

#include <pthread.h>

/* pthread_create with the normal policy (SCHED_OTHER) set explicitly: a
 * thread would otherwise inherit vigild's SCHED_RR. Returns 0 or an errno. */
int vigil_normal_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
