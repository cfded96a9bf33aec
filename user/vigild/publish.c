/* SPDX-License-Identifier: MIT */
/* The publisher (publish.h): desired state in, map writes out. */
#include "publish.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lbfeeds.h"
#include "log.h"
#include "maps.h"
#include "pkt_dp.h"

static struct vigil_svc_backend_key svc_key(const struct vigil_service_cfg *svc, size_t vip,
					    const struct vigil_endpoint *backend)
{
	struct vigil_svc_backend_key key;

	memset(&key, 0, sizeof(key));
	key.vip = svc->vips[vip];
	if (backend)
		key.backend = *backend;
	return key;
}

static bool same_ep(const struct vigil_endpoint *a, const struct vigil_endpoint *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static const char *const pub_map_names[VIGIL_PUB_N_MAPS] = {
	[VIGIL_PUB_SETS] = "service_sets", [VIGIL_PUB_HEALTH] = "backend_health",
	[VIGIL_PUB_HISTORY] = "history", [VIGIL_PUB_BACKEND_INFO] = "backend_info",
	[VIGIL_PUB_SERVICES] = "services", [VIGIL_PUB_ADMIN] = "admin",
	[VIGIL_PUB_XDP_BACKENDS] = "xdp_backends", [VIGIL_PUB_XDP_TABLES] = "xdp_tables",
	[VIGIL_PUB_PENDING] = "pending_requests",
};

static void failed(struct vigil_publisher *p, enum vigil_pub_map m, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A failed write is counted and logged (rate-limited), never just dropped. */
static void failed(struct vigil_publisher *p, enum vigil_pub_map m, int err, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	vigil_map_err_report(&p->errs[m], err, what);
}

/* bpf_map_update_elem's result as 0 or -errno. */
static int upd(int fd, const void *key, const void *val, __u64 flags)
{
	return bpf_map_update_elem(fd, key, val, flags) ? -errno : 0;
}

__u64 vigil_publish_failures(const struct vigil_publisher *p)
{
	__u64 n = 0;

	for (int m = 0; m < VIGIL_PUB_N_MAPS; m++)
		n += p->errs[m].failures;
	return n;
}

/* The fast-path threshold of an endpoint is the strictest of the services
 * using it; 0 when no service does. */
static __u32 threshold_for(const struct vigil_config *cfg, const struct vigil_endpoint *ep)
{
	__u32 t = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct vigil_service_cfg *c = &cfg->services[i];

		for (size_t b = 0; b < c->n_backends; b++)
			if (same_ep(&c->backends[b].ep, ep) &&
			    (t == 0 || c->detection.consecutive_failures < t))
				t = c->detection.consecutive_failures;
	}
	return t;
}

static __u64 history_last_seq(int history_fd)
{
	struct vigil_change rec;
	__u64 max = 0;

	for (__u32 slot = 0; slot < VIGIL_HISTORY_SLOTS; slot++)
		if (bpf_map_lookup_elem(history_fd, &slot, &rec) == 0 && rec.seq > max)
			max = rec.seq;
	return max;
}

void vigil_publisher_init(struct vigil_publisher *p, const struct vigil_config *cfg,
			  const struct vigil_svc_maps *maps, struct vigil_pkt_dp *pkt)
{
	p->cfg = cfg;
	p->maps = *maps;
	p->pkt = pkt;
	p->history_seq = history_last_seq(maps->history);
	for (int m = 0; m < VIGIL_PUB_N_MAPS; m++)
		p->errs[m] = (struct vigil_map_err){ .map = pub_map_names[m] };
}

void vigil_publisher_switch(struct vigil_publisher *p, const struct vigil_config *cfg,
			    struct vigil_pkt_dp *pkt)
{
	p->cfg = cfg;
	p->pkt = pkt;
}

/* ---- thresholds and health ------------------------------------------------ */

int vigil_publish_thresholds(struct vigil_publisher *p)
{
	for (size_t i = 0; i < p->cfg->n_services; i++) {
		const struct vigil_service_cfg *c = &p->cfg->services[i];

		for (size_t b = 0; b < c->n_backends; b++) {
			struct vigil_backend_health h = {};

			bpf_map_lookup_elem(p->maps.backend_health, &c->backends[b].ep, &h);
			h.threshold = threshold_for(p->cfg, &c->backends[b].ep);
			int ret = upd(p->maps.backend_health, &c->backends[b].ep, &h, BPF_ANY);

			if (ret) {
				failed(p, VIGIL_PUB_HEALTH, ret, "the fast-path threshold of a backend "
				       "of service %s", c->name);
				return ret;
			}
		}
	}
	return 0;
}

/* Requests pending when the backend was taken out are no evidence against
 * it once it is back: its summary starts empty. */
static void clear_pending(struct vigil_publisher *p, const struct vigil_endpoint *ep)
{
	int ret = p->pkt ? vigil_pkt_dp_pending_reset(p->pkt, ep) : 0;

	if (ret && ret != -ENOENT)
		failed(p, VIGIL_PUB_PENDING, ret, "the pending-request reset of a re-admitted backend");
}

void vigil_publish_readmit(struct vigil_publisher *p, const struct vigil_endpoint *ep)
{
	struct vigil_backend_health h = {};
	int ret;

	bpf_map_lookup_elem(p->maps.backend_health, ep, &h);
	h.consecutive_failures = 0;
	h.down = 0;
	h.down_since_ns = 0;
	h.threshold = threshold_for(p->cfg, ep);
	ret = upd(p->maps.backend_health, ep, &h, BPF_ANY);
	if (ret)
		failed(p, VIGIL_PUB_HEALTH, ret, "the health reset of a re-admitted backend");
}

/* ---- one service ------------------------------------------------------------ */

static bool same_set(const struct vigil_backend_set *a, const struct vigil_backend_set *b)
{
	return a->count == b->count && a->n_preferred == b->n_preferred && a->flags == b->flags &&
	       memcmp(a->entries, b->entries, a->count * sizeof(a->entries[0])) == 0;
}

/* Returns true when the set changed (and was written). */
static bool write_set(struct vigil_publisher *p, const struct vigil_service_cfg *svc, __u32 id,
		      struct vigil_published *last, const struct vigil_desired *want)
{
	struct vigil_backend_set set = want->set;
	int ret;

	if (last->valid && same_set(&set, &last->set))
		return false;
	ret = vigil_set_write(&p->maps, svc->vips, svc->n_vips, svc->datapath, id,
			      last->set.version, &set);
	if (ret)
		failed(p, VIGIL_PUB_SETS, ret, "service %s's backend set", svc->name);
	last->set = set;
	/* Not valid after a failure: vigil_publish_due() then retries it next tick
	 * (connect() would otherwise follow the old set until the set changes). */
	last->valid = ret == 0;
	last->set_wall_ns = vigil_wall_ns();
	return true;
}

static void write_pkt(struct vigil_publisher *p, const struct vigil_service_cfg *svc, __u32 id,
		      const struct vigil_published *last, const struct vigil_desired *want,
		      bool set_changed)
{
	__u64 elapsed = 0;
	int ret;

	if (!p->pkt || !(svc->datapath & VIGIL_DATAPATH_XDP))
		return;
	for (size_t b = 0; b < want->n_backends; b++) {
		ret = vigil_pkt_dp_set_flags(p->pkt, &want->backends[b].ep,
					     want->backends[b].pkt_flags);
		if (ret)
			failed(p, VIGIL_PUB_XDP_BACKENDS, ret, "the flow policy of a backend of "
			       "service %s", svc->name);
	}
	for (size_t v = 0; v < svc->n_vips && set_changed; v++) {
		/* Service ids 1..n; two VIPs of one service share a table slot pair. */
		__u32 sid = (id - 1) * 2 + (__u32)v;

		ret = vigil_pkt_dp_publish(p->pkt, sid, &svc->vips[v], &last->set, svc->table_size,
					   &elapsed);
		if (ret)
			failed(p, VIGIL_PUB_XDP_TABLES, ret, "service %s's Maglev table", svc->name);
		else
			pr_debug("service %s: Maglev table of %u slots built and swapped in %.3f ms",
				 svc->name, svc->table_size, elapsed / 1e6);
	}
}

static void write_change(struct vigil_publisher *p, const struct vigil_service_cfg *svc,
			 const struct vigil_desired *want, const struct vigil_det_change *c,
			 __u64 mono_ns)
{
	const struct vigil_desired_backend *b =
		c->backend_index >= 0 ? &want->backends[c->backend_index] : NULL;
	struct vigil_change rec = {
		.seq = ++p->history_seq, .wall_ns = vigil_wall_ns(), .mono_ns = mono_ns,
		.key = svc_key(svc, 0, b ? &b->ep : NULL), .rule = c->rule,
		.from = !b ? c->set_flags_from : c->rule == VIGIL_RULE_ADMIN ? c->admin_from : c->from,
		.to = !b ? c->set_flags_to : c->rule == VIGIL_RULE_ADMIN ? c->admin_to : c->to,
		.admin = b ? b->info.admin : 0, .evidence = c->evidence,
	};
	__u32 slot = rec.seq % VIGIL_HISTORY_SLOTS;
	int ret = upd(p->maps.history, &slot, &rec, BPF_ANY);

	if (ret)
		failed(p, VIGIL_PUB_HISTORY, ret, "a change record of service %s", svc->name);
}

void vigil_publish_restart(struct vigil_publisher *p, __u32 restored_out, __u32 kernel_down,
			   __u32 waiting)
{
	struct vigil_change rec = {
		.seq = ++p->history_seq, .wall_ns = vigil_wall_ns(), .mono_ns = vigil_now_ns(),
		.rule = VIGIL_RULE_RESTART,
		.evidence = { .failures = restored_out, .errors = kernel_down, .requests = waiting },
	};
	__u32 slot = rec.seq % VIGIL_HISTORY_SLOTS;

	bpf_map_update_elem(p->maps.history, &slot, &rec, BPF_ANY);
}

static void write_backend(struct vigil_publisher *p, const struct vigil_service_cfg *svc,
			  const struct vigil_desired_backend *b)
{
	struct vigil_backend_info info = b->info;

	info.since_wall_ns = vigil_wall_of_mono_ns(b->since_ns);
	for (size_t v = 0; v < svc->n_vips; v++) {
		struct vigil_svc_backend_key key = svc_key(svc, v, &b->ep);
		int ret = upd(p->maps.backend_info, &key, &info, BPF_ANY);

		if (ret)
			failed(p, VIGIL_PUB_BACKEND_INFO, ret, "a backend record of service %s",
			       svc->name);
	}
}

static void write_service(struct vigil_publisher *p, const struct vigil_service_cfg *svc, __u32 id,
			  const struct vigil_published *last)
{
	struct vigil_service_info info;

	memset(&info, 0, sizeof(info));
	snprintf(info.name, sizeof(info.name), "%s", svc->name);
	info.service_id = id;
	info.n_primaries = (__u16)svc->n_primaries;
	info.n_backups = (__u16)(svc->n_backends - svc->n_primaries);
	vigil_service_info_take_set(&info, &last->set, last->set_wall_ns);
	info.datapath = svc->datapath;
	info.table_size = (svc->datapath & VIGIL_DATAPATH_XDP) ? svc->table_size : 0;
	for (size_t v = 0; v < svc->n_vips; v++) {
		int ret = upd(p->maps.services, &svc->vips[v], &info, BPF_ANY);

		if (ret)
			failed(p, VIGIL_PUB_SERVICES, ret, "service %s's record", svc->name);
	}
}

bool vigil_publish_due(const struct vigil_published *last)
{
	return last->force || !last->valid;
}

void vigil_publish_service(struct vigil_publisher *p, const struct vigil_service_cfg *svc, __u32 id,
			   struct vigil_published *last, const struct vigil_desired *want)
{
	__u64 now = vigil_now_ns();
	bool set_changed = write_set(p, svc, id, last, want) || last->force;

	write_pkt(p, svc, id, last, want, set_changed);
	vigil_lbfeeds_publish(p->feeds, svc, want, now);
	last->force = false;
	for (size_t i = 0; i < want->n_changes; i++) {
		const struct vigil_det_change *c = &want->changes[i];

		write_change(p, svc, want, c, now);
		if (c->backend_index >= 0 && c->to == VIGIL_STATE_HEALTHY) {
			vigil_publish_readmit(p, &want->backends[c->backend_index].ep);
			clear_pending(p, &want->backends[c->backend_index].ep);
		}
	}
	for (size_t b = 0; b < want->n_backends; b++)
		write_backend(p, svc, &want->backends[b]);
	write_service(p, svc, id, last);
}

/* ---- what is no longer configured ------------------------------------------- */

/* A VIP of a configured service using one of the datapaths in mask (0: any
 * service, datapath none too). */
static bool configured_vip_on(const struct vigil_config *cfg, const struct vigil_endpoint *vip,
			      __u32 mask)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t v = 0; v < cfg->services[i].n_vips; v++)
			if ((!mask || (cfg->services[i].datapath & mask)) &&
			    same_ep(&cfg->services[i].vips[v], vip))
				return true;
	return false;
}

