/* SPDX-License-Identifier: MIT */
/* The tear-down worker (teardown.h): a queue, one thread, one pass over the
 * namespaces per batch of requests. */
#include "teardown.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "sockdestroy.h"
#include "teardown_iter.h"

struct td_req {
	char service[VIGIL_NAME_LEN];
	struct vigil_endpoint ep;
	enum vigil_teardown_kind kind;
	__u64 decided_ns;
};

struct td_queue {
	struct td_req *v;
	size_t n, cap;
};

struct vigil_teardown {
	struct vigil_sock_iter *iter; /* NULL: SOCK_DESTROY over netlink */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct td_queue queue; /* under lock */
	bool stop;             /* under lock */
	__u32 flags;           /* under lock: VIGIL_TEARDOWN_F_* of every target */
	unsigned long long destroyed; /* worker only */
};

static const char *kind_name(enum vigil_teardown_kind k)
{
	return k == VIGIL_TEARDOWN_UNACKED ? "unacknowledged only" : "all";
}

static const char *path_name(const struct vigil_teardown *td)
{
	return td->iter ? "socket iterator" : "netlink SOCK_DESTROY";
}

/* The targets of a batch: one per backend, the widest kind asked for. */
static size_t batch_targets(const struct td_queue *q, __u32 flags,
			    struct vigil_teardown_target *t)
{
	size_t n = 0;

	for (size_t i = 0; i < q->n; i++) {
		size_t j = 0;

		while (j < n && memcmp(&t[j].ep, &q->v[i].ep, sizeof(t[j].ep)) != 0)
			j++;
		if (j == n)
			t[n++] = (struct vigil_teardown_target){ .ep = q->v[i].ep, .kind = q->v[i].kind,
								 .flags = flags };
		else if (q->v[i].kind == VIGIL_TEARDOWN_ALL)
			t[j].kind = VIGIL_TEARDOWN_ALL;
	}
	return n;
}

static const struct vigil_teardown_target *target_of(const struct vigil_teardown_target *t,
						     size_t n, const struct vigil_endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&t[i].ep, ep, sizeof(*ep)) == 0)
			return &t[i];
	return NULL;
}

/* The outcome of each request: what was destroyed, by which path, and when
 * it was done relative to the decision (the figure docs/benchmarks.md uses). */
static void log_batch(struct vigil_teardown *td, const struct td_queue *q,
		      const struct vigil_teardown_target *t, size_t n, unsigned namespaces,
		      __u64 start_ns, __u64 done_ns)
{
	char ep[VIGIL_ENDPOINT_STRLEN];

	for (size_t i = 0; i < q->n; i++) {
		const struct td_req *r = &q->v[i];
		const struct vigil_teardown_target *tt = target_of(t, n, &r->ep);

		pr_info("service %s: tore down %u connections to %s (kind %s, %s, %u namespaces "
			"in %.1f ms, done %.1f ms after the decision)", r->service,
			tt ? tt->destroyed : 0, vigil_endpoint_format(&r->ep, ep, sizeof(ep)),
			kind_name(r->kind), path_name(td), namespaces, (done_ns - start_ns) / 1e6,
			done_ns > r->decided_ns ? (done_ns - r->decided_ns) / 1e6 : 0.0);
	}
}

static void run_batch(struct vigil_teardown *td, const struct td_queue *q, __u32 flags)
{
	struct vigil_teardown_target *t = calloc(q->n, sizeof(*t));
	size_t n;
	unsigned namespaces = 0;
	char err[256] = "";
	__u64 start = vigil_now_ns(), done;
	int rc;

	if (!t) {
		pr_err("teardown: out of memory: %zu backends not torn down", q->n);
		return;
	}
	n = batch_targets(q, flags, t);
	if (td->iter)
		rc = vigil_sock_iter_run(td->iter, t, n, &namespaces, err, sizeof(err));
	else
		rc = vigil_sockdestroy_nl(t, n, &namespaces, err, sizeof(err));
	done = vigil_now_ns();
	if (rc < 0)
		pr_warn("teardown (%s): %s", path_name(td), err[0] ? err : strerror(-rc));
	for (size_t i = 0; i < n; i++)
		td->destroyed += t[i].destroyed;
	log_batch(td, q, t, n, namespaces, start, done);
	free(t);
}

