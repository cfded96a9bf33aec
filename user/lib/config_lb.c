/* SPDX-License-Identifier: MIT */
/*
 * Config of the load balancers vigil feeds (docs/integrations.md): haproxy:
 * (the runtime API socket and the HAProxy backends whose servers vigil
 * judges) and nginx: (the upstream include files vigil writes and how nginx
 * is reloaded). Checked against services: once the whole file is read, since
 * the sections may come in any order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config_sections.h"

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- shared ----------------------------------------------------------------- */

static int get_ms(struct yc_ctx *c, yaml_node_t *v, const char *path, unsigned long min,
		  unsigned int *out)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, min, 60000, &n);

	if (!err)
		*out = (unsigned int)n;
	return err;
}

static int get_abs_path(struct yc_ctx *c, yaml_node_t *v, const char *path, const char *example,
			char *out, size_t outlen)
{
	const char *s;

	if (yc_get_str(c, v, path, "an absolute path", &s))
		return -EINVAL;
	if (s[0] != '/' || strlen(s) >= outlen || strpbrk(s, "\n\r"))
		return yc_fail(c, v, "%s: \"%s\": must be an absolute path shorter than %zu "
			       "characters, e.g. %s", path, s, outlen, example);
	snprintf(out, outlen, "%s", s);
	return 0;
}

/* Each entry of a list section: the item, its path "SECTION[i]". */
static int walk_list(struct yc_ctx *c, yaml_node_t *v, const char *path, const char *example,
		     int (*fn)(struct yc_ctx *c, yaml_node_t *item, const char *path, size_t i))
{
	size_t n;

	if (yc_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list, e.g. %s", path, example);
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > VIGIL_MAX_LB_FEEDS)
		return yc_fail(c, v, "%s: %zu entries, at most %d are supported", path, n,
			       VIGIL_MAX_LB_FEEDS);
	for (size_t i = 0; i < n; i++) {
		char ipath[YC_PATH_MAX];

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (fn(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]), ipath, i))
			return -EINVAL;
	}
	return 0;
}

/* ---- haproxy: ---------------------------------------------------------------- */

static struct vigil_haproxy_backend_cfg *cur_hb(struct yc_ctx *c)
{
	return &c->cfg->haproxy.backends[c->cfg->haproxy.n_backends - 1];
}

static int key_hp_socket(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_haproxy_cfg *h = &c->cfg->haproxy;
	const char *s, *why;

	if (yc_get_str(c, v, path, "a socket path or ADDR:PORT", &s))
		return -EINVAL;
	if (s[0] == '/' && strlen(s) < sizeof(h->socket)) {
		snprintf(h->socket, sizeof(h->socket), "%s", s);
		return 0;
	}
	if (s[0] != '/' && vigil_endpoint_parse_why(s, &h->socket_ep, &why) == 0 &&
	    !(why = vigil_endpoint_unusable(&h->socket_ep)))
		return 0;
	return yc_fail(c, v, "%s: \"%s\": give HAProxy's stats socket, as a path of at most %zu "
		       "characters (stats socket /run/haproxy/admin.sock level admin) or an "
		       "ADDR:PORT (stats socket ipv4@127.0.0.1:9999 level admin)", path, s,
		       sizeof(h->socket) - 1);
}

/* HAProxy's own charset for proxy names; the name goes into runtime API
 * command lines, where a space or ';' would start another word or command. */
static const struct config_name proxy_name = {
	"an HAProxy backend name",
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-",
	"letters, digits, '_', '.', ':' or '-'", VIGIL_LB_NAME_LEN,
};

static int key_hb_backend(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_get_name(c, v, path, &proxy_name, cur_hb(c)->backend);
}

static int key_hb_service(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_get_name(c, v, path, &config_service_name, cur_hb(c)->tmpl.name);
}

static int key_hb_detection(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	cur_hb(c)->has_overrides = true;
	return config_key_svc_detection(c, v, path);
}

