/* SPDX-License-Identifier: MIT */
/*
 * vigild configuration schema: which keys exist, what values they take and
 * how they land in struct vigil_config. Reference: docs/config.md. The YAML
 * walking and "FILE:LINE: problem: fix" errors are in config_yaml.c.
 */
#include "config.h"
#include "addr.h"
#include "config_sections.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIN_DIR_ROOT "/sys/fs/bpf/"
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- daemon: ----------------------------------------------------------- */

static bool has_dot_component(const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "/");

		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return true;
		s += n + (s[n] == '/');
	}
	return false;
}

static int key_pin_dir(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	char *dst = c->cfg->pin_dir;
	const char *s;
	size_t len;
	int err = yc_get_str(c, v, path, "a path", &s);

	if (err)
		return err;
	len = strlen(s);
	while (len > 1 && s[len - 1] == '/')
		len--;
	if (len <= strlen(PIN_DIR_ROOT) || strncmp(s, PIN_DIR_ROOT, strlen(PIN_DIR_ROOT)))
		return yc_fail(c, v, "%s: \"%s\": must be a directory under " PIN_DIR_ROOT
			       " (bpffs): e.g. " VIGIL_DEFAULT_PIN_DIR, path, s);
	if (len >= sizeof(c->cfg->pin_dir))
		return yc_fail(c, v, "%s: path is %zu characters long: use at most %zu", path,
			       len, sizeof(c->cfg->pin_dir) - 1);
	if (has_dot_component(s))
		return yc_fail(c, v, "%s: \"%s\": \".\" and \"..\" are not allowed: write the "
			       "path without them", path, s);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int key_log_level(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;
	int level, err = yc_get_str(c, v, path, "a log level", &s);

	if (err)
		return err;
	level = vigil_log_level_parse(s);
	if (level < 0)
		return yc_fail(c, v, "%s: \"%s\" is not a log level: use error, warn, info or "
			       "debug", path, s);
	c->cfg->log_level = (enum vigil_log_level)level;
	return 0;
}

static int key_watch_all(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->watch_all);
}

static int key_watch_all_local(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->watch_all_local);
}

static int key_watch_all_max(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 1, VIGIL_MAX_BACKENDS, &n);

	if (!err)
		c->cfg->watch_all_max = (unsigned int)n;
	return err;
}

/* Scopes the monitor to one host's sockets where several share a kernel
 * (hosts as network namespaces, or one tenant of a shared host). */
static int key_monitor_netns(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_netns_file(c, v, path, c->cfg->monitor_netns, sizeof(c->cfg->monitor_netns),
				 &c->cfg->monitor_netns_line);
}

static int section_daemon(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "pin_dir", key_pin_dir, false },
		{ "log_level", key_log_level, false },
		{ "watch_all", key_watch_all, false },
		{ "watch_all_max", key_watch_all_max, false },
		{ "watch_all_local", key_watch_all_local, false },
		{ "tick_ms", config_key_tick_ms, false },
		{ "probe_netns", config_key_probe_netns, false },
		{ "sched_priority", config_key_sched_priority, false },
		{ "monitor_netns", key_monitor_netns, false },
	};

	return yc_walk_map(c, v, path, keys, NKEYS(keys));
}

/* ---- watch: ------------------------------------------------------------ */

static int parse_backend(struct yc_ctx *c, yaml_node_t *it, const char *path, void *slot)
{
	const char *s, *why;
	int err = yc_get_str(c, it, path, "a quoted string", &s);

	if (!err && (vigil_endpoint_parse_why(s, slot, &why) ||
		     (why = vigil_endpoint_unusable(slot))))
		err = yc_fail(c, it, "%s: \"%s\": %s", path, s, why);
	return err;
}

static int key_backends(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_list spec = {
		.max = VIGIL_MAX_WATCH_EXACT,
		.elem = sizeof(struct vigil_endpoint),
		.cmp = sizeof(struct vigil_endpoint),
		.example = "[\"10.0.0.2:80\", \"[fd00::2]:8080\"]",
		.parse = parse_backend,
	};

	return yc_load_list(c, v, path, &spec, (void **)&c->cfg->backends,
			    &c->cfg->n_backends);
}

