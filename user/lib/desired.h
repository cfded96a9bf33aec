/* SPDX-License-Identifier: MIT */
/*
 * The desired state of one service: what the detector decides
 * (vigil_det_decide, detector.h) and the publisher writes (vigild/publish.h).
 * A value: nothing in it points back into the detector or the engine, so a
 * decision travels one way, signals -> detector -> desired state ->
 * publisher -> maps, and the engine logs the same value afterwards.
 */
#ifndef VIGIL_DESIRED_H
#define VIGIL_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

/* A state change to apply and report. backend_index is -1 for a
 * service-level change (backups serving, fail-open, primaries back). */
struct vigil_det_change {
	int backend_index;
	enum vigil_backend_state from, to;   /* backend-level */
	__u32 set_flags_from, set_flags_to;  /* service-level: VIGIL_SET_* */
	enum vigil_rule rule;
	/* rule VIGIL_RULE_ADMIN: the admin state before and after (from and to
	 * are the unchanged health state) */
	enum vigil_admin_state admin_from, admin_to;
	struct vigil_evidence evidence;
	/* Which of the backend's connections to destroy: VIGIL_TEARDOWN_ALL on
	 * evidence that it is dead (refused, reset, SYNs or data unacknowledged),
	 * VIGIL_TEARDOWN_UNACKED when only its process stalled (the connections
	 * whose data the network did not acknowledge, normally none). */
	enum vigil_teardown_kind teardown;
};

/* Backend-level changes of every backend and one service-level change. */
#define VIGIL_DESIRED_MAX_CHANGES (VIGIL_MAX_SVC_BACKENDS + 1)

struct vigil_desired_backend {
	struct vigil_endpoint ep;
	/* The record vigilctl shows; since_wall_ns is left 0 (the publisher
	 * converts since_ns, a CLOCK_MONOTONIC time, when it writes). */
	struct vigil_backend_info info;
	__u64 since_ns;
	__u32 pkt_flags; /* flow policy on the packet datapath: VIGIL_XB_* */
};

struct vigil_desired {
	/* The serving set of both datapaths (service_id and version 0: the
	 * publisher stamps them). */
	struct vigil_backend_set set;
	size_t n_backends; /* config order */
	struct vigil_desired_backend backends[VIGIL_MAX_SVC_BACKENDS];
	/* What changed in this evaluation, to record and log; backend_index
	 * indexes backends[]. */
	size_t n_changes;
	struct vigil_det_change changes[VIGIL_DESIRED_MAX_CHANGES];
};

#endif
