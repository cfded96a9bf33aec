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
#define VIGIL_MAX_INFLIGHT      16384 /* XDP SYNs awaiting their SYN-ACK (vigild reads it whole
				       * every scan when the packet datapath runs: keep it small) */
#define VIGIL_EVENT_RING_BYTES  (256 * 1024)
#define VIGIL_MAX_SERVICES      256  /* virtual addresses (a dual-stack service counts twice) */
#define VIGIL_MAX_SET           32   /* backends selectable at once per service */
#define VIGIL_MAX_SVC_BACKENDS  64   /* primaries + backups per service */
#define VIGIL_MAX_HEALTH        4096 /* distinct backend endpoints with fast-path state */
#define VIGIL_HISTORY_SLOTS     1024 /* state-change history kept in a pinned map */
#define VIGIL_NAME_LEN          32

/* ---- pin names (relative to the pin directory, default /sys/fs/bpf/vigil) */

/* A pinned map says so in its definition (__uint(pinning, LIBBPF_PIN_BY_NAME))
 * and vigild opens each object with the pin directory as pin_root_path, so a
 * map is pinned under its own name: each name below is also the name of the
 * map in bpf/ (tests/bpf/test_pins.c checks both lists agree). */

#define VIGIL_DEFAULT_PIN_DIR   "/sys/fs/bpf/vigil"
#define VIGIL_PIN_BACKEND_STATS "backend_stats"
#define VIGIL_PIN_LOCAL_STATS   "local_stats"
#define VIGIL_PIN_WATCH_EXACT   "watch_exact"
#define VIGIL_PIN_WATCH_PREFIX  "watch_prefix"
#define VIGIL_PIN_INFLIGHT      "inflight"      /* XDP: SYNs awaiting their SYN-ACK */
#define VIGIL_PIN_SOCK_STATE    "sock_state"    /* socket-local storage: struct vigil_sock_state */
#define VIGIL_PIN_SOCK_COUNTS   "sock_counts"
#define VIGIL_PIN_PENDING       "pending_requests"
#define VIGIL_PIN_EVENTS        "events"
#define VIGIL_PIN_HEALTH        "backend_health"
#define VIGIL_PIN_SERVICE_SETS  "service_sets"
#define VIGIL_PIN_SERVICES      "services"
#define VIGIL_PIN_BACKEND_INFO  "backend_info"
#define VIGIL_PIN_ADMIN         "admin"
#define VIGIL_PIN_HISTORY       "history"
#define VIGIL_PIN_HEARTBEAT     "heartbeat" /* struct vigil_heartbeat, 1 entry */
#define VIGIL_PIN_DAEMON_STATUS "daemon_status" /* struct vigil_daemon_status, 1 entry */
#define VIGIL_PIN_RESCUE_FLOWS  "rescue_flows"
#define VIGIL_PIN_RESCUE_SVC    "rescue_svc"
#define VIGIL_PIN_RESCUE_STATS  "rescue_stats"
#define VIGIL_PIN_RESCUE_LIVE   "rescue_live" /* __u64, 1 entry: see vigil_rescue_flow */
#define VIGIL_PIN_TRACKED_PORTS "tracked_ports" /* struct vigil_tracked_ports, 1 entry */
#define VIGIL_PIN_LINKS_DIR     "links"   /* pinned links (cgroup, XDP, monitor), so they outlive vigild */
#define VIGIL_PIN_MON_LINK_PREFIX "monitor-" /* links/monitor-TRACEPOINT: the monitor's hooks */

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
	/* Exact sums of the samples in the histograms above (a histogram's
	 * mean, and Prometheus' _sum): the buckets alone give it only within
	 * a factor of 2. */
	__u64 connect_lat_sum_ns;
	__u64 request_lat_sum_ns;
	/* What the socket monitor holds open towards the backend (the XDP
	 * datapath does not count here): open = opened - closed, summed over
	 * CPUs. vigild's stuck rules read them (user/lib/pending.h), so it
	 * never has to walk the sockets themselves. */
	__u64 connects_opened;  /* a tracked socket entered SYN_SENT */
	__u64 connects_closed;  /* ... and got established, or closed before */
	__u64 requests_opened;  /* a send left a tracked socket awaiting a reply */
	__u64 requests_closed;  /* ... and a reply came, or the socket closed first */
	__u64 requests_retrans; /* an awaited request's data had to be retransmitted
				 * (VIGIL_INFLIGHT_RETRANS set) */
	__u64 requests_retrans_cleared; /* ... and the flag went: a reply, the next
					 * send, or the socket closed */
};
_Static_assert(sizeof(struct vigil_backend_stats) == (19 + 2 * VIGIL_HIST_BUCKETS) * 8,
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
	__u64 response_lat_sum_ns; /* exact sum of the samples above */
};
_Static_assert(sizeof(struct vigil_local_stats) == (7 + VIGIL_HIST_BUCKETS) * 8,
	       "vigil_local_stats layout");

/* Role of a socket in the in-flight map. */
enum vigil_sock_role {
	VIGIL_ROLE_CLIENT = 1,
	VIGIL_ROLE_SERVER = 2,
};

/* State of one watched connection: in its socket's storage for the monitor
 * (struct vigil_sock_state), one per SYN awaiting its SYN-ACK in the inflight
 * LRU map (keyed by flow hash) for the XDP datapath. */
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

/* The packet datapath's copy of a client's SYN, kept with its in-flight
 * entry so that vigild can replay it (user/vigild/syn_replay.c) once the
 * backend it went to is ejected: the remote client's own retransmit comes
 * only after its SYN timeout (1 s on Linux), which vigil cannot shorten.
 * Options are kept verbatim so that the new backend agrees with the client
 * on MSS, window scaling, SACK and timestamps. */
