/* SPDX-License-Identifier: MIT */
/*
 * Config schema of the failover milestone: services:, detection: and lb:.
 * Per-service detection settings start from the global detection: section
 * (wherever it appears in the file) and override single keys.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config_sections.h"
#include "maglev.h"

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_WEIGHT 1000000

/* ---- detection: ----------------------------------------------------------- */

struct det_key {
	const char *key;
	size_t offset;
	bool is_double;
	double min, max;
};

#define DET_U32(name, lo, hi) { #name, offsetof(struct vigil_det_params, name), false, lo, hi }
#define DET_DBL(name, lo, hi) { #name, offsetof(struct vigil_det_params, name), true, lo, hi }

static const struct det_key det_keys[] = {
	DET_U32(consecutive_failures, 1, 1000),
	DET_DBL(error_ratio, 0.01, 1.0),
	DET_U32(error_min_requests, 1, 1000000),
	DET_U32(window_ms, 100, 3600000),
	DET_DBL(slow_factor, 1.5, 1000.0),
	DET_U32(slow_floor_ms, 1, 3600000),
	DET_U32(slow_min_samples, 1, 1000000),
	DET_DBL(stuck_factor, 1.5, 1000.0),
	DET_U32(stuck_connect_floor_ms, 1, 3600000),
	DET_U32(stuck_request_floor_ms, 1, 3600000),
	DET_U32(stall_floor_ms, 1, 3600000),
	DET_U32(stuck_unacked_floor_ms, 1, 3600000),
	DET_U32(eject_base_ms, 10, 3600000),
	DET_U32(eject_max_ms, 10, 86400000),
	DET_U32(probe_interval_ms, 10, 3600000),
	DET_U32(probe_successes, 1, 1000),
	DET_DBL(max_ejection_share, 0.0, 1.0),
};

static int parse_det_key(struct yc_ctx *c, const struct det_key *k, yaml_node_t *v,
			 const char *path, struct vigil_det_params *p)
{
	char *field = (char *)p + k->offset;
	unsigned long n;
	int err;

	if (k->is_double)
		return yc_get_double(c, v, path, k->min, k->max, (double *)field);
	err = yc_get_uint(c, v, path, (unsigned long)k->min, (unsigned long)k->max, &n);
	if (!err)
		*(__u32 *)field = (__u32)n;
	return err;
}

static int check_det(struct yc_ctx *c, yaml_node_t *map, const char *path,
		     const struct vigil_det_params *p)
{
	if (p->eject_max_ms < p->eject_base_ms)
		return yc_fail(c, map, "%s: eject_max_ms (%u) is below eject_base_ms (%u): raise "
			       "eject_max_ms", path, p->eject_max_ms, p->eject_base_ms);
	return 0;
}

/* Known keys are listed in the error; a key given twice is an error (the
 * last would otherwise win silently). */
static int parse_detection(struct yc_ctx *c, yaml_node_t *map, const char *path,
			   struct vigil_det_params *p)
{
	if (yc_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return yc_fail(c, map, "%s: expected a mapping of detection settings: see "
			       "docs/detection.md", path);
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *key = yaml_document_get_node(c->doc, pr->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pr->value);
		const char *name = key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "?";
		char kpath[YC_PATH_MAX];
		size_t i = 0;

		if (yc_check_key(c, map, pr, path))
			return -EINVAL;
		while (i < NKEYS(det_keys) && strcmp(det_keys[i].key, name) != 0)
			i++;
		if (i == NKEYS(det_keys))
			return yc_fail(c, key, "%s: unknown key \"%s\" (known: consecutive_failures, "
				       "error_ratio, error_min_requests, window_ms, slow_factor, "
				       "slow_floor_ms, slow_min_samples, stuck_factor, "
				       "stuck_connect_floor_ms, stuck_request_floor_ms, stall_floor_ms, "
				       "stuck_unacked_floor_ms, eject_base_ms, eject_max_ms, "
				       "probe_interval_ms, probe_successes, max_ejection_share)", path,
				       name);
		snprintf(kpath, sizeof(kpath), "%s.%s", path, name);
		if (parse_det_key(c, &det_keys[i], val, kpath, p))
			return -EINVAL;
	}
	return check_det(c, map, path, p);
}

int config_section_detection(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	vigil_det_params_defaults(&c->cfg->detection);
	return parse_detection(c, v, path, &c->cfg->detection);
}

/* ---- lb: and daemon: additions -------------------------------------------- */

