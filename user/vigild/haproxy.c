/* SPDX-License-Identifier: MIT */
/* The HAProxy feed (haproxy.h). */
#include "haproxy.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "haproxy_conn.h"
#include "haproxy_worker.h"
#include "hist.h"
#include "lbfeed.h"
#include "log.h"

#define MAX_CMDS   64   /* per exchange: HAProxy reads a line into one buffer */
#define LINE_MAX   8192
#define CMD_MAX    160
#define SRV_PER_EP 8    /* servers of one backend with the same address */

/* One fed service: its HAProxy backend and what vigil wants for each of its
 * backends. */
struct hp_svc {
	char name[VIGIL_NAME_LEN]; /* first: vigil_feed_find */
	char backend[VIGIL_LB_NAME_LEN];
	struct vigil_lb_want wants[VIGIL_MAX_SVC_BACKENDS];
	bool mapped[VIGIL_MAX_SVC_BACKENDS]; /* a server has its address (last table) */
	bool warned[VIGIL_MAX_SVC_BACKENDS]; /* said once that none has */
	size_t n_wants;
};

/* A command on its way, named by service and endpoint (a reload may move
 * the indexes while it is). */
struct sent_op {
	char service[VIGIL_NAME_LEN];
	struct vigil_endpoint ep;
	__u32 op;
	bool reapply;
	__u64 decided_ns;
	char cmd[CMD_MAX];
};

struct vigil_haproxy {
	const struct vigil_config *cfg;
	struct hp_svc *svcs;
	size_t n_svcs;
	struct vigil_hp_table table;
	bool have_table;
	struct hp_worker *worker;  /* pushes, in a thread of their own */
	struct hp_conn sync;       /* server tables, in the main loop */
	struct sent_op sent[MAX_CMDS];
	size_t n_sent;
	__u64 next_sync_ns;
	bool reachable;
	bool said_unreachable;     /* logged once per outage */
	bool derive_due;
	char derive_note[256];
	struct vigil_feed_stats stats;
	bool stats_dirty;
};

static struct hp_svc *svc_named(struct vigil_haproxy *hp, const char *name)
{
	return vigil_feed_find(hp->svcs, hp->n_svcs, sizeof(*hp->svcs), name);
}

static struct vigil_lb_want *want_of(struct hp_svc *s, const struct vigil_endpoint *ep,
				     size_t *idx)
{
	for (size_t i = 0; s && i < s->n_wants; i++)
		if (memcmp(&s->wants[i].ep, ep, sizeof(*ep)) == 0) {
			if (idx)
				*idx = i;
			return &s->wants[i];
		}
	return NULL;
}

/* ---- configuration ------------------------------------------------------------ */

/* The fed services of cfg that exist (a derived one once HAProxy listed its
 * servers), each backend keeping what old decided for it. */
static struct hp_svc *build_svcs(struct vigil_haproxy *hp, const struct vigil_config *cfg,
				 size_t *n)
{
	struct hp_svc *svcs = calloc(cfg->haproxy.n_backends + 1, sizeof(*svcs));

	*n = 0;
	for (size_t i = 0; svcs && i < cfg->haproxy.n_backends; i++) {
		const struct vigil_haproxy_backend_cfg *hb = &cfg->haproxy.backends[i];
		int si = vigil_config_service_index(cfg, hb->tmpl.name);
		const struct vigil_service_cfg *sc = si >= 0 ? &cfg->services[si] : NULL;
		struct hp_svc *s = &svcs[*n], *old = svc_named(hp, hb->tmpl.name);

		if (!sc)
			continue;
		snprintf(s->name, sizeof(s->name), "%s", sc->name);
		snprintf(s->backend, sizeof(s->backend), "%s", hb->backend);
		for (size_t b = 0; b < sc->n_backends; b++) {
			struct vigil_lb_want *prev = old && !strcmp(old->backend, hb->backend)
							     ? want_of(old, &sc->backends[b].ep, NULL) : NULL;

			s->wants[b] = prev ? *prev : (struct vigil_lb_want){ .ep = sc->backends[b].ep };
		}
		s->n_wants = sc->n_backends;
		(*n)++;
	}
	return svcs;
}

static void hp_reconfigure(void *feed, const struct vigil_config *cfg)
{
	struct vigil_haproxy *hp = feed;
	size_t n;
	struct hp_svc *svcs = build_svcs(hp, cfg, &n);

	if (!svcs) {
		pr_err("haproxy: out of memory following the new config: keeping the old mapping");
		return;
	}
	free(hp->svcs);
	hp->svcs = svcs;
	hp->n_svcs = n;
	hp->cfg = cfg;
	hp->derive_due = false;
	hp->next_sync_ns = 0; /* the backends may be others: read the table now */
}

