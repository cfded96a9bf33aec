/* SPDX-License-Identifier: MIT */
#include "canary.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "normal_thread.h"

struct vigil_canary {
	pthread_t thread;
	unsigned int period_ms;
	_Atomic __u64 last_ns;
	atomic_bool stop;
};

static void *canary_main(void *arg)
{
	struct vigil_canary *c = arg;
	struct timespec period = { .tv_sec = c->period_ms / 1000,
				   .tv_nsec = (long)(c->period_ms % 1000) * 1000000L };

	while (!atomic_load(&c->stop)) {
		atomic_store(&c->last_ns, vigil_now_ns());
		nanosleep(&period, NULL);
	}
	return NULL;
}

struct vigil_canary *vigil_canary_start(unsigned int period_ms)
{
	struct vigil_canary *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return NULL;
	c->period_ms = period_ms;
	ret = vigil_normal_thread_start(&c->thread, canary_main, c);
	if (ret) {
		free(c);
		errno = ret;
		return NULL;
	}
	return c;
}

__u64 vigil_canary_last_ns(const struct vigil_canary *c)
{
	return atomic_load(&c->last_ns);
}

void vigil_canary_stop(struct vigil_canary *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	free(c);
}
