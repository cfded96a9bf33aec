/* SPDX-License-Identifier: MIT */
/*
 * Failure detector (pure C: no BPF, no syscalls, no clock reads; time is an
 * argument). One struct vigil_det_service per service; vigild feeds it
 * observations from the monitor maps, probe results and admin commands, calls
 * vigil_det_decide() every tick and hands the desired state it returns
 * (desired.h) to its publisher.
 *
 * Per backend: HEALTHY -> EJECTED -> PROBING -> HEALTHY (probe failure sends
 * PROBING back to EJECTED for longer), with the administrative overlays
 * DRAINING and DISABLED (enum vigil_admin_state) which only affect selection.
 */
#ifndef VIGIL_DETECTOR_H
#define VIGIL_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "desired.h" /* struct vigil_det_change, struct vigil_desired */

#define VIGIL_DET_WINDOW_SLOTS 10

/* Detection settings, overridable globally and per service in the config.
 * Each default is stated once, in vigil_det_params_defaults() (detector.c);
 * docs/detection.md ("Configuration") documents them for users. */
struct vigil_det_params {
	__u32 consecutive_failures;   /* hard failures to eject; also the kernel fast-path threshold */
	double error_ratio;           /* eject when window errors/attempts >= this */
	__u32 error_min_requests;     /* ... and window attempts >= this */
	__u32 window_ms;              /* sliding window for ratio and latency */
	double slow_factor;           /* eject when p99 > factor x median of peers' p99 */
	__u32 slow_floor_ms;          /* ... and p99 > this */
	__u32 slow_min_samples;       /* latency samples needed in the window, own and peer */
	double stuck_factor;          /* stuck when older than factor x peers' p99 */
	__u32 stuck_connect_floor_ms; /* ... but never below this for a connect */
	__u32 stuck_request_floor_ms; /* ... nor below this for a request whose data was retransmitted */
	__u32 stall_floor_ms;         /* ... nor below this for one acknowledged but unanswered */
	__u32 stuck_unacked_floor_ms; /* ... nor below this for request data the packet datapath
				       * saw unacknowledged (judged with the connect latency) */
	__u32 eject_base_ms;          /* ejection time = base x n-th ejection */
	__u32 eject_max_ms;           /* ... capped; healthy this long resets n */
	__u32 probe_interval_ms;      /* between active probes while PROBING */
	__u32 probe_successes;        /* consecutive successes to re-admit */
	double max_ejection_share;    /* outlier rules eject at most this share of primaries (at least 1) */
};

/* The defaults: the one place they are written down in the code. */
void vigil_det_params_defaults(struct vigil_det_params *p);

/* What vigild observed for one backend since the previous observation. */
struct vigil_det_observation {
	/* deltas of the monitor's backend_stats */
	__u64 connect_attempts;
	__u64 established;
	__u64 errors;              /* refused + timeouts + resets_rcvd */
	__u64 data_retrans;
	__u64 connect_lat_us[VIGIL_HIST_BUCKETS];
	__u64 request_lat_us[VIGIL_HIST_BUCKETS];
	/* current values from backend_health and the in-flight scan */
	__u32 kernel_consecutive;  /* backend_health.consecutive_failures */
	bool kernel_down;          /* backend_health.down */
	__u32 stuck_connects;      /* SYNs pending longer than the stuck-connect limit, started after the last success */
	__u32 stuck_requests;      /* sends unanswered longer than the stuck-request limit whose
				    * data had to be retransmitted: the network lost them */
	__u32 unacked_requests;    /* packet datapath: requests whose data the backend left
				    * unacknowledged past the unacked limit (stuck requests
				    * judged by their own limit) */
	__u32 stalled_requests;    /* sends unanswered longer than the stall limit, never
				    * retransmitted: the backend's kernel acknowledged them */
	__u32 oldest_stuck_us;     /* age of the oldest stuck or stalled socket (evidence) */
};

