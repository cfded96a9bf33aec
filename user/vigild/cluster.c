// SPDX-License-Identifier: MIT
/* Cluster mode: verdicts shared through etcd (cluster.h, docs/cluster.md). */
#include "cluster.h"
#include "addr.h"
#include "cluster_view.h"
#include "detector.h"
#include "etcd.h"
#include "failover.h"
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 256
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
/* A suspect (first hard failure) stays this long in etcd; a node shares at
 * most one per backend in this time. */
#define SUSPECT_MS 1000
/* A hard verdict or suspect already reported by this many other nodes is not
 * written again: one is enough for the others to check the backend, and in a
 * fleet-wide failure every host writing its own would queue thousands of
 * writes in etcd (docs/cluster.md, "Scale"). Outlier verdicts are always
 * written: the quorum counts them. */
#define ENOUGH_REPORTERS 2

/* One of this node's verdicts as it should be in etcd. */
struct own_verdict {
	char key[KEY_LEN];
	char value[256];
	bool present;  /* false: to be deleted */
	bool dirty;    /* etcd does not have it yet */
	unsigned gen;  /* changes since; a write of an older gen leaves it dirty */
	enum vigil_verdict_kind kind;
	__u64 expires_ms; /* a suspect: deleted then (monotonic ms), 0: never */
};

/* What the watch thread hands to the main loop. */
struct remote_event {
	enum { EV_PUT, EV_DEL, EV_RESYNC_BEGIN, EV_RESYNC_END } type;
	struct vigil_cluster_key key;
	enum vigil_verdict_kind kind;
	int64_t revision;
};

struct vigil_cluster {
	struct vigil_cluster_cfg cfg;
	char node[VIGIL_NODE_LEN];
	struct vigil_etcd pub, watch;
	pthread_t pub_thread, watch_thread;
	bool pub_started, watch_started;
	volatile bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;  /* the writer: own verdicts changed, or stop */
	/* under lock */
	struct own_verdict *own;
	size_t n_own, cap_own;
	struct remote_event *in;
	size_t n_in, cap_in;
	int connected;        /* -1 not known yet, 0 etcd down, 1 up */
	char endpoint[128];
	unsigned long long published, acted, received, suppressed, resyncs;
	unsigned live_nodes;  /* the view's counts, for other threads */
	size_t remote_verdicts;
	/* main thread only */
	int efd;
	struct vigil_cview *view;
};

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* etcd came or went: said once per change, under lock. */
static void set_connected(struct vigil_cluster *c, bool up, const struct vigil_etcd *e)
{
	if (up)
		snprintf(c->endpoint, sizeof(c->endpoint), "%s", vigil_etcd_endpoint(e));
	if (c->connected == (int)up)
		return;
	if (up)
		pr_warn("cluster: etcd reachable via %s: node %s shares its verdicts and "
			"watches the others'", c->endpoint, c->node);
	else
		pr_err("cluster: etcd unreachable (%s): running local-only, retrying", e->err);
	c->connected = up;
}

/* ---- this node's verdicts: the writer thread -------------------------- */

/* create: add it when missing (else NULL). */
static struct own_verdict *own_find(struct vigil_cluster *c, const char *key, bool create)
{
	for (size_t i = 0; i < c->n_own; i++)
		if (!strcmp(c->own[i].key, key))
			return &c->own[i];
	if (!create)
		return NULL;
	if (c->n_own == c->cap_own) {
		size_t cap = c->cap_own ? 2 * c->cap_own : 16;
		void *p = realloc(c->own, cap * sizeof(*c->own));

		if (!p)
			return NULL;
		c->own = p;
		c->cap_own = cap;
	}
	memset(&c->own[c->n_own], 0, sizeof(c->own[0]));
	snprintf(c->own[c->n_own].key, KEY_LEN, "%s", key);
	return &c->own[c->n_own++];
}

/* A suspect never replaces a verdict, nor a suspect shared less than
 * SUSPECT_MS ago. */
static bool keep_existing(const struct own_verdict *v, enum vigil_verdict_kind kind)
{
	if (kind != VIGIL_VERDICT_SUSPECT || !v->present)
		return false;
	return v->kind != VIGIL_VERDICT_SUSPECT || mono_ms() < v->expires_ms;
}

