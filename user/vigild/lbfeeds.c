/* SPDX-License-Identifier: MIT */
/* The load balancers vigild feeds (lbfeeds.h). */
#include "lbfeeds.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy.h"
#include "log.h"
#include "nginx.h"

struct vigil_lbfeeds {
	struct vigil_haproxy *hp;
	struct vigil_nginx *ng;
	bool written; /* the map has had our counters at least once */
};

void vigil_lbfeeds_reconfigure(struct vigil_lbfeeds *f, const struct vigil_config *cfg)
{
	if (cfg->haproxy.enabled && f->hp) {
		vigil_haproxy_reconfigure(f->hp, cfg);
	} else if (cfg->haproxy.enabled) {
		f->hp = vigil_haproxy_new(cfg);
		if (!f->hp)
			pr_err("haproxy: out of memory starting the feed");
	} else {
		vigil_haproxy_free(f->hp);
		f->hp = NULL;
	}
	if (cfg->nginx.enabled && f->ng) {
		vigil_nginx_reconfigure(f->ng, cfg);
	} else if (cfg->nginx.enabled) {
		f->ng = vigil_nginx_new(cfg);
		if (!f->ng)
			pr_err("nginx: out of memory starting the feed");
	} else {
		vigil_nginx_free(f->ng);
		f->ng = NULL;
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
	if (!f)
		return;
	vigil_haproxy_free(f->hp);
	vigil_nginx_free(f->ng);
	free(f);
}

void vigil_lbfeeds_publish(struct vigil_lbfeeds *f, const struct vigil_service_cfg *svc,
			   const struct vigil_desired *want, __u64 now)
{
	if (f && f->hp)
		vigil_haproxy_publish(f->hp, svc, want, now);
	if (f && f->ng)
		vigil_nginx_publish(f->ng, svc, want, now);
}

size_t vigil_lbfeeds_pollfds(const struct vigil_lbfeeds *f, struct pollfd *fds, size_t max)
{
	return f->hp ? vigil_haproxy_pollfds(f->hp, fds, max) : 0;
}

static int min_timeout(int a, int b)
{
	return b >= 0 && (a < 0 || b < a) ? b : a;
}

int vigil_lbfeeds_timeout_ms(const struct vigil_lbfeeds *f, __u64 now, int timeout_ms)
{
	if (f->hp)
		timeout_ms = min_timeout(timeout_ms, vigil_haproxy_timeout_ms(f->hp, now));
	if (f->ng)
		timeout_ms = min_timeout(timeout_ms, vigil_nginx_timeout_ms(f->ng, now));
	return timeout_ms;
}

void vigil_lbfeeds_run(struct vigil_lbfeeds *f, __u64 now)
{
	if (f->hp)
		vigil_haproxy_run(f->hp, now);
	if (f->ng)
		vigil_nginx_run(f->ng, now);
}

static void write_slot(int fd, __u32 slot, const struct vigil_feed_stats *s)
{
	if (bpf_map_update_elem(fd, &slot, s, BPF_ANY) < 0)
		pr_debug("writing the lb_feeds counters failed: %s", strerror(errno));
}

void vigil_lbfeeds_write_stats(struct vigil_lbfeeds *f, int fd)
{
	struct vigil_feed_stats s;
	bool all = !f->written;

	if (fd < 0)
		return;
	memset(&s, 0, sizeof(s));
	if (f->hp ? vigil_haproxy_stats(f->hp, &s) || all : all)
		write_slot(fd, VIGIL_FEED_HAPROXY, &s);
	memset(&s, 0, sizeof(s));
	if (f->ng ? vigil_nginx_stats(f->ng, &s) || all : all)
		write_slot(fd, VIGIL_FEED_NGINX, &s);
	f->written = true;
}

struct vigil_haproxy *vigil_lbfeeds_haproxy(const struct vigil_lbfeeds *f)
{
	return f ? f->hp : NULL;
}