static void *hp_start(const struct vigil_config *cfg)
{
	struct vigil_haproxy *hp = calloc(1, sizeof(*hp));

	if (!hp)
		return NULL;
	hp->worker = hp_worker_new();
	if (!hp->worker) {
		free(hp);
		return NULL;
	}
	hp->sync = (struct hp_conn)HP_CONN_INIT;
	hp_reconfigure(hp, cfg);
	return hp;
}

static void hp_stop(void *feed)
{
	struct vigil_haproxy *hp = feed;

	hp_worker_free(hp->worker);
	hp_conn_close(&hp->sync);
	vigil_hp_table_free(&hp->table);
	free(hp->svcs);
	free(hp);
}

/* ---- pushing -------------------------------------------------------------------- */

static void count_failure(struct vigil_haproxy *hp, __u64 *counter)
{
	(*counter)++;
	hp->stats.last_error_wall_ns = vigil_wall_ns();
	hp->stats_dirty = true;
}

static void unreachable(struct vigil_haproxy *hp, int err, __u64 now)
{
	const struct vigil_haproxy_cfg *h = &hp->cfg->haproxy;

	count_failure(hp, &hp->stats.unreachable);
	if (!hp->said_unreachable)
		pr_warn("haproxy: runtime API %s unreachable: %s: vigil keeps its verdicts and "
			"retries every %u ms", h->socket[0] ? h->socket : "(tcp)", strerror(-err),
			h->retry_ms);
	hp->said_unreachable = true;
	hp->reachable = false;
	hp->stats.reachable = 0;
	hp->next_sync_ns = now + (__u64)h->retry_ms * 1000000ull;
}

/* Appends the commands of the pending ops of w (servers of s's backend with
 * its address) to line; returns false when the line is full. */
static bool add_want(struct vigil_haproxy *hp, struct hp_svc *s, size_t wi, char *line,
		     size_t *used)
{
	static const __u32 order[] = { VIGIL_LB_OP_DOWN, VIGIL_LB_OP_SHUTDOWN, VIGIL_LB_OP_UP,
				       VIGIL_LB_OP_ADMIN };
	struct vigil_lb_want *w = &s->wants[wi];
	size_t idx[SRV_PER_EP], n = vigil_hp_find(&hp->table, s->backend, &w->ep, idx, SRV_PER_EP);

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		if (!(w->pending & order[o]))
			continue;
		if (hp->n_sent + n > MAX_CMDS)
			return false;
		for (size_t k = 0; k < n; k++) {
			struct sent_op *op = &hp->sent[hp->n_sent];
			int len;

			if (vigil_hp_command(order[o], w->admin, s->backend, hp->table.srv[idx[k]].name,
					     op->cmd, sizeof(op->cmd)))
				continue;
			len = snprintf(line + *used, LINE_MAX - *used, "%s%s", *used ? "; " : "",
				       op->cmd);
			if (len < 0 || (size_t)len >= LINE_MAX - *used - 1)
				return false;
			*used += (size_t)len;
			snprintf(op->service, sizeof(op->service), "%s", s->name);
			op->ep = w->ep;
			op->op = order[o];
			op->reapply = w->reapply & order[o];
			op->decided_ns = w->decided_ns;
			hp->n_sent++;
		}
		if (n) {
			w->pending &= ~order[o];
			w->reapply &= ~order[o];
		}
	}
	return true;
}

/* An op that did not reach HAProxy is pending again, unless vigil changed
 * its mind meanwhile (a health edge the other way). */
static void repend(struct vigil_haproxy *hp, const struct sent_op *op)
{
	struct vigil_lb_want *w = want_of(svc_named(hp, op->service), &op->ep, NULL);
	bool health_down = op->op & (VIGIL_LB_OP_DOWN | VIGIL_LB_OP_SHUTDOWN);

	if (!w || (health_down && !w->down) || (op->op == VIGIL_LB_OP_UP && w->down))
		return;
	if (!w->pending || op->decided_ns < w->decided_ns)
		w->decided_ns = op->decided_ns;
	w->pending |= op->op;
	w->reapply |= op->op;
}

static void push_failed(struct vigil_haproxy *hp, int err, __u64 now)
{
	for (size_t i = 0; i < hp->n_sent; i++)
		repend(hp, &hp->sent[i]);
	hp->n_sent = 0;
	unreachable(hp, err, now);
}

static void try_push(struct vigil_haproxy *hp, __u64 now)
{
	char line[LINE_MAX];
	size_t used = 0;
	int ret;

	if (hp_worker_busy(hp->worker) || !hp->have_table || !hp->reachable)
		return;
	hp->n_sent = 0;
	for (size_t i = 0; i < hp->n_svcs; i++)
		for (size_t w = 0; w < hp->svcs[i].n_wants; w++)
			if (hp->svcs[i].wants[w].pending && !add_want(hp, &hp->svcs[i], w, line, &used))
				goto full; /* the rest goes with the next exchange */
full:
	if (!hp->n_sent)
		return;
	memcpy(line + used, "\n", 2);
	ret = hp_worker_submit(hp->worker, &hp->cfg->haproxy, line, now);
	if (ret)
		push_failed(hp, ret, now);
}

