/* SPDX-License-Identifier: MIT */
/*
 * HAProxy's runtime API, the pure half (no sockets): the commands vigild
 * sends, the parsing of what HAProxy answers (`show servers state`, `show
 * stat`, the empty answer of a `set server`), and the services vigild makes
 * from the servers a backend lists (haproxy.backends entries that name no
 * configured service). The socket half is user/vigild/haproxy.c;
 * docs/integrations.md explains the mapping.
 */
#ifndef VIGIL_HAPROXY_TABLE_H
#define VIGIL_HAPROXY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"

/* srv_op_state of `show servers state` (HAProxy's enum srv_state). */
#define VIGIL_HP_OP_STOPPED 0
/* srv_admin_state bits (HAProxy's SRV_ADMF_*) vigil sets or respects. */
#define VIGIL_HP_ADMF_FMAINT 0x01 /* forced into maintenance (state maint) */
#define VIGIL_HP_ADMF_CMAINT 0x04 /* "disabled" in haproxy.cfg */
#define VIGIL_HP_ADMF_FDRAIN 0x08 /* forced into drain (state drain) */
/* srv_check_state: HAProxy runs health checks on the server. */
#define VIGIL_HP_CHK_ENABLED 0x04

/* One server of a backend, as the runtime API lists it. */
struct vigil_hp_server {
	char backend[VIGIL_LB_NAME_LEN];
	char name[VIGIL_LB_NAME_LEN];
	struct vigil_endpoint ep; /* family 0: no usable address (unresolved, unix socket) */
	__u32 weight;             /* srv_uweight */
	__u32 op_state;           /* srv_op_state */
	__u32 admin_flags;        /* srv_admin_state */
	bool checked;             /* HAProxy health-checks it */
	bool backup;              /* "backup" in haproxy.cfg (bck of show stat) */
};

struct vigil_hp_table {
	struct vigil_hp_server *srv;
	size_t n;
};

void vigil_hp_table_free(struct vigil_hp_table *t);

/* The discovery request: per backend of cfg, `show servers state B` and
 * `show stat B 4 -1` (its servers, for the backup flag), on one line. */
int vigil_hp_discovery_request(const struct vigil_haproxy_cfg *cfg, char *buf, size_t len);

/* Splits the answer to a line of n commands into their outputs: each ends
 * with an empty line; an output is empty when the command succeeded
 * silently (every `set server`). out[i] points into text, which is
 * modified (NUL at the end of each output). Returns the number of complete
 * outputs found (< n: the answer was cut short). */
size_t vigil_hp_split_answers(char *text, char **out, size_t n);

/* The answer to vigil_hp_discovery_request into *t (replaced). 0, or
 * -EINVAL with what was wrong in err (a backend HAProxy does not know is no
 * error: it has no servers). */
int vigil_hp_parse_discovery(char *text, const struct vigil_haproxy_cfg *cfg,
			     struct vigil_hp_table *t, char *err, size_t errlen);

/* Servers of backend whose address is ep: indexes into t->srv, at most max. */
size_t vigil_hp_find(const struct vigil_hp_table *t, const char *backend,
		     const struct vigil_endpoint *ep, size_t *idx, size_t max);

/* The services vigild makes for the derived entries of cfg->haproxy from t:
 * one per backend with at least one server with an address, its primaries
 * and backups (weights from HAProxy, at least 1) in server order; an address
 * listed twice is one backend. *out is calloc'ed (NULL when n is 0). Servers
 * beyond what a service holds are left out and said in note (else ""). */
int vigil_hp_derive(const struct vigil_config *cfg, const struct vigil_hp_table *t,
		    struct vigil_service_cfg **out, size_t *n, char *note, size_t notelen);

/* The running config with its derived services replaced by svcs: dst is a
 * new config (free with vigil_config_free). -E2BIG when the maps cannot hold
 * the result (err says why), -ENOMEM. */
int vigil_hp_config_with(const struct vigil_config *cfg, const struct vigil_service_cfg *svcs,
			 size_t n, struct vigil_config *dst, char *err, size_t errlen);

/* True when the derived services of cfg are exactly svcs (names, backends,
 * weights, roles): nothing to reload. */
bool vigil_hp_same_derived(const struct vigil_config *cfg, const struct vigil_service_cfg *svcs,
			   size_t n);

#endif