/* kind NONE: remove the verdict. */
static void own_set(struct vigil_cluster *c, const char *key, const char *value,
		    enum vigil_verdict_kind kind)
{
	struct own_verdict *v;

	pthread_mutex_lock(&c->lock);
	/* Nothing to remove where this node never wrote a verdict. */
	v = own_find(c, key, kind != VIGIL_VERDICT_NONE);
	if (v && keep_existing(v, kind)) {
		c->suppressed++;
	} else if (v) {
		snprintf(v->value, sizeof(v->value), "%s", value ? value : "");
		v->present = kind != VIGIL_VERDICT_NONE;
		v->kind = kind;
		v->expires_ms = kind == VIGIL_VERDICT_SUSPECT ? mono_ms() + SUSPECT_MS : 0;
		v->dirty = true;
		v->gen++;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Suspects whose time is over go; returns ms until the next one (or max). */
static unsigned expire_suspects(struct vigil_cluster *c, unsigned max)
{
	__u64 now = mono_ms();

	for (size_t i = 0; i < c->n_own; i++) {
		struct own_verdict *v = &c->own[i];

		if (!v->present || !v->expires_ms)
			continue;
		if (now >= v->expires_ms) {
			v->present = false;
			v->dirty = true;
			v->gen++;
		} else if (v->expires_ms - now < max) {
			max = (unsigned)(v->expires_ms - now);
		}
	}
	return max;
}

/* Writes one dirty verdict; false when etcd did not take it. */
static bool flush_one(struct vigil_cluster *c, size_t i, int64_t lease)
{
	struct own_verdict v;
	int ret;

	pthread_mutex_lock(&c->lock);
	v = c->own[i];
	pthread_mutex_unlock(&c->lock);
	ret = v.present ? vigil_etcd_put(&c->pub, v.key, v.value, lease) :
			  vigil_etcd_delete(&c->pub, v.key);
	pthread_mutex_lock(&c->lock);
	if (!ret && c->own[i].gen == v.gen) {
		c->own[i].dirty = false;
		c->published++;
		if (!v.present) /* gone from etcd: forget it */
			c->own[i] = c->own[--c->n_own];
	}
	pthread_mutex_unlock(&c->lock);
	return !ret;
}

static bool flush_own(struct vigil_cluster *c, int64_t lease)
{
	for (size_t i = 0;; i++) {
		bool dirty;

		pthread_mutex_lock(&c->lock);
		if (i >= c->n_own) {
			pthread_mutex_unlock(&c->lock);
			return true;
		}
		dirty = c->own[i].dirty;
		pthread_mutex_unlock(&c->lock);
		if (dirty && !flush_one(c, i, lease))
			return false;
	}
}

/* A new lease (the first, or the old one expired while etcd was away): the
 * node registers again and every verdict is written again under it. */
static bool register_node(struct vigil_cluster *c, int64_t *lease)
{
	char key[KEY_LEN];

	if (vigil_etcd_grant(&c->pub, c->cfg.lease_ttl_s, lease))
		return false;
	vigil_cluster_key_node(key, sizeof(key), c->cfg.prefix, c->node);
	if (vigil_etcd_put(&c->pub, key, "{}", *lease))
		return false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_own; i++)
		c->own[i].dirty = true;
	pthread_mutex_unlock(&c->lock);
	return true;
}

/* Keeps the lease alive and etcd up to date; false when etcd failed. */
static bool writer_round(struct vigil_cluster *c, int64_t *lease, __u64 *next_keepalive)
{
	__u64 period = c->cfg.lease_ttl_s * 1000 / 3;
	int64_t ttl = 1;

	if (*lease && mono_ms() >= *next_keepalive) {
		if (vigil_etcd_keepalive(&c->pub, *lease, &ttl))
			return false;
		*next_keepalive = mono_ms() + period;
	}
	if (!ttl || !*lease) {
		if (ttl == 0)
			pr_warn("cluster: lease of node %s expired while etcd was away: registering "
				"again and rewriting its verdicts", c->node);
		if (!register_node(c, lease))
			return false;
		*next_keepalive = mono_ms() + period;
	}
	return flush_own(c, *lease);
}

static bool any_dirty(const struct vigil_cluster *c)
{
	for (size_t i = 0; i < c->n_own; i++)
		if (c->own[i].dirty)
			return true;
	return false;
}

static void *writer_main(void *arg)
{
	struct vigil_cluster *c = arg;
	__u64 next_keepalive = 0;
	unsigned backoff = BACKOFF_MIN_MS;
	int64_t lease = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec until;
		bool ok;

		pthread_mutex_unlock(&c->lock);
		ok = writer_round(c, &lease, &next_keepalive);
		pthread_mutex_lock(&c->lock);
		set_connected(c, ok, &c->pub);
		if (ok) {
			__u64 now = mono_ms();

			backoff = BACKOFF_MIN_MS;
			deadline_in(&until, expire_suspects(c, next_keepalive > now ?
							       (unsigned)(next_keepalive - now) : 0));
		} else {
			deadline_in(&until, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		if (!c->stop && !(ok && any_dirty(c)))
			pthread_cond_timedwait(&c->wake, &c->lock, &until);
	}
	pthread_mutex_unlock(&c->lock);
	if (lease)
		vigil_etcd_revoke(&c->pub, lease);
	return NULL;
}

/* ---- other nodes' verdicts: the watch thread --------------------------- */

struct batch {
	struct remote_event *ev;
	size_t n, cap;
};

static void batch_add(struct batch *b, const struct remote_event *ev)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		void *p = realloc(b->ev, cap * sizeof(*b->ev));

		if (!p)
			return;
		b->ev = p;
		b->cap = cap;
	}
	b->ev[b->n++] = *ev;
}

