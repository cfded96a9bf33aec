/* SPDX-License-Identifier: MIT */
/* Loads, configures and attaches the in-kernel monitor (bpf/monitor.bpf.c). */
#ifndef VIGIL_MONITOR_H
#define VIGIL_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>
#include "config.h"

struct vigil_monitor;

typedef void (*vigil_event_fn)(const struct vigil_event *ev, void *ctx);

/* Open, load (reusing maps pinned under cfg->pin_dir), write the watch maps,
 * attach every available hook and pin its link at
 * cfg->pin_dir/links/monitor-TRACEPOINT, replacing in place a link an earlier
 * vigild left there (the monitor and its fast path run while vigild is down).
 * Optional hooks the kernel lacks are skipped with a warning. On error err
 * says why; hooks already replaced stay attached, as the old ones were. */
int vigil_monitor_start(struct vigil_monitor **out, const struct vigil_config *cfg,
			vigil_event_fn on_event, void *ctx, char *err, size_t errlen);

/* Config reload: re-sync the watch maps with cfg and apply watch_all and
 * watch_all_local, with every hook left attached. On error watch_all and
 * watch_all_local are unchanged, and the port bitmaps and watch maps may
 * hold entries of both configs (new ones are added before stale ones are
 * removed): re-sync the old config. */
int vigil_monitor_reconfigure(struct vigil_monitor *mon, const struct vigil_config *cfg,
			      char *err, size_t errlen);

/* Deliver pending ring-buffer events; waits up to timeout_ms. */
int vigil_monitor_poll(struct vigil_monitor *mon, int timeout_ms);

/* Free. The pinned links keep the hooks attached and the pinned maps stay,
 * so the fast path and vigilctl keep working; vigild --unpin removes them. */
void vigil_monitor_stop(struct vigil_monitor *mon);

/* Ring-buffer epoll fd to wait on, and delivery without waiting. */
int vigil_monitor_epoll_fd(const struct vigil_monitor *mon);
int vigil_monitor_consume(struct vigil_monitor *mon);

/* The map fds the failover engine reads: backend_stats; inflight, the packet
 * datapath's pending SYNs; sock_state, the sockets' own state, and
 * sock_counts, how many there are (both reconciled at start: sock_census.h). */
struct vigil_monitor_maps {
	int backend_stats, inflight, sock_state, sock_counts;
};
void vigil_monitor_maps(const struct vigil_monitor *mon, struct vigil_monitor_maps *out);

/* The heartbeat map vigild writes every tick (struct vigil_heartbeat). */
int vigil_monitor_heartbeat_fd(const struct vigil_monitor *mon);
/* The pinned daemon_status map (struct vigil_daemon_status). */
int vigil_monitor_status_fd(const struct vigil_monitor *mon);

/* Remove the pins vigil creates under pin_dir (its map and link names only:
 * foreign entries stay, with a warning), then pin_dir itself if empty. */
int vigil_monitor_unpin(const char *pin_dir);

/* Pin names (under pin_dir/links) of the hooks the monitor attached; at
 * most max, returns how many. */
size_t vigil_monitor_link_names(const struct vigil_monitor *mon, const char **names, size_t max);

/* Pin again, from vigild's fds, the monitor's maps and links that are
 * missing (pin_dir and pin_dir/links exist). Returns how many, or -errno. */
int vigil_monitor_restore_pins(struct vigil_monitor *mon);

struct bpf_object;
const struct bpf_object *vigil_monitor_object(const struct vigil_monitor *mon);

#endif