/* A list of at most 8 distinct interface names into names[] (16 bytes each). */
static int get_interfaces(struct yc_ctx *c, yaml_node_t *v, const char *path, char (*names)[16],
			  size_t *n)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list of interface names, e.g. [eth0]", path);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		const char *name;

		if (yc_get_str(c, item, path, "an interface name", &name))
			return -EINVAL;
		if (!name[0] || strlen(name) >= 16 || strchr(name, '/'))
			return yc_fail(c, item, "%s: \"%s\" is not an interface name (1-15 characters)",
				       path, name);
		if (*n == 8)
			return yc_fail(c, item, "%s: at most 8 interfaces", path);
		for (size_t i = 0; i < *n; i++)
			if (strcmp(names[i], name) == 0)
				return yc_fail(c, item, "%s: \"%s\" is listed twice", path, name);
		snprintf(names[(*n)++], 16, "%s", name);
	}
	return 0;
}

static int key_lb_cgroup(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;
	int err = yc_get_str(c, v, path, "a cgroup v2 directory", &s);

	if (err)
		return err;
	if (s[0] != '/' || strlen(s) >= sizeof(c->cfg->lb_cgroup))
		return yc_fail(c, v, "%s: \"%s\": must be an absolute path shorter than %zu "
			       "characters, e.g. /sys/fs/cgroup", path, s, sizeof(c->cfg->lb_cgroup));
	snprintf(c->cfg->lb_cgroup, sizeof(c->cfg->lb_cgroup), "%s", s);
	c->cfg->lb_cgroup_line = (unsigned int)yc_line(v);
	return 0;
}

static int key_lb_rescue(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->lb_rescue);
}

static int key_lb_rescue_interfaces(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_interfaces(c, v, path, c->cfg->lb_rescue_interfaces,
			      &c->cfg->n_lb_rescue_interfaces);
}

int config_section_lb(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "cgroup", key_lb_cgroup, false },
		{ "rescue", key_lb_rescue, false },
		{ "rescue_interfaces", key_lb_rescue_interfaces, false },
	};

	return yc_walk_map(c, v, path, keys, NKEYS(keys));
}

int config_key_tick_ms(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 1, 1000, &n);

	if (!err)
		c->cfg->tick_ms = (unsigned int)n;
	return err;
}

int config_key_sched_priority(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 0, 99, &n);

	if (!err)
		c->cfg->sched_priority = (unsigned int)n;
	return err;
}

int config_netns_file(struct yc_ctx *c, yaml_node_t *v, const char *path, char *dst,
		      size_t size, unsigned int *line)
{
	const char *s;
	int err = yc_get_str(c, v, path, "a network namespace file", &s);

	if (err)
		return err;
	if (s[0] != '/' || strlen(s) >= size)
		return yc_fail(c, v, "%s: \"%s\": must be an absolute path such as "
			       "/var/run/netns/NAME or /proc/PID/ns/net", path, s);
	snprintf(dst, size, "%s", s);
	*line = (unsigned int)yc_line(v);
	return 0;
}

int config_key_probe_netns(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_netns_file(c, v, path, c->cfg->probe_netns, sizeof(c->cfg->probe_netns),
				 &c->cfg->probe_netns_line);
}

/* ---- xdp: ------------------------------------------------------------------- */

static int key_xdp_interfaces(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_interfaces(c, v, path, c->cfg->xdp_interfaces, &c->cfg->n_xdp_interfaces);
}

static int key_xdp_netns(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_netns_file(c, v, path, c->cfg->xdp_netns, sizeof(c->cfg->xdp_netns),
				 &c->cfg->xdp_netns_line);
}

struct keyword {
	const char *name;
	__u32 value;
};

/* One of a fixed set of words; the error lists them. */
static int get_keyword(struct yc_ctx *c, yaml_node_t *v, const char *path,
		       const struct keyword *words, size_t n, const char *meaning, __u32 *out)
{
	char known[128] = "";
	const char *s;

	if (yc_get_str(c, v, path, meaning, &s))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, words[i].name) == 0) {
			*out = words[i].value;
			return 0;
		}
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i ? (i + 1 == n ? " or " : ", ") : "", words[i].name);
	}
	return yc_fail(c, v, "%s: \"%s\": use %s (%s)", path, s, known, meaning);
}

static int key_xdp_hook(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct keyword words[] = { { "xdp", VIGIL_HOOK_XDP }, { "tc", VIGIL_HOOK_TC } };

	return get_keyword(c, v, path, words, NKEYS(words),
			   "the hook the load balancer runs at", &c->cfg->xdp_hook);
}

