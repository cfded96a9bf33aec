/* SPDX-License-Identifier: MIT */
/* The thread that pushes to HAProxy (haproxy_worker.h). */
#include "haproxy_worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "haproxy_conn.h"

struct hp_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int done_fd;                  /* eventfd: an exchange ended */
	/* under lock: */
	bool stop, queued, busy, ended;
	struct vigil_haproxy_cfg cfg; /* socket and timeout (no lists) */
	char *line;
	__u64 submitted_ns;
	struct hp_result result;
};

/* The exchange, start to end, blocking this thread only. */
static void run_exchange(const struct vigil_haproxy_cfg *cfg, const char *line, __u64 now,
			 struct hp_result *r)
{
	struct hp_conn c = HP_CONN_INIT;
	int ret = hp_conn_start(&c, cfg, line, now);

	/* now: the submission (the deadline counts from there), then the clock. */
	while (!ret && !hp_conn_step(&c, now = vigil_now_ns())) {
		struct pollfd fd = { .fd = c.fd, .events = hp_conn_events(&c) };
		int left = c.deadline_ns > now ? (int)((c.deadline_ns - now) / 1000000) + 1 : 0;

		poll(&fd, 1, left);
	}
	*r = (struct hp_result){ .error = ret ? ret : c.error, .written_ns = c.written_ns,
				 .answered_ns = vigil_now_ns() };
	if (!r->error) {
		r->answer = c.in;
		c.in = NULL;
	}
	hp_conn_close(&c);
}

static void *worker_main(void *arg)
{
	struct hp_worker *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct vigil_haproxy_cfg cfg;
		struct hp_result r;
		char *line;
		__u64 at;

		while (!w->stop && !w->queued)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stop)
			break;
		w->queued = false;
		cfg = w->cfg;
		line = w->line;
		at = w->submitted_ns;
		w->line = NULL;
		pthread_mutex_unlock(&w->lock);
		run_exchange(&cfg, line, at, &r);
		free(line);
		pthread_mutex_lock(&w->lock);
		w->result = r;
		w->ended = true;
		if (write(w->done_fd, &one, sizeof(one)) < 0) {
			/* cannot fail: the counter is far from overflowing */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct hp_worker *hp_worker_new(void)
{
	struct hp_worker *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* The thread inherits vigild's policy (SCHED_RR by default): a push is
	 * as urgent as the decision it carries. */
	ret = w->done_fd < 0 ? errno : pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		if (w->done_fd >= 0)
			close(w->done_fd);
		free(w);
		errno = ret;
		return NULL;
	}
	return w;
}

void hp_worker_free(struct hp_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free(w->line);
	free(w->result.answer);
	close(w->done_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

bool hp_worker_busy(const struct hp_worker *w)
{
	return w->busy;
}

int hp_worker_submit(struct hp_worker *w, const struct vigil_haproxy_cfg *cfg, const char *line,
		     __u64 now)
{
	char *copy;

	if (w->busy)
		return -EBUSY;
	copy = strdup(line);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	w->cfg = *cfg;
	w->cfg.backends = NULL; /* the thread needs the socket and timeout only */
	w->cfg.n_backends = 0;
	w->line = copy;
	w->submitted_ns = now;
	w->queued = w->busy = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int hp_worker_fd(const struct hp_worker *w)
{
	return w->done_fd;
}

bool hp_worker_take(struct hp_worker *w, struct hp_result *out)
{
	uint64_t n;
	bool ended;

	if (read(w->done_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return false;
	pthread_mutex_lock(&w->lock);
	ended = w->ended;
	if (ended) {
		*out = w->result;
		w->result = (struct hp_result){ 0 };
		w->ended = w->busy = false;
	}
	pthread_mutex_unlock(&w->lock);
	return ended;
}