static int key_hb_probe(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	cur_hb(c)->has_overrides = true;
	return config_key_svc_probe(c, v, path);
}

/* "be_web" or {backend: be_web, service: web, detection: {...}, probe: {...}}. */
static int parse_hp_backend(struct yc_ctx *c, yaml_node_t *item, const char *path, size_t i)
{
	static const struct yc_key keys[] = {
		{ "backend", key_hb_backend, false },
		{ "service", key_hb_service, false },
		{ "detection", key_hb_detection, false },
		{ "probe", key_hb_probe, false },
	};
	struct vigil_haproxy_backend_cfg *hb = &c->cfg->haproxy.backends[i];
	int err;

	c->cfg->haproxy.n_backends = i + 1;
	vigil_service_cfg_defaults(&hb->tmpl, c->cfg);
	hb->tmpl.datapath = VIGIL_DATAPATH_NONE;
	hb->tmpl.from_haproxy = true;
	hb->line = (unsigned int)yc_line(item);
	c->svc = &hb->tmpl;
	if (item->type == YAML_SCALAR_NODE)
		err = key_hb_backend(c, item, path);
	else if (item->type == YAML_MAPPING_NODE)
		err = yc_walk_map(c, item, path, keys, NKEYS(keys));
	else
		err = yc_fail(c, item, "%s: expected a backend name or {backend: NAME, service: "
			      "NAME}", path);
	c->svc = NULL;
	if (err)
		return err;
	if (!hb->backend[0])
		return yc_fail(c, item, "%s: missing \"backend\": name the HAProxy backend", path);
	if (hb->tmpl.name[0])
		return 0;
	/* The service is named after the backend. */
	if (config_check_name(c, item, path, &config_service_name, hb->backend))
		return -EINVAL;
	memcpy(hb->tmpl.name, hb->backend, strlen(hb->backend) + 1); /* checked: it fits */
	return 0;
}

static int key_hp_backends(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_haproxy_cfg *h = &c->cfg->haproxy;

	if (config_read_global_detection(c))
		return -EINVAL;
	free(h->backends);
	h->n_backends = 0;
	h->backends = calloc(VIGIL_MAX_LB_FEEDS, sizeof(*h->backends));
	if (!h->backends)
		return yc_fail(c, v, "%s: out of memory", path);
	return walk_list(c, v, path, "[be_web, {backend: be_api, service: api}]", parse_hp_backend);
}

static int key_hp_resync(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_ms(c, v, path, 100, &c->cfg->haproxy.resync_ms);
}

static int key_hp_retry(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_ms(c, v, path, 10, &c->cfg->haproxy.retry_ms);
}

static int key_hp_timeout(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_ms(c, v, path, 10, &c->cfg->haproxy.timeout_ms);
}

static int key_hp_shutdown(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->haproxy.shutdown_sessions);
}

/* A section that, written, turns its feed on. */
static int walk_feed(struct yc_ctx *c, yaml_node_t *v, const char *path,
		     const struct yc_key *keys, size_t n, bool *enabled)
{
	if (yc_is_null(v))
		return 0;
	*enabled = true;
	return yc_walk_map(c, v, path, keys, n);
}

int config_section_haproxy(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "socket", key_hp_socket, false }, { "backends", key_hp_backends, false },
		{ "resync_ms", key_hp_resync, false }, { "retry_ms", key_hp_retry, false },
		{ "timeout_ms", key_hp_timeout, false },
		{ "shutdown_sessions", key_hp_shutdown, false },
	};

	return walk_feed(c, v, path, keys, NKEYS(keys), &c->cfg->haproxy.enabled);
}

/* ---- nginx: ------------------------------------------------------------------ */

static struct vigil_nginx_upstream_cfg *cur_up(struct yc_ctx *c)
{
	return &c->cfg->nginx.upstreams[c->cfg->nginx.n_upstreams - 1];
}

