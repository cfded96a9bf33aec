/* SPDX-License-Identifier: MIT */
/*
 * The services vigild makes from the servers HAProxy lists (haproxy.backends
 * entries that name no configured service), and the running config with
 * them swapped in (haproxy_table.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "haproxy_table.h"

#define MAX_WEIGHT 1000000

static bool has_backend(const struct vigil_service_cfg *s, const struct vigil_endpoint *ep)
{
	for (size_t b = 0; b < s->n_backends; b++)
		if (memcmp(&s->backends[b].ep, ep, sizeof(*ep)) == 0)
			return true;
	return false;
}

/* The servers of one tier (backup or not) of backend be into s; returns how
 * many were left out for want of room. */
static size_t add_tier(struct vigil_service_cfg *s, const struct vigil_hp_table *t,
		       const char *be, bool backup)
{
	size_t in_tier = 0, left_out = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct vigil_hp_server *srv = &t->srv[i];
		struct vigil_backend_cfg *b = &s->backends[s->n_backends];

		if (srv->backup != backup || !srv->ep.family || strcmp(srv->backend, be) != 0 ||
		    has_backend(s, &srv->ep))
			continue;
		if (in_tier == VIGIL_MAX_SET || s->n_backends == VIGIL_MAX_SVC_BACKENDS) {
			left_out++;
			continue;
		}
		b->ep = srv->ep;
		b->weight = srv->weight ? (srv->weight > MAX_WEIGHT ? MAX_WEIGHT : srv->weight) : 1;
		b->role = backup ? VIGIL_ROLE_BACKUP : VIGIL_ROLE_PRIMARY;
		s->n_backends++;
		in_tier++;
	}
	return left_out;
}

int vigil_hp_derive(const struct vigil_config *cfg, const struct vigil_hp_table *t,
		    struct vigil_service_cfg **out, size_t *n, char *note, size_t notelen)
{
	const struct vigil_haproxy_cfg *h = &cfg->haproxy;
	struct vigil_service_cfg *svcs = calloc(h->n_backends ? h->n_backends : 1, sizeof(*svcs));

	*out = NULL;
	*n = 0;
	if (notelen)
		note[0] = '\0';
	if (!svcs)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_backends; i++) {
		struct vigil_service_cfg *s = &svcs[*n];
		size_t left_out;

		if (!h->backends[i].derived)
			continue;
		*s = h->backends[i].tmpl;
		s->n_backends = 0;
		left_out = add_tier(s, t, h->backends[i].backend, false);
		s->n_primaries = s->n_backends;
		left_out += add_tier(s, t, h->backends[i].backend, true);
		if (left_out && notelen)
			snprintf(note, notelen, "HAProxy backend %s: %zu servers left out (at most "
				 "%d servers and %d backup servers, %d in all)",
				 h->backends[i].backend, left_out, VIGIL_MAX_SET, VIGIL_MAX_SET,
				 VIGIL_MAX_SVC_BACKENDS);
		if (s->n_primaries == 0) /* nothing to judge, or only backups: no service */
			continue;
		vigil_name_key(s->name, &s->vips[0]);
		s->n_vips = 1;
		(*n)++;
	}
	*out = svcs;
	return 0;
}

static int check_room(const struct vigil_config *cfg, char *err, size_t errlen)
{
	long all = vigil_config_distinct_backends(cfg, true, 0);
	long svc = vigil_config_distinct_backends(cfg, false, 0);
	size_t vips = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		vips += cfg->services[i].n_vips;
	if (all < 0 || svc < 0)
		return -ENOMEM;
	if (all > VIGIL_MAX_WATCH_EXACT || svc > VIGIL_MAX_HEALTH || all > (long)cfg->watch_all_max)
		snprintf(err, errlen, "%ld distinct backends with the servers HAProxy lists, at "
			 "most %u can be watched (daemon.watch_all_max)", all,
			 cfg->watch_all_max < VIGIL_MAX_WATCH_EXACT ? cfg->watch_all_max
								   : VIGIL_MAX_WATCH_EXACT);
	else if (vips > VIGIL_MAX_SERVICES)
		snprintf(err, errlen, "%zu services with those HAProxy makes, at most %d", vips,
			 VIGIL_MAX_SERVICES);
	else
		return 0;
	return -E2BIG;
}

int vigil_hp_config_with(const struct vigil_config *cfg, const struct vigil_service_cfg *svcs,
			 size_t n, struct vigil_config *dst, char *err, size_t errlen)
{
	struct vigil_service_cfg *all = calloc(cfg->n_services + n + 1, sizeof(*all));
	size_t k = 0;
	int ret;

	if (!all || vigil_config_copy(dst, cfg)) {
		free(all);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_services; i++)
		if (!cfg->services[i].from_haproxy)
			all[k++] = cfg->services[i];
	for (size_t i = 0; i < n; i++)
		all[k++] = svcs[i];
	free(dst->services);
	dst->services = all;
	dst->n_services = k;
	ret = check_room(dst, err, errlen);
	if (ret)
		vigil_config_free(dst);
	return ret;
}

static bool same_backends(const struct vigil_service_cfg *a, const struct vigil_service_cfg *b)
{
	if (strcmp(a->name, b->name) != 0 || a->n_backends != b->n_backends ||
	    a->n_primaries != b->n_primaries)
		return false;
	for (size_t i = 0; i < a->n_backends; i++)
		if (memcmp(&a->backends[i].ep, &b->backends[i].ep, sizeof(a->backends[i].ep)) != 0 ||
		    a->backends[i].weight != b->backends[i].weight ||
		    a->backends[i].role != b->backends[i].role)
			return false;
	return true;
}

bool vigil_hp_same_derived(const struct vigil_config *cfg, const struct vigil_service_cfg *svcs,
			   size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		if (!cfg->services[i].from_haproxy)
			continue;
		if (k == n || !same_backends(&cfg->services[i], &svcs[k]))
			return false;
		k++;
	}
	return k == n;
}
