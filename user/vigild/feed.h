/* SPDX-License-Identifier: MIT */
/*
 * One kind of load balancer vigild feeds (docs/integrations.md), as
 * lbfeeds.c drives it: started when the config has its section
 * (vigil_feed_configured), given every published desired state, its
 * sockets and timers in vigild's poll loop, its counters for the lb_feeds
 * map. feed is the kind's own state.
 */
#ifndef VIGIL_FEED_H
#define VIGIL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "desired.h"

struct pollfd;

struct vigil_feed_ops {
	const char *name;
	/* NULL when out of memory. cfg must live until the next reconfigure. */
	void *(*start)(const struct vigil_config *cfg);
	void (*stop)(void *feed);
	/* The running config changed; what was decided for a (service,
	 * backend) that stays is kept. */
	void (*reconfigure)(void *feed, const struct vigil_config *cfg);
	/* The publisher wrote want for svc at now (the decision). */
	void (*publish)(void *feed, const struct vigil_service_cfg *svc,
			const struct vigil_desired *want, __u64 now);
	size_t (*pollfds)(const void *feed, struct pollfd *fds, size_t max);
	int (*timeout_ms)(const void *feed, __u64 now); /* -1: none */
	void (*run)(void *feed, __u64 now);
	/* The counters; true when they changed since the last call. */
	bool (*stats)(void *feed, struct vigil_feed_stats *out);
};

/* A feed's counters into out, with its pending and mapped servers counted
 * now; true when they changed since the last call (then *dirty is cleared). */
bool vigil_feed_stats_take(struct vigil_feed_stats *own, bool *dirty, __u32 pending,
			   __u32 servers, struct vigil_feed_stats *out);

/* The item of items[0..n) (each size bytes, each beginning with the name of
 * the service it is for, a char array) for service, NULL if none. */
void *vigil_feed_find(void *items, size_t n, size_t size, const char *service);

/* The config has the section of feed kind (enum vigil_feed). */
bool vigil_feed_configured(const struct vigil_config *cfg, int kind);

extern const struct vigil_feed_ops vigil_haproxy_feed; /* haproxy.c */
extern const struct vigil_feed_ops vigil_nginx_feed;   /* nginx.c */

#endif
