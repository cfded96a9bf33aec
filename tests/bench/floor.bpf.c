// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * The floor of vigil's hooks (scripts/bench.sh, FLOOR=1; loaded by
 * tests/bench/bpf_floor.c): programs that return at once on exactly the
 * hooks vigil uses, so that kernel.bpf_stats_enabled gives what a run costs
 * before any work (the two sched_clock() reads of the stats, the dispatch),
 * and how often each hook runs per request. No vigil program can cost less
 * on these hooks.
 *
 * The connect4 part programs split vigil_connect4 (bpf/sock_lb.bpf.c,
 * included below with its maps, so the real code is measured) into what it
 * does: the service lookup, the backend choice, the creation of the socket's
 * storage. The loader attaches one connect4 program per run.
 */
#include "../../bpf/sock_lb.bpf.c"
#include <bpf/bpf_tracing.h>

#define TC_ACT_OK_ 0

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_send_length, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_recv_length, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_set_state, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

/* A program on hook SEC_NAME that returns RET at once. */
#define EMPTY_PROG(sec_name, name, ctx_type, ret)                                           \
	SEC(sec_name) int name(ctx_type *ctx)                                              \
	{                                                                                  \
		return ret;                                                                \
	}

EMPTY_PROG("tc", floor_tc_in, struct __sk_buff, TC_ACT_OK_)
EMPTY_PROG("tc", floor_tc_out, struct __sk_buff, TC_ACT_OK_)
EMPTY_PROG("sockops", floor_sockops, struct bpf_sock_ops, 1)
EMPTY_PROG("cgroup/connect4", floor_connect4, struct bpf_sock_addr, ALLOW)

/* The service lookup, and the first entry taken as is (the connection must
 * reach a backend). */
SEC("cgroup/connect4")
int floor_c4_lookup(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};
	const struct vigil_backend_set *set = service4_of(ctx, &vip);

	if (set)
		sock_addr4_set(ctx, &set->entries[0].backend);
	return ALLOW;
}

/* The lookup and choose()'s first draw from the slot table without its
 * health lookup: choose minus this is what asking backend_health costs. */
SEC("cgroup/connect4")
int floor_c4_draw(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};
	const struct vigil_backend_set *set = service4_of(ctx, &vip);
	__u32 n, idx, r;

	if (!set)
		return ALLOW;
	n = set->n_slots[VIGIL_SLOTS_V4];
	if (!n || n > VIGIL_SET_SLOTS)
		return ALLOW;
	r = bpf_get_prandom_u32() % n;
	barrier_var(r);
	idx = set->slots[VIGIL_SLOTS_V4][r & (VIGIL_SET_SLOTS - 1)];
	if (idx < VIGIL_MAX_SET)
		sock_addr4_set(ctx, &set->entries[idx].backend);
	return ALLOW;
}

/* The lookup and vigil's choice (set_pick.h): vigil_connect4 without the
 * storage. */
SEC("cgroup/connect4")
int floor_c4_choose(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};

	connect4_to_backend(ctx, &vip);
	return ALLOW;
}

/* Only the socket's storage, created as vigil_connect4 creates it (no
 * lookup, no rewrite: the load connects to a backend directly). */
SEC("cgroup/connect4")
int floor_c4_store(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};

	if (ctx->type != SOCK_STREAM_TYPE)
		return ALLOW;
	vip4_of_connect(ctx, &vip);
	remember_vip(ctx, &vip);
	return ALLOW;
}

/* What the socket's storage replaced: the VIP in an LRU hash keyed by the
 * socket's cookie, as the socket LB kept it before issue 12. Measured beside
 * the storage so its cost is weighed against the alternative, not against
 * nothing. The map is large enough that a 5 s close load never evicts (a
 * real user would also delete the entry when the socket closes, in another
 * program: that cost is not in this figure). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct vigil_endpoint);
} floor_vip_lru SEC(".maps");

SEC("cgroup/connect4")
int floor_c4_lru(struct bpf_sock_addr *ctx)
{
	struct vigil_endpoint vip = {};
	__u64 cookie;

	if (!connect4_to_backend(ctx, &vip))
		return ALLOW;
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&floor_vip_lru, &cookie, &vip, BPF_ANY);
	return ALLOW;
}
