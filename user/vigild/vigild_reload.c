/* SPDX-License-Identifier: MIT */
/*
 * Config reload on SIGHUP. Order: parse and check (nothing changes), prepare
 * the engine's new state in memory, then the steps that change the kernel
 * and can fail (load and attach datapaths newly in use, re-sync the watch
 * maps), each undone in reverse order if a later one fails, and last the
 * engine switch and the removal of datapaths no longer in use, which cannot
 * fail. The monitor's hooks stay attached throughout, and the datapaths
 * serve the last published sets until the engine publishes the new ones.
 * What is live and what needs a restart: docs/config.md, "Reload".
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config_host.h"
#include "failover.h"
#include "host.h"
#include "lbfeeds.h"
#include "log.h"
#include "monitor.h"
#include "pkt_dp.h"
#include "pkt_hooks.h"
#include "probe.h"
#include "reload_plan.h"
#include "safefile.h"
#include "sock_dp.h"
#include "state_maps.h"
#include "vigild.h"

struct txn {
	const struct vigil_config *old, *next;
	__u32 old_dp, next_dp;                 /* VIGIL_DATAPATH_* in use */
	struct vigil_failover_reload *fo_next; /* prepared switch of the running engine */
	struct vigil_failover *fo_new;         /* engine started: none ran before */
	struct vigil_state_maps *state_new;    /* state maps loaded: none were */
	struct vigil_sock_dp *sock_new;        /* socket datapath loaded: none was */
	struct vigil_pkt_dp *pkt_new;          /* packet datapath started: not in use before */
	bool pkt_reconciled, sock_attached, watch_synced; /* to undo on failure */
	char err[512];
};

static struct vigil_sock_dp *sock_of(const struct vigild *d, const struct txn *t)
{
	return d->sock ? d->sock : t->sock_new;
}

static struct vigil_state_maps *state_of(const struct vigild *d, const struct txn *t)
{
	return d->state ? d->state : t->state_new;
}

/* The packet datapath serving the new config, NULL when it uses none. */
static struct vigil_pkt_dp *pkt_of(const struct vigild *d, const struct txn *t)
{
	if (!(t->next_dp & VIGIL_DATAPATH_XDP))
		return NULL;
	return d->pkt ? d->pkt : t->pkt_new;
}

/* ---- checks: nothing changes ----------------------------------------------- */

static int check_capacity(struct txn *t)
{
	size_t n = vigil_reload_exact_endpoints(t->old, t->next);

	if (n <= VIGIL_MAX_WATCH_EXACT)
		return 0;
	if (n == (size_t)-1) {
		snprintf(t->err, sizeof(t->err), "out of memory counting watched endpoints");
		return -ENOMEM;
	}
	snprintf(t->err, sizeof(t->err), "the watch map would hold %zu endpoints while the old "
		 "and the new config are swapped, at most %d fit: restart vigild to apply this "
		 "config", n, VIGIL_MAX_WATCH_EXACT);
	return -E2BIG;
}

/* Every XDP interface exists (in xdp.netns) before any step runs: when the
 * namespace changes, the old attachments go before the new ones are made. */
static int check_interfaces(struct txn *t)
{
	if (!(t->next_dp & VIGIL_DATAPATH_XDP))
		return 0;
	return vigil_pkt_hooks_check(t->next, t->err, sizeof(t->err));
}

/* A running engine checks a changed probe_netns while it prepares; one that
 * is about to start is checked here, before anything is attached. */
static int check_probe_netns(const struct vigild *d, struct txn *t)
{
	struct vigil_prober *p;

	if (d->fo || t->next->n_services == 0 || !t->next->probe_netns[0])
		return 0;
	p = vigil_prober_new(t->next->probe_netns);
	if (!p) {
		int e = errno;

		snprintf(t->err, sizeof(t->err), "cannot set up probes in network namespace '%s': "
			 "%s: fix daemon.probe_netns", t->next->probe_netns, strerror(e));
		return -e;
	}
	vigil_prober_free(p);
	return 0;
}

