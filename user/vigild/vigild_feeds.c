/* SPDX-License-Identifier: MIT */
/*
 * vigild and the load balancers it feeds (vigild.h): starting the feeds,
 * the services made from the servers HAProxy lists (haproxy.backends entries
 * naming no configured service), rebuilt through the reload transaction
 * whenever HAProxy's servers change, and the feeds' turn in the main loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy.h"
#include "haproxy_table.h"
#include "lbfeeds.h"
#include "log.h"
#include "state_maps.h"
#include "vigild.h"

static void free_config(struct vigil_config *cfg)
{
	vigil_config_free(cfg);
	free(cfg);
}

static bool has_derived(const struct vigil_config *cfg)
{
	for (size_t i = 0; i < cfg->haproxy.n_backends; i++)
		if (cfg->haproxy.backends[i].derived)
			return true;
	return false;
}

struct vigil_config *vigild_with_derived(struct vigild *d, struct vigil_config *next)
{
	struct vigil_haproxy *hp = vigil_lbfeeds_haproxy(d->feeds);
	const struct vigil_hp_table *t = hp ? vigil_haproxy_table(hp) : NULL;
	struct vigil_service_cfg *svcs = NULL;
	struct vigil_config *out = NULL;
	char note[256], err[256] = "out of memory";
	size_t n;

	if (!has_derived(next) || !t || !t->n)
		return next;
	if (!vigil_hp_derive(next, t, &svcs, &n, note, sizeof(note))) {
		out = calloc(1, sizeof(*out));
		if (out && vigil_hp_config_with(next, svcs, n, out, err, sizeof(err))) {
			free(out);
			out = NULL;
		}
	}
	if (!out)
		pr_err("haproxy: the services made from its servers do not fit: %s", err);
	free(svcs);
	free_config(next);
	return out;
}

/* HAProxy's servers changed: the services made from them follow, the
 * backends that stay keep their state (a reload, docs/config.md). */
static void rederive(struct vigild *d)
{
	struct vigil_config *next = calloc(1, sizeof(*next));

	if (!next || vigil_config_copy(next, d->cfg)) {
		free(next);
		pr_err("haproxy: out of memory following its servers");
		return;
	}
	next = vigild_with_derived(d, next);
	if (next)
		vigild_apply(d, next, "following HAProxy's servers",
			     "services made from HAProxy's servers updated");
}

int vigild_feeds_start(struct vigild *d)
{
	struct vigil_haproxy *hp;
	struct vigil_config *next;

	d->feeds = vigil_lbfeeds_new(d->cfg);
	if (!d->feeds)
		return -ENOMEM;
	hp = vigil_lbfeeds_haproxy(d->feeds);
	if (!hp || !has_derived(d->cfg))
		return 0;
	if (vigil_haproxy_sync_wait(hp)) {
		pr_warn("haproxy: its servers could not be read at start: the services made from "
			"them start once it answers");
		return 0;
	}
	next = calloc(1, sizeof(*next));
	if (!next || vigil_config_copy(next, d->cfg)) {
		free(next);
		return -ENOMEM;
	}
	next = vigild_with_derived(d, next);
	if (!next)
		return 0; /* said why; runs with the configured services */
	free_config(d->cfg);
	d->cfg = next;
	vigil_lbfeeds_reconfigure(d->feeds, d->cfg);
	vigil_haproxy_derive_due(hp); /* taken care of */
	return 0;
}

void vigild_feeds_tick(struct vigild *d, __u64 now)
{
	struct vigil_haproxy *hp = vigil_lbfeeds_haproxy(d->feeds);

	vigil_lbfeeds_run(d->feeds, now);
	vigil_lbfeeds_write_stats(d->feeds, vigil_state_maps_lb_feeds_fd(d->state));
	if (hp && vigil_haproxy_derive_due(hp))
		rederive(d);
}
