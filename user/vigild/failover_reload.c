/* SPDX-License-Identifier: MIT */
/*
 * Config reload of the failover engine (see failover.h). The matching and
 * the carried-over detector state are decided in reload_plan.c (pure,
 * unit-tested); this file moves the engine's own per-backend state along
 * and brings the pinned maps in line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "failover_int.h"
#include "log.h"
#include "reload_plan.h"

struct vigil_failover_reload {
	const struct vigil_config *cfg;
	struct fo_service *svcs;        /* one per service of cfg, in its order */
	size_t n_svcs;
	struct vigil_endpoint *old_vip; /* per service: its first VIP before (family 0: new) */
	struct vigil_prober *prober;    /* NULL: keep the running one */
};

/* Service c of the new config from old (NULL: new service). A service that
 * stays keeps its id and last published set; it is published again when
 * anything in its config changed, since the datapath, VIPs or table size
 * may differ even if the selection does not. */
static void carry_service(const struct fo_service *old, const struct vigil_service_cfg *c,
			  struct fo_service *s, __u64 now)
{
	int idx[VIGIL_MAX_SVC_BACKENDS];
	bool changed;

	vigil_reload_match_backends(old ? old->cfg : NULL, c, idx);
	vigil_reload_carry_det(old ? &old->det : NULL, idx, c, now, &s->det);
	s->cfg = c;
	s->pub.force = true;
	if (!old)
		return;
	for (size_t b = 0; b < c->n_backends; b++)
		if (idx[b] >= 0)
			s->rt[b] = old->rt[idx[b]];
	changed = vigil_reload_service_changed(old->cfg, c);
	s->id = old->id;
	s->pub = old->pub;
	s->pub.valid = old->pub.valid && !changed;
	s->pub.force = old->pub.force || changed;
}

static void reload_free(struct vigil_failover_reload *r)
{
	if (!r)
		return;
	vigil_prober_free(r->prober);
	free(r->svcs);
	free(r->old_vip);
	free(r);
}

static int build_services(struct vigil_failover *fo, struct vigil_failover_reload *r)
{
	size_t n = r->cfg->n_services;
	__u32 *kept = calloc(n ? n : 1, sizeof(*kept)), *ids = calloc(n ? n : 1, sizeof(*ids));
	__u64 now = vigil_now_ns();
	int ret = -ENOMEM;

	/* One fo_service is ~350 KiB: allocated, never on the stack. */
	r->svcs = calloc(n ? n : 1, sizeof(*r->svcs));
	r->old_vip = calloc(n ? n : 1, sizeof(*r->old_vip));
	if (!kept || !ids || !r->svcs || !r->old_vip)
		goto out;
	r->n_svcs = n;
	for (size_t i = 0; i < n; i++) {
		int j = vigil_reload_find_service(fo->cfg, r->cfg->services[i].name);
		const struct fo_service *old = j >= 0 ? &fo->svcs[j] : NULL;

		carry_service(old, &r->cfg->services[i], &r->svcs[i], now);
		if (old) {
			kept[i] = old->id;
			r->old_vip[i] = old->cfg->vips[0];
		}
	}
	vigil_reload_assign_ids(kept, n, ids);
	for (size_t i = 0; i < n; i++)
		r->svcs[i].id = ids[i];
	ret = 0;
out:
	free(kept);
	free(ids);
	return ret;
}

int vigil_failover_reload_prepare(struct vigil_failover *fo, const struct vigil_config *cfg,
				  struct vigil_failover_reload **out, char *err, size_t errlen)
{
	struct vigil_failover_reload *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	ret = build_services(fo, r);
	if (ret) {
		snprintf(err, errlen, "out of memory setting up %zu services", cfg->n_services);
		goto fail;
	}
	if (strcmp(fo->cfg->probe_netns, cfg->probe_netns) != 0) {
		r->prober = vigil_prober_new(cfg->probe_netns[0] ? cfg->probe_netns : NULL);
		if (!r->prober) {
			ret = -errno;
			snprintf(err, errlen, "cannot set up probes in network namespace '%s': %s: "
				 "fix daemon.probe_netns", cfg->probe_netns, strerror(errno));
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	reload_free(r);
	return ret;
}

/* vigild reads admin states under a service's first VIP: when that VIP
 * changed, they move along before the old keys are removed as stale. */
static void move_admin(struct vigil_failover *fo, const struct vigil_failover_reload *r)
{
	for (size_t i = 0; i < r->n_svcs; i++)
		if (r->old_vip[i].family)
			vigil_publish_move_admin(&fo->pub, &r->old_vip[i], r->svcs[i].cfg);
}

/* Probes running in the old prober are lost with it: the detector starts
 * them again when they are next due. */
static void switch_prober(struct vigil_failover *fo, struct vigil_prober *p)
{
	vigil_prober_free(fo->prober);
	fo->prober = p;
	for (size_t i = 0; i < fo->n_svcs; i++)
		for (size_t b = 0; b < fo->svcs[i].det.n_backends; b++)
			fo->svcs[i].rt[b].probe_in_flight = false;
}

void vigil_failover_reload_commit(struct vigil_failover *fo, struct vigil_failover_reload *r,
				  struct vigil_pkt_dp *pkt)
{
	const struct vigil_config *old_cfg = fo->cfg; /* alive until after commit */
	struct fo_service *old = fo->svcs;
	int ret;

	move_admin(fo, r);
	fo->cfg = r->cfg;
	fo->svcs = r->svcs;
	fo->n_svcs = r->n_svcs;
	vigil_publisher_switch(&fo->pub, r->cfg, pkt);
	r->svcs = NULL;
	if (r->prober)
		switch_prober(fo, r->prober);
	r->prober = NULL;
	/* Stale entries go first: the maps are sized for one config, not two. */
	vigil_publish_remove_stale(&fo->pub);
	vigil_publish_retire_pkt_backends(&fo->pub, old_cfg);
	ret = vigil_publish_thresholds(&fo->pub);
	if (ret)
		pr_err("reload: writing fast-path thresholds failed: %s", strerror(-ret));
	fo->event_pending = true; /* publish the new sets on the next run */
	free(old);
	reload_free(r);
}

void vigil_failover_reload_abort(struct vigil_failover_reload *r)
{
	reload_free(r);
}