#define VIGIL_SYN_OPTS_MAX 40
struct vigil_syn_copy {
	__u8 client[16];  /* client address (IPv4 as ::ffff:a.b.c.d) */
	__u32 seq;        /* the client's initial sequence number, host order */
	__u32 ifindex;    /* interface the SYN came in on */
	__u16 client_port;
	__u16 window;     /* host order */
	__u8 opts_len;    /* bytes of opts used, a multiple of 4 */
	__u8 pad[3];
	__u8 opts[VIGIL_SYN_OPTS_MAX];
};
_Static_assert(sizeof(struct vigil_syn_copy) == 72, "vigil_syn_copy layout");

/* Value of the inflight map: the pending SYN's state and its copy. */
struct vigil_pkt_inflight {
	struct vigil_inflight fl;
	struct vigil_syn_copy syn;
};
_Static_assert(sizeof(struct vigil_pkt_inflight) == 120, "vigil_pkt_inflight layout");

#define VIGIL_INFLIGHT_RST_RCVD      0x01 /* an RST arrived (refused if SYN_SENT) */
#define VIGIL_INFLIGHT_AWAIT_REPLY   0x02 /* client sent, no reply yet */
#define VIGIL_INFLIGHT_IN_REQUEST    0x04 /* server received, not answered yet */
#define VIGIL_INFLIGHT_ESTABLISHED   0x08 /* client handshake completed */
#define VIGIL_INFLIGHT_RETRANS       0x10 /* client: data of the awaited request had to be
					   * retransmitted (no ACK within the RTO); cleared
					   * by the next send and by the reply */

/* What vigil keeps about one socket, in the socket's own storage (pinned
 * "sock_state", BPF_MAP_TYPE_SK_STORAGE, shared by the monitor and the socket
 * load balancer): freed with the socket, never evicted, reached through the
 * socket without a hash lookup; user space can look a socket up by its fd
 * but cannot walk them. One storage for both users, so a balanced and
 * watched connection costs one allocation. The monitor deletes it when the
 * socket reaches TCP_CLOSE. */
struct vigil_sock_state {
	struct vigil_inflight fl;  /* the monitor's; fl.role 0: not tracked */
	struct vigil_endpoint vip; /* the socket LB's: the VIP connect() asked for, which
				    * getpeername() returns; vip.family 0: not balanced */
	__u8 rescued;              /* the socket rescue (bpf/sock_rescue.bpf.c) took this
				    * socket's connect over: the monitor looks its flow up in
				    * rescue_flows, every other connection costs it nothing */
	__u8 pad[3];
};
_Static_assert(sizeof(struct vigil_sock_state) == 72, "vigil_sock_state layout");

/* Daemon settings the monitor reads (global data written by vigild after
 * load, and again on reload). The port bitmaps turn an unwatched connection
 * away with one load before any hash lookup: bit p of ports[p / 64] is
 * (1 << p % 64). */
#define VIGIL_PORT_WORDS (65536 / 64)
struct vigil_settings {
	__u32 watch_all;       /* track every outgoing connection (LRU bound) */
	__u32 watch_all_local; /* track every accepting local port */
	__u32 netns_ino;       /* daemon.monitor_netns: only sockets of the network
				* namespace with this inode number; 0 = every one */
	__u32 remote_any_port; /* a prefix watch covers every port: remote_ports not consulted */
	__u64 remote_ports[VIGIL_PORT_WORDS]; /* ports of watched endpoints and prefix watches */
	__u64 local_ports[VIGIL_PORT_WORDS];  /* watch.local_ports: the whole local watch */
};
_Static_assert(sizeof(struct vigil_settings) == 16 + 2 * 8 * VIGIL_PORT_WORDS,
	       "vigil_settings layout");

/* The ports the sockets the monitor tracks had when their tracking started,
 * hashed to one bit each: the peer port of a client socket in remote, the
 * local port of a server socket in local (ARRAY of one, pinned
 * VIGIL_PIN_TRACKED_PORTS). The monitor sets the bit before it tracks a
 * socket and never clears one, so a message on a socket neither of whose
 * ports has its bit set is on an untracked socket: the message hooks return
 * there, before the load of sk_bpf_storage (a line of the socket the message
 * paths do not touch otherwise). One cache line, read by every message on
 * the host, so it stays cached (a bitmap of all 65536 ports would spread
 * the clients' ephemeral ports over 1024 lines); a port sharing another's
 * bit only costs its sockets that load. The bits follow the sockets, not the
 * config: a port a reload removes keeps its bit until `vigild --unpin`.
 * vigild fills the map with ones when it creates it while sock_state was
 * already pinned (sockets an older vigil tracked, ports unknown). */
#define VIGIL_TRACKED_PORT_BITS 256
/* The xor of the port's two bytes: the same in host and network order. */
#define VIGIL_TRACKED_PORT_BIT(port) (((port) ^ ((port) >> 8)) & (VIGIL_TRACKED_PORT_BITS - 1))
struct vigil_tracked_ports {
	__u64 remote[VIGIL_TRACKED_PORT_BITS / 64];
	__u64 local[VIGIL_TRACKED_PORT_BITS / 64];
};
_Static_assert(sizeof(struct vigil_tracked_ports) == 64, "vigil_tracked_ports layout");

/* ---- ring-buffer events -------------------------------------------------- */

enum vigil_event_kind {
	VIGIL_EV_REFUSED = 1,   /* connect answered by RST */
	VIGIL_EV_TIMEOUT = 2,   /* connect gave up without an answer */
	VIGIL_EV_RESET = 3,     /* established connection reset by the peer */
	VIGIL_EV_KERNEL_DOWN = 4, /* fast path marked the backend unavailable */
};

