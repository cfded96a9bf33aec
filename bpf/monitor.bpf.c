// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vigil in-kernel TCP monitor.
 *
 * Raw BTF tracepoints (tp_btf) on TCP state changes, resets, retransmits and
 * socket send/recv turn real traffic into per-backend (client side) and
 * per-listening-port (server side) counters and latency histograms. tp_btf is
 * used instead of classic tracepoints because it needs no tracefs, hands us
 * typed pointers we can read directly, and skips the perf-buffer copy.
 *
 * Cost model: the per-message hooks (send/recv) do exactly one hash lookup for
 * sockets nobody watches; connection set-up does the watch lookups once and
 * caches the verdict in the in-flight map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_signals.h"
#include "maps_rescue.h"
#include "signals.h"
#include "sock_peer.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MSG_PEEK_FLAG 2

/* Written by vigild after load (global data, no helper call to read). */
struct vigil_settings vigil_settings;

/* Value template for BPF_NOEXIST inserts (larger than the BPF stack allows). */
const struct vigil_local_stats zero_local_stats;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, VIGIL_MAX_LOCAL_PORTS);
	__type(key, __u32);
	__type(value, struct vigil_local_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} local_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_WATCH_EXACT);
	__type(key, struct vigil_endpoint);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} watch_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VIGIL_MAX_WATCH_PREFIX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_prefix_key);
	__type(value, struct vigil_prefix_watch);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} watch_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_LOCAL_PORTS);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} watch_local SEC(".maps");

/* vigild's liveness for vigilctl (struct vigil_heartbeat), written by vigild
 * every tick. Here because this object is loaded whatever the config, so a
 * vigild without services has a heartbeat too; same name and definition as
 * where it was before (state_maps.bpf.c), so an existing pin is reused. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_heartbeat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} heartbeat SEC(".maps");

/* vigild's version and cluster state for vigilctl status; here for the same
 * reason as the heartbeat. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_daemon_status);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} daemon_status SEC(".maps");

/* ---- helpers ------------------------------------------------------------- */

static __always_inline bool tcp_inet_sock(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	return sk->sk_protocol == IPPROTO_TCP &&
	       (family == VIGIL_AF_INET || family == VIGIL_AF_INET6);
}

/* daemon.monitor_netns: one host's sockets where several share the kernel. */
static __always_inline bool netns_in_scope(const struct sock *sk)
{
	return !vigil_settings.netns_ino ||
	       sk->__sk_common.skc_net.net->ns.inum == vigil_settings.netns_ino;
}

static __always_inline bool endpoint_watched(const struct vigil_endpoint *ep)
{
	struct vigil_prefix_key pk;
	struct vigil_prefix_watch *pw;

	if (vigil_settings.watch_all)
		return true;
	if (bpf_map_lookup_elem(&watch_exact, ep))
		return true;
	pk.prefixlen = 128;
	__builtin_memcpy(pk.addr, ep->addr, 16);
	pw = bpf_map_lookup_elem(&watch_prefix, &pk);
	return pw && (pw->port == 0 || pw->port == ep->port);
}

static __always_inline struct vigil_local_stats *local_of(__u32 port)
{
	struct vigil_local_stats *st = bpf_map_lookup_elem(&local_stats, &port);

	if (st)
		return st;
	update_or_count(&local_stats, &port, &zero_local_stats, BPF_NOEXIST,
			VIGIL_LOSS_LOCAL_STATS_FULL);
	return bpf_map_lookup_elem(&local_stats, &port);
}

/* ---- connection lifecycle -------------------------------------------------- */

static __always_inline void on_connect_start(const struct sock *sk, __u64 key)
{
	struct vigil_inflight fl = { .role = VIGIL_ROLE_CLIENT };
	struct vigil_backend_stats *st;

	sock_peer(&sk->__sk_common, &fl.peer);
	if (!netns_in_scope(sk) || !endpoint_watched(&fl.peer)) {
		/* A recycled socket address must not inherit stale state. */
		bpf_map_delete_elem(&inflight, &key);
		return;
	}
	st = backend_of(&fl.peer);
	if (!st)
		return;
	COUNT(st->connect_attempts, 1);
	fl.syn_sent_ns = bpf_ktime_get_ns();
	update_or_count(&inflight, &key, &fl, BPF_ANY, VIGIL_LOSS_INFLIGHT_FULL);
}

static __always_inline void on_connect_done(struct vigil_inflight *fl)
{
	struct vigil_backend_stats *st = backend_of(&fl->peer);

	__u64 now = bpf_ktime_get_ns();

	fl->flags |= VIGIL_INFLIGHT_ESTABLISHED;
	health_success(&fl->peer, now);
	if (!st)
		return;
	COUNT(st->established, 1);
	hist_add(st->connect_lat_us, &st->connect_lat_sum_ns, now - fl->syn_sent_ns);
}

