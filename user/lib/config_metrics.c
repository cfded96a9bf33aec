/* SPDX-License-Identifier: MIT */
/* The metrics: section (docs/config.md): where vigild serves /metrics,
 * /healthz and /readyz. */
#include <string.h>

#include "addr.h"
#include "config_sections.h"

static bool any_address(const struct vigil_endpoint *ep)
{
	static const __u8 v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const __u8 v6_any[16];

	return memcmp(ep->addr, ep->family == VIGIL_AF_INET ? v4_any : v6_any, 16) == 0;
}

/* ADDR:PORT of this host; the unspecified address (every address) is fine
 * here, unlike for a backend, since it is where vigild listens. */
static int key_listen(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	struct vigil_endpoint ep;
	const char *s, *why = NULL;
	int err = yc_get_str(c, v, path, "ADDR:PORT", &s);

	if (err)
		return err;
	if (vigil_endpoint_parse_why(s, &ep, &why) == 0 && !any_address(&ep))
		why = vigil_endpoint_unusable(&ep);
	if (why)
		return yc_fail(c, v, "%s: \"%s\": %s (vigild listens there: an address of this "
			       "host, 0.0.0.0 or [::] for every address, default %s)", path, s, why,
			       VIGIL_METRICS_DEFAULT_LISTEN);
	c->cfg->metrics.listen = ep;
	c->cfg->metrics.listen_line = (unsigned int)yc_line(v);
	return 0;
}

static int key_enabled(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	return yc_get_bool(c, v, path, &c->cfg->metrics.enabled);
}

int config_section_metrics(struct yc_ctx *c, yaml_node_t *v, const char *path)
{
	static const struct yc_key keys[] = {
		{ "enabled", key_enabled, false },
		{ "listen", key_listen, false },
	};

	return yc_walk_map(c, v, path, keys, sizeof(keys) / sizeof(keys[0]));
}

void config_metrics_defaults(struct vigil_metrics_cfg *m)
{
	memset(m, 0, sizeof(*m));
	m->enabled = true;
	vigil_endpoint_parse(VIGIL_METRICS_DEFAULT_LISTEN, &m->listen);
}