/* One hard failure seen in the kernel. ts_ns is CLOCK_MONOTONIC. */
struct vigil_event {
	__u64 ts_ns;
	struct vigil_endpoint backend;
	__u32 kind; /* enum vigil_event_kind */
};
_Static_assert(sizeof(struct vigil_event) == 32, "vigil_event layout");

/* ---- failover: fast-path health (monitor writes, socket LB reads) ----------- */

/* Per backend endpoint. The monitor counts consecutive hard failures and, at
 * threshold, sets down so the very next connect() skips the backend without
 * waiting for vigild. vigild sets threshold and clears down on re-admission. */
struct vigil_backend_health {
	__u32 consecutive_failures;
	__u32 threshold;       /* 0: fast path off for this backend */
	__u32 down;            /* 1: not selectable (set by the kernel fast path) */
	__u32 pad;
	__u64 last_success_ns; /* last established connect (CLOCK_MONOTONIC) */
	__u64 down_since_ns;
};
_Static_assert(sizeof(struct vigil_backend_health) == 32, "vigil_backend_health layout");

/* ---- failover: tearing down an ejected backend's connections ---------------- */

/* Which connections to a backend vigild destroys (bpf/sock_iter.bpf.c, or
 * the SOCK_DESTROY fallback of user/vigild/sockdestroy.c). */
enum vigil_teardown_kind {
	VIGIL_TEARDOWN_NONE = 0,
	VIGIL_TEARDOWN_ALL = 1,     /* every connection (any state but LISTEN, TIME_WAIT,
				     * CLOSE): the backend is dead */
	VIGIL_TEARDOWN_UNACKED = 2, /* only connections whose sent data went unacknowledged
				     * past a retransmission timeout (icsk_retransmits > 0):
				     * the network says they are dead; the others live on */
};

/* A connect still waiting for its SYN-ACK is left alone: the socket rescue
 * moves it to a healthy backend at its next SYN retransmit. */
#define VIGIL_TEARDOWN_F_SPARE_CONNECTING 0x1

/* Value of the iterator's teardown map (key: struct vigil_endpoint). */
struct vigil_teardown_req {
	__u32 kind;      /* enum vigil_teardown_kind */
	__u32 flags;     /* VIGIL_TEARDOWN_F_* */
	__u32 destroyed; /* sockets the iterator destroyed (it adds, vigild reads) */
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_teardown_req) == 16, "vigil_teardown_req layout");

#define VIGIL_MAX_TEARDOWN 256 /* backends torn down in one pass over the namespaces */

/* ---- failover: socket-level load balancing --------------------------------- */

struct vigil_set_entry {
	struct vigil_endpoint backend;
	__u32 weight;
};
_Static_assert(sizeof(struct vigil_set_entry) == 24, "vigil_set_entry layout");

#define VIGIL_SET_BACKUPS   0x1 /* no primary healthy: entries are backups */
#define VIGIL_SET_FAIL_OPEN 0x2 /* nothing healthy: entries are every backend */

/* Weighted slot tables of a set (user/lib/set_slots.c builds them): each slot
 * holds the index of a preferred entry, each entry holding slots in
 * proportion to its weight, so connect() picks a backend with one random slot
 * instead of walking the set. One table per socket family: connect4 can only
 * reach IPv4 backends, connect6 reaches both (IPv4 ones v4-mapped). */
#define VIGIL_SET_SLOTS     256 /* per table: a power of 2, indexes fit a __u8 */
#define VIGIL_SLOTS_V4      0   /* IPv4 preferred entries (connect4) */
#define VIGIL_SLOTS_ANY     1   /* every preferred entry (connect6) */
#define VIGIL_SLOT_TABLES   2

/* The selectable backends of one service virtual address, and their slot
 * tables. vigild replaces the whole value with one hash-map update, so
 * connect() sees the old set and tables or the new ones, never a mix. */
struct vigil_backend_set {
	__u32 service_id;
	__u32 count;        /* entries in use */
	__u32 n_preferred;  /* entries[0, n_preferred) serve; the rest is the fallback
			     * tier (healthy backups) the kernel uses when the fast path
			     * has marked every preferred entry down */
	__u32 total_weight; /* of the preferred entries */
	__u32 flags;        /* VIGIL_SET_* */
	__u32 pad;
	__u64 version;      /* increases with every rebuild */
	struct vigil_set_entry entries[VIGIL_MAX_SET];
	__u16 n_slots[VIGIL_SLOT_TABLES]; /* slots in use per table; 0: no such entry */
	__u32 pad2;
	__u8 slots[VIGIL_SLOT_TABLES][VIGIL_SET_SLOTS]; /* entry index per slot */
};
_Static_assert(sizeof(struct vigil_backend_set) ==
		       32 + 24 * VIGIL_MAX_SET + 8 + VIGIL_SLOT_TABLES * VIGIL_SET_SLOTS,
	       "vigil_backend_set layout");
_Static_assert(VIGIL_MAX_SET <= 256 && (VIGIL_SET_SLOTS & (VIGIL_SET_SLOTS - 1)) == 0 &&
		       VIGIL_SET_SLOTS <= 65535,
	       "slot tables: __u8 entry indexes, power-of-2 size, __u16 counts");

/* ---- failover: state published by vigild for vigilctl ------------------------ */

enum vigil_backend_state {
	VIGIL_STATE_HEALTHY = 0,
	VIGIL_STATE_EJECTED = 1,
	VIGIL_STATE_PROBING = 2,
};

