/* SPDX-License-Identifier: MIT */
/* Private to the config parser: sections defined in config_services.c. */
#ifndef VIGIL_CONFIG_SECTIONS_H
#define VIGIL_CONFIG_SECTIONS_H

#include "config_yaml.h"

int config_section_services(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_detection(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_xdp(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_lb(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_tick_ms(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_sched_priority(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_probe_netns(struct yc_ctx *c, yaml_node_t *v, const char *path);
/* The global detection: section into c->cfg->detection, before it is
 * copied into a service (services: may come first in the file). */
int config_read_global_detection(struct yc_ctx *c);
/* Keys of a service (c->svc), shared with haproxy.backends[] entries. */
int config_key_svc_detection(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_key_svc_probe(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_check_svc_name(struct yc_ctx *c, yaml_node_t *v, const char *path, const char *name);

/* haproxy: and nginx: (config_lb.c); their cross-checks with services:
 * run once the whole file is read. */
int config_section_haproxy(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_section_nginx(struct yc_ctx *c, yaml_node_t *v, const char *path);
int config_check_feeds(struct yc_ctx *c, yaml_node_t *root);

#endif