static bool keep_vip(const void *key, const void *cfg)
{
	return configured_vip_on(cfg, key, 0);
}

/* A service moved to the packet datapath leaves the socket datapath. */
static bool keep_socket_vip(const void *key, const void *cfg)
{
	return configured_vip_on(cfg, key, VIGIL_DATAPATH_SOCKET);
}

/* The service of that VIP has that backend: a backend removed from one
 * service but still in another leaves the first one's records. */
static bool keep_svc_backend(const void *key, const void *ctx)
{
	const struct vigil_svc_backend_key *k = key;
	const struct vigil_config *cfg = ctx;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct vigil_service_cfg *c = &cfg->services[i];

		for (size_t v = 0; v < c->n_vips; v++) {
			if (!same_ep(&c->vips[v], &k->vip))
				continue;
			for (size_t b = 0; b < c->n_backends; b++)
				if (same_ep(&c->backends[b].ep, &k->backend))
					return true;
		}
	}
	return false;
}

static bool keep_health(const void *key, const void *cfg)
{
	return threshold_for(cfg, key) != 0;
}

static void delete_stale(struct vigil_publisher *p, enum vigil_pub_map m, int fd, size_t key_size,
			 bool (*keep)(const void *key, const void *ctx))
{
	int ret = vigil_map_delete_unless(fd, key_size, keep, p->cfg);

	if (ret)
		failed(p, m, ret, "the removal of entries no longer configured");
}