static int parse_prefix(struct yc_ctx *c, yaml_node_t *it, const char *path, void *slot)
{
	struct vigil_watch_prefix *px = slot;
	const char *s, *why;
	int err = yc_get_str(c, it, path, "a quoted string", &s);

	if (!err && vigil_prefix_parse_why(s, &px->key, &px->port, &why))
		err = yc_fail(c, it, "%s: \"%s\": %s", path, s, why);
	return err;
}

static int key_prefixes(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	/* The LPM trie holds one port per prefix, so the key alone identifies
	 * an entry: the same prefix with two ports cannot be represented. */
	static const struct yc_list spec = {
		.max = VIGIL_MAX_WATCH_PREFIX,
		.elem = sizeof(struct vigil_watch_prefix),
		.cmp = sizeof(struct vigil_prefix_key),
		.example = "[\"10.1.0.0/16\", \"10.2.0.0/16:443\"]",
		.conflict = "same prefix with another port; a prefix watches one port or "
			    "every port (no port): list it once",
		.parse = parse_prefix,
	};

	return yc_load_list(c, v, path, &spec, (void **)&c->cfg->prefixes,
			    &c->cfg->n_prefixes);
}

static int parse_local_port(struct yc_ctx *c, yaml_node_t *it, const char *path, void *slot)
{
	unsigned long port;
	int err = yc_get_uint(c, it, path, 1, 65535, &port);

	if (!err)
		*(__u16 *)slot = (__u16)port;
	return err;
}

static int key_local_ports(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_list spec = {
		.max = VIGIL_MAX_LOCAL_PORTS,
		.elem = sizeof(__u16),
		.cmp = sizeof(__u16),
		.example = "[8080, 9090]",
		.parse = parse_local_port,
	};

	return yc_load_list(c, v, path, &spec, (void **)&c->cfg->local_ports,
			    &c->cfg->n_local_ports);
}

static int section_watch(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "backends", key_backends, false },
		{ "prefixes", key_prefixes, false },
		{ "local_ports", key_local_ports, false },
	};

	return yc_walk_map(c, v, path, keys, NKEYS(keys));
}

/* ---- whole file -------------------------------------------------------- */

static int compare_ep(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct vigil_endpoint));
}

long vigil_config_distinct_backends(const struct vigil_config *cfg, bool with_watch,
				    __u32 datapath)
{
	size_t n = with_watch ? cfg->n_backends : 0, k = 0, uniq = 0;
	struct vigil_endpoint *all;

	for (size_t s = 0; s < cfg->n_services; s++)
		n += cfg->services[s].n_backends;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return -1;
	for (size_t i = 0; with_watch && i < cfg->n_backends; i++)
		all[k++] = cfg->backends[i];
	for (size_t s = 0; s < cfg->n_services; s++)
		for (size_t b = 0; b < cfg->services[s].n_backends &&
		     (!datapath || (cfg->services[s].datapath & datapath)); b++)
			all[k++] = cfg->services[s].backends[b].ep;
	qsort(all, k, sizeof(*all), compare_ep);
	for (size_t i = 0; i < k; i++)
		uniq += i == 0 || compare_ep(&all[i - 1], &all[i]);
	free(all);
	return (long)uniq;
}

/* The node to blame for a total: the services list, else watch.backends. */
static yaml_node_t *total_node(struct yc_ctx *c, yaml_node_t *root)
{
	yaml_node_t *svcs = yc_find(c, root, "services");

	return svcs ? svcs : yc_find(c, yc_find(c, root, "watch"), "backends");
}

/* Every watched endpoint (watch.backends and the services' backends) needs
 * a slot in watch_exact and in backend_stats, an LRU of watch_all_max
 * entries where more would evict each other's counters; every service
 * backend one in backend_health, every XDP one a backend id. Checked here,
 * so that --check, start-up and reload refuse what the maps cannot hold
 * before anything is loaded. */
