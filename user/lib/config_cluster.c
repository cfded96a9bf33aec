// SPDX-License-Identifier: MIT
/* cluster: section of the config (config_cluster.h, docs/cluster.md). */
#include "config.h"
#include "config_yaml.h"

#include <stdio.h>
#include <string.h>

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

void vigil_cluster_cfg_defaults(struct vigil_cluster_cfg *cc)
{
	memset(cc, 0, sizeof(*cc));
	snprintf(cc->prefix, sizeof(cc->prefix), "/vigil/");
	cc->lease_ttl_s = 3;
	cc->timeout_ms = 300;
	cc->outlier_quorum = 0.5;
}

static bool url_ok(const char *s)
{
	const char *host = strncmp(s, "http://", 7) == 0 ? s + 7 :
			   strncmp(s, "https://", 8) == 0 ? s + 8 : NULL;
	const char *colon = host ? strrchr(host, ':') : NULL;

	return colon && colon > host && colon[1] && strspn(colon + 1, "0123456789") ==
	       strlen(colon + 1) && !strchr(host, '/');
}

static int key_endpoints(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_cluster_cfg *cc = &c->cfg->cluster;

	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list of URLs, e.g. [\"http://10.0.0.1:2379\"]", path);
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		const char *s;
		int err = yc_get_str(c, item, path, "a URL", &s);

		if (err)
			return err;
		if (!url_ok(s) || strlen(s) >= sizeof(cc->endpoints[0]))
			return yc_fail(c, item, "%s: \"%s\": not an etcd client URL: write "
				       "http://HOST:PORT or https://HOST:PORT (no path)", path, s);
		for (size_t i = 0; i < cc->n_endpoints; i++)
			if (!strcmp(cc->endpoints[i], s))
				return yc_fail(c, item, "%s: \"%s\" listed twice: remove one", path, s);
		if (cc->n_endpoints == VIGIL_CLUSTER_MAX_ENDPOINTS)
			return yc_fail(c, item, "%s: more than %d endpoints: list at most %d members",
				       path, VIGIL_CLUSTER_MAX_ENDPOINTS, VIGIL_CLUSTER_MAX_ENDPOINTS);
		snprintf(cc->endpoints[cc->n_endpoints++], sizeof(cc->endpoints[0]), "%s", s);
	}
	return 0;
}

/* Node names and the prefix become parts of etcd keys. */
static int key_node(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;
	int err = yc_get_str(c, v, path, "a node name", &s);

	if (err)
		return err;
	if (!*s || strlen(s) >= sizeof(c->cfg->cluster.node) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(s))
		return yc_fail(c, v, "%s: \"%s\": use 1-63 letters, digits, '.', '_' or '-' "
			       "(default: the host name)", path, s);
	snprintf(c->cfg->cluster.node, sizeof(c->cfg->cluster.node), "%s", s);
	return 0;
}

static int key_prefix(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s;
	size_t len;
	int err = yc_get_str(c, v, path, "a key prefix", &s);

	if (err)
		return err;
	len = strlen(s);
	if (len < 2 || s[0] != '/' || s[len - 1] != '/' || len >= sizeof(c->cfg->cluster.prefix) ||
	    strpbrk(s, " \t\n"))
		return yc_fail(c, v, "%s: \"%s\": must start and end with '/', without spaces, "
			       "e.g. /vigil/prod/", path, s);
	snprintf(c->cfg->cluster.prefix, sizeof(c->cfg->cluster.prefix), "%s", s);
	return 0;
}

static int key_lease_ttl_s(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 1, 60, &n);

	if (!err)
		c->cfg->cluster.lease_ttl_s = (unsigned)n;
	return err;
}

static int key_timeout_ms(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	unsigned long n;
	int err = yc_get_uint(c, v, path, 10, 10000, &n);

	if (!err)
		c->cfg->cluster.timeout_ms = (unsigned)n;
	return err;
}

static int key_outlier_quorum(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_double(c, v, path, 0.01, 1.0, &c->cfg->cluster.outlier_quorum);
}

static int tls_path(struct yc_ctx *c, yaml_node_t *v, const char *path, char *dst, size_t size)
{
	const char *s;
	int err = yc_get_str(c, v, path, "a file path", &s);

	if (err)
		return err;
	if (s[0] != '/' || strlen(s) >= size)
		return yc_fail(c, v, "%s: \"%s\": must be an absolute path (PEM file)", path, s);
	snprintf(dst, size, "%s", s);
	return 0;
}

static int key_ca_file(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return tls_path(c, v, path, c->cfg->cluster.ca_file, sizeof(c->cfg->cluster.ca_file));
}

static int key_cert_file(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return tls_path(c, v, path, c->cfg->cluster.cert_file, sizeof(c->cfg->cluster.cert_file));
}

static int key_key_file(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return tls_path(c, v, path, c->cfg->cluster.key_file, sizeof(c->cfg->cluster.key_file));
}

static int section_tls(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "ca_file", key_ca_file, false },
		{ "cert_file", key_cert_file, false },
		{ "key_file", key_key_file, false },
	};
	const struct vigil_cluster_cfg *cc = &c->cfg->cluster;
	int err = yc_walk_map(c, v, path, keys, NKEYS(keys));

	if (!err && !cc->cert_file[0] != !cc->key_file[0])
		return yc_fail(c, v, "%s: cert_file and key_file go together: give both or neither",
			       path);
	return err;
}

int config_section_cluster(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "endpoints", key_endpoints, false },
		{ "node", key_node, false },
		{ "prefix", key_prefix, false },
		{ "lease_ttl_s", key_lease_ttl_s, false },
		{ "timeout_ms", key_timeout_ms, false },
		{ "outlier_quorum", key_outlier_quorum, false },
		{ "tls", section_tls, false },
	};
	struct vigil_cluster_cfg *cc = &c->cfg->cluster;
	int err;

	if (yc_is_null(v))
		return 0;
	err = yc_walk_map(c, v, path, keys, NKEYS(keys));
	if (err)
		return err;
	if (!cc->n_endpoints)
		return yc_fail(c, v, "%s: no endpoints: list the etcd members, e.g. endpoints: "
			       "[\"http://10.0.0.1:2379\"], or remove the section", path);
	cc->enabled = true;
	return 0;
}
