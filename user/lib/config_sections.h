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

#endif
