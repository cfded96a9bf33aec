/* SPDX-License-Identifier: MIT */
/* Internals shared by failover.c (engine) and failover_publish.c (map writes). */
#ifndef VIGIL_FAILOVER_INT_H
#define VIGIL_FAILOVER_INT_H

#include "detector.h"
#include "failover.h"
#include "probe.h"
#include "pkt_dp.h"

struct fo_backend_rt {
	struct vigil_backend_stats last; /* cumulative counters at the previous tick */
	bool have_last;
	bool probe_in_flight;
	bool hard_ejected; /* ejected on hard-failure evidence: XDP moves its flows */
	__u64 last_reply_ns; /* last tick in which the backend answered a request */
	__u32 published_admin;
};

struct fo_service {
	const struct vigil_service_cfg *cfg;
	__u32 id;
	struct vigil_det_service det;
	struct fo_backend_rt rt[VIGIL_MAX_SVC_BACKENDS];
	struct vigil_backend_set set; /* as last published */
	bool set_published;
	bool force_xdp; /* (re)write XDP tables even if the set is unchanged */
	__u64 set_changed_wall_ns;
};

struct vigil_failover {
	const struct vigil_config *cfg;
	struct vigil_monitor_maps mon;
	struct vigil_svc_maps lb;
	struct fo_service *svcs;
	size_t n_svcs;
	struct vigil_prober *prober;
	struct vigil_canary *canary; /* normal-policy thread: did ordinary processes run? */
	__u64 canary_stall_start_ns;  /* start of the canary's current silence, 0: none */
	struct vigil_pkt_dp *xdp; /* NULL when no service uses the XDP datapath */
	__u64 history_seq;
	__u64 next_tick_ns;
	__u64 last_run_ns;
	__u64 last_scan_ns;
	/* Recent spans in which vigild did not run (ring): a socket's wait is
	 * not held against its backend for them. */
	struct vigil_det_stall stalls[16];
	size_t next_stall;
	bool event_pending;
	int ncpus;
	void *percpu_buf;
};

__u64 vigil_wall_ns(void);

/* failover_publish.c */
int fo_publish_thresholds(struct vigil_failover *fo);
void fo_publish_readmit(struct vigil_failover *fo, const struct vigil_endpoint *ep);
void fo_publish_backend(struct vigil_failover *fo, struct fo_service *s, size_t idx);
void fo_publish_change(struct vigil_failover *fo, const struct fo_service *s,
		       const struct vigil_det_change *c, __u64 mono_ns);
bool fo_publish_set(struct vigil_failover *fo, struct fo_service *s);
void fo_publish_service(struct vigil_failover *fo, const struct fo_service *s);
void fo_publish_xdp(struct vigil_failover *fo, struct fo_service *s, bool set_changed);
void fo_remove_stale(struct vigil_failover *fo);
__u64 fo_history_last_seq(int history_fd);

#endif
