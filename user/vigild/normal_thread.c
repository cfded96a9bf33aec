/* SPDX-License-Identifier: MIT */
#include "normal_thread.h"

#include <sched.h>

int vigil_normal_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	struct sched_param normal = { .sched_priority = 0 };
	pthread_attr_t attr;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	pthread_attr_setschedparam(&attr, &normal);
	ret = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret;
}