static int key_xdp_mode(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct keyword words[] = { { "auto", VIGIL_XDP_MODE_AUTO },
						{ "native", VIGIL_XDP_MODE_NATIVE },
						{ "generic", VIGIL_XDP_MODE_GENERIC } };

	return get_keyword(c, v, path, words, NKEYS(words), "the XDP attach mode",
			   &c->cfg->xdp_mode);
}

static int key_xdp_forward(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct keyword words[] = { { "redirect", VIGIL_FWD_REDIRECT },
						{ "kernel", VIGIL_FWD_KERNEL } };

	return get_keyword(c, v, path, words, NKEYS(words),
			   "who sends rewritten packets out", &c->cfg->xdp_forward);
}

static int key_xdp_syn_replay(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->xdp_syn_replay);
}

int config_section_xdp(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "interfaces", key_xdp_interfaces, false },
		{ "netns", key_xdp_netns, false },
		{ "hook", key_xdp_hook, false },
		{ "mode", key_xdp_mode, false },
		{ "forward", key_xdp_forward, false },
		{ "syn_replay", key_xdp_syn_replay, false },
	};

	return yc_walk_map(c, v, path, keys, NKEYS(keys));
}

/* ---- services: ------------------------------------------------------------ */

static struct vigil_service_cfg *cur_svc(struct yc_ctx *c)
{
	return c->svc;
}

const struct config_name config_service_name = {
	"a service name", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
	"letters, digits, '_', '.' or '-'", VIGIL_NAME_LEN,
};

int config_check_name(struct yc_ctx *c, yaml_node_t *v, const char *path,
		      const struct config_name *rule, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= rule->size || strspn(name, rule->chars) != len)
		return yc_fail(c, v, "%s: \"%s\": %s has 1-%zu %s", path, name, rule->what,
			       rule->size - 1, rule->chars_text);
	return 0;
}

int config_get_name(struct yc_ctx *c, yaml_node_t *v, const char *path,
		    const struct config_name *rule, char *out)
{
	const char *s;

	if (yc_get_str(c, v, path, rule->what, &s) || config_check_name(c, v, path, rule, s))
		return -EINVAL;
	memcpy(out, s, strlen(s) + 1); /* checked: it fits */
	return 0;
}

static int key_svc_name(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_get_name(c, v, path, &config_service_name, cur_svc(c)->name);
}

static int add_vip(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_service_cfg *svc = cur_svc(c);
	struct vigil_endpoint ep;
	const char *s, *why;
	int err = yc_get_str(c, v, path, "a quoted \"address:port\"", &s);

	if (err)
		return err;
	if (vigil_endpoint_parse_why(s, &ep, &why) || (why = vigil_endpoint_unusable(&ep)))
		return yc_fail(c, v, "%s: \"%s\": %s", path, s, why);
	for (size_t i = 0; i < svc->n_vips; i++)
		if (svc->vips[i].family == ep.family)
			return yc_fail(c, v, "%s: \"%s\": a service has at most one IPv4 and one IPv6 "
				       "virtual address: define another service", path, s);
	svc->vips[svc->n_vips++] = ep;
	return 0;
}

static int key_svc_vips(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	if (v->type == YAML_SCALAR_NODE)
		return add_vip(c, v, path);
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected \"10.96.0.10:80\" or a list of one IPv4 and one "
			       "IPv6 address", path);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		char ipath[YC_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%ld]", path, (long)(it - v->data.sequence.items.start));
		if (add_vip(c, yaml_document_get_node(c->doc, *it), ipath))
			return -EINVAL;
	}
	return 0;
}

/* {address, weight}: only those keys, each once. */
static int check_weighted_keys(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const char *name = (const char *)k->data.scalar.value;

		if (yc_check_key(c, v, p, path))
			return -EINVAL;
		if (strcmp(name, "address") && strcmp(name, "weight"))
			return yc_fail(c, k, "%s: unknown key \"%s\" (known: address, weight)", path,
				       name);
	}
	return 0;
}

static int parse_weighted(struct yc_ctx *c, yaml_node_t *v, const char *path,
			  struct vigil_backend_cfg *b)
{
	const char *s, *why;
	yaml_node_t *addr = v, *weight;
	unsigned long w = 1; /* the default weight */

