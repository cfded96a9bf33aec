/* SPDX-License-Identifier: MIT */
/*
 * vigil kernel/user ABI: the only place map keys, map values, ring-buffer
 * records, limits and pin names are defined. Included by the bpf/ programs (after
 * vmlinux.h) and by every userspace file that touches a map.
 *
 * Every record has a fixed layout checked by _Static_assert so a change on one
 * side that the other side does not see fails the build instead of corrupting
 * counters at run time.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- limits ------------------------------------------------------------ */

/* log2 latency histogram: bucket i counts samples in [2^i, 2^(i+1)) us,
 * bucket 0 also takes 0 us; the last bucket takes everything >= 2^31 us. */
#define VIGIL_HIST_BUCKETS 32

/* Upper bounds on map sizes. The backend map is LRU so watch_all cannot
 * exhaust memory; vigild may lower it from config (watch_all_max). */
#define VIGIL_MAX_BACKENDS      4096
#define VIGIL_MAX_LOCAL_PORTS   1024
#define VIGIL_MAX_WATCH_EXACT   4096
#define VIGIL_MAX_WATCH_PREFIX  1024
#define VIGIL_MAX_INFLIGHT      65536
#define VIGIL_EVENT_RING_BYTES  (256 * 1024)

/* ---- pin names (relative to the pin directory, default /sys/fs/bpf/vigil) */

#define VIGIL_DEFAULT_PIN_DIR   "/sys/fs/bpf/vigil"
#define VIGIL_PIN_BACKEND_STATS "backend_stats"
#define VIGIL_PIN_LOCAL_STATS   "local_stats"
#define VIGIL_PIN_WATCH_EXACT   "watch_exact"
#define VIGIL_PIN_WATCH_PREFIX  "watch_prefix"
#define VIGIL_PIN_WATCH_LOCAL   "watch_local"
#define VIGIL_PIN_INFLIGHT      "inflight"
#define VIGIL_PIN_EVENTS        "events"

/* Address families as the kernel numbers them (AF_INET, AF_INET6); repeated
 * here because BPF code cannot include <sys/socket.h>. */
#define VIGIL_AF_INET  2
#define VIGIL_AF_INET6 10

/* ---- keys ---------------------------------------------------------------- */

/* A remote TCP endpoint. IPv4 addresses are stored v4-mapped
 * (::ffff:a.b.c.d) so one key type covers both families. port is in host
 * byte order. */
struct vigil_endpoint {
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 pad;
};
_Static_assert(sizeof(struct vigil_endpoint) == 20, "vigil_endpoint layout");

/* LPM trie key for prefix watches: prefixlen counts bits of addr (v4-mapped
 * prefixes are stored as 96 + IPv4 prefix length). */
struct vigil_prefix_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct vigil_prefix_key) == 20, "vigil_prefix_key layout");

/* Value of the prefix watch: port 0 watches every port of the prefix. */
struct vigil_prefix_watch {
	__u16 port;
	__u16 pad;
};
_Static_assert(sizeof(struct vigil_prefix_watch) == 4, "vigil_prefix_watch layout");

/* ---- values -------------------------------------------------------------- */

/* Client-side signals per backend endpoint (per-CPU; readers sum CPUs). */
struct vigil_backend_stats {
	__u64 connect_attempts; /* CLOSE -> SYN_SENT */
	__u64 established;      /* SYN_SENT -> ESTABLISHED */
	__u64 refused;          /* RST received while SYN_SENT */
	__u64 timeouts;         /* SYN_SENT -> CLOSE without RST */
	__u64 syn_retrans;      /* SYN retransmissions */
	__u64 resets_rcvd;      /* RST received on an established connection */
	__u64 resets_sent;      /* RST sent on an established connection */
	__u64 data_retrans;     /* retransmissions outside SYN_SENT */
	__u64 bytes_sent;
	__u64 bytes_rcvd;
	__u64 requests;         /* replies seen after a send */
	__u64 connect_lat_us[VIGIL_HIST_BUCKETS];
	__u64 request_lat_us[VIGIL_HIST_BUCKETS];
};
_Static_assert(sizeof(struct vigil_backend_stats) == (11 + 2 * VIGIL_HIST_BUCKETS) * 8,
	       "vigil_backend_stats layout");

/* Server-side signals per local listening port (per-CPU). */
struct vigil_local_stats {
	__u64 accepted;     /* SYN_RECV -> ESTABLISHED */
	__u64 resets_sent;
	__u64 resets_rcvd;
	__u64 responses;    /* first send after a received request */
	__u64 bytes_sent;
	__u64 bytes_rcvd;
	__u64 response_lat_us[VIGIL_HIST_BUCKETS];
};
_Static_assert(sizeof(struct vigil_local_stats) == (6 + VIGIL_HIST_BUCKETS) * 8,
	       "vigil_local_stats layout");

/* Role of a socket in the in-flight map. */
enum vigil_sock_role {
	VIGIL_ROLE_CLIENT = 1,
	VIGIL_ROLE_SERVER = 2,
};

/* Per-socket state while a watched connection lives; keyed by the kernel
 * socket address and deleted when the socket reaches TCP_CLOSE. */
struct vigil_inflight {
	struct vigil_endpoint peer; /* backend (client role) */
	__u16 local_port;           /* listening port (server role) */
	__u8 role;                  /* enum vigil_sock_role */
	__u8 flags;                 /* VIGIL_INFLIGHT_* */
	__u64 syn_sent_ns;          /* client: connect start */
	__u64 last_send_ns;         /* client: last send awaiting a reply */
	__u64 request_start_ns;     /* server: first receive of a request */
};
_Static_assert(sizeof(struct vigil_inflight) == 48, "vigil_inflight layout");

#define VIGIL_INFLIGHT_RST_RCVD      0x01 /* an RST arrived (refused if SYN_SENT) */
#define VIGIL_INFLIGHT_AWAIT_REPLY   0x02 /* client sent, no reply yet */
#define VIGIL_INFLIGHT_IN_REQUEST    0x04 /* server received, not answered yet */

/* Daemon settings the BPF programs read (global data written by vigild after load). */
struct vigil_settings {
	__u32 watch_all;   /* track every outgoing connection (LRU bound) */
	__u32 watch_all_local; /* track every accepting local port */
};
_Static_assert(sizeof(struct vigil_settings) == 8, "vigil_settings layout");

/* ---- ring-buffer events -------------------------------------------------- */

enum vigil_event_kind {
	VIGIL_EV_REFUSED = 1,   /* connect answered by RST */
	VIGIL_EV_TIMEOUT = 2,   /* connect gave up without an answer */
	VIGIL_EV_RESET = 3,     /* established connection reset by the peer */
};

/* One hard failure seen in the kernel. ts_ns is CLOCK_MONOTONIC. */
struct vigil_event {
	__u64 ts_ns;
	struct vigil_endpoint backend;
	__u32 kind; /* enum vigil_event_kind */
};
_Static_assert(sizeof(struct vigil_event) == 32, "vigil_event layout");

#endif /* VIGIL_ABI_H */
