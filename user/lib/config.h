/* SPDX-License-Identifier: MIT */
/* vigild configuration: YAML file -> validated struct (pure, no BPF). */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>
#include "config_cluster.h"
#include "detector.h"
#include "log.h"

struct vigil_watch_prefix {
	struct vigil_prefix_key key;
	__u16 port; /* 0: every port */
};

/* One backend of a service (primaries first, then backups, in config order). */
struct vigil_backend_cfg {
	struct vigil_endpoint ep;
	__u32 weight;
	__u8 role;     /* VIGIL_ROLE_PRIMARY / VIGIL_ROLE_BACKUP */
};

struct vigil_service_cfg {
	char name[VIGIL_NAME_LEN];
	struct vigil_endpoint vips[2]; /* at most one IPv4 and one IPv6 virtual address */
	size_t n_vips;
	struct vigil_backend_cfg backends[VIGIL_MAX_SVC_BACKENDS];
	size_t n_backends;
	size_t n_primaries;            /* backends[0..n_primaries) are primaries */
	struct vigil_det_params detection; /* the global detection: settings, overridden per service */
	__u32 datapath;                /* VIGIL_DATAPATH_* */
	__u32 table_size;              /* Maglev slots for XDP (prime) */
	char probe_http_path[128];     /* "" = TCP connect probe */
	unsigned int probe_timeout_ms;
	unsigned int syn_rto_ms;       /* initial SYN retransmission timeout of its socket-
					* datapath connections; 0 = the kernel's (1 s) */
	/* Made by vigild from the servers an HAProxy backend lists
	 * (haproxy.backends, derived); never read from the file. */
	bool from_haproxy;
};

/* Load balancers vigil feeds (docs/integrations.md). */
#define VIGIL_LB_NAME_LEN  64  /* HAProxy backend names */
#define VIGIL_MAX_LB_FEEDS 64  /* haproxy.backends, nginx.upstreams */

/* haproxy.backends[]: one HAProxy backend fed by one vigil service. */
struct vigil_haproxy_backend_cfg {
	char backend[VIGIL_LB_NAME_LEN]; /* as HAProxy names it */
	/* A service of services: with this name feeds the backend; otherwise
	 * (derived) vigild makes one from the servers HAProxy lists, with tmpl's
	 * name, detection and probe settings and datapath none. */
	bool derived;
	bool has_overrides;              /* detection: or probe: given in the entry */
	struct vigil_service_cfg tmpl;
	unsigned int line;
};

struct vigil_haproxy_cfg {
	bool enabled;
	char socket[108];                /* runtime API: a unix socket path ... */
	struct vigil_endpoint socket_ep; /* ... or an ADDR:PORT (family != 0) */
	unsigned int resync_ms;          /* re-read the server table this often */
	unsigned int retry_ms;           /* retry an unreachable HAProxy this often */
	unsigned int timeout_ms;         /* one exchange with the runtime API */
	bool shutdown_sessions;          /* on hard-failure ejections */
	struct vigil_haproxy_backend_cfg *backends;
	size_t n_backends;
};

/* nginx.upstreams[]: the include file of one service's servers. */
struct vigil_nginx_upstream_cfg {
	char service[VIGIL_NAME_LEN];
	char file[256];
	char options[128];               /* appended to every server line */
	unsigned int line;
};

struct vigil_nginx_cfg {
	bool enabled;
	char pid_file[256];              /* SIGHUP the master named there, or ... */
	char reload_command[256];        /* ... run this (/bin/sh -c) */
	unsigned int reload_interval_ms; /* at most one reload per interval */
	struct vigil_nginx_upstream_cfg *upstreams;
	size_t n_upstreams;
};

/* syn_rto_ms: the default and the range besides 0 (docs/config.md). */
#define VIGIL_DEFAULT_SYN_RTO_MS 200
#define VIGIL_MIN_SYN_RTO_MS 20
#define VIGIL_MAX_SYN_RTO_MS 3000

/* vigild runs SCHED_RR by default (vigil_config_defaults): its detection deadlines
 * are tens of milliseconds, and on a busy node an ordinary task waits on the
 * run queue for hundreds (measured: stuck-connect ejection 2-3 s instead of
 * 75 ms under forwarding load on the 2-vCPU test VM). */
#define VIGIL_DEFAULT_SCHED_PRIORITY 10

#define VIGIL_HOOK_XDP 0 /* XDP on the interfaces */
#define VIGIL_HOOK_TC  1 /* tc clsact ingress: any device, partial checksums handled */

#define VIGIL_XDP_MODE_AUTO    0 /* native where the driver has it, else generic */
#define VIGIL_XDP_MODE_NATIVE  1 /* native or fail */
#define VIGIL_XDP_MODE_GENERIC 2 /* generic (skb) mode */

/* metrics: vigild's Prometheus endpoint, /healthz and /readyz
 * (docs/operations.md). Loopback unless configured otherwise. */