struct vigil_det_backend {
	/* identity, from config */
	struct vigil_endpoint ep;
	__u32 weight;
	__u8 role;                 /* VIGIL_ROLE_PRIMARY / VIGIL_ROLE_BACKUP */
	/* state */
	enum vigil_backend_state state;
	enum vigil_admin_state admin;
	__u64 since_ns;            /* time of the last state change */
	__u64 eject_until_ns;      /* EJECTED: when probing starts */
	__u64 next_probe_ns;       /* PROBING: when the next probe is due */
	__u32 ejections;           /* number of ejections, drives backoff */
	__u32 probe_ok_streak;
	enum vigil_rule last_rule;
	struct vigil_evidence last_evidence;
	/* sliding window: slot i covers [start + i*slot_ns, ...) */
	struct vigil_det_slot {
		__u64 slot_index;  /* absolute index now_ns / slot_ns; stale slots are reset */
		__u64 attempts, errors, data_retrans;
		__u64 connect_lat_us[VIGIL_HIST_BUCKETS];
		__u64 request_lat_us[VIGIL_HIST_BUCKETS];
	} window[VIGIL_DET_WINDOW_SLOTS];
	/* latest point-in-time inputs (cleared on re-admission) */
	__u32 kernel_consecutive;
	bool kernel_down;
	__u32 stuck_connects, stuck_requests, unacked_requests, stalled_requests, oldest_stuck_us;
	/* changes made outside vigil_det_evaluate(), returned by its next call
	 * exactly once (the state itself changes at once) */
	bool pending_probe;        /* vigil_det_probe_result() moved PROBING on */
	enum vigil_backend_state pending_from, pending_to;
	enum vigil_rule pending_rule;
	struct vigil_evidence pending_evidence;
	bool pending_admin;        /* vigil_det_set_admin() changed admin */
	enum vigil_admin_state pending_admin_from; /* ... from this */
	/* out of service on evidence that it is dead (a change with teardown
	 * VIGIL_TEARDOWN_ALL): the packet datapath moves its flows too
	 * (vigil_det_decide) */
	bool hard_ejected;
	/* PROBING because of another node's hard verdict: one probe decides */
	bool remote_check;
	/* the widest tear-down ordered since it left HEALTHY: a stalled backend
	 * (VIGIL_TEARDOWN_UNACKED) that later shows network evidence has all its
	 * connections torn down then (escalation, detector_rules.c) */
	enum vigil_teardown_kind teardown;
};

struct vigil_det_service {
	struct vigil_det_params params;
	size_t n_backends;         /* primaries and backups, in config order */
	__u32 set_flags;           /* VIGIL_SET_BACKUPS/FAIL_OPEN at the last evaluate */
	__u64 now_ns;              /* latest time passed in: window reference for the stuck limits */
	struct vigil_det_backend backends[VIGIL_MAX_SVC_BACKENDS];
};

/* Initialise with params; backends added with vigil_det_add_backend (all start
 * HEALTHY at now_ns). Returns 0 or -ENOSPC. */
void vigil_det_init(struct vigil_det_service *svc, const struct vigil_det_params *params);
int vigil_det_add_backend(struct vigil_det_service *svc, const struct vigil_endpoint *ep,
			  __u32 weight, __u8 role, __u64 now_ns);

/* Verdicts of other nodes (cluster mode, detector_remote.c). A hard one
 * (refused, reset, stuck connect seen elsewhere) takes a HEALTHY backend out
 * of selection at once and probes it at once: one probe success brings it
 * back, a failure ejects it as a local verdict would. An outlier one ejects
 * when reporters / live_nodes >= quorum, within max_ejection_share. Both
 * return true when the state changed (reported by the next evaluate). */
bool vigil_det_remote_hard(struct vigil_det_service *svc, size_t idx, __u32 reporters,
			   __u64 now_ns);
bool vigil_det_remote_outlier(struct vigil_det_service *svc, size_t idx, __u32 reporters,
			      __u32 live_nodes, double quorum, __u64 now_ns);
/* Fold one observation into the backend's window and latest inputs. */
void vigil_det_observe(struct vigil_det_service *svc, size_t idx,
		       const struct vigil_det_observation *obs, __u64 now_ns);

/* Stuck limits for backend idx in ns: max(floor, stuck_factor x median of the
 * healthy peers' window p99 connect/request latency); floor when no peer data. */
__u64 vigil_det_stuck_connect_limit_ns(const struct vigil_det_service *svc, size_t idx);
__u64 vigil_det_stuck_request_limit_ns(const struct vigil_det_service *svc, size_t idx);
/* The same with stall_floor_ms: the limit for requests acknowledged but not
 * answered (a stopped process). */
__u64 vigil_det_stall_limit_ns(const struct vigil_det_service *svc, size_t idx);
/* The same with stuck_unacked_floor_ms and the peers' connect latency: the
 * limit for request data the packet datapath saw the backend leave
 * unacknowledged (its ACK is a kernel's answer, as a SYN-ACK is). */
__u64 vigil_det_unacked_limit_ns(const struct vigil_det_service *svc, size_t idx);

/* True when backend idx is PROBING and a probe is due at now_ns; marks the
 * probe as started (next one due after probe_interval_ms). */
bool vigil_det_probe_due(struct vigil_det_service *svc, size_t idx, __u64 now_ns);

/* Result of an active probe of backend idx (ignored unless PROBING and not
 * DISABLED). Applied at once: probe_successes consecutive successes make the
 * backend HEALTHY (rule PROBE_OK, window and point-in-time inputs cleared), a
 * failure ejects it again for longer (PROBE_FAILED). The change is returned by
 * the next vigil_det_evaluate(). */
void vigil_det_probe_result(struct vigil_det_service *svc, size_t idx, bool ok, __u64 now_ns);

/* Administrative state; returns true when it changed. Applied at once
 * (since_ns, last_rule ADMIN); the next vigil_det_evaluate() returns one
 * change with rule ADMIN and from == to == the backend's state. */
