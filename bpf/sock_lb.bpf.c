// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil socket-level load balancer for local clients.
 *
 * cgroup/connect4|6 rewrite connect() to a service's virtual address into a
 * connect() to one selectable backend, drawn by weight from the slot table
 * vigild publishes with the set (set_pick.h). Backends the kernel fast
 * path marked down are skipped at once.
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
#include "maps_sock.h"
#include "set_pick.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define SOCK_STREAM_TYPE 1
#define ALLOW 1

/* The one place connect() asks for a backend (the rule: bpf/set_pick.h). */
static __always_inline const struct vigil_set_entry *
connect_choice(const struct vigil_backend_set *set, __u8 family)
{
	struct pick_filter f = { .family = family, .last_resort = true };

	return choose(set, &f);
}

/* The VIP the application asked for goes into the socket's own storage
 * (maps_sock.h): freed with the socket, never evicted, and found by
 * getpeername() through the socket instead of a hash lookup. */
static __always_inline void remember_vip(struct bpf_sock_addr *ctx, const struct vigil_endpoint *vip)
{
	struct vigil_sock_state *st;

	if (!ctx->sk)
		return;
	/* Written whether new or not: an earlier connect of the same socket
	 * (it failed, the application tries again) may have left a VIP. */
	st = bpf_sk_storage_get(&sock_state, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		count_loss(VIGIL_LOSS_SOCK_VIP_FULL);
		return;
	}
	st->vip = *vip;
}

/* The VIP of a socket connect4/6 rewrote, or NULL. */
static __always_inline const struct vigil_endpoint *vip_of(struct bpf_sock_addr *ctx)
{
	struct vigil_sock_state *st;

	if (!ctx->sk)
		return NULL;
	st = bpf_sk_storage_get(&sock_state, ctx->sk, NULL, 0);
	return st && st->vip.family ? &st->vip : NULL;
}

/* The service_sets key of an IPv4 connect(). */
static __always_inline void vip4_of_connect(const struct bpf_sock_addr *ctx, struct vigil_endpoint *vip)
{
	__u32 ip4 = ctx->user_ip4;

	vip->family = VIGIL_AF_INET;
	vip->addr[10] = 0xff;
	vip->addr[11] = 0xff;
	__builtin_memcpy(&vip->addr[12], &ip4, 4);
	vip->port = bpf_ntohs(ctx->user_port);
}

/* The address connect() goes to, or getpeername() returns. */
static __always_inline void sock_addr4_set(struct bpf_sock_addr *ctx, const struct vigil_endpoint *ep)
{
	__u32 ip4;

	__builtin_memcpy(&ip4, &ep->addr[12], 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(ep->port);
}

/* The set of the IPv4 service a TCP connect() asks for, or NULL; vip gets
 * the service's key. */
static __always_inline const struct vigil_backend_set *service4_of(const struct bpf_sock_addr *ctx,
								    struct vigil_endpoint *vip)
{
	if (ctx->type != SOCK_STREAM_TYPE)
		return NULL;
	vip4_of_connect(ctx, vip);
	return bpf_map_lookup_elem(&service_sets, vip);
}

/* A connect() to an IPv4 service goes to the backend choose() picks: true
 * when it was rewritten, vip then holds the service's key. */
static __always_inline bool connect4_to_backend(struct bpf_sock_addr *ctx, struct vigil_endpoint *vip)
{
	const struct vigil_backend_set *set = service4_of(ctx, vip);
	const struct vigil_set_entry *e = set ? connect_choice(set, VIGIL_AF_INET) : NULL;

	if (e)
		sock_addr4_set(ctx, &e->backend);
	return e;
}

SEC("cgroup/connect4")
int vigil_connect4(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};

	if (connect4_to_backend(ctx, &vip))
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
	e = connect_choice(set, 0);
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
	const struct vigil_endpoint *vip = vip_of(ctx);

	if (vip && vip->family == VIGIL_AF_INET)
		sock_addr4_set(ctx, vip);
	return ALLOW;
}

SEC("cgroup/getpeername6")
int vigil_getpeername6(struct bpf_sock_addr *ctx)
{
	const struct vigil_endpoint *vip = vip_of(ctx);
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