static int prepare(struct vigild *d, struct txn *t)
{
	int ret = check_capacity(t);

	if (!ret)
		ret = check_interfaces(t);
	if (!ret)
		ret = check_probe_netns(d, t);
	if (!ret && d->fo)
		ret = vigil_failover_reload_prepare(d->fo, t->next, &t->fo_next, t->err,
						    sizeof(t->err));
	return ret;
}

/* ---- steps that change the kernel and can fail ----------------------------- */

/* The state maps every service is published in, whatever its datapath, and
 * the socket datapath once a service uses it. */
static int load_sock(struct vigild *d, struct txn *t)
{
	int ret = 0;

	if (!d->state && vigild_needs_state(t->next))
		ret = vigil_state_maps_load(&t->state_new, t->next->pin_dir, t->err,
					    sizeof(t->err));
	if (!ret && !d->sock && (t->next_dp & VIGIL_DATAPATH_SOCKET))
		ret = vigil_sock_dp_load(&t->sock_new, t->next->pin_dir, t->err, sizeof(t->err));
	return ret;
}

static int pkt_up(struct vigild *d, struct txn *t)
{
	int ret;

	if (!(t->next_dp & VIGIL_DATAPATH_XDP))
		return 0;
	if (!d->pkt) {
		ret = vigil_pkt_dp_start(&t->pkt_new, t->next, t->err, sizeof(t->err));
		if (ret) /* interfaces attached before the one that failed */
			vigil_pkt_dp_detach_pinned(t->next->pin_dir, t->next->xdp_netns);
		return ret;
	}
	/* Attachments are recorded by interface name: an interface of the same
	 * name in the old namespace would keep its attachment. */
	if (strcmp(t->old->xdp_netns, t->next->xdp_netns) != 0)
		vigil_pkt_dp_detach_pinned(t->old->pin_dir, t->old->xdp_netns);
	t->pkt_reconciled = true;
	return vigil_pkt_dp_reconcile(d->pkt, t->next, t->err, sizeof(t->err));
}

/* Swaps the programs in place, or moves them when lb.cgroup changed. */
static int sock_up(struct vigild *d, struct txn *t)
{
	if (!(t->next_dp & VIGIL_DATAPATH_SOCKET))
		return 0;
	t->sock_attached = true;
	return vigil_sock_dp_attach(sock_of(d, t), t->next->lb_cgroup, t->err, sizeof(t->err));
}

static int engine_up(struct vigild *d, struct txn *t)
{
	struct vigil_monitor_maps mon;
	struct vigil_svc_maps maps;

	if (d->fo || t->next->n_services == 0)
		return 0;
	int ret;

	vigil_state_maps_fds(state_of(d, t), &maps);
	vigil_monitor_maps(d->mon, &mon);
	ret = vigil_failover_start(&t->fo_new, t->next, &mon, &maps, pkt_of(d, t), t->err,
				   sizeof(t->err));
	if (!ret)
		vigil_failover_set_feeds(t->fo_new, d->feeds);
	return ret;
}

static int monitor_up(struct vigild *d, struct txn *t)
{
	t->watch_synced = true;
	return vigil_monitor_reconfigure(d->mon, t->next, t->err, sizeof(t->err));
}

/* ---- undo, in reverse order --------------------------------------------------- */

static void undo_sock(struct vigild *d, struct txn *t)
{
	char err[512];

	if (!(t->old_dp & VIGIL_DATAPATH_SOCKET))
		vigil_sock_dp_detach_pinned(t->old->pin_dir);
	else if (vigil_sock_dp_attach(sock_of(d, t), t->old->lb_cgroup, err, sizeof(err)))
		pr_err("reload: restoring the socket load balancer failed: %s", err);
}

