/* SPDX-License-Identifier: MIT */
/* The load balancers vigild feeds (lbfeeds.h), each driven through its
 * operations (feed.h). */
#include "lbfeeds.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "log.h"

static const struct vigil_feed_ops *const kinds[VIGIL_FEEDS] = {
	[VIGIL_FEED_HAPROXY] = &vigil_haproxy_feed,
	[VIGIL_FEED_NGINX] = &vigil_nginx_feed,
};

bool vigil_feed_configured(const struct vigil_config *cfg, int kind)
{
	return kind == VIGIL_FEED_HAPROXY ? cfg->haproxy.enabled : cfg->nginx.enabled;
}

void *vigil_feed_find(void *items, size_t n, size_t size, const char *service)
{
	for (size_t i = 0; i < n; i++) {
		char *item = (char *)items + i * size;

		if (strncmp(item, service, VIGIL_NAME_LEN) == 0)
			return item;
	}
	return NULL;
}

bool vigil_feed_stats_take(struct vigil_feed_stats *own, bool *dirty, __u32 pending,
			   __u32 servers, struct vigil_feed_stats *out)
{
	bool changed = *dirty || pending != own->pending || servers != own->servers;

	own->pending = pending;
	own->servers = servers;
	*out = *own;
	*dirty = false;
	return changed;
}

struct vigil_lbfeeds {
	void *feed[VIGIL_FEEDS]; /* NULL: not configured */
	bool written;            /* the map has had our counters at least once */
};

void vigil_lbfeeds_reconfigure(struct vigil_lbfeeds *f, const struct vigil_config *cfg)
{
	for (int i = 0; i < VIGIL_FEEDS; i++) {
		if (!vigil_feed_configured(cfg, i)) {
			if (f->feed[i])
				kinds[i]->stop(f->feed[i]);
			f->feed[i] = NULL;
		} else if (f->feed[i]) {
			kinds[i]->reconfigure(f->feed[i], cfg);
		} else if (!(f->feed[i] = kinds[i]->start(cfg))) {
			pr_err("%s: out of memory starting the feed", kinds[i]->name);
		}
	}
	f->written = false; /* a feed that stopped shows as not configured */
}

struct vigil_lbfeeds *vigil_lbfeeds_new(const struct vigil_config *cfg)
{
	struct vigil_lbfeeds *f = calloc(1, sizeof(*f));

	if (f)
		vigil_lbfeeds_reconfigure(f, cfg);
	return f;
}

void vigil_lbfeeds_free(struct vigil_lbfeeds *f)
{
	for (int i = 0; f && i < VIGIL_FEEDS; i++)
		if (f->feed[i])
			kinds[i]->stop(f->feed[i]);
	free(f);
}

void vigil_lbfeeds_publish(struct vigil_lbfeeds *f, const struct vigil_service_cfg *svc,
			   const struct vigil_desired *want, __u64 now)
{
	for (int i = 0; f && i < VIGIL_FEEDS; i++)
		if (f->feed[i])
			kinds[i]->publish(f->feed[i], svc, want, now);
}

size_t vigil_lbfeeds_pollfds(const struct vigil_lbfeeds *f, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < VIGIL_FEEDS; i++)
		if (f->feed[i] && kinds[i]->pollfds)
			n += kinds[i]->pollfds(f->feed[i], fds + n, max - n);
	return n;
}

int vigil_lbfeeds_timeout_ms(const struct vigil_lbfeeds *f, __u64 now, int timeout_ms)
{
	for (int i = 0; i < VIGIL_FEEDS; i++) {
		int t = f->feed[i] ? kinds[i]->timeout_ms(f->feed[i], now) : -1;

		if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
			timeout_ms = t;
	}
	return timeout_ms;
}

void vigil_lbfeeds_run(struct vigil_lbfeeds *f, __u64 now)
{
	for (int i = 0; i < VIGIL_FEEDS; i++)
		if (f->feed[i])
			kinds[i]->run(f->feed[i], now);
}

void vigil_lbfeeds_write_stats(struct vigil_lbfeeds *f, int fd)
{
	for (__u32 i = 0; fd >= 0 && i < VIGIL_FEEDS; i++) {
		struct vigil_feed_stats s;
		bool changed;

		memset(&s, 0, sizeof(s)); /* zeros: not configured */
		changed = f->feed[i] && kinds[i]->stats(f->feed[i], &s);
		s.configured = f->feed[i] != NULL;
		if ((changed || !f->written) && bpf_map_update_elem(fd, &i, &s, BPF_ANY) < 0)
			pr_debug("writing the lb_feeds counters failed: %s", strerror(errno));
	}
	f->written |= fd >= 0;
}

struct vigil_haproxy *vigil_lbfeeds_haproxy(const struct vigil_lbfeeds *f)
{
	return f ? f->feed[VIGIL_FEED_HAPROXY] : NULL;
}