bool vigil_det_set_admin(struct vigil_det_service *svc, size_t idx, enum vigil_admin_state admin,
			 __u64 now_ns);

/* Apply every rule at now_ns; writes up to max changes (backend-level first,
 * then at most one service-level change) and returns how many. Also drains
 * the results of probes. Evaluation order per backend: timers (ejection
 * expiry), hard failures (fast path, consecutive, stuck), then outlier rules
 * (error ratio, slow) limited by max_ejection_share. A transition that
 * does not fit in max is not applied (nor a pending one dropped): the next
 * call makes it. Only HEALTHY backends not DISABLED are judged; outlier rules
 * judge primaries only. */
size_t vigil_det_evaluate(struct vigil_det_service *svc, __u64 now_ns,
			  struct vigil_det_change *changes, size_t max);

/* vigil_det_evaluate at now_ns, and the complete desired state of the
 * service after it, as a value: the serving set (vigil_det_select), every
 * backend's record and packet-datapath flow policy, and the changes made.
 * Serving backends are VIGIL_XB_SELECTABLE; a backend out of the set keeps
 * its established flows when drained or outlier-ejected and has them moved
 * (VIGIL_XB_RESELECT: a fast reset instead of a timeout) when disabled or
 * ejected on hard-failure evidence. */
void vigil_det_decide(struct vigil_det_service *svc, __u64 now_ns, struct vigil_desired *out);

/* The set connect() should use now: HEALTHY primaries without admin state;
 * if none, HEALTHY backups (flag VIGIL_SET_BACKUPS); if none, every backend
 * that is not DISABLED (VIGIL_SET_FAIL_OPEN). Those are the preferred entries
 * [0, n_preferred); while primaries serve, HEALTHY backups follow as the
 * kernel's fallback tier. Entries keep config order and weights; at most
 * VIGIL_MAX_SET. service_id and version are left 0 for the caller. */
void vigil_det_select(const struct vigil_det_service *svc, struct vigil_backend_set *set);

/* True when ep is in the serving (preferred) tier of set. */
bool vigil_set_serves(const struct vigil_backend_set *set, const struct vigil_endpoint *ep);

/* Share of new connections of a backend: its weight over selected_weight,
 * the weights of the backends selected with it (as both datapaths spread
 * connections); 0 when it is not selected. */
double vigil_share_of(__u32 weight, bool selected, __u64 selected_weight);

/* A span in which vigild did not run (the machine or vigild stalled). */
struct vigil_det_stall {
	__u64 start_ns, end_ns;
};

/* How much of [from, to) the stalls cover (they do not overlap each other).
 * A socket's wait is only evidence against its backend for the time vigild
 * (and with it, on a stalled machine, the backend) was running. */
__u64 vigil_det_stalled_ns(const struct vigil_det_stall *stalls, size_t n, __u64 from, __u64 to);

/* Names for logs and vigilctl. */
const char *vigil_state_name(enum vigil_backend_state s);
const char *vigil_admin_name(enum vigil_admin_state a);
const char *vigil_rule_name(enum vigil_rule r);

#ifdef VIGIL_DETECTOR_INTERNAL
/* ---- internal: shared by detector.c, detector_rules.c, detector_remote.c - */
/* Primaries not HEALTHY (and how many there are), and how many the outlier
 * rules may take out (detector_rules.c). */
size_t vigil_det_primaries_out(const struct vigil_det_service *svc, size_t *n_primaries);
size_t vigil_det_outlier_limit(const struct vigil_det_params *p, size_t n_primaries);
#define VIGIL_DET_NS_PER_MS 1000000ULL
#define VIGIL_DET_NS_PER_US 1000ULL

enum vigil_det_lat { VIGIL_DET_LAT_CONNECT, VIGIL_DET_LAT_REQUEST, VIGIL_DET_LAT_KINDS };

/* One backend's window summed over its live slots. */
struct vigil_det_sum {
	__u64 attempts, errors;
	__u64 samples[VIGIL_DET_LAT_KINDS];
	double p99_us[VIGIL_DET_LAT_KINDS];
	double p50_us[VIGIL_DET_LAT_KINDS];
};

void vigil_det_touch(struct vigil_det_service *svc, __u64 now_ns);
void vigil_det_window_sums(const struct vigil_det_service *svc, struct vigil_det_sum *sums);
double vigil_det_peer_median(const struct vigil_det_service *svc, const struct vigil_det_sum *sums,
			     size_t idx, int kind, __u64 min_samples, size_t *npeers);
void vigil_det_record(struct vigil_det_backend *b, enum vigil_backend_state to,
		      enum vigil_rule rule, const struct vigil_evidence *ev, __u64 now_ns);
void vigil_det_eject(const struct vigil_det_params *p, struct vigil_det_backend *b,
		     enum vigil_rule rule, const struct vigil_evidence *ev, __u64 now_ns);
__u32 vigil_det_round_u32(double v);
__u32 vigil_det_sat_u32(__u64 v);
#endif

#endif
