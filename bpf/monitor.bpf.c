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
 * Cost model, filter first: a watched connection's state lives in its
 * socket's own storage (sock_state), so a hook on a socket nobody watches
 * returns after one load (the socket has no BPF storage at all) or one
 * storage lookup, before any hash lookup (the message hooks test the
 * socket's ports against tracked_ports even before that load); connection set-up tests the port
 * bitmaps of the settings before the watch maps, and caches the verdict as
 * the presence of that storage.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_signals.h"
#include "maps_rescue.h"
#include "maps_sock.h"
#include "signals.h"
#include "sock_peer.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MSG_PEEK_FLAG 2

/* Written by vigild after load and on reload (global data: read with plain
 * loads, no helper call). */
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

/* Sockets whose tracking started and ended (enum vigil_sock_count):
 * vigilctl's count of tracked sockets, which the storage cannot give. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_SOCK_COUNT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_counts SEC(".maps");

/* The ports of the sockets the monitor tracks (struct vigil_tracked_ports):
 * the message hooks' first test. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_tracked_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tracked_ports SEC(".maps");

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

static __always_inline bool port_set(const __u64 *ports, __u16 port)
{
	return ports[(port >> 6) & (VIGIL_PORT_WORDS - 1)] >> (port & 63) & 1;
}

static __always_inline bool endpoint_watched(const struct vigil_endpoint *ep)
{
	struct vigil_prefix_key pk;
	struct vigil_prefix_watch *pw;

	if (vigil_settings.watch_all)
		return true;
	if (!vigil_settings.remote_any_port && !port_set(vigil_settings.remote_ports, ep->port))
		return false;
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

/* The time TCP last stamped sk with (tcp_clock_cache: CLOCK_MONOTONIC ns,
 * bpf_ktime_get_ns()'s clock): refreshed when it transmits (tcp_write_xmit,
 * within the sendmsg a send hook follows) and when a segment arrives
 * (tcp_rcv_established, tcp_rcv_state_process), so a message hook reads when
 * its data left or came in without a clock read of its own, which costs
 * about 25 ns on a VM (kvm-clock). A request's latency is then from its
 * transmission to the reply's arrival, without the wake-up of the reader. */
static __always_inline __u64 tcp_stamp(const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	return tp ? tp->tcp_clock_cache : bpf_ktime_get_ns();
}

/* A read-only view of sk as the tcp_sock it is, without a helper call: the
 * verifier turns the kfunc into a register move, and loads through the
 * result are guarded like a probe read. Linux 6.2+, older than the message
 * hooks (6.3), the only users: weak, so the object still loads without it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* tcp_stamp() of a socket vigil tracks: only TCP sockets are tracked, so the
 * type test of bpf_skc_to_tcp_sock() (a helper call on every watched
 * message) is not needed. */
static __always_inline __u64 tracked_stamp(const struct sock *sk)
{
	const struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));

	return tp->tcp_clock_cache;
}

/* ---- the sockets vigil tracks ------------------------------------------------ */

static __always_inline void count_sock(__u32 what)
{
	__u64 *c = bpf_map_lookup_elem(&sock_counts, &what);

	if (c)
		__sync_fetch_and_add(c, 1);
}

/* The state of each watched connection is in its socket's storage
 * (maps_sock.h): set up at SYN_SENT (client) or accept (server), deleted at
 * TCP_CLOSE, freed with the socket whatever happens; never evicted. vigild
 * does not read it: what it needs of it (connects and requests open per
 * backend) is counted in backend_stats as it happens. */

/* sk's storage if it has one, else NULL. Most sockets carry no BPF storage
 * at all: one load says so before any helper runs. */
static __always_inline struct vigil_sock_state *storage_of(const struct sock *sk)
{
	if (!sk->sk_bpf_storage)
		return NULL;
	return bpf_sk_storage_get(&sock_state, (struct sock *)sk, NULL, 0);
}

/* The state of sk if vigil tracks it, else NULL. */
static __always_inline struct vigil_inflight *tracked(const struct sock *sk)
{
	struct vigil_sock_state *st = storage_of(sk);

	return st && st->fl.role ? &st->fl : NULL;
}

static __always_inline struct vigil_tracked_ports *tracked_ports_get(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&tracked_ports, &key);
}

