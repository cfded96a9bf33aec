/* SPDX-License-Identifier: MIT */
/* What the failover engine shows on /metrics (failover.h): the state of its
 * services and backends as last decided, and its own counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "failover_int.h"
#include "metrics.h"

void vigil_failover_figures(const struct vigil_failover *fo, struct vigil_failover_figures *f)
{
	f->stalls_vigild = fo->stalls_vigild;
	f->stalls_others = fo->stalls_others;
	f->publish_gen = fo->publish_gen;
	f->last_publish_wall_ns = fo->last_publish_wall_ns;
	f->map_write_failures = vigil_publish_failures(&fo->pub);
	f->syn_replays = fo->syn_replays;
}

static size_t count_backends(const struct vigil_failover *fo)
{
	size_t n = 0;

	for (size_t i = 0; i < fo->n_svcs; i++)
		n += fo->svcs[i].det.n_backends;
	return n;
}

/* The weights of the backends of set (the published one), which new
 * connections are spread over: what vigilctl backends computes from the
 * published records. */
static __u64 selected_weight(const struct vigil_det_service *det,
			     const struct vigil_backend_set *set)
{
	__u64 w = 0;

	for (size_t b = 0; b < det->n_backends; b++)
		if (vigil_set_serves(set, &det->backends[b].ep))
			w += det->backends[b].weight;
	return w;
}

static void fill_service(const struct fo_service *s, size_t idx, struct vigil_metrics_board *b)
{
	const struct vigil_det_service *det = &s->det;
	__u64 total = selected_weight(det, &s->pub.set);

	memcpy(b->services[idx].name, s->cfg->name, sizeof(b->services[idx].name));
	b->services[idx].set_flags = s->pub.set.flags;
	for (size_t i = 0; i < det->n_backends; i++) {
		const struct vigil_det_backend *db = &det->backends[i];
		struct vigil_metrics_backend *mb = &b->backends[b->n_backends++];
		bool selected = vigil_set_serves(&s->pub.set, &db->ep);

		mb->service = idx;
		mb->ep = db->ep;
		mb->state = (__u8)db->state;
		mb->admin = (__u8)db->admin;
		mb->share = vigil_share_of(db->weight, selected, total);
		memcpy(mb->ejections, s->rt[i].ejections_by_rule, sizeof(mb->ejections));
	}
}

int vigil_failover_metrics_board(const struct vigil_failover *fo, struct vigil_metrics_board *b)
{
	size_t n_backends = count_backends(fo);
	void *svcs = realloc(b->services, (fo->n_svcs ? fo->n_svcs : 1) * sizeof(*b->services));
	void *backends;

	if (svcs)
		b->services = svcs;
	backends = realloc(b->backends, (n_backends ? n_backends : 1) * sizeof(*b->backends));
	if (backends)
		b->backends = backends;
	b->n_services = b->n_backends = 0;
	if (!svcs || !backends)
		return -ENOMEM;
	memset(b->services, 0, fo->n_svcs * sizeof(*b->services));
	memset(b->backends, 0, n_backends * sizeof(*b->backends));
	for (size_t i = 0; i < fo->n_svcs; i++)
		fill_service(&fo->svcs[i], i, b);
	b->n_services = fo->n_svcs;
	return 0;
}
