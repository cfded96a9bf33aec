/* SPDX-License-Identifier: MIT */
/*
 * Cluster mode (docs/cluster.md), the pure part: the etcd key layout and
 * what this node knows of the others (pure C, no I/O; vigild's cluster.c
 * feeds it from etcd and acts on what it says).
 *
 * Keys, under the configured prefix P:
 *   P nodes/NODE                     a live node (under the node's lease)
 *   P verdicts/SERVICE/BACKEND/NODE  NODE has BACKEND of SERVICE out of
 *                                    service; the value names the kind
 * A verdict key exists only while its node keeps the backend ejected, and
 * vanishes with the node's lease when the node dies.
 */
#ifndef VIGIL_CLUSTER_VIEW_H
#define VIGIL_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vigil/abi.h>

#define VIGIL_NODE_LEN 64

enum vigil_verdict_kind {
	VIGIL_VERDICT_NONE = 0,    /* not shared (probing, admin, remote-derived) */
	VIGIL_VERDICT_HARD = 1,    /* refused, reset, stuck connect or request, failed probe */
	VIGIL_VERDICT_OUTLIER = 2, /* error ratio, slow */
	VIGIL_VERDICT_SUSPECT = 3, /* a first hard failure, not yet enough to eject: others
				    * check it as they check a hard verdict */
};

/* The kind of verdict an ejection by rule is shared as. */
enum vigil_verdict_kind vigil_verdict_kind_of(enum vigil_rule rule);
const char *vigil_verdict_kind_name(enum vigil_verdict_kind k);
enum vigil_verdict_kind vigil_verdict_kind_parse(const char *s);

enum vigil_cluster_key_type { VIGIL_CKEY_OTHER, VIGIL_CKEY_NODE, VIGIL_CKEY_VERDICT };

struct vigil_cluster_key {
	enum vigil_cluster_key_type type;
	char node[VIGIL_NODE_LEN];
	char service[VIGIL_NAME_LEN];
	struct vigil_endpoint backend;
};

/* key (a full etcd key) under prefix; VIGIL_CKEY_OTHER for anything else. */
void vigil_cluster_key_parse(const char *prefix, const char *key, struct vigil_cluster_key *out);
/* Returns the length written, or -1 when it does not fit. */
int vigil_cluster_key_verdict(char *buf, size_t len, const char *prefix, const char *service,
			      const struct vigil_endpoint *backend, const char *node);
int vigil_cluster_key_node(char *buf, size_t len, const char *prefix, const char *node);

/* Every other node's verdicts and the live nodes, as last seen in etcd. */
struct vigil_cview;
struct vigil_cview *vigil_cview_new(void);
void vigil_cview_free(struct vigil_cview *v);
/* Forget everything. */
void vigil_cview_clear(struct vigil_cview *v);
/* A full re-read (after a broken watch): mark every verdict stale and forget
 * the nodes; the re-read puts refresh what still exists (news only where the
 * revision changed, so a verdict acted on before is not acted on again), and
 * the sweep drops the verdicts that vanished meanwhile. */
void vigil_cview_mark_stale(struct vigil_cview *v);
void vigil_cview_sweep_stale(struct vigil_cview *v);

/* A verdict put; returns true when it is news: a key not known before or
 * written again since (a new mod_revision), false for a repeat. */
bool vigil_cview_put(struct vigil_cview *v, const struct vigil_cluster_key *k,
		     enum vigil_verdict_kind kind, int64_t mod_revision);
void vigil_cview_del(struct vigil_cview *v, const struct vigil_cluster_key *k);
void vigil_cview_node(struct vigil_cview *v, const char *node, bool alive);

/* Nodes other than self reporting backend of service with this kind. */
unsigned vigil_cview_reporters(const struct vigil_cview *v, const char *service,
			       const struct vigil_endpoint *backend, enum vigil_verdict_kind kind);
/* Live nodes, self included when it registered. */
unsigned vigil_cview_live_nodes(const struct vigil_cview *v);
size_t vigil_cview_verdicts(const struct vigil_cview *v);

#endif
