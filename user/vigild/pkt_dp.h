/* SPDX-License-Identifier: MIT */
/* The packet datapath: control of the XDP/tc load balancer (bpf/xdp_lb.bpf.c,
 * whose object, program and pin names keep "xdp_lb"): load, attach to the
 * configured interfaces (pkt_hooks.h), backend ids and flow policy, Maglev
 * table swaps. */
#ifndef VIGIL_PKT_DP_H
#define VIGIL_PKT_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"

struct vigil_pkt_dp;

/* Load, reusing maps pinned under cfg->pin_dir (shared signal maps of the
 * monitor included), and attach to cfg->xdp_interfaces inside cfg->xdp_netns
 * with cfg->xdp_hook (pkt_hooks.h). Attachments outlive vigild, so
 * forwarding goes on while it restarts. */
int vigil_pkt_dp_start(struct vigil_pkt_dp **out, const struct vigil_config *cfg, char *err,
		       size_t errlen);

/* Stable id of a backend endpoint (kept across restarts through the pinned
 * xdp_backends map). Returns -ENOSPC when all ids are used. */
int vigil_pkt_dp_backend_id(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep);

/* The id ep has, without giving it one; -ENOENT if none. */
int vigil_pkt_dp_id_of(const struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep);

/* Flow policy of a backend: VIGIL_XB_* flags. */
int vigil_pkt_dp_set_flags(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep,
				__u32 flags);

/* Build the Maglev table of set (weights honoured) into the idle buffer of
 * the VIP's table pair and switch vip to it with one hash update. service_id
 * numbers the VIP (0 .. VIGIL_MAX_XDP_TABLES/2 - 1). Returns 0 or -errno;
 * *elapsed_ns gets the build+switch time. A packet that looked the table up
 * just before the previous switch may still read the buffer being refilled;
 * it then gets a backend of the old or the new table, both valid. */
int vigil_pkt_dp_publish(struct vigil_pkt_dp *xl, __u32 service_id, const struct vigil_endpoint *vip,
		      const struct vigil_backend_set *set, __u32 table_size, __u64 *elapsed_ns);

/* The requests of backend ep the program saw pending (pending_requests,
 * read by the failover engine): emptied (a re-admitted backend; also done
 * when an id is handed out), read. Return 0 or -errno (-ENOENT: ep has no
 * id). */
int vigil_pkt_dp_pending_reset(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep);
int vigil_pkt_dp_pending_read(const struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep,
			      struct vigil_pending_requests *out);

/* The backend id of the tracked flow k (xdp_flows). 0 or -errno (-ENOENT:
 * not tracked). */
int vigil_pkt_dp_flow_backend(const struct vigil_pkt_dp *xl, const struct vigil_flow_key *k,
			      __u32 *id);

/* Run the client's SYN (the copy the program kept of it) to vip through the
 * XDP program as if it came in again on its interface, which then sends it
 * where it sends the client's own retransmit: to a healthy backend once the
 * one it went to is ejected. 0 or -errno; -EOPNOTSUPP once the kernel has
 * refused a replay (logged once). */
int vigil_pkt_dp_replay_syn(struct vigil_pkt_dp *xl, const struct vigil_syn_copy *syn,
			    const struct vigil_endpoint *vip);

/* Drop services and backend ids that are no longer configured. */
void vigil_pkt_dp_remove_stale(struct vigil_pkt_dp *xl, const struct vigil_config *cfg);

/* Bring the attachments in line with cfg (config reload): attach, or replace
 * the program on, every xdp.interfaces entry, and detach the pinned
 * attachments of interfaces no longer listed. Every listed interface is
 * checked first: when one is missing nothing changes and err names it. */
int vigil_pkt_dp_reconcile(struct vigil_pkt_dp *xl, const struct vigil_config *cfg, char *err,
			   size_t errlen);

void vigil_pkt_dp_stop(struct vigil_pkt_dp *xl);

/* Detach the load balancer from every interface it is attached to (pinned
 * XDP links, tc filters recorded under pin_dir; tc filters are found in
 * netns, "" = vigild's own). */
void vigil_pkt_dp_detach_pinned(const char *pin_dir, const char *netns);

/* The loaded object (its maps' pin paths and fds: vigild restores lost pins). */
struct bpf_object;
const struct bpf_object *vigil_pkt_dp_object(const struct vigil_pkt_dp *st);

#endif