static __always_inline bool tracked_port_set(const __u64 *bits, __u16 port)
{
	__u32 b = VIGIL_TRACKED_PORT_BIT(port);

	return bits[(b >> 6) & (VIGIL_TRACKED_PORT_BITS / 64 - 1)] >> (b & 63) & 1;
}

/* Whether sk can be a tracked socket: no, if neither of its ports has its
 * bit in tracked_ports (an ARRAY: the lookup is inlined and cannot fail; if
 * it did, the answer would be yes). The socket's ports are in the line the
 * socket lookup read, the bits in a line every message reads; the test
 * saves the message hooks on an untracked socket their load of
 * sk_bpf_storage, which missed the cache for one hook of each send/receive
 * pair (about 13 ns). */
static __always_inline bool maybe_tracked(const struct sock *sk)
{
	const struct vigil_tracked_ports *tp = tracked_ports_get();

	/* skc_dport as it is, in network order: the bit of a port is the xor of
	 * its two bytes, the same for either order. */
	return !tp || tracked_port_set(tp->remote, sk->__sk_common.skc_dport) ||
	       tracked_port_set(tp->local, sk->__sk_common.skc_num);
}

/* Before sk is tracked in role, so that maybe_tracked() never turns away a
 * tracked socket: its peer port for a client, its local port for a server.
 * Written once per bit. */
static __always_inline void note_tracked_port(const struct sock *sk, __u8 role)
{
	struct vigil_tracked_ports *tp = tracked_ports_get();
	__u32 b;
	__u64 *w;

	if (!tp)
		return;
	if (role == VIGIL_ROLE_CLIENT) {
		b = VIGIL_TRACKED_PORT_BIT(bpf_ntohs(sk->__sk_common.skc_dport));
		w = &tp->remote[(b >> 6) & (VIGIL_TRACKED_PORT_BITS / 64 - 1)];
	} else {
		b = VIGIL_TRACKED_PORT_BIT(sk->__sk_common.skc_num);
		w = &tp->local[(b >> 6) & (VIGIL_TRACKED_PORT_BITS / 64 - 1)];
	}
	if (!(*w >> (b & 63) & 1))
		__sync_fetch_and_or(w, 1ull << (b & 63));
}

/* Start tracking sk with state fl in its storage cur, created if NULL.
 * Returns true when the socket was not tracked yet: a program instance
 * running alongside this one during a vigild restart may have got there
 * first, and the socket is counted once. */
static __always_inline bool track(const struct sock *sk, struct vigil_sock_state *cur,
				  const struct vigil_inflight *fl)
{
	bool fresh;

	note_tracked_port(sk, fl->role);
	if (!cur)
		cur = bpf_sk_storage_get(&sock_state, (struct sock *)sk, NULL,
					 BPF_SK_STORAGE_GET_F_CREATE);
	if (!cur) {
		count_loss(VIGIL_LOSS_INFLIGHT_FULL);
		return false;
	}
	fresh = !cur->fl.role;
	if (fresh)
		count_sock(VIGIL_SOCK_TRACKED);
	cur->fl = *fl;
	return fresh;
}

/* Stop tracking the socket whose state is fl: what it still held open
 * towards its backend is closed with it. */
static __always_inline void release(struct vigil_inflight *fl)
{
	struct vigil_backend_stats *st;

	if (fl->role == VIGIL_ROLE_CLIENT &&
	    (!(fl->flags & VIGIL_INFLIGHT_ESTABLISHED) || (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY))) {
		st = backend_of(&fl->peer);
		if (st && !(fl->flags & VIGIL_INFLIGHT_ESTABLISHED))
			COUNT(st->connects_closed, 1);
		if (st && (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY))
			COUNT(st->requests_closed, 1);
		if (st && (fl->flags & VIGIL_INFLIGHT_RETRANS))
			COUNT(st->requests_retrans_cleared, 1);
	}
	fl->role = 0;
	count_sock(VIGIL_SOCK_RELEASED);
}

/* ---- connection lifecycle -------------------------------------------------- */

