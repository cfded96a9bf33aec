/* SPDX-License-Identifier: MIT */
/*
 * The load balancers vigild feeds (haproxy.h, nginx.h) behind one face for
 * the publisher and the main loop: every published desired state goes to
 * both, their sockets and timers join vigild's poll, their counters go to
 * the pinned lb_feeds map vigilctl reads. Either may be absent.
 */
#ifndef VIGIL_LBFEEDS_H
#define VIGIL_LBFEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "desired.h"

struct vigil_lbfeeds;
struct vigil_haproxy;
struct pollfd;

/* The feeds cfg configures (none is fine). NULL only when out of memory. */
struct vigil_lbfeeds *vigil_lbfeeds_new(const struct vigil_config *cfg);
void vigil_lbfeeds_free(struct vigil_lbfeeds *f);

/* A new running config: feeds start, stop or follow it. cfg must live until
 * the next call. */
void vigil_lbfeeds_reconfigure(struct vigil_lbfeeds *f, const struct vigil_config *cfg);

/* The publisher wrote want for svc (decided at now). */
void vigil_lbfeeds_publish(struct vigil_lbfeeds *f, const struct vigil_service_cfg *svc,
			   const struct vigil_desired *want, __u64 now);

size_t vigil_lbfeeds_pollfds(const struct vigil_lbfeeds *f, struct pollfd *fds, size_t max);
/* timeout_ms lowered to what the feeds need. */
int vigil_lbfeeds_timeout_ms(const struct vigil_lbfeeds *f, __u64 now, int timeout_ms);
void vigil_lbfeeds_run(struct vigil_lbfeeds *f, __u64 now);

/* Counters to the lb_feeds map (fd < 0: none loaded), when they changed. */
void vigil_lbfeeds_write_stats(struct vigil_lbfeeds *f, int fd);

/* The HAProxy feed, NULL when not configured. */
struct vigil_haproxy *vigil_lbfeeds_haproxy(const struct vigil_lbfeeds *f);

#endif
