/* SPDX-License-Identifier: MIT */
/* Loads the maps-only object (bpf/state_maps.bpf.c) holding what vigild
 * publishes for vigilctl and what its failover engine writes, whichever
 * datapath serves: loaded whenever services are configured. */
#ifndef VIGIL_STATE_MAPS_H
#define VIGIL_STATE_MAPS_H

#include <stddef.h>

struct vigil_state_maps;

/* Map fds owned by the loaded object (valid until vigil_state_maps_stop). */
struct vigil_lb_maps {
	int service_sets, services, backend_info, admin, history, backend_health;
};

/* Load, reusing the maps pinned under pin_dir (backend_health is the
 * monitor's, service_sets the socket load balancer's). */
int vigil_state_maps_load(struct vigil_state_maps **out, const char *pin_dir, char *err,
			  size_t errlen);
void vigil_state_maps_fds(const struct vigil_state_maps *st, struct vigil_lb_maps *maps);
void vigil_state_maps_stop(struct vigil_state_maps *st);

#endif