static int key_ng_pid_file(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_abs_path(c, v, path, "/run/nginx.pid", c->cfg->nginx.pid_file,
			    sizeof(c->cfg->nginx.pid_file));
}

static int key_ng_command(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	char *cmd = c->cfg->nginx.reload_command;
	const char *s;

	if (yc_get_str(c, v, path, "a command", &s))
		return -EINVAL;
	if (!s[0] || strlen(s) >= sizeof(c->cfg->nginx.reload_command) || strpbrk(s, "\n\r"))
		return yc_fail(c, v, "%s: \"%s\": one line of at most %zu characters, e.g. "
			       "\"/usr/sbin/nginx -s reload\"", path, s,
			       sizeof(c->cfg->nginx.reload_command) - 1);
	snprintf(cmd, sizeof(c->cfg->nginx.reload_command), "%s", s);
	return 0;
}

static int key_ng_interval(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_ms(c, v, path, 10, &c->cfg->nginx.reload_interval_ms);
}

static int key_up_service(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return config_get_name(c, v, path, &config_service_name, cur_up(c)->service);
}

static int key_up_file(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return get_abs_path(c, v, path, "/etc/nginx/vigil/web.conf", cur_up(c)->file,
			    sizeof(cur_up(c)->file));
}

/* Parameters of nginx's server directive (weight is vigil's): words of
 * letters, digits and "=._:-", so nothing can end the directive early. */
static int key_up_options(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;
	size_t len;

	if (yc_get_str(c, v, path, "server parameters", &s))
		return -EINVAL;
	len = strlen(s);
	if (len >= sizeof(cur_up(c)->options) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=._:- ") != len)
		return yc_fail(c, v, "%s: \"%s\": server parameters such as \"max_fails=1 "
			       "fail_timeout=10s\" (letters, digits, '=', '.', '_', ':', '-' and "
			       "spaces, at most %zu characters)", path, s,
			       sizeof(cur_up(c)->options) - 1);
	if (strstr(s, "weight") || strstr(s, "down") || strstr(s, "backup"))
		return yc_fail(c, v, "%s: \"%s\": weight, down and backup are written by vigil "
			       "(weights and backups come from the service): remove them", path, s);
	snprintf(cur_up(c)->options, sizeof(cur_up(c)->options), "%s", s);
	return 0;
}

static int parse_upstream(struct yc_ctx *c, yaml_node_t *item, const char *path, size_t i)
{
	static const struct yc_key keys[] = {
		{ "service", key_up_service, false },
		{ "file", key_up_file, false },
		{ "options", key_up_options, false },
	};
	struct vigil_nginx_upstream_cfg *up = &c->cfg->nginx.upstreams[i];

	c->cfg->nginx.n_upstreams = i + 1;
	up->line = (unsigned int)yc_line(item);
	if (item->type != YAML_MAPPING_NODE)
		return yc_fail(c, item, "%s: expected {service: NAME, file: PATH}", path);
	if (yc_walk_map(c, item, path, keys, NKEYS(keys)))
		return -EINVAL;
	if (!up->service[0] || !up->file[0])
		return yc_fail(c, item, "%s: missing \"%s\": write {service: web, file: "
			       "/etc/nginx/vigil/web.conf}", path, up->service[0] ? "file" : "service");
	return 0;
}

static int key_ng_upstreams(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_nginx_cfg *n = &c->cfg->nginx;

	free(n->upstreams);
	n->n_upstreams = 0;
	n->upstreams = calloc(VIGIL_MAX_LB_FEEDS, sizeof(*n->upstreams));
	if (!n->upstreams)
		return yc_fail(c, v, "%s: out of memory", path);
	return walk_list(c, v, path, "[{service: web, file: /etc/nginx/vigil/web.conf}]",
			 parse_upstream);
}

int config_section_nginx(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "pid_file", key_ng_pid_file, false }, { "reload_command", key_ng_command, false },
		{ "reload_interval_ms", key_ng_interval, false },
		{ "upstreams", key_ng_upstreams, false },
	};

	return walk_feed(c, v, path, keys, NKEYS(keys), &c->cfg->nginx.enabled);
}

