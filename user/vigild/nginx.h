/* SPDX-License-Identifier: MIT */
/*
 * The nginx feed. Open-source nginx has no runtime API, so vigild writes the
 * server lines of each fed service's upstream into an include file (write a
 * temporary file, rename it over the old one: nginx never reads half a file)
 * and reloads nginx: SIGHUP to the master whose PID is in nginx.pid_file, or
 * nginx.reload_command. Reloads are coalesced: at most one per
 * nginx.reload_interval_ms, so a flapping backend cannot cause a reload
 * storm. A file that already says the same is not written, and nginx is not
 * reloaded when no file changed. docs/integrations.md.
 */
#ifndef VIGIL_NGINX_H
#define VIGIL_NGINX_H

#include <stdbool.h>
#include <vigil/abi.h>

#include "config.h"
#include "desired.h"

struct vigil_nginx;

/* NULL when cfg has no nginx: section (or out of memory: errno). */
struct vigil_nginx *vigil_nginx_new(const struct vigil_config *cfg);
void vigil_nginx_free(struct vigil_nginx *ng);

/* The running config changed; cfg must live until the next call. */
void vigil_nginx_reconfigure(struct vigil_nginx *ng, const struct vigil_config *cfg);

/* The publisher wrote want for svc at now: the include file follows at the
 * next reload that is due. */
void vigil_nginx_publish(struct vigil_nginx *ng, const struct vigil_service_cfg *svc,
			 const struct vigil_desired *want, __u64 now);

/* Milliseconds until a reload is due (-1: none). */
int vigil_nginx_timeout_ms(const struct vigil_nginx *ng, __u64 now);
/* Write the files and reload when due; reap a finished reload command. */
void vigil_nginx_run(struct vigil_nginx *ng, __u64 now);

/* The counters (lb_feeds map); true when they changed since the last call. */
bool vigil_nginx_stats(struct vigil_nginx *ng, struct vigil_feed_stats *out);

#endif