	if (v->type == YAML_MAPPING_NODE) {
		if (check_weighted_keys(c, v, path))
			return -EINVAL;
		addr = yc_find(c, v, "address");
		weight = yc_find(c, v, "weight");
		if (!addr)
			return yc_fail(c, v, "%s: missing \"address\": write {address: "
				       "\"10.0.0.2:8080\", weight: 1}", path);
		char wpath[YC_PATH_MAX + 8];

		snprintf(wpath, sizeof(wpath), "%s.weight", path);
		if (weight && yc_get_uint(c, weight, wpath, 1, MAX_WEIGHT, &w))
			return -EINVAL;
	}
	if (yc_get_str(c, addr, path, "\"address:port\" or {address, weight}", &s))
		return -EINVAL;
	if (vigil_endpoint_parse_why(s, &b->ep, &why))
		return yc_fail(c, addr, "%s: \"%s\": %s", path, s, why);
	why = vigil_endpoint_unusable(&b->ep);
	if (why)
		return yc_fail(c, addr, "%s: \"%s\": %s", path, s, why);
	b->weight = (__u32)w;
	return 0;
}

static int add_backends(struct yc_ctx *c, yaml_node_t *v, const char *path, __u8 role)
{
	struct vigil_service_cfg *svc = cur_svc(c);

	if (!v || yc_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list such as [\"10.0.0.2:8080\", {address: "
			       "\"10.0.0.3:8080\", weight: 2}]", path);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		struct vigil_backend_cfg *b = &svc->backends[svc->n_backends];
		char ipath[YC_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%ld]", path, (long)(it - v->data.sequence.items.start));
		if (svc->n_backends == VIGIL_MAX_SVC_BACKENDS)
			return yc_fail(c, item, "%s: more than %d backends and backups in one service",
				       ipath, VIGIL_MAX_SVC_BACKENDS);
		if (parse_weighted(c, item, ipath, b))
			return -EINVAL;
		b->role = role;
		for (size_t j = 0; j < svc->n_backends; j++)
			if (memcmp(&svc->backends[j].ep, &b->ep, sizeof(b->ep)) == 0)
				return yc_fail(c, item, "%s: backend listed twice in this service: "
					       "remove the duplicate", ipath);
		svc->n_backends++;
	}
	return 0;
}

/* backends: and backups: are read after the walk (load_backends), in that
 * order wherever they are written: primaries come first in backends[]. */
static int key_svc_later(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	(void)c, (void)v, (void)path;
	return 0;
}

static int load_backends(struct yc_ctx *c, yaml_node_t *item, const char *path)
{
	struct vigil_service_cfg *svc = cur_svc(c);
	char sub[YC_PATH_MAX + 16];
	int err;

	snprintf(sub, sizeof(sub), "%s.backends", path);
	err = add_backends(c, yc_find(c, item, "backends"), sub, VIGIL_ROLE_PRIMARY);
	svc->n_primaries = svc->n_backends;
	snprintf(sub, sizeof(sub), "%s.backups", path);
	return err ? err : add_backends(c, yc_find(c, item, "backups"), sub, VIGIL_ROLE_BACKUP);
}

/* vip: and vips: both name the service's addresses: one or the other. */
static int check_vip_keys(struct yc_ctx *c, yaml_node_t *item, const char *path)
{
	yaml_node_t *one = yc_find(c, item, "vip"), *list = yc_find(c, item, "vips");

	if (!one || !list)
		return 0;
	return yc_fail(c, yc_line(one) > yc_line(list) ? one : list, "%s: both \"vip\" and "
		       "\"vips\" are given: write all addresses under one of them (vips: "
		       "[\"10.96.0.10:80\", \"[fd00::10]:80\"])", path);
}

/* A backend at the service's own address would receive its own connections. */
static int check_self_backend(struct yc_ctx *c, yaml_node_t *item, const char *path)
{
	const struct vigil_service_cfg *svc = cur_svc(c);
	char ep[VIGIL_ENDPOINT_STRLEN];

	for (size_t b = 0; b < svc->n_backends; b++)
		for (size_t v = 0; v < svc->n_vips; v++)
			if (!memcmp(&svc->backends[b].ep, &svc->vips[v], sizeof(svc->vips[v])))
				return yc_fail(c, yc_find(c, item, svc->backends[b].role ==
							  VIGIL_ROLE_BACKUP ? "backups" : "backends"), "%s: service %s: backend %s is the service's "
					       "own vip: list the real servers behind it", path,
					       svc->name, vigil_endpoint_format(&svc->vips[v], ep,
										sizeof(ep)));
	return 0;
}

int config_key_svc_detection(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return parse_detection(c, v, path, &cur_svc(c)->detection);
}