/* ---- against services: ------------------------------------------------------- */

/* A named service feeds its backend; any other name is a service vigild
 * makes from what HAProxy lists, so its settings are given here. */
static int check_hp_backend(struct yc_ctx *c, size_t i)
{
	struct vigil_haproxy_backend_cfg *all = c->cfg->haproxy.backends, *hb = &all[i];

	hb->derived = vigil_config_service_index(c->cfg, hb->tmpl.name) < 0;
	if (!hb->derived && hb->has_overrides)
		return yc_fail_line(c, hb->line, "haproxy.backends[%zu]: service %s is configured "
				    "under services: set its detection and probe there", i,
				    hb->tmpl.name);
	for (size_t j = 0; j < i; j++) {
		if (strcmp(all[j].backend, hb->backend) == 0)
			return yc_fail_line(c, hb->line, "haproxy.backends[%zu]: backend %s is "
					    "listed twice (first at line %u): remove the duplicate",
					    i, hb->backend, all[j].line);
		if (strcmp(all[j].tmpl.name, hb->tmpl.name) == 0)
			return yc_fail_line(c, hb->line, "haproxy.backends[%zu]: service %s feeds "
					    "backend %s already (line %u): one service per backend; "
					    "name this one with service:", i, hb->tmpl.name,
					    all[j].backend, all[j].line);
	}
	return 0;
}

static int check_haproxy(struct yc_ctx *c, yaml_node_t *node)
{
	const struct vigil_haproxy_cfg *h = &c->cfg->haproxy;

	if (!h->enabled)
		return 0;
	if (!h->socket[0] && !h->socket_ep.family)
		return yc_fail(c, node, "haproxy: missing \"socket\": give HAProxy's stats socket "
			       "(stats socket /run/haproxy/admin.sock level admin in haproxy.cfg)");
	if (!h->n_backends)
		return yc_fail(c, node, "haproxy: missing \"backends\": list the HAProxy backends "
			       "vigil feeds, e.g. backends: [be_web]");
	for (size_t i = 0; i < h->n_backends; i++)
		if (check_hp_backend(c, i))
			return -EINVAL;
	return 0;
}

static int check_nginx(struct yc_ctx *c, yaml_node_t *node)
{
	const struct vigil_nginx_cfg *n = &c->cfg->nginx;

	if (!n->enabled)
		return 0;
	if (!n->pid_file[0] == !n->reload_command[0])
		return yc_fail(c, node, "nginx: give one of pid_file (vigild signals the master "
			       "named there) and reload_command");
	if (!n->n_upstreams)
		return yc_fail(c, node, "nginx: missing \"upstreams\": list the include files "
			       "vigil writes, e.g. [{service: web, file: /etc/nginx/vigil/web.conf}]");
	for (size_t i = 0; i < n->n_upstreams; i++) {
		const struct vigil_nginx_upstream_cfg *up = &n->upstreams[i];

		if (vigil_config_service_index(c->cfg, up->service) < 0)
			return yc_fail_line(c, up->line, "nginx.upstreams[%zu]: no service %s under "
					    "services: define it (datapath: none when nginx alone "
					    "balances it)", i, up->service);
		for (size_t j = 0; j < i; j++)
			if (strcmp(n->upstreams[j].service, up->service) == 0 ||
			    strcmp(n->upstreams[j].file, up->file) == 0)
				return yc_fail_line(c, up->line, "nginx.upstreams[%zu]: the service "
						    "or file of line %u again: one file per "
						    "service", i, n->upstreams[j].line);
	}
	return 0;
}

int config_check_feeds(struct yc_ctx *c, yaml_node_t *root)
{
	if (check_haproxy(c, yc_find(c, root, "haproxy")))
		return -EINVAL;
	return check_nginx(c, yc_find(c, root, "nginx"));
}