enum vigil_admin_state {
	VIGIL_ADMIN_NONE = 0,
	VIGIL_ADMIN_DRAINING = 1, /* no new connections, existing ones untouched */
	VIGIL_ADMIN_DISABLED = 2, /* out of selection, not probed */
};

enum vigil_rule {
	VIGIL_RULE_NONE = 0,
	VIGIL_RULE_CONSECUTIVE = 1,   /* consecutive hard failures (vigild) */
	VIGIL_RULE_FAST_PATH = 2,     /* consecutive hard failures (kernel) */
	VIGIL_RULE_ERROR_RATIO = 3,
	VIGIL_RULE_SLOW = 4,
	VIGIL_RULE_STUCK_CONNECT = 5,
	VIGIL_RULE_STUCK_REQUEST = 6,
	VIGIL_RULE_EJECT_EXPIRED = 7, /* ejection time over: start probing */
	VIGIL_RULE_PROBE_OK = 8,      /* enough consecutive probe successes */
	VIGIL_RULE_PROBE_FAILED = 9,
	VIGIL_RULE_ADMIN = 10,
	VIGIL_RULE_FAIL_OPEN = 11,    /* service-level: nothing healthy */
	VIGIL_RULE_BACKUPS = 12,      /* service-level: backups serving */
	VIGIL_RULE_PRIMARIES = 13,    /* service-level: primaries serving again */
	VIGIL_RULE_RESTART = 14,      /* vigild restarted (all-zero key); evidence: backends
				       * restored out of service (failures), fast-path down
				       * flags (errors), sockets waiting since before (requests) */
	VIGIL_RULE_STALLED = 15,      /* requests unanswered but acknowledged by the backend's
				       * kernel: its process stopped (SIGSTOP, GC pause);
				       * ejected for new connections, connections kept */
	VIGIL_RULE_REMOTE_HARD = 16,  /* cluster: another node saw a hard failure; out of
				       * selection and probed at once (evidence: failures =
				       * nodes reporting) */
	VIGIL_RULE_REMOTE_OUTLIER = 17, /* cluster: enough nodes report it as an outlier
					 * (evidence: failures = nodes reporting, threshold
					 * = live nodes) */
	VIGIL_RULE_COUNT
};

/* Why a state changed: the figures the rule compared. Unused fields are 0. */
struct vigil_evidence {
	__u32 failures;        /* consecutive failures / stuck sockets counted */
	__u32 threshold;       /* the count or ratio (per mille) that was reached */
	__u32 requests;        /* window volume */
	__u32 errors;          /* window errors */
	__u32 latency_us;      /* this backend's p99, or the stuck age */
	__u32 peer_latency_us; /* median of peers' p99 */
	__u32 limit_us;        /* latency threshold applied */
	__u32 probes;          /* consecutive probe results */
};
_Static_assert(sizeof(struct vigil_evidence) == 32, "vigil_evidence layout");

/* Key of per-(service, backend) records: a service is named by its VIP. A
 * service with datapath none and no VIP is named by an endpoint of family 0
 * whose address is a hash of its name (user/lib/addr.h, vigil_name_key). */
struct vigil_svc_backend_key {
	struct vigil_endpoint vip;
	struct vigil_endpoint backend;
};
_Static_assert(sizeof(struct vigil_svc_backend_key) == 40, "vigil_svc_backend_key layout");

#define VIGIL_ROLE_PRIMARY 0
#define VIGIL_ROLE_BACKUP  1

struct vigil_backend_info {
	__u8 state;      /* enum vigil_backend_state */
	__u8 admin;      /* enum vigil_admin_state */
	__u8 role;       /* VIGIL_ROLE_PRIMARY / VIGIL_ROLE_BACKUP */
	__u8 last_rule;  /* enum vigil_rule of the last change */
	__u32 weight;
	__u32 ejections; /* times ejected (drives the backoff) */
	__u32 selected;  /* 1 when in the service's current set */
	__u64 since_wall_ns; /* CLOCK_REALTIME of the last change */
	struct vigil_evidence evidence;
};
_Static_assert(sizeof(struct vigil_backend_info) == 56, "vigil_backend_info layout");

struct vigil_service_info {
	char name[VIGIL_NAME_LEN];
	__u32 service_id;
	__u16 n_primaries;
	__u16 n_backups;
	__u32 set_flags;    /* VIGIL_SET_* of the current set */
	__u32 set_count;
	__u64 set_version;
	__u64 since_wall_ns; /* last set change */
	__u32 datapath;      /* VIGIL_DATAPATH_* */
	__u32 table_size;    /* Maglev slots (XDP datapath) */
};
_Static_assert(sizeof(struct vigil_service_info) == 72, "vigil_service_info layout");

#define VIGIL_DATAPATH_NONE   0x0 /* judged and published only: a load balancer vigil
				     * feeds (docs/integrations.md) does the balancing */
#define VIGIL_DATAPATH_SOCKET 0x1 /* cgroup connect() rewrite for local clients */
#define VIGIL_DATAPATH_XDP    0x2 /* XDP NAT for packets from other hosts */

/* One state change, kept in the history ring (array map, slot seq % SLOTS). */
struct vigil_change {
	__u64 seq;          /* 1-based; 0 marks an empty slot */
	__u64 wall_ns;      /* CLOCK_REALTIME */
	__u64 mono_ns;      /* CLOCK_MONOTONIC, comparable with vigil_event.ts_ns */
	struct vigil_svc_backend_key key; /* backend all-zero for service-level changes */
	__u8 from;          /* enum vigil_backend_state, VIGIL_SET_* flags (service-level),
			     * or enum vigil_admin_state (rule VIGIL_RULE_ADMIN) */
	__u8 to;
	__u8 rule;          /* enum vigil_rule */
	__u8 admin;
	__u32 pad;
	struct vigil_evidence evidence;
};
_Static_assert(sizeof(struct vigil_change) == 104, "vigil_change layout");