void vigil_publish_remove_stale(struct vigil_publisher *p)
{
	const size_t ep = sizeof(struct vigil_endpoint), sb = sizeof(struct vigil_svc_backend_key);

	delete_stale(p, VIGIL_PUB_SETS, p->maps.service_sets, ep, keep_socket_vip);
	delete_stale(p, VIGIL_PUB_SERVICES, p->maps.services, ep, keep_vip);
	delete_stale(p, VIGIL_PUB_BACKEND_INFO, p->maps.backend_info, sb, keep_svc_backend);
	delete_stale(p, VIGIL_PUB_ADMIN, p->maps.admin, sb, keep_svc_backend);
	delete_stale(p, VIGIL_PUB_HEALTH, p->maps.backend_health, ep, keep_health);
}

static bool pkt_backend_configured(const struct vigil_config *cfg, const struct vigil_endpoint *ep)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct vigil_service_cfg *c = &cfg->services[i];

		for (size_t b = 0; (c->datapath & VIGIL_DATAPATH_XDP) && b < c->n_backends; b++)
			if (same_ep(&c->backends[b].ep, ep))
				return true;
	}
	return false;
}

/* Its established flows stay, as established connections do on the socket
 * datapath; a new connection on a reused 5-tuple goes to a configured
 * backend. */