static __always_inline void on_connect_failed(struct vigil_inflight *fl)
{
	connect_failed(&fl->peer, fl->flags & VIGIL_INFLIGHT_RST_RCVD, bpf_ktime_get_ns());
}

/* The socket's own 4-tuple as its packets carry it (the rescue's forward
 * key): IPv4, also of a dual-stack socket, v4-mapped. The port is read from
 * inet_sport: by the time a close is traced, inet_num (skc_num) is cleared. */
static __always_inline int flow_key_of(const struct sock *sk, const struct vigil_endpoint *peer,
				       struct vigil_flow_key *k)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return -1;
	if (sk->__sk_common.skc_family == VIGIL_AF_INET) {
		__builtin_memset(k->src, 0, 10);
		k->src[10] = 0xff;
		k->src[11] = 0xff;
		__builtin_memcpy(&k->src[12], &sk->__sk_common.skc_rcv_saddr, 4);
	} else {
		__builtin_memcpy(k->src, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
	}
	__builtin_memcpy(k->dst, peer->addr, 16);
	k->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	k->dport = peer->port;
	k->family = peer->family;
	k->proto = IPPROTO_TCP;
	k->pad = 0;
	return 0;
}

/* Whether the socket rescue (bpf/sock_rescue.bpf.c) took this socket's
 * connect over: it marks such sockets. */
static __always_inline bool rescued(const struct sock *sk)
{
	return bpf_sk_storage_get(&rescue_marks, (struct sock *)sk, 0, 0) != NULL;
}

/* A connect the rescue took over: once it moved, its outcome belongs to the
 * backend it moved to, counted as an attempt there from the moment it moved. */
static __always_inline void take_rescue(struct sock *sk, struct vigil_inflight *fl)
{
	struct vigil_rescue_flow *r;
	struct vigil_backend_stats *st;
	struct vigil_flow_key k;

	if (!rescued(sk) || flow_key_of(sk, &fl->peer, &k))
		return;
	r = bpf_map_lookup_elem(&rescue_flows, &k);
	if (!r || r->kind != VIGIL_RESCUE_FORWARD || !r->to.family)
		return;
	fl->peer = r->to;
	fl->syn_sent_ns = r->moved_ns;
	st = backend_of(&fl->peer);
	if (st)
		COUNT(st->connect_attempts, 1);
}

/* The socket is gone: so are the rescue's translations of its flow, found
 * from its forward key (the socket's own peer, the original backend). */
static __always_inline void drop_rescue(const struct sock *sk)
{
	struct vigil_endpoint orig;
	struct vigil_flow_key k;

	sock_peer(&sk->__sk_common, &orig);
	if (flow_key_of(sk, &orig, &k) == 0)
		rescue_forget(&k);
}

static __always_inline void on_accept(const struct sock *sk, __u64 key)
{
	struct vigil_inflight fl = { .role = VIGIL_ROLE_SERVER };
	struct vigil_local_stats *st;
	__u32 port = sk->__sk_common.skc_num;

	if (!netns_in_scope(sk) ||
	    (!vigil_settings.watch_all_local && !bpf_map_lookup_elem(&watch_local, &port))) {
		bpf_map_delete_elem(&inflight, &key);
		return;
	}
	st = local_of(port);
	if (!st)
		return;
	COUNT(st->accepted, 1);
	fl.local_port = port;
	update_or_count(&inflight, &key, &fl, BPF_ANY, VIGIL_LOSS_INFLIGHT_FULL);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vigil_set_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl;

	if (!tcp_inet_sock(sk))
		return 0;
	if (newstate == TCP_SYN_SENT) {
		on_connect_start(sk, key);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_accept(sk, key);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT && newstate != TCP_CLOSE)
		return 0;
	fl = bpf_map_lookup_elem(&inflight, &key);
	if (fl) {
		if (oldstate == TCP_SYN_SENT && fl->role == VIGIL_ROLE_CLIENT)
			take_rescue((struct sock *)sk, fl);
		if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED)
			on_connect_done(fl);
		else if (oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE)
			on_connect_failed(fl);
		if (newstate == TCP_CLOSE)
			bpf_map_delete_elem(&inflight, &key);
	}
	/* Also when the in-flight entry was lost (LRU): a left-over translation
	 * would catch a later connection on the same ports. */
	if (newstate == TCP_CLOSE && rescued(sk))
		drop_rescue(sk);
	return 0;
}