#define VIGIL_METRICS_DEFAULT_LISTEN "127.0.0.1:9487"
struct vigil_metrics_cfg {
	bool enabled;                 /* metrics.enabled */
	struct vigil_endpoint listen; /* metrics.listen; 0.0.0.0 or :: is every address */
	unsigned int listen_line;     /* its line in the file (0: the default), for the
				       * host check (vigild's config_host.c) */
};

struct vigil_config {
	/* daemon: */
	char pin_dir[256];
	enum vigil_log_level log_level;
	bool watch_all;
	unsigned int watch_all_max; /* LRU bound of backend_stats */
	bool watch_all_local;       /* track every accepting local port */
	/* watch: */
	struct vigil_endpoint *backends;
	size_t n_backends;
	struct vigil_watch_prefix *prefixes;
	size_t n_prefixes;
	__u16 *local_ports;
	size_t n_local_ports;
	/* failover: */
	unsigned int tick_ms;          /* daemon.tick_ms */
	unsigned int sched_priority;   /* daemon.sched_priority: SCHED_RR priority, 0 = normal */
	char probe_netns[256];         /* daemon.probe_netns: "" = vigild's own */
	char lb_cgroup[256];           /* lb.cgroup: "" = auto (cgroup v2 root) */
	bool lb_rescue;                /* lb.rescue: rescue connects to a failed backend */
	char lb_rescue_interfaces[8][16]; /* lb.rescue_interfaces: where the rescue attaches;
					   * none = the interfaces of the routes to the backends */
	size_t n_lb_rescue_interfaces;
	char xdp_interfaces[8][16];    /* xdp.interfaces: where remote clients' packets arrive */
	size_t n_xdp_interfaces;
	char xdp_netns[256];           /* xdp.netns: namespace of those interfaces ("" = own) */
	/* Lines of the three paths above in the config file (0: not given), for
	 * the checks that need the host (vigild's config_host.c). */
	unsigned int probe_netns_line, lb_cgroup_line, xdp_netns_line;
	__u32 xdp_hook;                /* xdp.hook: VIGIL_HOOK_XDP or VIGIL_HOOK_TC */
	__u32 xdp_mode;                /* xdp.mode: VIGIL_XDP_MODE_* */
	__u32 xdp_forward;             /* xdp.forward: VIGIL_FWD_* */
	bool xdp_syn_replay;           /* xdp.syn_replay: replay SYNs waiting on an ejected backend */
	struct vigil_det_params detection; /* detection: the global settings */
	struct vigil_service_cfg *services;
	size_t n_services;
	/* daemon.monitor_netns: count only sockets of this network namespace
	 * ("" = every namespace of the host); its line for config_host.c */
	char monitor_netns[256];
	unsigned int monitor_netns_line;
	struct vigil_cluster_cfg cluster; /* cluster: (enabled = present) */
	struct vigil_metrics_cfg metrics; /* metrics: */
	struct vigil_haproxy_cfg haproxy;
	struct vigil_nginx_cfg nginx;
};

/* Fill cfg with defaults (no allocation): every daemon-level default is set
 * there and only there; detection defaults come from
 * vigil_det_params_defaults(), a service's from vigil_service_cfg_defaults(). */
void vigil_config_defaults(struct vigil_config *cfg);
/* A new service: the global detection settings and the per-service defaults;
 * a backend's default weight is set where backends are parsed (config_services.c). */
void vigil_service_cfg_defaults(struct vigil_service_cfg *svc, const struct vigil_config *cfg);

/* vigil_config_load_file: the path is not a regular file (a FIFO, a device):
 * refused without blocking. */
#include <errno.h>
#ifndef EFTYPE
#define EFTYPE EMEDIUMTYPE
#endif

/* Parse and validate. On error returns -EINVAL (or -errno for I/O, -EFTYPE)
 * and writes "FILE:LINE: what is wrong: how to fix" into err; cfg is left
 * empty. */
int vigil_config_load_file(const char *path, struct vigil_config *cfg, char *err, size_t errlen);
int vigil_config_load_string(const char *text, const char *name, struct vigil_config *cfg,
			     char *err, size_t errlen);

void vigil_config_free(struct vigil_config *cfg);

/* Distinct endpoints among watch.backends (if with_watch) and the backends
 * of the services using datapath (every service if 0); -1 when out of
 * memory. Each needs a slot in the watch and health maps. */
long vigil_config_distinct_backends(const struct vigil_config *cfg, bool with_watch,
				    __u32 datapath);

/* Index of the service called name in cfg, -1 when there is none. */
int vigil_config_service_index(const struct vigil_config *cfg, const char *name);

/* A deep copy of src into dst (every list duplicated). 0 or -ENOMEM (dst is
 * then left empty). */
int vigil_config_copy(struct vigil_config *dst, const struct vigil_config *src);

#endif