/* ---- XDP load balancing for remote clients ----------------------------------- */

#define VIGIL_MAX_LB_BACKENDS 4096   /* backend id space shared by all XDP services */
#define VIGIL_MAX_FLOWS       262144 /* connection-tracking entries per direction */
#define VIGIL_MAX_XDP_TABLES  (4 * VIGIL_MAX_SERVICES) /* 2 VIPs x 2 buffers per service */

#define VIGIL_PIN_XDP_SERVICES "xdp_services"
#define VIGIL_PIN_XDP_BACKENDS "xdp_backends"
#define VIGIL_PIN_XDP_TABLES   "xdp_tables"
#define VIGIL_PIN_FLOWS        "xdp_flows"
#define VIGIL_PIN_REV_FLOWS    "xdp_rev_flows"
#define VIGIL_PIN_XDP_STATS    "xdp_stats"
#define VIGIL_PIN_XDP_DROPS    "xdp_drops"
#define VIGIL_PIN_XDP_SETS     "xdp_sets"

/* Where a rewritten packet goes (xdp.forward; read-only data of the program). */
#define VIGIL_FWD_REDIRECT 0 /* FIB lookup in the program, MAC rewrite, XDP_TX/XDP_REDIRECT
			      * (XDP) or bpf_redirect/bpf_redirect_neigh (tc) */
#define VIGIL_FWD_KERNEL   1 /* hand it to the kernel's IP forwarding */

/* A virtual address served by XDP (key: struct vigil_endpoint, TCP). */
struct vigil_xdp_service {
	__u32 service_id; /* slot in the xdp_tables outer map (the active buffer) */
	__u32 table_size; /* Maglev table size (prime) */
	__u64 version;    /* increases with every table swap */
};
_Static_assert(sizeof(struct vigil_xdp_service) == 16, "vigil_xdp_service layout");

/* What happens to established flows of a backend that is no longer selectable. */
#define VIGIL_XB_SELECTABLE 0x1 /* in the current Maglev table */
#define VIGIL_XB_RESELECT   0x2 /* ejected after hard failure or removed: move its flows
				 * on their next packet (the client gets a fast reset from
				 * a live backend instead of a timeout) */

/* xdp_backends[id]: a backend's address and flow policy. */
struct vigil_xdp_backend {
	struct vigil_endpoint ep;
	__u32 flags; /* VIGIL_XB_* */
};
_Static_assert(sizeof(struct vigil_xdp_backend) == 24, "vigil_xdp_backend layout");

/* Connection-tracking key, client -> VIP direction (addresses v4-mapped for
 * IPv4, ports host order). The reverse entry uses the backend as src. */
struct vigil_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u16 pad;
};
_Static_assert(sizeof(struct vigil_flow_key) == 40, "vigil_flow_key layout");

/* Next hop of one direction of a flow, as the XDP program's FIB lookup found
 * it: a tracked flow's packets reuse it instead of looking it up again, and
 * re-resolve it once it is VIGIL_HOP_CACHE_JIFFIES old (so a route or
 * neighbour change reaches established flows within about a second).
 * ifindex 0: not resolved. */
#define VIGIL_HOP_CACHE_JIFFIES 256
struct vigil_next_hop {
	__u64 resolved_jiffies;
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
};
_Static_assert(sizeof(struct vigil_next_hop) == 24, "vigil_next_hop layout");

/* Request tracking, client side (bpf/xdp_requests.h): where the client's
 * data stands, so that its next data packet is told apart as a new request,
 * more of the same one, or a retransmission without another lookup. */
struct vigil_flow_client {
	__u32 next_seq; /* sequence number after the client's highest data; 0: none yet */
	__u32 ack;      /* the client's acknowledgment number on that data */
};
_Static_assert(sizeof(struct vigil_flow_client) == 8, "vigil_flow_client layout");
/* vigil_flow.flags */
#define VIGIL_FLOW_RESCUED 0x1 /* its connect was steered off a backend that refused it:
				* a refusal by the new backend reaches the client */

struct vigil_flow {
	__u32 backend_id;
	__u32 service_id;
	__u32 flags; /* VIGIL_FLOW_* */
	__u32 pad;
	struct vigil_next_hop hop; /* towards the backend */
	struct vigil_flow_client client;
};
_Static_assert(sizeof(struct vigil_flow) == 48, "vigil_flow layout");

/* Request tracking, backend side: the flow's request waiting for the
 * backend's answer (its first payload after the request). */
struct vigil_flow_request {
	__u64 start_ns; /* when the client sent it (last data seen); 0: none waiting */
	__u32 seq;      /* client sequence number after its data, as far as known */
	__u16 touched;  /* low bits of jiffies when start_ns was last moved forward */
	__u8 acked;     /* the backend acknowledged the data */
	__u8 pad;
};
_Static_assert(sizeof(struct vigil_flow_request) == 16, "vigil_flow_request layout");
/* xdp_sets[VIP]: the service's backend set as the socket datapath gets it
 * (serving tier, then healthy backups), with each entry's backend id; vigild
 * writes it with the Maglev table. The program chooses from it, by the socket
 * load balancer's rule, when Maglev's probes find only backends the fast path
 * marked down: backups take new flows before vigild has switched the table. */
struct vigil_xdp_set {
	struct vigil_backend_set set;
	__u32 ids[VIGIL_MAX_SET]; /* xdp_backends id of set.entries[i] */
};
_Static_assert(sizeof(struct vigil_xdp_set) == sizeof(struct vigil_backend_set) + 4 * VIGIL_MAX_SET,
	       "vigil_xdp_set layout");