static void *td_main(void *arg)
{
	struct vigil_teardown *td = arg;

	pthread_mutex_lock(&td->lock);
	for (;;) {
		struct td_queue batch;
		__u32 flags;

		while (!td->queue.n && !td->stop)
			pthread_cond_wait(&td->wake, &td->lock);
		if (!td->queue.n)
			break;
		batch = td->queue;
		flags = td->flags;
		td->queue = (struct td_queue){ 0 };
		pthread_mutex_unlock(&td->lock);
		run_batch(td, &batch, flags);
		free(batch.v);
		pthread_mutex_lock(&td->lock);
	}
	pthread_mutex_unlock(&td->lock);
	return NULL;
}

void vigil_teardown_spare_connecting(struct vigil_teardown *td, bool spare)
{
	pthread_mutex_lock(&td->lock);
	td->flags = spare ? VIGIL_TEARDOWN_F_SPARE_CONNECTING : 0;
	pthread_mutex_unlock(&td->lock);
}

void vigil_teardown_request(struct vigil_teardown *td, const char *service,
			    const struct vigil_endpoint *ep, enum vigil_teardown_kind kind,
			    __u64 decided_ns)
{
	struct td_queue *q = &td->queue;
	char name[VIGIL_ENDPOINT_STRLEN];

	pthread_mutex_lock(&td->lock);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct td_req *v = realloc(q->v, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&td->lock);
			pr_err("service %s: out of memory: connections to %s not torn down", service,
			       vigil_endpoint_format(ep, name, sizeof(name)));
			return;
		}
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n] = (struct td_req){ .ep = *ep, .kind = kind, .decided_ns = decided_ns };
	snprintf(q->v[q->n].service, sizeof(q->v[q->n].service), "%s", service);
	q->n++;
	pthread_cond_signal(&td->wake);
	pthread_mutex_unlock(&td->lock);
}

/* VIGIL_TEARDOWN: which path; the iterator is opened unless netlink is asked for. */
static int choose_path(struct vigil_teardown *td, char *err, size_t errlen)
{
	const char *want = getenv("VIGIL_TEARDOWN");
	char why[256];
	int ret;

	if (!want || !*want)
		want = "auto";
	if (strcmp(want, "netlink") == 0) {
		pr_info("teardown: netlink SOCK_DESTROY (VIGIL_TEARDOWN=netlink)");
		return 0;
	}
	if (strcmp(want, "auto") != 0 && strcmp(want, "iterator") != 0) {
		snprintf(err, errlen, "VIGIL_TEARDOWN=%s: unknown; use auto, iterator or netlink",
			 want);
		return -EINVAL;
	}
	ret = vigil_sock_iter_open(&td->iter, why, sizeof(why));
	if (ret == 0) {
		pr_info("teardown: bpf_sock_destroy() from a TCP socket iterator, one pass per "
			"network namespace");
	} else if (strcmp(want, "iterator") == 0) {
		snprintf(err, errlen, "VIGIL_TEARDOWN=iterator: %s; unset it to fall back to netlink",
			 why);
		return ret;
	} else {
		pr_warn("teardown: netlink SOCK_DESTROY, slower (one round trip per socket): %s",
			why);
	}
	return 0;
}

int vigil_teardown_start(struct vigil_teardown **out, char *err, size_t errlen)
{
	struct vigil_teardown *td = calloc(1, sizeof(*td));
	int ret;

	*out = NULL;
	if (!td) {
		snprintf(err, errlen, "out of memory starting the tear-down thread");
		return -ENOMEM;
	}
	ret = choose_path(td, err, errlen);
	if (ret) {
		free(td);
		return ret;
	}
	pthread_mutex_init(&td->lock, NULL);
	pthread_cond_init(&td->wake, NULL);
	ret = -pthread_create(&td->thread, NULL, td_main, td);
	if (ret) {
		snprintf(err, errlen, "cannot start the tear-down thread: %s", strerror(-ret));
		vigil_sock_iter_close(td->iter);
		free(td);
		return ret;
	}
	*out = td;
	return 0;
}

void vigil_teardown_stop(struct vigil_teardown *td)
{
	if (!td)
		return;
	pthread_mutex_lock(&td->lock);
	td->stop = true;
	pthread_cond_signal(&td->wake);
	pthread_mutex_unlock(&td->lock);
	pthread_join(td->thread, NULL);
	pr_info("teardown: %llu connections destroyed since the start (%s)", td->destroyed,
		path_name(td));
	vigil_sock_iter_close(td->iter);
	pthread_mutex_destroy(&td->lock);
	pthread_cond_destroy(&td->wake);
	free(td->queue.v);
	free(td);
}