static __always_inline void on_connect_start(const struct sock *sk)
{
	struct vigil_sock_state *cur = storage_of(sk);
	struct vigil_inflight fl = { .role = VIGIL_ROLE_CLIENT };
	struct vigil_backend_stats *st;

	/* A socket connecting again must not keep the state of an earlier
	 * connect whose close was not seen. */
	if (cur && cur->fl.role)
		release(&cur->fl);
	if (!netns_in_scope(sk))
		return;
	sock_peer(&sk->__sk_common, &fl.peer);
	/* A connect the socket LB balanced (it left the VIP) goes to a service
	 * backend, and those are always watched: no watch lookup. */
	if (!(cur && cur->vip.family) && !endpoint_watched(&fl.peer))
		return;
	st = backend_of(&fl.peer);
	if (!st)
		return;
	COUNT(st->connect_attempts, 1);
	fl.syn_sent_ns = bpf_ktime_get_ns();
	if (track(sk, cur, &fl))
		COUNT(st->connects_opened, 1);
}

/* now: the SYN-ACK's arrival, as TCP stamped it. */
static __always_inline void on_connect_done(const struct sock *sk, struct vigil_inflight *fl)
{
	struct vigil_backend_stats *st;
	__u64 now;

	if (fl->flags & VIGIL_INFLIGHT_ESTABLISHED)
		return; /* seen by the other instance during a vigild restart */
	st = backend_of(&fl->peer);
	now = tcp_stamp(sk);
	if (now < fl->syn_sent_ns)
		now = bpf_ktime_get_ns(); /* a stamp older than the connect: not this SYN-ACK's */
	fl->flags |= VIGIL_INFLIGHT_ESTABLISHED;
	health_success(&fl->peer, now);
	if (!st)
		return;
	COUNT(st->established, 1);
	COUNT(st->connects_closed, 1);
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

/* A connect the rescue took over (it marks such sockets' storage): once it
 * moved, its outcome belongs to the backend it moved to, counted as an
 * attempt there from the moment it moved. The connect open towards the
 * original backend (connects_opened) closes there and opens at the new one,
 * so both backends' pending summaries stay balanced. */
static __always_inline void take_rescue(const struct sock *sk, struct vigil_inflight *fl)
{
	struct vigil_rescue_flow *r;
	struct vigil_backend_stats *st;
	struct vigil_flow_key k;

	if (flow_key_of(sk, &fl->peer, &k))
		return;
	r = bpf_map_lookup_elem(&rescue_flows, &k);
	if (!r || r->kind != VIGIL_RESCUE_FORWARD || !r->to.family)
		return;
	st = backend_of(&fl->peer);
	if (st)
		COUNT(st->connects_closed, 1);
	fl->peer = r->to;
	fl->syn_sent_ns = r->moved_ns;
	st = backend_of(&fl->peer);
	if (!st)
		return;
	COUNT(st->connect_attempts, 1);
	COUNT(st->connects_opened, 1);
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

static __always_inline void on_accept(const struct sock *sk)
{
	struct vigil_inflight fl = { .role = VIGIL_ROLE_SERVER };
	struct vigil_local_stats *st;
	__u16 port = sk->__sk_common.skc_num;

	if (!netns_in_scope(sk) ||
	    (!vigil_settings.watch_all_local && !port_set(vigil_settings.local_ports, port)))
		return;
	st = local_of(port);
	if (!st)
		return;
	COUNT(st->accepted, 1);
	fl.local_port = port;
	track(sk, NULL, &fl);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vigil_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct vigil_sock_state *st;
	struct vigil_inflight *fl;

	if (newstate == TCP_SYN_SENT) {
		if (tcp_inet_sock(sk))
			on_connect_start(sk);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		if (tcp_inet_sock(sk))
			on_accept(sk);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT && newstate != TCP_CLOSE)
		return 0;
	st = storage_of(sk);
	if (!st)
		return 0;
	fl = st->fl.role ? &st->fl : NULL;
	if (fl && oldstate == TCP_SYN_SENT) {
		if (st->rescued && fl->role == VIGIL_ROLE_CLIENT)
			take_rescue(sk, fl);
		if (newstate == TCP_ESTABLISHED)
			on_connect_done(sk, fl);
		else if (newstate == TCP_CLOSE)
			on_connect_failed(fl);
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (fl)
		release(fl);
	/* Also of a socket not tracked: a left-over translation would catch a
	 * later connection on the same ports. */
	if (st->rescued)
		drop_rescue(sk);
	/* Neither user needs the storage any more: getpeername() of a closed
	 * socket fails before the socket LB's hook runs. */
	bpf_sk_storage_delete(&sock_state, (struct sock *)sk);
	return 0;
}

/* ---- resets and retransmits ----------------------------------------------- */

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(vigil_receive_reset, struct sock *sk)
{
	struct vigil_inflight *fl = tracked(sk);
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
	struct vigil_inflight *fl;
	struct vigil_backend_stats *st;
	struct vigil_local_stats *lst;

	if (!sk)
		return 0;
	fl = tracked(sk);
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
	struct vigil_inflight *fl = tracked(sk);
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
	if ((fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY) && !(fl->flags & VIGIL_INFLIGHT_RETRANS)) {
		fl->flags |= VIGIL_INFLIGHT_RETRANS;
		COUNT(st->requests_retrans, 1);
	}
	return 0;
}

/* ---- request/response latency (optional hooks, Linux 6.x) ------------------ */

/* Time is TCP's stamp (tcp_stamp), read only where a latency starts or
 * ends. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(vigil_send_length, struct sock *sk, int ret, int flags)
{
	struct vigil_inflight *fl;

	if (ret <= 0 || !maybe_tracked(sk))
		return 0;
	fl = tracked(sk);
	if (!fl)
		return 0;
	if (fl->role == VIGIL_ROLE_CLIENT) {
		struct vigil_backend_stats *st = backend_of(&fl->peer);

		if (st) {
			COUNT_TASK(st->bytes_sent, ret);
			if (!(fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY))
				COUNT_TASK(st->requests_opened, 1);
			if (fl->flags & VIGIL_INFLIGHT_RETRANS)
				COUNT(st->requests_retrans_cleared, 1);
		}
		fl->last_send_ns = tracked_stamp(sk);
		fl->flags = (fl->flags | VIGIL_INFLIGHT_AWAIT_REPLY) & ~VIGIL_INFLIGHT_RETRANS;
		return 0;
	}
	struct vigil_local_stats *lst = local_of(fl->local_port);

	if (!lst)
		return 0;
	COUNT_TASK(lst->bytes_sent, ret);
	if (fl->flags & VIGIL_INFLIGHT_IN_REQUEST) {
		fl->flags &= ~VIGIL_INFLIGHT_IN_REQUEST;
		COUNT_TASK(lst->responses, 1);
		hist_add_task(lst->response_lat_us, &lst->response_lat_sum_ns,
			      tracked_stamp(sk) - fl->request_start_ns);
	}
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(vigil_recv_length, struct sock *sk, int ret, int flags)
{
	struct vigil_inflight *fl;

	if (ret <= 0 || (flags & MSG_PEEK_FLAG) || !maybe_tracked(sk))
		return 0;
	fl = tracked(sk);
	if (!fl)
		return 0;
	if (fl->role == VIGIL_ROLE_SERVER) {
		struct vigil_local_stats *lst = local_of(fl->local_port);

		if (lst)
			COUNT_TASK(lst->bytes_rcvd, ret);
		if (!(fl->flags & VIGIL_INFLIGHT_IN_REQUEST)) {
			fl->flags |= VIGIL_INFLIGHT_IN_REQUEST;
			fl->request_start_ns = tracked_stamp(sk);
		}
		return 0;
	}
	struct vigil_backend_stats *st = backend_of(&fl->peer);

	if (!st)
		return 0;
	COUNT_TASK(st->bytes_rcvd, ret);
	if (fl->flags & VIGIL_INFLIGHT_AWAIT_REPLY) {
		if (fl->flags & VIGIL_INFLIGHT_RETRANS)
			COUNT(st->requests_retrans_cleared, 1);
		fl->flags &= ~(VIGIL_INFLIGHT_AWAIT_REPLY | VIGIL_INFLIGHT_RETRANS);
		COUNT_TASK(st->requests, 1);
		COUNT(st->requests_closed, 1);
		hist_add_task(st->request_lat_us, &st->request_lat_sum_ns,
			      tracked_stamp(sk) - fl->last_send_ns);
	}
	return 0;
}