static void hp_publish(void *feed, const struct vigil_service_cfg *svc,
		       const struct vigil_desired *want, __u64 now)
{
	struct vigil_haproxy *hp = feed;
	struct hp_svc *s = svc_named(hp, svc->name);
	struct vigil_lb_verdict v[VIGIL_MAX_SVC_BACKENDS];
	__u32 ops = 0;

	if (!s)
		return;
	vigil_lb_verdicts(want, v);
	for (size_t b = 0; b < want->n_backends; b++) {
		struct vigil_lb_want *w = want_of(s, &want->backends[b].ep, NULL);

		if (w)
			ops |= vigil_lb_want_update(w, &v[b], hp->cfg->haproxy.shutdown_sessions, now);
	}
	if (ops)
		try_push(hp, now);
}

/* ---- answers ---------------------------------------------------------------------- */

static void acknowledged(struct vigil_haproxy *hp, const struct sent_op *op,
			 const struct hp_result *r)
{
	char ep[VIGIL_ENDPOINT_STRLEN];

	hp->stats.pushes++;
	hp->stats.reapplied += op->reapply;
	hp->stats.last_ok_wall_ns = vigil_wall_ns();
	vigil_hist_add_ns(hp->stats.acked_us, op->decided_ns, r->answered_ns);
	pr_info("haproxy: %s (service %s backend %s%s): sent %llu us after the decision, "
		"acknowledged after %llu us", op->cmd, op->service,
		vigil_endpoint_format(&op->ep, ep, sizeof(ep)), op->reapply ? ", re-applied" : "",
		(unsigned long long)((r->written_ns - op->decided_ns) / 1000),
		(unsigned long long)((r->answered_ns - op->decided_ns) / 1000));
}

static void push_done(struct vigil_haproxy *hp, struct hp_result *r, __u64 now)
{
	char *out[MAX_CMDS];
	size_t n;

	for (size_t i = 0; r->written_ns && i < hp->n_sent; i++)
		vigil_hist_add_ns(hp->stats.sent_us, hp->sent[i].decided_ns, r->written_ns);
	if (r->error) {
		push_failed(hp, r->error, now);
		return;
	}
	n = vigil_hp_split_answers(r->answer, out, hp->n_sent);
	for (size_t i = 0; i < hp->n_sent; i++) {
		if (i >= n) { /* the answer ended early: not known to be done */
			repend(hp, &hp->sent[i]);
		} else if (!out[i][0]) {
			acknowledged(hp, &hp->sent[i], r);
		} else {
			count_failure(hp, &hp->stats.push_errors);
			out[i][strcspn(out[i], "\n")] = '\0';
			pr_warn("haproxy: refused '%s': %s: reading its servers again", hp->sent[i].cmd,
				out[i]);
			hp->next_sync_ns = now;
		}
	}
	hp->n_sent = 0;
	hp->stats_dirty = true;
}

/* What HAProxy lost (a restart, a reload, its own checks) is pushed again. */
static void check_wants(struct vigil_haproxy *hp, __u64 now)
{
	for (size_t i = 0; i < hp->n_svcs; i++) {
		struct hp_svc *s = &hp->svcs[i];

		for (size_t w = 0; w < s->n_wants; w++) {
			char ep[VIGIL_ENDPOINT_STRLEN];
			size_t idx[SRV_PER_EP];
			size_t n = vigil_hp_find(&hp->table, s->backend, &s->wants[w].ep, idx,
						 SRV_PER_EP);

			if (!n && (s->mapped[w] || !s->warned[w]))
				pr_warn("haproxy: no server of backend %s has the address of service "
					"%s's backend %s: nothing to push for it", s->backend, s->name,
					vigil_endpoint_format(&s->wants[w].ep, ep, sizeof(ep)));
			s->warned[w] |= !n;
			s->mapped[w] = n > 0;
			for (size_t k = 0; k < n; k++)
				vigil_lb_want_check(&s->wants[w], &hp->table.srv[idx[k]], now);
		}
	}
}

static void check_derived(struct vigil_haproxy *hp)
{
	struct vigil_service_cfg *svcs;
	char note[256];
	size_t n;

	if (vigil_hp_derive(hp->cfg, &hp->table, &svcs, &n, note, sizeof(note)))
		return;
	if (note[0] && strcmp(note, hp->derive_note) != 0)
		pr_warn("haproxy: %s", note);
	snprintf(hp->derive_note, sizeof(hp->derive_note), "%s", note);
	hp->derive_due = !vigil_hp_same_derived(hp->cfg, svcs, n);
	free(svcs);
}