/* Reverse entry: backend -> client packets are rewritten to come from vip. */
struct vigil_rev_flow {
	struct vigil_endpoint vip;
	__u32 backend_id;
	__u64 flow_hash; /* in-flight key of the SYN waiting for its SYN-ACK */
	struct vigil_next_hop hop; /* towards the client */
	struct vigil_flow_request req;
};
_Static_assert(sizeof(struct vigil_rev_flow) == 72, "vigil_rev_flow layout");

/* Requests the packet datapath saw opened since the backend last made
 * progress: the first and latest opening times and how many. A span whose
 * first_ns is not after the progress time is empty (progress clears it by
 * writing its time only). */
struct vigil_pending_span {
	__u64 first_ns;
	__u64 last_ns;
	__u32 count;
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_pending_span) == 24, "vigil_pending_span layout");

/* pending_requests[backend id] (an array beside xdp_backends): kept by the
 * XDP program on request boundaries (a request opened, acknowledged,
 * answered), read by vigild once per backend and tick instead of a scan of
 * every flow. Updates from several CPUs are not atomic together: a count
 * may come out low, not high. */
struct vigil_pending_requests {
	__u64 acked_ns;    /* last time the backend acknowledged request data (or answered) */
	__u64 answered_ns; /* last answer to a request, or more of a request taken in */
	struct vigil_pending_span unacked;    /* opened after acked_ns */
	struct vigil_pending_span unanswered; /* opened after answered_ns */
};
_Static_assert(sizeof(struct vigil_pending_requests) == 64, "vigil_pending_requests layout");

/* Per-CPU packet counters of the XDP program (array index = enum). */
enum vigil_xdp_counter {
	VIGIL_XDP_PASS_OTHER = 0, /* not for a service: passed untouched */
	VIGIL_XDP_FORWARDED,      /* client -> backend, rewritten */
	VIGIL_XDP_REVERSED,       /* backend -> client, rewritten */
	VIGIL_XDP_NEW_FLOWS,
	VIGIL_XDP_RESELECTED,     /* flow moved off a backend that is no longer selectable */
	VIGIL_XDP_PASS_MALFORMED, /* IP fine but TCP header truncated: passed to the stack */
	VIGIL_XDP_PASS_NOT_TCP,   /* not whole unfragmented IPv4/IPv6 TCP (other protocols,
				   * fragments, IPv6 extension headers): passed untouched */
	VIGIL_XDP_DROP_NO_BACKEND,
	VIGIL_XDP_FWD_DIRECT,     /* rewritten and sent out by the program (TX/redirect) */
	VIGIL_XDP_FWD_KERNEL,     /* rewritten and left to the kernel's forwarding: no
				   * neighbour entry yet, TTL expiring, MTU exceeded, egress
				   * not redirectable, or xdp.forward: kernel */
	VIGIL_XDP_RESCUED,        /* a connect in progress steered to another backend: its
				   * SYN was refused (the RST withheld), or retransmitted
				   * after its backend left the table or was marked down */
	VIGIL_XDP_COUNTERS
};

/* Entries of xdp_stats: room for counters added later, so that a new counter
 * does not change the pinned map (which would need 'vigild --unpin'). */
#define VIGIL_XDP_COUNTER_SLOTS 32
_Static_assert(VIGIL_XDP_COUNTERS <= VIGIL_XDP_COUNTER_SLOTS, "xdp_stats has a slot per counter");

/* Why the packet load balancer dropped a packet: the index of the per-CPU
 * array xdp_drops. Every XDP_DROP and TC_ACT_SHOT the XDP and tc entries
 * return is counted under exactly one reason, after the helper or store whose
 * failure caused it. Append only: vigilctl and pinned counters index them. */
enum vigil_drop_reason {
	VIGIL_DROP_NO_BACKEND = 0, /* for a VIP, no backend a packet of its family can go to */
	VIGIL_DROP_REDIRECT_MISS,  /* XDP: the egress is no longer in the device map (vigild
				    * detached it after the flow cached its next hop) */
	VIGIL_DROP_REDIRECT,       /* tc: bpf_redirect / bpf_redirect_neigh refused */
	VIGIL_DROP_NAT_REWRITE,    /* tc: a checksum or store helper refused the address/port
				    * rewrite (a half-rewritten packet must not leave) */
	VIGIL_DROP_HOP_REWRITE,    /* tc: the TTL / hop-limit decrement was refused */
	VIGIL_DROP_MAC_REWRITE,    /* tc: storing the next hop's MAC addresses was refused */
	VIGIL_DROP_RST_WITHHELD,   /* a backend's RST refusing a connect, kept from the client
				    * because its SYN retransmit goes to another backend */
	VIGIL_DROP_REASONS
};

/* Entries of xdp_drops: room for reasons added later, so that a new reason
 * does not change the pinned map (which would need 'vigild --unpin'). */
#define VIGIL_DROP_SLOTS 16
_Static_assert(VIGIL_DROP_REASONS <= VIGIL_DROP_SLOTS, "xdp_drops has a slot per drop reason");
_Static_assert(VIGIL_DROP_NO_BACKEND == 0 && VIGIL_DROP_MAC_REWRITE == 5 &&
		       VIGIL_DROP_RST_WITHHELD == 6 && VIGIL_DROP_REASONS == 7,
	       "drop reasons are appended, never renumbered (update vigilctl's names too)");

/* ---- socket datapath: rescue of connects to a failed backend ------------------ */