static int key_probe_http_path(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_service_cfg *svc = cur_svc(c);
	const char *s;
	int err = yc_get_str(c, v, path, "a URL path", &s);

	if (err)
		return err;
	if (s[0] != '/' || strlen(s) >= sizeof(svc->probe_http_path) || strpbrk(s, " \r\n"))
		return yc_fail(c, v, "%s: \"%s\": must start with '/', contain no spaces and be "
			       "shorter than %zu characters", path, s, sizeof(svc->probe_http_path));
	snprintf(svc->probe_http_path, sizeof(svc->probe_http_path), "%s", s);
	return 0;
}

static int key_probe_timeout(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 10, 60000, &n);

	if (!err)
		cur_svc(c)->probe_timeout_ms = (unsigned int)n;
	return err;
}

int config_key_svc_probe(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "http_path", key_probe_http_path, false },
		{ "timeout_ms", key_probe_timeout, false },
	};

	return yc_walk_map(c, v, path, keys, NKEYS(keys));
}

/* 0 (the kernel's timeout) or a range: below it a SYN is retransmitted
 * before many paths can answer, above it the kernel's 1 s is as good. */
static int key_svc_syn_rto(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;

	if (yc_get_uint(c, v, path, 0, VIGIL_MAX_SYN_RTO_MS, &n))
		return -EINVAL;
	if (n != 0 && n < VIGIL_MIN_SYN_RTO_MS)
		return yc_fail(c, v, "%s: \"%lu\": must be 0 (the kernel's 1 s) or %d-%d ms: a SYN "
			       "timeout this short retransmits before most paths can answer",
			       path, n, VIGIL_MIN_SYN_RTO_MS, VIGIL_MAX_SYN_RTO_MS);
	cur_svc(c)->syn_rto_ms = (unsigned int)n;
	return 0;
}

static int key_svc_datapath(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;

	if (yc_get_str(c, v, path, "socket, xdp, both or none", &s))
		return -EINVAL;
	if (strcmp(s, "none") == 0)
		cur_svc(c)->datapath = VIGIL_DATAPATH_NONE;
	else if (strcmp(s, "socket") == 0)
		cur_svc(c)->datapath = VIGIL_DATAPATH_SOCKET;
	else if (strcmp(s, "xdp") == 0)
		cur_svc(c)->datapath = VIGIL_DATAPATH_XDP;
	else if (strcmp(s, "both") == 0)
		cur_svc(c)->datapath = VIGIL_DATAPATH_SOCKET | VIGIL_DATAPATH_XDP;
	else
		return yc_fail(c, v, "%s: \"%s\": use socket (local clients), xdp (packets from "
			       "other hosts), both, or none (a load balancer vigil feeds does the "
			       "balancing: docs/integrations.md)", path, s);
	return 0;
}

static int key_svc_table_size(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;

	if (yc_get_uint(c, v, path, 7, VIGIL_MAGLEV_MAX_SIZE, &n))
		return -EINVAL;
	if (!vigil_is_prime((__u32)n))
		return yc_fail(c, v, "%s: %lu is not prime: Maglev needs a prime table size, e.g. "
			       "65537, 16381 or 251", path, n);
	cur_svc(c)->table_size = (__u32)n;
	return 0;
}

static int check_service(struct yc_ctx *c, yaml_node_t *item, const char *path)
{
	const struct vigil_service_cfg *svc = cur_svc(c);
	bool v4_backend = false;

	if (!svc->name[0])
		return yc_fail(c, item, "%s: missing \"name\"", path);
	if (svc->n_vips == 0 && svc->datapath != VIGIL_DATAPATH_NONE)
		return yc_fail(c, item, "%s: service %s has no \"vip\": add vip: \"10.96.0.10:80\" "
			       "(only datapath: none needs none)", path, svc->name);
	if (check_self_backend(c, item, path))
		return -EINVAL;
	if (svc->n_primaries == 0)
		return yc_fail(c, item, "%s: service %s has no backends: list at least one under "
			       "\"backends\"", path, svc->name);
	if ((svc->datapath & VIGIL_DATAPATH_XDP) && svc->table_size < svc->n_backends)
		return yc_fail(c, item, "%s: service %s: table_size %u is smaller than its %zu "
			       "backends", path, svc->name, svc->table_size, svc->n_backends);
	if (svc->n_primaries > VIGIL_MAX_SET || svc->n_backends - svc->n_primaries > VIGIL_MAX_SET)
		return yc_fail(c, item, "%s: service %s: at most %d backends and %d backups", path,
			       svc->name, VIGIL_MAX_SET, VIGIL_MAX_SET);
	for (size_t b = 0; b < svc->n_backends; b++)
		v4_backend |= svc->backends[b].ep.family == VIGIL_AF_INET;
	for (size_t v = 0; v < svc->n_vips; v++)
		if (svc->vips[v].family == VIGIL_AF_INET && !v4_backend)
			return yc_fail(c, item, "%s: service %s: an IPv4 vip needs at least one IPv4 "
				       "backend (IPv4 sockets cannot reach IPv6 backends)", path,
				       svc->name);
	return 0;
}