void vigil_publish_retire_pkt_backends(struct vigil_publisher *p,
				       const struct vigil_config *old)
{
	for (size_t i = 0; p->pkt && i < old->n_services; i++) {
		const struct vigil_service_cfg *c = &old->services[i];

		for (size_t b = 0; (c->datapath & VIGIL_DATAPATH_XDP) && b < c->n_backends; b++) {
			int ret = pkt_backend_configured(p->cfg, &c->backends[b].ep)
					  ? 0 : vigil_pkt_dp_set_flags(p->pkt, &c->backends[b].ep, 0);

			if (ret)
				failed(p, VIGIL_PUB_XDP_BACKENDS, ret, "the flow policy of a backend "
				       "no service serves any more");
		}
	}
}

void vigil_publish_move_admin(struct vigil_publisher *p, const struct vigil_endpoint *old_vip,
			      const struct vigil_service_cfg *svc)
{
	for (size_t b = 0; b < svc->n_backends; b++) {
		struct vigil_svc_backend_key key = { .vip = *old_vip, .backend = svc->backends[b].ep };
		__u32 admin;

		if (bpf_map_lookup_elem(p->maps.admin, &key, &admin))
			continue;
		for (size_t v = 0; v < svc->n_vips; v++) {
			int ret;

			key.vip = svc->vips[v];
			ret = upd(p->maps.admin, &key, &admin, BPF_NOEXIST);
			/* EEXIST: vigilctl already wrote this VIP's entry, which wins */
			if (ret && ret != -EEXIST)
				failed(p, VIGIL_PUB_ADMIN, ret, "an admin state moved to a new VIP "
				       "of service %s", svc->name);
		}
	}
}