static int check_capacity(struct yc_ctx *c, yaml_node_t *root)
{
	const struct vigil_config *cfg = c->cfg;
	long all = vigil_config_distinct_backends(cfg, true, 0);
	long svc = vigil_config_distinct_backends(cfg, false, 0);
	long xdp = vigil_config_distinct_backends(cfg, false, VIGIL_DATAPATH_XDP);
	yaml_node_t *max = yc_find(c, yc_find(c, root, "daemon"), "watch_all_max");

	if (all < 0 || svc < 0 || xdp < 0)
		return yc_fail_line(c, 1, "out of memory checking capacity");
	if (all > VIGIL_MAX_WATCH_EXACT || svc > VIGIL_MAX_HEALTH || xdp > VIGIL_MAX_LB_BACKENDS)
		return yc_fail(c, total_node(c, root), "%ld distinct backends in watch.backends and "
			       "services (%ld of services, %ld with datapath xdp), at most %d can "
			       "be watched: split the services over more hosts or list fewer "
			       "backends", all, svc, xdp, VIGIL_MAX_WATCH_EXACT);
	if (all > (long)cfg->watch_all_max)
		return yc_fail(c, max ? max : total_node(c, root), "%ld backends but "
			       "daemon.watch_all_max is %u (watch.backends and the services' "
			       "backends share it): raise watch_all_max to at least %ld", all,
			       cfg->watch_all_max, all);
	return 0;
}

_Static_assert(VIGIL_MAX_WATCH_EXACT == VIGIL_MAX_HEALTH &&
		       VIGIL_MAX_HEALTH == VIGIL_MAX_LB_BACKENDS,
	       "check_capacity names one limit for the three maps");

static int check_cross(struct yc_ctx *c, yaml_node_t *root)
{
	const struct vigil_config *cfg = c->cfg;

	for (size_t i = 0; i < cfg->n_services; i++)
		if ((cfg->services[i].datapath & VIGIL_DATAPATH_XDP) && cfg->n_xdp_interfaces == 0)
			return yc_fail(c, yc_find(c, root, "services"), "services: service %s uses "
				       "datapath xdp but no xdp.interfaces are configured: add "
				       "xdp: {interfaces: [eth0]}", cfg->services[i].name);
	if (cfg->xdp_hook == VIGIL_HOOK_TC && cfg->xdp_mode != VIGIL_XDP_MODE_AUTO)
		return yc_fail(c, yc_find(c, yc_find(c, root, "xdp"), "mode"), "xdp.mode: applies "
			       "to hook xdp only; remove it or set xdp.hook: xdp");
	return check_capacity(c, root) ? -EINVAL : config_check_feeds(c, root);
}

static int load_root(struct yc_ctx *c, yaml_node_t *root)
{
	static const struct yc_key sections[] = {
		{ "daemon", section_daemon, false },
		{ "watch", section_watch, false },
		{ "services", config_section_services, false },
		{ "detection", config_section_detection, false },
		{ "lb", config_section_lb, false },
		{ "xdp", config_section_xdp, false },
		{ "cluster", config_section_cluster, false },
		{ "metrics", config_section_metrics, false },
		{ "haproxy", config_section_haproxy, false },
		{ "nginx", config_section_nginx, false },
	};
	int err;

	if (!root || yc_is_null(root))
		return 0;
	err = yc_walk_map(c, root, "", sections, NKEYS(sections));
	return err ? err : check_cross(c, root);
}

static int load_text(const char *text, size_t len, const char *name,
		     struct vigil_config *cfg, char *err, size_t errlen)
{
	struct yc_ctx c = { .name = name ? name : "<config>", .cfg = cfg,
			    .err = err, .errlen = errlen };
	int ret;

	vigil_config_defaults(cfg);
	if (err && errlen)
		err[0] = '\0';
	ret = yc_parse(&c, text, len, load_root);
	if (ret)
		vigil_config_free(cfg);
	return ret;
}

