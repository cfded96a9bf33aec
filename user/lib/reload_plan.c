/* SPDX-License-Identifier: MIT */
/* Config reload planning; see reload_plan.h. Pure: nothing here touches the
 * kernel, so every decision about what carries over is unit-tested. */
#include "reload_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_ep(const struct vigil_endpoint *a, const struct vigil_endpoint *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* ---- settings that need a restart ------------------------------------------- */

int vigil_reload_restart_needed(const struct vigil_config *old, const struct vigil_config *next,
				char *why, size_t whylen)
{
	int n = 0;

	if (whylen)
		why[0] = '\0';
	/* Every map, link and vigilctl lives under pin_dir. */
	if (strcmp(old->pin_dir, next->pin_dir) != 0) {
		snprintf(why, whylen, "daemon.pin_dir changed (%s -> %s): the maps and links "
			 "are pinned there; restart vigild to move them", old->pin_dir,
			 next->pin_dir);
		n++;
	}
	/* The running XDP program has it as read-only data. */
	if ((vigil_reload_datapaths(old) & vigil_reload_datapaths(next) & VIGIL_DATAPATH_XDP) &&
	    old->xdp_forward != next->xdp_forward) {
		if (n == 0)
			snprintf(why, whylen, "xdp.forward changed: it is read-only data of the "
				 "running XDP program; restart vigild to apply it");
		n++;
	}
	/* backend_stats is a pinned map whose size is fixed when it is created. */
	if (old->watch_all_max != next->watch_all_max) {
		if (n == 0)
			snprintf(why, whylen, "daemon.watch_all_max changed (%u -> %u): it sizes "
				 "the pinned backend_stats map; stop vigild, run 'vigild --unpin' "
				 "and start it again", old->watch_all_max, next->watch_all_max);
		n++;
	}
	/* The listening socket is bound once, before anything is loaded. */
	if (old->metrics.enabled != next->metrics.enabled ||
	    (next->metrics.enabled &&
	     memcmp(&old->metrics.listen, &next->metrics.listen, sizeof(old->metrics.listen)))) {
		if (n == 0)
			snprintf(why, whylen, "metrics.enabled or metrics.listen changed: vigild "
				 "binds its metrics address at start; restart vigild to move it");
		n++;
	}
	return n;
}

/* ---- matching ------------------------------------------------------------------ */

int vigil_reload_find_service(const struct vigil_config *cfg, const char *name)
{
	return vigil_config_service_index(cfg, name);
}

static int find_backend(const struct vigil_service_cfg *svc, const struct vigil_endpoint *ep)
{
	for (size_t i = 0; i < svc->n_backends; i++)
		if (same_ep(&svc->backends[i].ep, ep))
			return (int)i;
	return -1;
}

void vigil_reload_match_backends(const struct vigil_service_cfg *old,
				 const struct vigil_service_cfg *next, int *old_index)
{
	for (size_t i = 0; i < next->n_backends; i++)
		old_index[i] = old ? find_backend(old, &next->backends[i].ep) : -1;
}

/* Field by field: the structs hold doubles after __u32s, so their padding
 * is not guaranteed to compare equal. */
static bool same_params(const struct vigil_det_params *a, const struct vigil_det_params *b)
{
	return a->consecutive_failures == b->consecutive_failures &&
	       a->error_ratio == b->error_ratio && a->error_min_requests == b->error_min_requests &&
	       a->window_ms == b->window_ms && a->slow_factor == b->slow_factor &&
	       a->slow_floor_ms == b->slow_floor_ms && a->slow_min_samples == b->slow_min_samples &&
	       a->stuck_factor == b->stuck_factor &&
	       a->stuck_connect_floor_ms == b->stuck_connect_floor_ms &&
	       a->stuck_request_floor_ms == b->stuck_request_floor_ms &&
	       a->stall_floor_ms == b->stall_floor_ms &&
	       a->stuck_unacked_floor_ms == b->stuck_unacked_floor_ms &&
	       a->eject_base_ms == b->eject_base_ms && a->eject_max_ms == b->eject_max_ms &&
	       a->probe_interval_ms == b->probe_interval_ms &&
	       a->probe_successes == b->probe_successes &&
	       a->max_ejection_share == b->max_ejection_share;
}

static bool same_backends(const struct vigil_service_cfg *a, const struct vigil_service_cfg *b)
{
	if (a->n_backends != b->n_backends || a->n_primaries != b->n_primaries)
		return false;
	for (size_t i = 0; i < a->n_backends; i++)
		if (!same_ep(&a->backends[i].ep, &b->backends[i].ep) ||
		    a->backends[i].weight != b->backends[i].weight ||
		    a->backends[i].role != b->backends[i].role)
			return false;
	return true;
}

static bool same_vips(const struct vigil_service_cfg *a, const struct vigil_service_cfg *b)
{
	if (a->n_vips != b->n_vips)
		return false;
	for (size_t i = 0; i < a->n_vips; i++)
		if (!same_ep(&a->vips[i], &b->vips[i]))
			return false;
	return true;
}

