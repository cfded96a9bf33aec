/* SPDX-License-Identifier: MIT */
#include "metrics_state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vigil_metrics_state {
	pthread_mutex_t lock;
	_Atomic __u64 alive_mono_ns;
	/* under lock: */
	char pin_dir[256];
	char config_path[256];
	__u32 tick_ms;
	struct vigil_daemon_figures fig;
	struct vigil_metrics_board board;
	enum vigil_ready_state ready;
	char why[512];
	struct vigil_hook_spec hooks;
};

struct vigil_metrics_state *vigil_metrics_state_new(const char *pin_dir, const char *config_path,
						    __u32 tick_ms)
{
	struct vigil_metrics_state *st = calloc(1, sizeof(*st));
	pthread_mutexattr_t attr;

	if (!st)
		return NULL;
	/* The metrics thread holds the lock only to copy; should it be
	 * preempted meanwhile, the real-time loop still never blocks on it
	 * (try-lock), and the rare waits (config changes) inherit its priority. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	snprintf(st->pin_dir, sizeof(st->pin_dir), "%s", pin_dir);
	snprintf(st->config_path, sizeof(st->config_path), "%s", config_path);
	st->tick_ms = tick_ms;
	st->fig.last_reload_ok = true;
	return st;
}

void vigil_metrics_board_free(struct vigil_metrics_board *b)
{
	free(b->services);
	free(b->backends);
	memset(b, 0, sizeof(*b));
}

void vigil_metrics_state_free(struct vigil_metrics_state *st)
{
	if (!st)
		return;
	vigil_metrics_board_free(&st->board);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

void vigil_metrics_state_alive(struct vigil_metrics_state *st, __u64 mono_ns)
{
	atomic_store_explicit(&st->alive_mono_ns, mono_ns, memory_order_relaxed);
}

bool vigil_metrics_state_publish(struct vigil_metrics_state *st,
				 const struct vigil_daemon_figures *fig,
				 struct vigil_metrics_board *board)
{
	struct vigil_metrics_board old;

	if (pthread_mutex_trylock(&st->lock))
		return false;
	st->fig = *fig;
	if (board) {
		old = st->board;
		st->board = *board;
		*board = old;
	}
	pthread_mutex_unlock(&st->lock);
	return true;
}

void vigil_metrics_state_config(struct vigil_metrics_state *st, enum vigil_ready_state ready,
				const char *why, const struct vigil_hook_spec *hooks)
{
	pthread_mutex_lock(&st->lock);
	st->ready = ready;
	snprintf(st->why, sizeof(st->why), "%s", why ? why : "");
	if (hooks)
		st->hooks = *hooks;
	pthread_mutex_unlock(&st->lock);
}

/* dst[0, n) = src[0, n), growing dst (capacity *cap) when needed. */
static int copy_rows(void **dst, size_t *cap, const void *src, size_t n, size_t elem)
{
	if (n > *cap) {
		void *grown = realloc(*dst, n * elem);

		if (!grown)
			return -ENOMEM;
		*dst = grown;
		*cap = n;
	}
	if (n)
		memcpy(*dst, src, n * elem);
	return 0;
}

int vigil_metrics_state_read(struct vigil_metrics_state *st, struct vigil_metrics_view *v)
{
	const struct vigil_metrics_board *b = &st->board;
	int ret;

	pthread_mutex_lock(&st->lock);
	memcpy(v->pin_dir, st->pin_dir, sizeof(v->pin_dir));
	memcpy(v->config_path, st->config_path, sizeof(v->config_path));
	v->tick_ms = st->tick_ms;
	v->fig = st->fig;
	v->ready = st->ready;
	memcpy(v->why, st->why, sizeof(v->why));
	v->hooks = st->hooks;
	ret = copy_rows((void **)&v->board.services, &v->cap_services, b->services, b->n_services,
			sizeof(*b->services));
	if (!ret)
		ret = copy_rows((void **)&v->board.backends, &v->cap_backends, b->backends,
				b->n_backends, sizeof(*b->backends));
	/* Out of memory: no board rather than a mix of two. */
	v->board.n_services = ret ? 0 : b->n_services;
	v->board.n_backends = ret ? 0 : b->n_backends;
	pthread_mutex_unlock(&st->lock);
	v->alive_mono_ns = atomic_load_explicit(&st->alive_mono_ns, memory_order_relaxed);
	return ret;
}

void vigil_metrics_view_free(struct vigil_metrics_view *v)
{
	vigil_metrics_board_free(&v->board);
	v->cap_services = v->cap_backends = 0;
}