/* Every per-service default, stated here only (config.h points here). */
void vigil_service_cfg_defaults(struct vigil_service_cfg *svc, const struct vigil_config *cfg)
{
	svc->detection = cfg->detection;
	svc->probe_timeout_ms = 1000;
	svc->datapath = VIGIL_DATAPATH_SOCKET;
	svc->table_size = VIGIL_MAGLEV_DEFAULT_SIZE;
	svc->syn_rto_ms = VIGIL_DEFAULT_SYN_RTO_MS;
}

static int parse_service(struct yc_ctx *c, yaml_node_t *item, const char *path)
{
	static const struct yc_key keys[] = {
		{ "name", key_svc_name, false },
		{ "vip", key_svc_vips, false },
		{ "vips", key_svc_vips, false },
		{ "backends", key_svc_later, false },
		{ "backups", key_svc_later, false },
		{ "detection", config_key_svc_detection, false },
		{ "probe", config_key_svc_probe, false },
		{ "datapath", key_svc_datapath, false },
		{ "table_size", key_svc_table_size, false },
		{ "syn_rto_ms", key_svc_syn_rto, false },
	};
	struct vigil_service_cfg *svc = cur_svc(c);

	vigil_service_cfg_defaults(svc, c->cfg);
	if (item->type != YAML_MAPPING_NODE)
		return yc_fail(c, item, "%s: expected a service mapping with name, vip and backends",
			       path);
	if (check_vip_keys(c, item, path) || yc_walk_map(c, item, path, keys, NKEYS(keys)) ||
	    load_backends(c, item, path))
		return -EINVAL;
	if (svc->n_vips == 0 && svc->datapath == VIGIL_DATAPATH_NONE && svc->name[0])
		vigil_name_key(svc->name, &svc->vips[svc->n_vips++]); /* its key in the maps */
	return check_service(c, item, path);
}

static int check_unique_service(struct yc_ctx *c, yaml_node_t *item, const char *path, size_t i)
{
	const struct vigil_service_cfg *all = c->cfg->services, *s = &all[i];

	for (size_t j = 0; j < i; j++) {
		if (strcmp(all[j].name, s->name) == 0)
			return yc_fail(c, item, "%s: service name \"%s\" is used twice: rename one",
				       path, s->name);
		for (size_t a = 0; a < s->n_vips; a++)
			for (size_t b = 0; b < all[j].n_vips; b++)
				if (memcmp(&s->vips[a], &all[j].vips[b], sizeof(s->vips[a])) == 0)
					return yc_fail(c, item, "%s: service %s uses the vip of "
						       "service %s: each vip belongs to one service",
						       path, s->name, all[j].name);
	}
	return 0;
}

/* Services inherit the global detection: section wherever it is in the
 * file; parsing it again when the walk reaches it gives the same result. */
int config_read_global_detection(struct yc_ctx *c)
{
	yaml_node_t *det = yc_find(c, yaml_document_get_root_node(c->doc), "detection");

	return det ? config_section_detection(c, det, "detection") : 0;
}

int config_section_services(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	size_t n, vips = 0;

	if (config_read_global_detection(c))
		return -EINVAL;
	if (yc_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list of services", path);
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	c->cfg->services = calloc(n ? n : 1, sizeof(*c->cfg->services));
	if (!c->cfg->services)
		return yc_fail(c, v, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
		char ipath[YC_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		c->svc = &c->cfg->services[i];
		c->cfg->n_services = i + 1;
		if (parse_service(c, item, ipath) || check_unique_service(c, item, ipath, i))
			return -EINVAL;
		vips += c->cfg->services[i].n_vips;
		if (vips > VIGIL_MAX_SERVICES)
			return yc_fail(c, item, "%s: more than %d virtual addresses in all", ipath,
				       VIGIL_MAX_SERVICES);
	}
	return 0;
}