static void sync_done(struct vigil_haproxy *hp, __u64 now)
{
	const struct vigil_haproxy_cfg *h = &hp->cfg->haproxy;
	char err[256];

	if (hp->sync.error) {
		unreachable(hp, hp->sync.error, now);
		return;
	}
	if (vigil_hp_parse_discovery(hp->sync.in, h, &hp->table, err, sizeof(err))) {
		count_failure(hp, &hp->stats.push_errors);
		pr_warn("haproxy: reading its servers failed: %s", err);
		hp->next_sync_ns = now + (__u64)h->resync_ms * 1000000ull;
		return;
	}
	if (!hp->reachable)
		pr_info("haproxy: runtime API reachable: %zu servers listed", hp->table.n);
	hp->reachable = true;
	hp->said_unreachable = false;
	hp->have_table = true;
	hp->stats.reachable = 1;
	hp->stats.resyncs++;
	hp->stats_dirty = true;
	hp->next_sync_ns = now + (__u64)h->resync_ms * 1000000ull;
	check_wants(hp, now);
	check_derived(hp);
	try_push(hp, now);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void start_sync(struct vigil_haproxy *hp, __u64 now)
{
	size_t len = 64 + hp->cfg->haproxy.n_backends * (2 * VIGIL_LB_NAME_LEN + 48);
	char *req = malloc(len);
	int ret = req ? vigil_hp_discovery_request(&hp->cfg->haproxy, req, len) : -ENOMEM;

	if (!ret)
		ret = hp_conn_start(&hp->sync, &hp->cfg->haproxy, req, now);
	free(req);
	if (ret)
		unreachable(hp, ret, now);
}

static void hp_run(void *feed, __u64 now)
{
	struct vigil_haproxy *hp = feed;
	struct hp_result r;

	if (hp_worker_take(hp->worker, &r)) {
		push_done(hp, &r, now);
		free(r.answer);
	}
	if (hp_conn_step(&hp->sync, now))
		sync_done(hp, now);
	if (!hp_conn_busy(&hp->sync) && now >= hp->next_sync_ns)
		start_sync(hp, now);
	try_push(hp, now);
}

static size_t hp_pollfds(const void *feed, struct pollfd *fds, size_t max)
{
	const struct vigil_haproxy *hp = feed;
	size_t n = 0;

	if (n < max)
		fds[n++] = (struct pollfd){ .fd = hp_worker_fd(hp->worker), .events = POLLIN };
	if (n < max && hp_conn_busy(&hp->sync))
		fds[n++] = (struct pollfd){ .fd = hp->sync.fd, .events = hp_conn_events(&hp->sync) };
	return n;
}

static int hp_timeout_ms(const void *feed, __u64 now)
{
	const struct vigil_haproxy *hp = feed;
	__u64 next = hp->next_sync_ns;

	if (hp_conn_busy(&hp->sync))
		next = hp->sync.deadline_ns;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

int vigil_haproxy_sync_wait(struct vigil_haproxy *hp)
{
	__u64 now = vigil_now_ns();

	start_sync(hp, now);
	while (hp_conn_busy(&hp->sync)) {
		struct pollfd fd = { .fd = hp->sync.fd, .events = hp_conn_events(&hp->sync) };

		poll(&fd, 1, hp_timeout_ms(hp, now));
		now = vigil_now_ns();
		if (hp_conn_step(&hp->sync, now))
			sync_done(hp, now);
	}
	return hp->have_table ? 0 : -EHOSTUNREACH;
}

const struct vigil_hp_table *vigil_haproxy_table(const struct vigil_haproxy *hp)
{
	return &hp->table;
}

bool vigil_haproxy_derive_due(struct vigil_haproxy *hp)
{
	bool due = hp->derive_due;

	hp->derive_due = false;
	return due;
}

static bool hp_stats(void *feed, struct vigil_feed_stats *out)
{
	struct vigil_haproxy *hp = feed;
	__u32 pending = 0, servers = 0;

	for (size_t i = 0; i < hp->n_svcs; i++)
		for (size_t w = 0; w < hp->svcs[i].n_wants; w++) {
			pending += hp->svcs[i].wants[w].pending != 0;
			servers += hp->svcs[i].mapped[w];
		}
	return vigil_feed_stats_take(&hp->stats, &hp->stats_dirty, pending, servers, out);
}

const struct vigil_feed_ops vigil_haproxy_feed = {
	.name = "haproxy", .start = hp_start, .stop = hp_stop,
	.reconfigure = hp_reconfigure, .publish = hp_publish, .pollfds = hp_pollfds,
	.timeout_ms = hp_timeout_ms, .run = hp_run, .stats = hp_stats,
};
