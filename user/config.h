/* SPDX-License-Identifier: MIT */
/* vigild configuration: YAML file -> validated struct (pure, no BPF). */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>
#include "log.h"

struct vigil_watch_prefix {
	struct vigil_prefix_key key;
	__u16 port; /* 0: every port */
};

struct vigil_config {
	/* daemon: */
	char pin_dir[256];          /* default VIGIL_DEFAULT_PIN_DIR */
	enum vigil_log_level log_level; /* default VIGIL_LOG_WARN (quiet) */
	bool watch_all;             /* default false */
	unsigned int watch_all_max; /* LRU bound of backend_stats, default VIGIL_MAX_BACKENDS */
	bool watch_all_local;       /* track every accepting local port */
	/* watch: */
	struct vigil_endpoint *backends;
	size_t n_backends;
	struct vigil_watch_prefix *prefixes;
	size_t n_prefixes;
	__u16 *local_ports;
	size_t n_local_ports;
};

/* Fill cfg with defaults (no allocation). */
void vigil_config_defaults(struct vigil_config *cfg);

/* Parse and validate. On error returns -EINVAL (or -errno for I/O) and writes
 * "FILE:LINE: what is wrong: how to fix" into err; cfg is left empty. */
int vigil_config_load_file(const char *path, struct vigil_config *cfg, char *err, size_t errlen);
int vigil_config_load_string(const char *text, const char *name, struct vigil_config *cfg,
			     char *err, size_t errlen);

void vigil_config_free(struct vigil_config *cfg);

#endif