/* ---- resets and retransmits ----------------------------------------------- */

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(vigil_receive_reset, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl = bpf_map_lookup_elem(&inflight, &key);
	struct vigil_backend_stats *st;
	struct vigil_local_stats *lst;

	if (!fl)
		return 0;
	if (fl->role == VIGIL_ROLE_SERVER) {
		lst = local_of(fl->local_port);
		if (lst)
			COUNT(lst->resets_rcvd, 1);
		return 0;
	}
	if (sk->__sk_common.skc_state == TCP_SYN_SENT) {
		/* Counted as "refused" when the socket reaches TCP_CLOSE. */
		fl->flags |= VIGIL_INFLIGHT_RST_RCVD;
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();

	st = backend_of(&fl->peer);
	if (!st)
		return 0;
	COUNT(st->resets_rcvd, 1);
	emit_event(&fl->peer, VIGIL_EV_RESET, now);
	health_failure(&fl->peer, now);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(vigil_send_reset, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl;
	struct vigil_backend_stats *st;
	struct vigil_local_stats *lst;

	if (!sk)
		return 0;
	fl = bpf_map_lookup_elem(&inflight, &key);
	if (!fl)
		return 0;
	if (fl->role == VIGIL_ROLE_SERVER) {
		lst = local_of(fl->local_port);
		if (lst)
			COUNT(lst->resets_sent, 1);
		return 0;
	}
	st = backend_of(&fl->peer);
	if (st)
		COUNT(st->resets_sent, 1);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(vigil_retransmit, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl = bpf_map_lookup_elem(&inflight, &key);
	struct vigil_backend_stats *st;

	if (!fl || fl->role != VIGIL_ROLE_CLIENT)
		return 0;
	st = backend_of(&fl->peer);
	if (!st)
		return 0;
	if (sk->__sk_common.skc_state == TCP_SYN_SENT) {
		COUNT(st->syn_retrans, 1);
		return 0;
	}
	COUNT(st->data_retrans, 1);
	/* The awaited request went unacknowledged for a whole RTO: network
	 * evidence (a stopped process's kernel still ACKs). */
	if (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY)
		fl->flags |= VIGIL_INFLIGHT_RETRANS;
	return 0;
}

/* ---- request/response latency (optional hooks, Linux 6.x) ------------------ */

SEC("tp_btf/sock_send_length")
int BPF_PROG(vigil_send_length, struct sock *sk, int ret, int flags)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl;
	__u64 now;

	if (ret <= 0)
		return 0;
	fl = bpf_map_lookup_elem(&inflight, &key);
	if (!fl)
		return 0;
	now = bpf_ktime_get_ns();
	if (fl->role == VIGIL_ROLE_CLIENT) {
		struct vigil_backend_stats *st = backend_of(&fl->peer);

		if (st)
			COUNT(st->bytes_sent, ret);
		fl->last_send_ns = now;
		fl->flags = (fl->flags | VIGIL_INFLIGHT_AWAIT_REPLY) & ~VIGIL_INFLIGHT_RETRANS;
		return 0;
	}
	struct vigil_local_stats *lst = local_of(fl->local_port);

	if (!lst)
		return 0;
	COUNT(lst->bytes_sent, ret);
	if (fl->flags & VIGIL_INFLIGHT_IN_REQUEST) {
		fl->flags &= ~VIGIL_INFLIGHT_IN_REQUEST;
		COUNT(lst->responses, 1);
		hist_add(lst->response_lat_us, &lst->response_lat_sum_ns, now - fl->request_start_ns);
	}
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(vigil_recv_length, struct sock *sk, int ret, int flags)
{
	__u64 key = (__u64)sk;
	struct vigil_inflight *fl;
	__u64 now;

	if (ret <= 0 || (flags & MSG_PEEK_FLAG))
		return 0;
	fl = bpf_map_lookup_elem(&inflight, &key);
	if (!fl)
		return 0;
	now = bpf_ktime_get_ns();
	if (fl->role == VIGIL_ROLE_SERVER) {
		struct vigil_local_stats *lst = local_of(fl->local_port);

		if (lst)
			COUNT(lst->bytes_rcvd, ret);
		if (!(fl->flags & VIGIL_INFLIGHT_IN_REQUEST)) {
			fl->flags |= VIGIL_INFLIGHT_IN_REQUEST;
			fl->request_start_ns = now;
		}
		return 0;
	}
	struct vigil_backend_stats *st = backend_of(&fl->peer);

	if (!st)
		return 0;
	COUNT(st->bytes_rcvd, ret);
	if (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY) {
		fl->flags &= ~(VIGIL_INFLIGHT_AWAIT_REPLY | VIGIL_INFLIGHT_RETRANS);
		COUNT(st->requests, 1);
		hist_add(st->request_lat_us, &st->request_lat_sum_ns, now - fl->last_send_ns);
	}
	return 0;
}
