// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil socket-level load balancer for local clients.
 *
 * cgroup/connect4|6 rewrite connect() to a service's virtual address into a
 * connect() to one selectable backend, chosen by weight from the set vigild
 * publishes. Backends the kernel fast path marked down are skipped at once.
 * cgroup/getpeername4|6 hand the virtual address back to the application, so
 * it never learns (or logs) which backend it got.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_loss.h"
#include "maps_sets.h" /* published by vigild through bpf/state_maps.bpf.c */

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define SOCK_STREAM_TYPE 1
#define ALLOW 1

/* Socket cookie -> the virtual address the application asked for. LRU: an
 * entry of a closed socket is simply recycled. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_SOCK_VIP);
	__type(key, __u64);
	__type(value, struct vigil_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_vip SEC(".maps");

static __always_inline bool backend_down(const struct vigil_endpoint *ep)
{
	struct vigil_backend_health *h = bpf_map_lookup_elem(&backend_health, ep);

#ifdef VIGIL_MUTANT_SOCKLB_SKIP
	/* Mutation smoke test (see tests/mutants.sh): connect() ignores the fast
	 * path's down flag. */
	(void)h;
	return false;
#endif
	return h && h->down;
}

/* State shared with the bpf_loop callbacks. bpf_loop keeps verification cost
 * independent of VIGIL_MAX_SET: an unrolled or bounded loop with a map lookup
 * per entry exceeds the verifier's budget. */
struct pick_ctx {
	const struct vigil_backend_set *set;
	__u32 lo, hi; /* entries considered: [lo, hi) */
	__u32 v4_only;
	__u32 ignore_down;
	__u32 mask;   /* bit i: entry i may be chosen */
	__u32 total;  /* sum of their weights */
	__u32 target; /* random point in [0, total) */
	__s32 chosen;
};

static long mark_usable(__u32 i, void *data)
{
	struct pick_ctx *c = data;
	const struct vigil_set_entry *e;

	if (i >= VIGIL_MAX_SET || i >= c->hi)
		return 1;
	if (i < c->lo)
		return 0;
	e = &c->set->entries[i & (VIGIL_MAX_SET - 1)];
	if (c->v4_only && e->backend.family != VIGIL_AF_INET)
		return 0;
	if (!c->ignore_down && backend_down(&e->backend))
		return 0;
	c->mask |= 1u << i;
	c->total += e->weight;
	return 0;
}

static long pick_target(__u32 i, void *data)
{
	struct pick_ctx *c = data;
	__u32 w;

	if (i >= VIGIL_MAX_SET)
		return 1;
	if (!(c->mask & (1u << i)))
		return 0;
	w = c->set->entries[i & (VIGIL_MAX_SET - 1)].weight;
	if (c->target < w) {
		c->chosen = (__s32)i;
		return 1;
	}
	c->target -= w;
	return 0;
}

/* Weighted choice among the preferred entries the fast path has not marked
 * down; if every one is down, among the fallback tier (healthy backups); if
 * those are down too, among the preferred entries anyway rather than failing
 * the connect (vigild publishes backups or fails open right after). */
static __always_inline const struct vigil_set_entry *choose(const struct vigil_backend_set *set,
							    bool v4_only)
{
	__u32 preferred = set->n_preferred < set->count ? set->n_preferred : set->count;
	struct pick_ctx c = { .set = set, .hi = preferred, .v4_only = v4_only, .chosen = -1 };

	bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	if (c.total == 0) {
		c.lo = preferred;
		c.hi = set->count;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0) {
		c.lo = 0;
		c.hi = preferred;
		c.ignore_down = 1;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0)
		return NULL;
	c.target = bpf_get_prandom_u32() % c.total;
	bpf_loop(VIGIL_MAX_SET, pick_target, &c, 0);
	if (c.chosen < 0 || c.chosen >= VIGIL_MAX_SET)
		return NULL;
	return &set->entries[c.chosen];
}

static __always_inline void remember_vip(struct bpf_sock_addr *ctx, const struct vigil_endpoint *vip)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	update_or_count(&sock_vip, &cookie, vip, BPF_ANY, VIGIL_LOSS_SOCK_VIP_FULL);
}

SEC("cgroup/connect4")
int vigil_connect4(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = { .family = VIGIL_AF_INET };
	const struct vigil_backend_set *set;
	const struct vigil_set_entry *e;
	__u32 ip4 = ctx->user_ip4;

	if (ctx->type != SOCK_STREAM_TYPE)
		return ALLOW;
	vip.addr[10] = 0xff;
	vip.addr[11] = 0xff;
	__builtin_memcpy(&vip.addr[12], &ip4, 4);
	vip.port = bpf_ntohs(ctx->user_port);
	set = bpf_map_lookup_elem(&service_sets, &vip);
	if (!set)
		return ALLOW;
	e = choose(set, true);
	if (!e)
		return ALLOW;
	__builtin_memcpy(&ip4, &e->backend.addr[12], 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(e->backend.port);
	remember_vip(ctx, &vip);
	return ALLOW;
}

SEC("cgroup/connect6")
int vigil_connect6(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = { .family = VIGIL_AF_INET6 };
	const struct vigil_backend_set *set;
	const struct vigil_set_entry *e;
	__u32 w[4];

	if (ctx->type != SOCK_STREAM_TYPE)
		return ALLOW;
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	__builtin_memcpy(vip.addr, w, 16);
	vip.port = bpf_ntohs(ctx->user_port);
	/* A dual-stack socket reaching an IPv4 VIP spelled v4-mapped: IPv4
	 * services are keyed with family INET (the same 16 address bytes). */
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff))
		vip.family = VIGIL_AF_INET;
	set = bpf_map_lookup_elem(&service_sets, &vip);
	if (!set)
		return ALLOW;
	/* IPv4 backends are reached through their v4-mapped address. */
	e = choose(set, false);
	if (!e)
		return ALLOW;
	__builtin_memcpy(w, e->backend.addr, 16);
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = bpf_htons(e->backend.port);
	remember_vip(ctx, &vip);
	return ALLOW;
}

SEC("cgroup/getpeername4")
int vigil_getpeername4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct vigil_endpoint *vip = bpf_map_lookup_elem(&sock_vip, &cookie);
	__u32 ip4;

	if (!vip || vip->family != VIGIL_AF_INET)
		return ALLOW;
	__builtin_memcpy(&ip4, &vip->addr[12], 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(vip->port);
	return ALLOW;
}

SEC("cgroup/getpeername6")
int vigil_getpeername6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct vigil_endpoint *vip = bpf_map_lookup_elem(&sock_vip, &cookie);
	__u32 w[4];

	/* An INET VIP here was reached v4-mapped (connect6): its address
	 * bytes are already the v4-mapped form. */
	if (!vip)
		return ALLOW;
	__builtin_memcpy(w, vip->addr, 16);
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = bpf_htons(vip->port);
	return ALLOW;
}