/* Back to the old interfaces, in the old namespace. */
static void undo_pkt(struct vigild *d, struct txn *t)
{
	char err[512];

	if (strcmp(t->old->xdp_netns, t->next->xdp_netns) != 0)
		vigil_pkt_dp_detach_pinned(t->next->pin_dir, t->next->xdp_netns);
	if (vigil_pkt_dp_reconcile(d->pkt, t->old, err, sizeof(err)))
		pr_err("reload: restoring the XDP attachments failed: %s", err);
}

static void undo(struct vigild *d, struct txn *t)
{
	char err[512];

	if (t->watch_synced && vigil_monitor_reconfigure(d->mon, t->old, err, sizeof(err)))
		pr_err("reload: restoring the watch maps failed: %s", err);
	vigil_failover_stop(t->fo_new);
	if (t->sock_attached)
		undo_sock(d, t);
	if (t->pkt_new) {
		vigil_pkt_dp_stop(t->pkt_new);
		vigil_pkt_dp_detach_pinned(t->next->pin_dir, t->next->xdp_netns);
	}
	if (t->pkt_reconciled)
		undo_pkt(d, t);
	vigil_sock_dp_stop(t->sock_new);
	vigil_state_maps_stop(t->state_new);
	vigil_failover_reload_abort(t->fo_next);
}

/* ---- the switch: cannot fail ---------------------------------------------------- */

static void stop_unused_datapaths(struct vigild *d, struct txn *t)
{
	if (!(t->next_dp & VIGIL_DATAPATH_XDP) && d->pkt) {
		vigil_pkt_dp_detach_pinned(t->old->pin_dir, t->old->xdp_netns);
		vigil_pkt_dp_stop(d->pkt);
		d->pkt = NULL;
	}
	if (!(t->next_dp & VIGIL_DATAPATH_SOCKET)) {
		vigil_sock_dp_detach_pinned(t->next->pin_dir);
		vigil_sock_dp_stop(d->sock); /* lets go of the hooks: they detach */
		d->sock = NULL;
	}
}

static void commit(struct vigild *d, struct txn *t)
{
	struct vigil_pkt_dp *pkt = pkt_of(d, t);

	if (t->state_new)
		d->state = t->state_new;
	if (t->sock_new)
		d->sock = t->sock_new;
	if (t->pkt_new)
		d->pkt = t->pkt_new;
	if (t->fo_next)
		vigil_failover_reload_commit(d->fo, t->fo_next, pkt);
	if (t->fo_new)
		d->fo = t->fo_new;
	/* Every XDP VIP no longer configured, all of them when XDP goes. */
	if (d->pkt)
		vigil_pkt_dp_remove_stale(d->pkt, t->next);
	stop_unused_datapaths(d, t);
	/* The feeds follow before the new sets are published to them. */
	vigil_lbfeeds_reconfigure(d->feeds, t->next);
	vigild_rescue_sync(d, t->next); /* cannot fail: what it cannot do is logged */
	if (d->fo)
		vigil_failover_run(d->fo, vigil_now_ns()); /* publish the new sets now */
}

static int apply(struct vigild *d, struct txn *t)
{
	int ret = prepare(d, t);

	if (!ret)
		ret = load_sock(d, t);
	if (!ret)
		ret = pkt_up(d, t);
	if (!ret)
		ret = sock_up(d, t);
	if (!ret)
		ret = engine_up(d, t);
	if (!ret)
		ret = monitor_up(d, t);
	if (ret) {
		undo(d, t);
		return ret;
	}
	commit(d, t);
	return 0;
}

/* ---- entry ------------------------------------------------------------------------ */

