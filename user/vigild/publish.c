/* SPDX-License-Identifier: MIT */
/* Writes of the failover engine into BPF maps: fast-path thresholds, backend
 * sets (the datapath) and the state vigilctl reads. */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "failover_int.h"
#include "log.h"
#include "maps.h"

static struct vigil_svc_backend_key svc_key(const struct fo_service *s, size_t vip,
					    const struct vigil_endpoint *backend)
{
	struct vigil_svc_backend_key key;

	memset(&key, 0, sizeof(key));
	key.vip = s->cfg->vips[vip];
	if (backend)
		key.backend = *backend;
	return key;
}

/* The fast-path threshold of an endpoint is the strictest of the services
 * using it. Existing counters and the down flag are kept across restarts. */
static __u32 threshold_for(const struct vigil_failover *fo, const struct vigil_endpoint *ep)
{
	__u32 t = 0;

	for (size_t i = 0; i < fo->n_svcs; i++) {
		const struct vigil_det_service *d = &fo->svcs[i].det;

		for (size_t b = 0; b < d->n_backends; b++)
			if (memcmp(&d->backends[b].ep, ep, sizeof(*ep)) == 0 &&
			    (t == 0 || d->params.consecutive_failures < t))
				t = d->params.consecutive_failures;
	}
	return t;
}