static enum vigil_verdict_kind kind_of_value(const char *value)
{
	json_t *j = json_loads(value, 0, NULL);
	json_t *kind = json_object_get(j, "kind");
	enum vigil_verdict_kind k = json_is_string(kind) ?
		vigil_verdict_kind_parse(json_string_value(kind)) : VIGIL_VERDICT_NONE;

	json_decref(j);
	return k;
}

struct collect {
	struct vigil_cluster *c;
	struct batch *batch;
};

/* One key from etcd into the batch: nodes, and other nodes' verdicts. */
static void collect_kv(const struct vigil_etcd_kv *kv, void *arg)
{
	struct collect *col = arg;
	struct remote_event ev = { .type = kv->deleted ? EV_DEL : EV_PUT,
				   .revision = kv->mod_revision };

	vigil_cluster_key_parse(col->c->cfg.prefix, kv->key, &ev.key);
	if (ev.key.type == VIGIL_CKEY_OTHER ||
	    (ev.key.type == VIGIL_CKEY_VERDICT && !strcmp(ev.key.node, col->c->node)))
		return;
	if (ev.key.type == VIGIL_CKEY_VERDICT && !kv->deleted) {
		ev.kind = kind_of_value(kv->value);
		if (ev.kind == VIGIL_VERDICT_NONE)
			return;
	}
	batch_add(col->batch, &ev);
}

/* Hands a batch to the main loop and wakes it. */
static void deliver(struct vigil_cluster *c, struct batch *b)
{
	__u64 one = 1;

	if (!b->n)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < b->n; i++) {
		if (c->n_in == c->cap_in) {
			size_t cap = c->cap_in ? 2 * c->cap_in : 256;
			void *p = realloc(c->in, cap * sizeof(*c->in));

			if (!p)
				break;
			c->in = p;
			c->cap_in = cap;
		}
		c->in[c->n_in++] = b->ev[i];
	}
	pthread_mutex_unlock(&c->lock);
	b->n = 0;
	if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_debug("cluster: eventfd write: %s", strerror(errno));
}

static void watch_event(const struct vigil_etcd_kv *kv, void *arg)
{
	struct collect *col = arg;

	collect_kv(kv, arg);
	deliver(col->c, col->batch);
}

/* Everything under the prefix, as one resync batch; false when etcd failed. */
static bool read_all(struct vigil_cluster *c, struct batch *b, int64_t *revision)
{
	struct collect col = { c, b };
	struct remote_event mark = { .type = EV_RESYNC_BEGIN };

	batch_add(b, &mark);
	if (vigil_etcd_range_prefix(&c->watch, c->cfg.prefix, collect_kv, &col, revision)) {
		b->n = 0;
		return false;
	}
	mark.type = EV_RESYNC_END;
	batch_add(b, &mark);
	pthread_mutex_lock(&c->lock);
	c->resyncs++;
	pthread_mutex_unlock(&c->lock);
	deliver(c, b);
	return true;
}

