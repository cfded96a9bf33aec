/* SPDX-License-Identifier: MIT */
/* CLI state: vigilctl's view of the failover state vigild publishes in
 * pinned maps, and its admin commands (which write sets through the same
 * writer as vigild, svc_maps.h). Works with vigild stopped. */
#ifndef VIGIL_CLI_STATE_H
#define VIGIL_CLI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

struct vigil_cli_service_row {
	struct vigil_endpoint vip;
	struct vigil_service_info info;
	struct vigil_backend_set set;
	bool has_set;
};

struct vigil_cli_backend_row {
	struct vigil_svc_backend_key key;
	char service[VIGIL_NAME_LEN];
	struct vigil_backend_info info;
	double share; /* of new connections, from the current set's weights */
};

struct vigil_cli_state {
	struct vigil_cli_service_row *services;
	size_t n_services;
	struct vigil_cli_backend_row *backends;
	size_t n_backends;
};

/* Read services, sets and backend records (sorted by service name, VIP,
 * role, backend). Returns 0 or -errno with reason and fix in err. */
int vigil_cli_state_read(const char *pin_dir, struct vigil_cli_state *st, char *err, size_t errlen);
void vigil_cli_state_free(struct vigil_cli_state *st);

/* A dual-stack service has its backends under each of its VIPs: whether
 * backend row i is under the first VIP of its service (the row to show). */
bool vigil_cli_backend_first_vip(const struct vigil_cli_state *st, size_t i);

/* History records with seq > after_seq, oldest first. Caller frees *out. */
int vigil_cli_history_read(const char *pin_dir, __u64 after_seq, struct vigil_change **out,
			  size_t *n, char *err, size_t errlen);

/* Set the administrative state of backend in every VIP of service, then
 * rebuild and publish that service's set so the datapath follows at once,
 * whether or not vigild runs (vigild reads the same admin map and agrees). */
int vigil_cli_set_admin(const char *pin_dir, const char *service, const struct vigil_endpoint *backend,
		       enum vigil_admin_state admin, char *err, size_t errlen);

#endif