int fo_publish_thresholds(struct vigil_failover *fo)
{
	for (size_t i = 0; i < fo->n_svcs; i++) {
		const struct vigil_det_service *d = &fo->svcs[i].det;

		for (size_t b = 0; b < d->n_backends; b++) {
			struct vigil_backend_health h = {};

			bpf_map_lookup_elem(fo->lb.backend_health, &d->backends[b].ep, &h);
			h.threshold = threshold_for(fo, &d->backends[b].ep);
			if (bpf_map_update_elem(fo->lb.backend_health, &d->backends[b].ep, &h, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

void fo_publish_readmit(struct vigil_failover *fo, const struct vigil_endpoint *ep)
{
	struct vigil_backend_health h = {};

	bpf_map_lookup_elem(fo->lb.backend_health, ep, &h);
	h.consecutive_failures = 0;
	h.down = 0;
	h.down_since_ns = 0;
	h.threshold = threshold_for(fo, ep);
	bpf_map_update_elem(fo->lb.backend_health, ep, &h, BPF_ANY);
}

void fo_publish_backend(struct vigil_failover *fo, struct fo_service *s, size_t idx)
{
	const struct vigil_det_backend *b = &s->det.backends[idx];
	struct vigil_backend_info info = {
		.state = b->state, .admin = b->admin, .role = b->role,
		.last_rule = b->last_rule, .weight = b->weight, .ejections = b->ejections,
		.selected = vigil_set_serves(&s->set, &b->ep),
		.since_wall_ns = vigil_wall_ns() - (vigil_now_ns() - b->since_ns),
		.evidence = b->last_evidence,
	};

	for (size_t v = 0; v < s->cfg->n_vips; v++) {
		struct vigil_svc_backend_key key = svc_key(s, v, &b->ep);

		bpf_map_update_elem(fo->lb.backend_info, &key, &info, BPF_ANY);
	}
}

void fo_publish_change(struct vigil_failover *fo, const struct fo_service *s,
		       const struct vigil_det_change *c, __u64 mono_ns)
{
	const struct vigil_det_backend *b = c->backend_index >= 0 ? &s->det.backends[c->backend_index]
								 : NULL;
	struct vigil_change rec = {
		.seq = ++fo->history_seq, .wall_ns = vigil_wall_ns(), .mono_ns = mono_ns,
		.key = svc_key(s, 0, b ? &b->ep : NULL), .rule = c->rule,
		.from = b ? c->from : c->set_flags_from, .to = b ? c->to : c->set_flags_to,
		.admin = b ? b->admin : 0, .evidence = c->evidence,
	};
	__u32 slot = rec.seq % VIGIL_HISTORY_SLOTS;

	bpf_map_update_elem(fo->lb.history, &slot, &rec, BPF_ANY);
}

__u64 fo_history_last_seq(int history_fd)
{
	struct vigil_change rec;
	__u64 max = 0;

	for (__u32 slot = 0; slot < VIGIL_HISTORY_SLOTS; slot++)
		if (bpf_map_lookup_elem(history_fd, &slot, &rec) == 0 && rec.seq > max)
			max = rec.seq;
	return max;
}

static bool same_set(const struct vigil_backend_set *a, const struct vigil_backend_set *b)
{
	return a->count == b->count && a->n_preferred == b->n_preferred && a->flags == b->flags &&
	       memcmp(a->entries, b->entries, a->count * sizeof(a->entries[0])) == 0;
}

/* One hash update per VIP replaces the whole value: connect() sees either the
 * old set or the new one. */
bool fo_publish_set(struct vigil_failover *fo, struct fo_service *s)
{
	struct vigil_backend_set set;

	memset(&set, 0, sizeof(set));
	vigil_det_select(&s->det, &set);
	if (s->set_published && same_set(&set, &s->set))
		return false;
	set.service_id = s->id;
	set.version = s->set.version + 1;
	for (size_t v = 0; v < s->cfg->n_vips && (s->cfg->datapath & VIGIL_DATAPATH_SOCKET); v++)
		if (bpf_map_update_elem(fo->lb.service_sets, &s->cfg->vips[v], &set, BPF_ANY))
			pr_err("service %s: writing its backend set failed: %s", s->cfg->name,
			       strerror(errno));
	s->set = set;
	s->set_published = true;
	s->set_changed_wall_ns = vigil_wall_ns();
	return true;
}

void fo_publish_service(struct vigil_failover *fo, const struct fo_service *s)
{
	struct vigil_service_info info;
	size_t backups = s->cfg->n_backends - s->cfg->n_primaries;

	memset(&info, 0, sizeof(info));
	snprintf(info.name, sizeof(info.name), "%s", s->cfg->name);
	info.service_id = s->id;
	info.n_primaries = (__u16)s->cfg->n_primaries;
	info.n_backups = (__u16)backups;
	info.set_flags = s->set.flags;
	info.set_count = s->set.n_preferred;
	info.set_version = s->set.version;
	info.since_wall_ns = s->set_changed_wall_ns;
	info.datapath = s->cfg->datapath;
	info.table_size = (s->cfg->datapath & VIGIL_DATAPATH_XDP) ? s->cfg->table_size : 0;
	for (size_t v = 0; v < s->cfg->n_vips; v++)
		bpf_map_update_elem(fo->lb.services, &s->cfg->vips[v], &info, BPF_ANY);
}

/* A VIP of a configured service using one of the datapaths in mask. */
static bool configured_vip_on(const struct vigil_failover *fo, const struct vigil_endpoint *vip,
			      __u32 mask)
{
	for (size_t i = 0; i < fo->n_svcs; i++)
		for (size_t v = 0; v < fo->svcs[i].cfg->n_vips; v++)
			if ((fo->svcs[i].cfg->datapath & mask) &&
			    memcmp(&fo->svcs[i].cfg->vips[v], vip, sizeof(*vip)) == 0)
				return true;
	return false;
}

static bool configured_vip(const struct vigil_failover *fo, const struct vigil_endpoint *vip)
{
	return configured_vip_on(fo, vip, ~0u);
}

static bool configured_backend(const struct vigil_failover *fo, const struct vigil_endpoint *ep)
{
	return threshold_for(fo, ep) != 0;
}

static bool keep_vip(const void *key, const void *fo)
{
	return configured_vip(fo, key);
}

/* A service moved to the XDP datapath leaves the socket datapath. */
static bool keep_socket_vip(const void *key, const void *fo)
{
	return configured_vip_on(fo, key, VIGIL_DATAPATH_SOCKET);
}

/* The service of that VIP has that backend: a backend removed from one
 * service but still in another leaves the first one's records. */
static bool keep_svc_backend(const void *key, const void *ctx)
{
	const struct vigil_svc_backend_key *k = key;
	const struct vigil_failover *fo = ctx;

	for (size_t i = 0; i < fo->n_svcs; i++) {
		const struct vigil_det_service *d = &fo->svcs[i].det;
		const struct vigil_service_cfg *c = fo->svcs[i].cfg;

		for (size_t v = 0; v < c->n_vips; v++) {
			if (memcmp(&c->vips[v], &k->vip, sizeof(k->vip)) != 0)
				continue;
			for (size_t b = 0; b < d->n_backends; b++)
				if (memcmp(&d->backends[b].ep, &k->backend, sizeof(k->backend)) == 0)
					return true;
		}
	}
	return false;
}

static bool keep_health(const void *key, const void *fo)
{
	return configured_backend(fo, key);
}

/* Services or backends removed from the config leave the datapath and the
 * published state; admin states of removed backends are dropped too. */
void fo_remove_stale(struct vigil_failover *fo)
{
	vigil_map_delete_unless(fo->lb.service_sets, sizeof(struct vigil_endpoint), keep_socket_vip,
				fo);
	vigil_map_delete_unless(fo->lb.services, sizeof(struct vigil_endpoint), keep_vip, fo);
	vigil_map_delete_unless(fo->lb.backend_info, sizeof(struct vigil_svc_backend_key),
				keep_svc_backend, fo);
	vigil_map_delete_unless(fo->lb.admin, sizeof(struct vigil_svc_backend_key),
				keep_svc_backend, fo);
	vigil_map_delete_unless(fo->lb.backend_health, sizeof(struct vigil_endpoint), keep_health,
				fo);
}

/* Flow policy of one backend for the XDP datapath. */
static __u32 xdp_flags_of(const struct fo_service *s, size_t b)
{
	const struct vigil_det_backend *d = &s->det.backends[b];
	__u32 flags = vigil_set_serves(&s->set, &d->ep) ? VIGIL_XB_SELECTABLE : 0;

	/* Drained or outlier-ejected: established flows stay. Dead or disabled:
	 * move them, so clients get a fast reset instead of a timeout. */
	if (!flags && (s->rt[b].hard_ejected || d->admin == VIGIL_ADMIN_DISABLED))
		flags |= VIGIL_XB_RESELECT;
	return flags;
}

void fo_publish_xdp(struct vigil_failover *fo, struct fo_service *s, bool set_changed)
{
	__u64 elapsed = 0;
	int ret;

	if (!fo->xdp || !(s->cfg->datapath & VIGIL_DATAPATH_XDP))
		return;
	for (size_t b = 0; b < s->det.n_backends; b++)
		vigil_pkt_dp_set_flags(fo->xdp, &s->det.backends[b].ep, xdp_flags_of(s, b));
	for (size_t v = 0; v < s->cfg->n_vips && set_changed; v++) {
		/* Service ids 1..n; two VIPs of one service share a table slot pair. */
		__u32 sid = (s->id - 1) * 2 + (__u32)v;

		ret = vigil_pkt_dp_publish(fo->xdp, sid, &s->cfg->vips[v], &s->set, s->cfg->table_size,
					&elapsed);
		if (ret)
			pr_err("service %s: publishing its XDP Maglev table failed: %s", s->cfg->name,
			       strerror(-ret));
		else
			pr_debug("service %s: Maglev table of %u slots built and swapped in %.3f ms",
				 s->cfg->name, s->cfg->table_size, elapsed / 1e6);
	}
}