static void *watch_main(void *arg)
{
	struct vigil_cluster *c = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	struct batch b = { 0 };

	while (!c->stop) {
		struct collect col = { c, &b };
		int64_t revision;

		if (read_all(c, &b, &revision)) {
			backoff = BACKOFF_MIN_MS;
			vigil_etcd_watch_prefix(&c->watch, c->cfg.prefix, revision + 1, watch_event,
						&col, &c->stop);
			if (!c->stop)
				pr_info("cluster: %s: reading all verdicts again", c->watch.err);
		}
		for (unsigned slept = 0; slept < backoff && !c->stop; slept += 50)
			usleep(50 * 1000);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	free(b.ev);
	return NULL;
}

/* ---- the main loop's side ---------------------------------------------- */

static void act_on(struct vigil_cluster *c, struct vigil_failover *fo,
		   const struct remote_event *ev, __u64 now)
{
	unsigned reporters = vigil_cview_reporters(c->view, ev->key.service, &ev->key.backend,
						   ev->kind);
	unsigned live = vigil_cview_live_nodes(c->view);
	bool hard = ev->kind != VIGIL_VERDICT_OUTLIER; /* a suspect is checked like a hard one */
	char ep[VIGIL_ENDPOINT_STRLEN];

	if (!vigil_failover_remote_verdict(fo, ev->key.service, &ev->key.backend, hard, reporters,
					   live, c->cfg.outlier_quorum, now))
		return;
	pthread_mutex_lock(&c->lock);
	c->acted++;
	pthread_mutex_unlock(&c->lock);
	pr_warn("cluster: service %s backend %s: %s verdict of node %s (%u of %u nodes report it): "
		"%s", ev->key.service, vigil_endpoint_format(&ev->key.backend, ep, sizeof(ep)),
		vigil_verdict_kind_name(ev->kind), ev->key.node, reporters, live,
		hard ? "out of selection, probing it from here now" : "ejected (quorum reached)");
}

/* Returns true for another node's verdict new to this node. */
static bool apply_one(struct vigil_cluster *c, struct vigil_failover *fo,
		      const struct remote_event *ev, __u64 now)
{
	switch (ev->type) {
	case EV_RESYNC_BEGIN:
		vigil_cview_mark_stale(c->view);
		break;
	case EV_RESYNC_END:
		vigil_cview_sweep_stale(c->view);
		break;
	case EV_DEL:
		if (ev->key.type == VIGIL_CKEY_NODE)
			vigil_cview_node(c->view, ev->key.node, false);
		else
			vigil_cview_del(c->view, &ev->key);
		break;
	case EV_PUT:
		if (ev->key.type == VIGIL_CKEY_NODE) {
			vigil_cview_node(c->view, ev->key.node, true);
		} else if (vigil_cview_put(c->view, &ev->key, ev->kind, ev->revision)) {
			if (fo)
				act_on(c, fo, ev, now);
			return true;
		}
	}
	return false;
}

void vigil_cluster_apply(struct vigil_cluster *c, struct vigil_failover *fo, __u64 now)
{
	struct remote_event *in;
	__u64 count;
	size_t n, received = 0;

	if (read(c->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_debug("cluster: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	in = c->in;
	n = c->n_in;
	c->in = NULL;
	c->n_in = c->cap_in = 0;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		received += apply_one(c, fo, &in[i], now);
	free(in);
	pthread_mutex_lock(&c->lock);
	c->received += received;
	c->live_nodes = vigil_cview_live_nodes(c->view);
	c->remote_verdicts = vigil_cview_verdicts(c->view);
	pthread_mutex_unlock(&c->lock);
}

void vigil_cluster_on_change(void *cluster, const char *service, const struct vigil_endpoint *ep,
			     const struct vigil_det_change *change)
{
	struct vigil_cluster *c = cluster;
	enum vigil_verdict_kind kind = change ? vigil_verdict_kind_of(change->rule) :
					       VIGIL_VERDICT_SUSPECT;
	char key[KEY_LEN], *value;
	json_t *j;

	if (vigil_cluster_key_verdict(key, sizeof(key), c->cfg.prefix, service, ep, c->node) < 0)
		return;
	if (change && change->to == VIGIL_STATE_HEALTHY) {
		own_set(c, key, NULL, VIGIL_VERDICT_NONE);
		return;
	}
	if ((change && change->to != VIGIL_STATE_EJECTED) || kind == VIGIL_VERDICT_NONE)
		return;
	if (kind != VIGIL_VERDICT_OUTLIER &&
	    vigil_cview_reporters(c->view, service, ep, VIGIL_VERDICT_HARD) +
	    vigil_cview_reporters(c->view, service, ep, VIGIL_VERDICT_SUSPECT) >= ENOUGH_REPORTERS) {
		pthread_mutex_lock(&c->lock);
		c->suppressed++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	j = json_pack("{s:s, s:s, s:s, s:I}", "kind", vigil_verdict_kind_name(kind), "rule",
		      change ? vigil_rule_name(change->rule) : "first_failure", "node", c->node,
		      "time_unix_ms", (json_int_t)(time(NULL) * 1000LL));
	value = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (value)
		own_set(c, key, value, kind);
	free(value);
	json_decref(j);
}

int vigil_cluster_fd(const struct vigil_cluster *c)
{
	return c->efd;
}

void vigil_cluster_get_status(struct vigil_cluster *c, struct vigil_cluster_status *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&c->lock);
	st->connected = c->connected == 1;
	st->known = c->connected >= 0;
	snprintf(st->endpoint, sizeof(st->endpoint), "%s", c->endpoint);
	st->published = c->published;
	st->remote_acted = c->acted;
	st->received = c->received;
	st->suppressed = c->suppressed;
	st->resyncs = c->resyncs;
	st->live_nodes = c->live_nodes;
	st->remote_verdicts = c->remote_verdicts;
	pthread_mutex_unlock(&c->lock);
	snprintf(st->node, sizeof(st->node), "%s", c->node);
}

enum vigil_cluster_state vigil_cluster_state_of(const struct vigil_cluster_status *st)
{
	return !st->known ? VIGIL_CLUSTER_CONNECTING :
	       st->connected ? VIGIL_CLUSTER_CONNECTED : VIGIL_CLUSTER_UNREACHABLE;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int open_etcd(struct vigil_cluster *c, struct vigil_etcd *e)
{
	struct vigil_etcd_opts o = { .n_endpoints = c->cfg.n_endpoints,
				     .timeout_ms = c->cfg.timeout_ms };

	for (size_t i = 0; i < c->cfg.n_endpoints; i++)
		o.endpoints[i] = c->cfg.endpoints[i];
	o.ca_file = c->cfg.ca_file[0] ? c->cfg.ca_file : NULL;
	o.cert_file = c->cfg.cert_file[0] ? c->cfg.cert_file : NULL;
	o.key_file = c->cfg.key_file[0] ? c->cfg.key_file : NULL;
	return vigil_etcd_open(e, &o);
}

struct vigil_cluster *vigil_cluster_start(const struct vigil_cluster_cfg *cfg, char *err,
					  size_t errlen)
{
	struct vigil_cluster *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "cluster: out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->connected = -1;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->view = vigil_cview_new();
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (cfg->node[0])
		snprintf(c->node, sizeof(c->node), "%s", cfg->node);
	else if (gethostname(c->node, sizeof(c->node) - 1))
		snprintf(c->node, sizeof(c->node), "unnamed");
	if (c->efd < 0 || !c->view || open_etcd(c, &c->pub) || open_etcd(c, &c->watch) ||
	    pthread_create(&c->pub_thread, NULL, writer_main, c) ||
	    !(c->pub_started = true) ||
	    pthread_create(&c->watch_thread, NULL, watch_main, c) || !(c->watch_started = true)) {
		snprintf(err, errlen, "cluster: cannot start (%s)", strerror(errno ? errno : ENOMEM));
		vigil_cluster_stop(c);
		return NULL;
	}
	pr_info("cluster: node %s, %zu etcd endpoints, key prefix %s, lease %u s", c->node,
		cfg->n_endpoints, cfg->prefix, cfg->lease_ttl_s);
	return c;
}

void vigil_cluster_stop(struct vigil_cluster *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (c->pub_started)
		pthread_join(c->pub_thread, NULL);
	if (c->watch_started)
		pthread_join(c->watch_thread, NULL);
	vigil_etcd_close(&c->pub);
	vigil_etcd_close(&c->watch);
	vigil_cview_free(c->view);
	if (c->efd >= 0)
		close(c->efd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	free(c->own);
	free(c->in);
	free(c);
}