/* A client in lb.cgroup whose connect() went to a backend that fails before
 * answering keeps its socket: the tc programs of bpf/sock_rescue.bpf.c, on the
 * interfaces the backends are reached through, move the connection's SYN
 * (re)transmit to a healthy backend of the same service and translate the
 * flow both ways, so the socket's own 4-tuple (and getpeername) never change.
 * rescue_flows (LRU hash, struct vigil_flow_key -> struct vigil_rescue_flow)
 * holds up to three entries per connection, told apart by kind: */
#define VIGIL_MAX_RESCUE_FLOWS 16384
enum vigil_rescue_kind {
	VIGIL_RESCUE_FORWARD = 1,   /* key client -> original backend (as the socket sends):
				     * to = where it goes now (family 0: not moved yet) */
	VIGIL_RESCUE_REVERSE = 2,   /* key new backend -> client (as it arrives):
				     * to = the original backend, the source the socket expects */
	VIGIL_RESCUE_ABANDONED = 3, /* key original backend -> client: a late answer of the
				     * backend the connection left is dropped */
};

#define VIGIL_RESCUE_REFUSED 0x1 /* FORWARD: the original backend's RST was withheld once */
#define VIGIL_RESCUE_COUNTED 0x2 /* FORWARD: counted in rescue_live (below) */

/* rescue_live (ARRAY of 1 __u64, key 0): the FORWARD entries flagged
 * VIGIL_RESCUE_COUNTED, added before the entry is written and subtracted
 * when one is deleted (bpf/maps_rescue.h). While it is 0 the rescue's tc
 * programs skip their rescue_flows lookups: it may count too many (an entry
 * the LRU evicted is never subtracted: the packets then pay those lookups),
 * never too few. */

struct vigil_rescue_flow {
	struct vigil_endpoint to;
	struct vigil_endpoint vip; /* FORWARD: the service the socket connected to */
	__u32 kind;                /* enum vigil_rescue_kind */
	__u32 flags;               /* VIGIL_RESCUE_* */
	__u64 moved_ns;            /* FORWARD: when it moved (CLOCK_MONOTONIC; 0: not yet) */
};
_Static_assert(sizeof(struct vigil_rescue_flow) == 56, "vigil_rescue_flow layout");

/* rescue_svc (hash, VIP -> value), written by vigild for every socket-datapath
 * VIP: what the sockops program applies to that service's connections. */
struct vigil_rescue_svc {
	__u32 syn_rto_ms; /* initial SYN retransmission timeout; 0: the kernel's (1 s) */
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_rescue_svc) == 8, "vigil_rescue_svc layout");

/* rescue_stats: per-CPU counters (array index = enum). Append only. */
enum vigil_rescue_counter {
	VIGIL_RESCUE_MOVED = 0,     /* a connect moved to a healthy backend (its SYN rewritten) */
	VIGIL_RESCUE_RST_WITHHELD,  /* a backend refused a connect: RST withheld, the SYN
				     * retransmit goes elsewhere */
	VIGIL_RESCUE_RST_PASSED,    /* a refusal let through: the connect was refused once
				     * already, or no other backend is healthy */
	VIGIL_RESCUE_NO_TARGET,     /* a SYN to an unavailable backend, and no healthy one to
				     * move it to: left alone */
	VIGIL_RESCUE_LATE_DROPPED,  /* a packet of the backend a connection left, dropped */
	VIGIL_RESCUE_REWRITE_FAILED,/* a checksum/store helper refused a rewrite: dropped */
	VIGIL_RESCUE_PORT_BUSY,     /* a SYN held back (dropped: the kernel retransmits it) or a
				     * move put off: its 4-tuple is in use by a moved flow, or by
				     * a socket, towards the same backend */
	VIGIL_RESCUE_COUNTERS
};
#define VIGIL_RESCUE_SLOTS 16
_Static_assert(VIGIL_RESCUE_COUNTERS <= VIGIL_RESCUE_SLOTS, "rescue_stats has a slot per counter");

/* ---- heartbeat (pinned "heartbeat", an ARRAY of 1 entry, key 0) ----------- */

/* vigild rewrites this every tick of its main loop, so vigilctl can tell a
 * live daemon from maps a stopped one left pinned (the fast path keeps
 * working without vigild, but nothing updates health or sets). On a clean
 * stop vigild writes pid 0 with the stop time. wall_ns is CLOCK_REALTIME
 * (for people), mono_ns CLOCK_MONOTONIC (for the age: immune to clock steps). */
struct vigil_heartbeat {
	__u64 wall_ns;
	__u64 mono_ns;
	__u32 pid;     /* vigild's pid; 0 after a clean stop */
	__u32 tick_ms; /* longest sleep between two writes */
};
_Static_assert(sizeof(struct vigil_heartbeat) == 24, "vigil_heartbeat layout");

/* What vigild runs and how cluster mode fares, for vigilctl status; vigild
 * rewrites it when it changes. */
enum vigil_cluster_state {
	VIGIL_CLUSTER_OFF = 0,         /* no cluster: section */
	VIGIL_CLUSTER_CONNECTING = 1,  /* started, etcd not answered yet */
	VIGIL_CLUSTER_CONNECTED = 2,
	VIGIL_CLUSTER_UNREACHABLE = 3, /* running local-only, retrying */
};

struct vigil_daemon_status {
	char version[16];              /* vigild's */
	__u32 cluster_state;           /* enum vigil_cluster_state */
	__u32 cluster_live_nodes;      /* this one included */
	__u64 cluster_remote_verdicts; /* other nodes' verdicts known */
	__u64 cluster_remote_acted;    /* ... that changed a backend here */
	__u64 cluster_published;       /* own verdicts written or removed */
	char cluster_node[64];
	char cluster_endpoint[128];    /* the etcd member that answered last */
};
_Static_assert(sizeof(struct vigil_daemon_status) == 240, "vigil_daemon_status layout");

