/* SPDX-License-Identifier: MIT */
/* The cluster: section (docs/cluster.md): sharing verdicts through etcd. */
#ifndef VIGIL_CONFIG_CLUSTER_H
#define VIGIL_CONFIG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#define VIGIL_CLUSTER_MAX_ENDPOINTS 8

struct vigil_cluster_cfg {
	bool enabled;                  /* the section is present */
	char endpoints[VIGIL_CLUSTER_MAX_ENDPOINTS][128]; /* http(s)://HOST:PORT */
	size_t n_endpoints;
	char node[64];                 /* this node's name; "" = the host name */
	char prefix[128];              /* key prefix, "/vigil/" by default */
	unsigned lease_ttl_s;          /* verdicts vanish this long after their node died */
	unsigned timeout_ms;           /* per etcd request and endpoint */
	double outlier_quorum;         /* share of live nodes that must report an outlier */
	char ca_file[256], cert_file[256], key_file[256]; /* TLS, "" = none */
};

void vigil_cluster_cfg_defaults(struct vigil_cluster_cfg *cc);

#endif
