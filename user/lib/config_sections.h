/* SPDX-License-Identifier: MIT */
/* Private to the config parser: sections defined in config_services.c and
 * config_metrics.c. */
#ifndef VIGIL_CONFIG_SECTIONS_H
#define VIGIL_CONFIG_SECTIONS_H

#include "config_yaml.h"

int config_section_services(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_detection(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_xdp(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_cluster(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_lb(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_tick_ms(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_sched_priority(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_probe_netns(struct yc_ctx *c, yaml_node_t *v, const char *path);
/* An absolute path of a network namespace file into dst, its line into *line. */
int config_netns_file(struct yc_ctx *c, yaml_node_t *v, const char *path, char *dst,
		      size_t size, unsigned int *line);
/* config_metrics.c */
int config_section_metrics(struct yc_ctx *c, yaml_node_t *v, const char *path);
void config_metrics_defaults(struct vigil_metrics_cfg *m);
/* The global detection: section into c->cfg->detection, before it is
 * copied into a service (services: may come first in the file). */
int config_read_global_detection(struct yc_ctx *c);
/* Keys of a service (c->svc), shared with haproxy.backends[] entries. */
int config_key_svc_detection(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_svc_probe(struct yc_ctx *c, yaml_node_t *v, const char *path);

/* A kind of name: which characters, at most size - 1 of them. */
struct config_name {
	const char *what;       /* "a service name" */
	const char *chars;      /* the characters allowed */
	const char *chars_text; /* ... as the error says them */
	size_t size;            /* of the buffer it goes into */
};
extern const struct config_name config_service_name;
/* name is of that kind; else a FILE:LINE error at v. */
int config_check_name(struct yc_ctx *c, yaml_node_t *v, const char *path,
		      const struct config_name *rule, const char *name);
/* A scalar of that kind into out (rule->size bytes). */
int config_get_name(struct yc_ctx *c, yaml_node_t *v, const char *path,
		    const struct config_name *rule, char *out);

/* haproxy: and nginx: (config_lb.c); their cross-checks with services:
 * run once the whole file is read. */
int config_section_haproxy(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_nginx(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_check_feeds(struct yc_ctx *c, yaml_node_t *root);

#endif