static void log_summary(const struct vigild *d, const struct vigil_reload_summary *s,
			const char *what)
{
	const struct vigil_config *c = d->cfg;

	pr_info("%s: %zu services (%zu added, %zu removed, %zu changed), "
		"backends %zu added, %zu removed; watching %zu endpoints, %zu prefixes, %zu local "
		"ports%s", what, c->n_services, s->services_added, s->services_removed,
		s->services_changed, s->backends_added, s->backends_removed, c->n_backends,
		c->n_prefixes, c->n_local_ports,
		c->watch_all ? ", and every outgoing connection" : "");
}

/* daemon.sched_priority; 0 returns vigild to the normal policy. */
static void apply_sched_priority(const struct vigil_config *old, const struct vigil_config *next)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (old->sched_priority == next->sched_priority)
		return;
	if (next->sched_priority) {
		vigil_host_set_sched_priority(next->sched_priority);
		return;
	}
	if (sched_setscheduler(0, SCHED_OTHER, &sp) == 0)
		pr_info("running at the normal scheduling policy (daemon.sched_priority: 0)");
	else
		pr_warn("cannot return to the normal scheduling policy: %s", strerror(errno));
}

static void free_config(struct vigil_config *cfg)
{
	vigil_config_free(cfg);
	free(cfg);
}

/* Parse and validate; refuse settings that need a restart. */
static struct vigil_config *load_next(const struct vigild *d)
{
	struct vigil_config *next = calloc(1, sizeof(*next));
	char err[512];
	int more;

	if (!next) {
		pr_err("reload of %s failed: out of memory: keeping the running config",
		       d->config_path);
		return NULL;
	}
	/* Who may write the file is checked on every reload: a config made
	 * world-writable after the start must not be applied either. */
	if (vigil_config_file_check(d->config_path, err, sizeof(err)) ||
	    vigil_config_load_file(d->config_path, next, err, sizeof(err))) {
		pr_err("reload refused: %s: keeping the running config", err);
		free(next);
		return NULL;
	}
	if (vigil_config_host_check(next, d->config_path, err, sizeof(err))) {
		pr_err("reload refused: %s: keeping the running config", err);
		free_config(next);
		return NULL;
	}
	more = vigil_reload_restart_needed(d->cfg, next, err, sizeof(err));
	if (more) {
		pr_err("reload of %s refused: %s%s: keeping the running config", d->config_path,
		       err, more > 1 ? " (and another setting that needs a restart)" : "");
		free_config(next);
		return NULL;
	}
	return next;
}

bool vigild_needs_state(const struct vigil_config *cfg)
{
	return cfg->n_services || cfg->haproxy.enabled || cfg->nginx.enabled;
}

int vigild_apply(struct vigild *d, struct vigil_config *next, const char *what,
		 const char *done)
{
	struct vigil_reload_summary sum;
	struct txn t = { .old = d->cfg, .next = next, .old_dp = vigil_reload_datapaths(d->cfg),
			 .next_dp = vigil_reload_datapaths(next) };

	if (apply(d, &t)) {
		pr_err("%s failed: %s: keeping the running config", what, t.err);
		free_config(next);
		return -EIO;
	}
	vigil_reload_summarize(d->cfg, next, &sum);
	apply_sched_priority(d->cfg, next);
	free_config(d->cfg); /* the engine and the feeds point into next now */
	d->cfg = next;
	vigild_cluster_sync(d);
	vigil_log_set_level(d->log_level_override >= 0 ? (enum vigil_log_level)d->log_level_override
						       : next->log_level);
	log_summary(d, &sum, done);
	return 0;
}

int vigild_reload(struct vigild *d)
{
	struct vigil_config *next;
	char what[300], done[300];

	pr_info("SIGHUP: reloading %s", d->config_path);
	next = load_next(d);
	if (next) /* the services HAProxy's servers make stay */
		next = vigild_with_derived(d, next);
	if (!next)
		return -EINVAL;
	snprintf(what, sizeof(what), "reload of %s", d->config_path);
	snprintf(done, sizeof(done), "config reloaded from %s", d->config_path);
	return vigild_apply(d, next, what, done) ? -EIO : 0;
}