/* ---- loss counters ------------------------------------------------------- */

/* Data the BPF programs could not record: the index of the per-CPU array
 * pinned as VIGIL_PIN_LOSS, shared by every object that counts (monitor,
 * sock_lb, xdp_lb). An LRU insert into a full map evicts silently, so these
 * count only what the kernel reports as failed; fill levels are read from
 * userspace (vigilctl stats). Socket-local storage is never evicted (it goes
 * with its socket); its creation can still fail (memory), counted under the
 * reason of the map it replaced. Append only: vigilctl and pinned counters
 * index them. */
#define VIGIL_PIN_LOSS "loss"
enum vigil_loss_reason {
	VIGIL_LOSS_RINGBUF_FULL = 0,   /* bpf_ringbuf_reserve on events failed: event lost */
	VIGIL_LOSS_INFLIGHT_FULL,      /* XDP inflight insert refused, or the monitor could not
					* create a socket's sock_state: connection untracked */
	VIGIL_LOSS_SOCK_VIP_FULL,      /* the socket LB could not create a socket's sock_state:
					* peer name not restored */
	VIGIL_LOSS_BACKEND_STATS_FULL, /* insert into backend_stats refused: signals lost */
	VIGIL_LOSS_LOCAL_STATS_FULL,   /* insert into local_stats refused: signals lost */
	VIGIL_LOSS_RESCUE_FULL,        /* insert into rescue_flows refused: a connection not
					* rescued (its SYN stays with the failed backend) */
	VIGIL_LOSS_REASONS
};

/* Entries of loss: room for reasons added later without changing the pinned
 * map (which would need 'vigild --unpin'). */
#define VIGIL_LOSS_SLOTS 16
_Static_assert(VIGIL_LOSS_REASONS <= VIGIL_LOSS_SLOTS, "loss has a slot per loss reason");
_Static_assert(VIGIL_LOSS_RINGBUF_FULL == 0 && VIGIL_LOSS_LOCAL_STATS_FULL == 4 &&
		       VIGIL_LOSS_RESCUE_FULL == 5 && VIGIL_LOSS_REASONS == 6,
	       "loss reasons are appended, never renumbered (update vigilctl's names too)");

/* ---- load-balancer feeds (pinned "lb_feeds", an ARRAY, key enum vigil_feed) - */

/* vigild pushes its verdicts into load balancers it does not run (HAProxy's
 * runtime API, nginx's upstream include and reload: docs/integrations.md)
 * and counts every push here for vigilctl stats. Written by vigild only. */
#define VIGIL_PIN_LB_FEEDS "lb_feeds"
enum vigil_feed {
	VIGIL_FEED_HAPROXY = 0,
	VIGIL_FEED_NGINX = 1,
	VIGIL_FEEDS
};
#define VIGIL_FEED_SLOTS 4 /* room for feeds added later without a new pin */
_Static_assert(VIGIL_FEEDS <= VIGIL_FEED_SLOTS, "lb_feeds has a slot per feed");

struct vigil_feed_stats {
	__u64 pushes;        /* haproxy: commands acknowledged; nginx: reloads signalled */
	__u64 push_errors;   /* haproxy: commands refused; nginx: reloads that failed */
	__u64 unreachable;   /* haproxy: exchanges that failed (connect, I/O, timeout);
			      * nginx: reloads with no master to signal */
	__u64 reapplied;     /* pushes of a state the load balancer had lost (restart,
			      * reload, its own checks) or that failed before */
	__u64 resyncs;       /* haproxy: server tables read; nginx: include files written */
	__u64 coalesced;     /* nginx: changes that waited for a reload already due */
	__u64 last_ok_wall_ns;    /* CLOCK_REALTIME of the last successful push */
	__u64 last_error_wall_ns; /* ... of the last failure */
	__u32 configured;    /* 1 when this feed is configured */
	__u32 reachable;     /* 1 when the last exchange with it succeeded */
	__u32 pending;       /* changes decided but not applied yet */
	__u32 servers;       /* haproxy: servers mapped; nginx: servers in the include files */
	/* decision -> command written (haproxy) or reload signalled (nginx), us */
	__u64 sent_us[VIGIL_HIST_BUCKETS];
	/* decision -> acknowledged by HAProxy, us (nginx: unused) */
	__u64 acked_us[VIGIL_HIST_BUCKETS];
};
_Static_assert(sizeof(struct vigil_feed_stats) == 8 * 8 + 4 * 4 + 2 * 8 * VIGIL_HIST_BUCKETS,
	       "vigil_feed_stats layout");

/* ---- tracked sockets (pinned "sock_counts", a per-CPU array) --------------- */

/* Socket-local storage cannot be walked with get_next_key, so the monitor
 * counts the sockets it starts and stops tracking (sock_state fl.role set /
 * cleared); vigilctl shows tracked - released - discounted, summed over
 * CPUs. Append only. */
enum vigil_sock_count {
	VIGIL_SOCK_TRACKED = 0,  /* a watched connection's state set up */
	VIGIL_SOCK_RELEASED,     /* ... and dropped (TCP_CLOSE, or the socket connects again) */
	VIGIL_SOCK_DISCOUNTED,   /* written by vigild only: tracked sockets a restart found
				  * gone, whose close no monitor hook saw */
	VIGIL_SOCK_COUNTS
};
#define VIGIL_SOCK_COUNT_SLOTS 4
_Static_assert(VIGIL_SOCK_COUNTS <= VIGIL_SOCK_COUNT_SLOTS, "sock_counts has a slot per count");

#endif /* VIGIL_ABI_H */