/* ---- public ------------------------------------------------------------ */

/* Every daemon-level default, stated here only (config.h points here). */
void vigil_config_defaults(struct vigil_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", VIGIL_DEFAULT_PIN_DIR);
	cfg->log_level = VIGIL_LOG_WARN;
	vigil_cluster_cfg_defaults(&cfg->cluster);
	cfg->watch_all = false;
	cfg->watch_all_max = VIGIL_MAX_BACKENDS;
	cfg->watch_all_local = false;
	cfg->tick_ms = 10;
	cfg->sched_priority = VIGIL_DEFAULT_SCHED_PRIORITY;
	cfg->lb_rescue = true;
	cfg->xdp_hook = VIGIL_HOOK_XDP;
	cfg->xdp_mode = VIGIL_XDP_MODE_AUTO;
	cfg->xdp_forward = VIGIL_FWD_REDIRECT;
	cfg->xdp_syn_replay = true;
	vigil_det_params_defaults(&cfg->detection);
	config_metrics_defaults(&cfg->metrics);
	cfg->haproxy.resync_ms = 1000;
	cfg->haproxy.retry_ms = 100;
	cfg->haproxy.timeout_ms = 1000;
	cfg->haproxy.shutdown_sessions = true;
	cfg->nginx.reload_interval_ms = 200;
}

void vigil_config_free(struct vigil_config *cfg)
{
	free(cfg->backends);
	free(cfg->prefixes);
	free(cfg->local_ports);
	free(cfg->services);
	free(cfg->haproxy.backends);
	free(cfg->nginx.upstreams);
	vigil_config_defaults(cfg);
}

int vigil_config_service_index(const struct vigil_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (strncmp(cfg->services[i].name, name, VIGIL_NAME_LEN) == 0)
			return (int)i;
	return -1;
}

/* *dst = a copy of the n elements of size elem at src (NULL stays NULL). */
static int dup_array(void *dst, const void *src, size_t n, size_t elem)
{
	void *copy;

	*(void **)dst = NULL;
	if (!src)
		return 0;
	copy = malloc(n ? n * elem : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, src, n * elem);
	*(void **)dst = copy;
	return 0;
}

int vigil_config_copy(struct vigil_config *dst, const struct vigil_config *src)
{
	*dst = *src;
	if (dup_array(&dst->backends, src->backends, src->n_backends, sizeof(*src->backends)) |
	    dup_array(&dst->prefixes, src->prefixes, src->n_prefixes, sizeof(*src->prefixes)) |
	    dup_array(&dst->local_ports, src->local_ports, src->n_local_ports,
		      sizeof(*src->local_ports)) |
	    dup_array(&dst->services, src->services, src->n_services, sizeof(*src->services)) |
	    dup_array(&dst->haproxy.backends, src->haproxy.backends, src->haproxy.n_backends,
		      sizeof(*src->haproxy.backends)) |
	    dup_array(&dst->nginx.upstreams, src->nginx.upstreams, src->nginx.n_upstreams,
		      sizeof(*src->nginx.upstreams))) {
		vigil_config_free(dst);
		return -ENOMEM;
	}
	return 0;
}

int vigil_config_load_string(const char *text, const char *name, struct vigil_config *cfg,
			     char *err, size_t errlen)
{
	return load_text(text, strlen(text), name, cfg, err, errlen);
}

int vigil_config_load_file(const char *path, struct vigil_config *cfg, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int ret = yc_read_file(path, &text, &len);

	if (ret) {
		vigil_config_defaults(cfg);
		if (err && errlen && ret == -EFTYPE)
			snprintf(err, errlen, "%s: not a regular file (a FIFO, device or socket): "
				 "give the path of a YAML file", path);
		else if (err && errlen)
			snprintf(err, errlen, "%s: cannot read config file: %s: check the path and "
				 "its permissions", path, strerror(-ret));
		return ret;
	}
	ret = load_text(text, len, path, cfg, err, errlen);
	free(text);
	return ret;
}
