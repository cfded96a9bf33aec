/* SPDX-License-Identifier: MIT */
/*
 * Cluster mode (docs/cluster.md): vigild shares its verdicts through etcd
 * and acts on the other nodes'. Two threads of its own talk to etcd (one
 * keeps the node's lease and writes this node's verdicts, one watches the
 * others'), so etcd being slow or down never delays the tick; the main loop
 * polls vigil_cluster_fd() and applies what arrived with vigil_cluster_apply.
 */
#ifndef VIGIL_CLUSTER_H
#define VIGIL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"

struct vigil_cluster;
struct vigil_failover;
struct vigil_det_change;

/* NULL with err when cluster mode cannot start (not when etcd is down:
 * then it runs local-only and keeps trying). */
struct vigil_cluster *vigil_cluster_start(const struct vigil_cluster_cfg *cfg, char *err,
					  size_t errlen);
/* Revokes the node's lease (its verdicts vanish at once) and stops. */
void vigil_cluster_stop(struct vigil_cluster *c);

/* Readable when other nodes' verdicts arrived. */
int vigil_cluster_fd(const struct vigil_cluster *c);
/* Hand them to the failover engine. */
void vigil_cluster_apply(struct vigil_cluster *c, struct vigil_failover *fo, __u64 now_ns);
/* The failover engine's listener (vigil_failover_set_listener): shares this
 * node's own verdicts. */
void vigil_cluster_on_change(void *cluster, const char *service, const struct vigil_endpoint *ep,
			     const struct vigil_det_change *change);

struct vigil_cluster_status {
	bool connected;          /* etcd answered the last call */
	bool known;              /* etcd answered or failed at least once */
	char endpoint[128];      /* the member that answered last */
	char node[64];
	unsigned live_nodes;     /* nodes registered, this one included */
	size_t remote_verdicts;  /* other nodes' verdicts known */
	unsigned long long remote_acted; /* remote verdicts that changed a backend */
	unsigned long long published;    /* own verdicts written or removed */
	unsigned long long received;     /* other nodes' verdicts new to this node */
	unsigned long long suppressed;   /* own verdicts not written: others reported them,
					  * or a suspect was shared less than 1 s ago */
	unsigned long long resyncs;      /* full reads of every verdict */
};
/* From any thread (the metrics endpoint's too). */
void vigil_cluster_get_status(struct vigil_cluster *c, struct vigil_cluster_status *st);
/* enum vigil_cluster_state of a status (never VIGIL_CLUSTER_OFF). */
enum vigil_cluster_state vigil_cluster_state_of(const struct vigil_cluster_status *st);

#endif