bool vigil_reload_service_changed(const struct vigil_service_cfg *a,
				  const struct vigil_service_cfg *b)
{
	return !same_vips(a, b) || !same_backends(a, b) ||
	       !same_params(&a->detection, &b->detection) || a->datapath != b->datapath || a->table_size != b->table_size ||
	       strcmp(a->probe_http_path, b->probe_http_path) != 0 ||
	       a->probe_timeout_ms != b->probe_timeout_ms || a->syn_rto_ms != b->syn_rto_ms;
}

/* ---- detector state ------------------------------------------------------------ */

static void keep_backend(const struct vigil_det_backend *from, const struct vigil_backend_cfg *c,
			 bool clear_window, struct vigil_det_backend *to)
{
	*to = *from;
	to->weight = c->weight;
	to->role = c->role;
	if (clear_window)
		memset(to->window, 0, sizeof(to->window));
}

void vigil_reload_carry_det(const struct vigil_det_service *old, const int *old_index,
			    const struct vigil_service_cfg *next, __u64 now_ns,
			    struct vigil_det_service *out)
{
	bool clear_window = old && old->params.window_ms != next->detection.window_ms;

	vigil_det_init(out, &next->detection);
	if (old) {
		out->set_flags = old->set_flags; /* service-level changes are reported against it */
		out->now_ns = old->now_ns;
	}
	for (size_t i = 0; i < next->n_backends; i++) {
		const struct vigil_backend_cfg *c = &next->backends[i];

		if (old && old_index[i] >= 0 && (size_t)old_index[i] < old->n_backends)
			keep_backend(&old->backends[old_index[i]], c, clear_window,
				     &out->backends[out->n_backends++]);
		else
			vigil_det_add_backend(out, &c->ep, c->weight, c->role, now_ns);
	}
	if (now_ns > out->now_ns)
		out->now_ns = now_ns;
}

/* ---- ids ------------------------------------------------------------------------- */

static bool id_used(const __u32 *kept, const __u32 *ids, size_t n, size_t upto, __u32 id)
{
	for (size_t i = 0; i < n; i++)
		if (kept[i] == id || (i < upto && ids[i] == id))
			return true;
	return false;
}

void vigil_reload_assign_ids(const __u32 *kept, size_t n, __u32 *ids)
{
	__u32 next_free = 1;

	for (size_t i = 0; i < n; i++) {
		if (kept[i]) {
			ids[i] = kept[i];
			continue;
		}
		while (id_used(kept, ids, n, i, next_free))
			next_free++;
		ids[i] = next_free++;
	}
}

/* ---- summary ------------------------------------------------------------------------- */

/* Backends of a that b does not have in the service of the same name. */
static size_t backends_missing(const struct vigil_service_cfg *a, const struct vigil_config *b)
{
	int j = vigil_reload_find_service(b, a->name);
	size_t n = 0;

	for (size_t i = 0; i < a->n_backends; i++)
		if (j < 0 || find_backend(&b->services[j], &a->backends[i].ep) < 0)
			n++;
	return n;
}

void vigil_reload_summarize(const struct vigil_config *old, const struct vigil_config *next,
			    struct vigil_reload_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < next->n_services; i++) {
		int j = vigil_reload_find_service(old, next->services[i].name);

		if (j < 0)
			sum->services_added++;
		else if (vigil_reload_service_changed(&old->services[j], &next->services[i]))
			sum->services_changed++;
		sum->backends_added += backends_missing(&next->services[i], old);
	}
	for (size_t i = 0; i < old->n_services; i++) {
		if (vigil_reload_find_service(next, old->services[i].name) < 0)
			sum->services_removed++;
		sum->backends_removed += backends_missing(&old->services[i], next);
	}
}

__u32 vigil_reload_datapaths(const struct vigil_config *cfg)
{
	__u32 dp = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		dp |= cfg->services[i].datapath;
	return dp;
}

/* ---- capacity ------------------------------------------------------------------------- */

static size_t exact_count(const struct vigil_config *cfg)
{
	size_t n = cfg ? cfg->n_backends : 0;

	for (size_t s = 0; cfg && s < cfg->n_services; s++)
		n += cfg->services[s].n_backends;
	return n;
}

static size_t collect_exact(const struct vigil_config *cfg, struct vigil_endpoint *eps, size_t n)
{
	for (size_t i = 0; cfg && i < cfg->n_backends; i++)
		eps[n++] = cfg->backends[i];
	for (size_t s = 0; cfg && s < cfg->n_services; s++)
		for (size_t b = 0; b < cfg->services[s].n_backends; b++)
			eps[n++] = cfg->services[s].backends[b].ep;
	return n;
}

static int compare_ep(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct vigil_endpoint));
}

/* Sorting keeps this O(n log n): both configs together can list ~40k. */
size_t vigil_reload_exact_endpoints(const struct vigil_config *a, const struct vigil_config *b)
{
	size_t total = exact_count(a) + exact_count(b), n, distinct = 0;
	struct vigil_endpoint *eps = calloc(total ? total : 1, sizeof(*eps));

	if (!eps)
		return (size_t)-1; /* "too many": the caller refuses */
	n = collect_exact(b, eps, collect_exact(a, eps, 0));
	qsort(eps, n, sizeof(*eps), compare_ep);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || !same_ep(&eps[i], &eps[i - 1]))
			distinct++;
	free(eps);
	return distinct;
}
