/* SPDX-License-Identifier: MIT */
/* Loads the maps-only object (bpf/state_maps.bpf.c) holding the service maps
 * (svc_maps.h): what vigild publishes for vigilctl and what its failover
 * engine writes, whichever datapath serves. Loaded whenever services are
 * configured; the socket datapath (sock_dp.h) only when a service uses it. */
#ifndef VIGIL_STATE_MAPS_H
#define VIGIL_STATE_MAPS_H

#include <stddef.h>

#include "svc_maps.h"

struct vigil_state_maps;

/* Load, reusing the maps pinned under pin_dir (backend_health is the
 * monitor's, service_sets shared with the socket datapath). */
int vigil_state_maps_load(struct vigil_state_maps **out, const char *pin_dir, char *err,
			  size_t errlen);
/* The service maps, owned by the loaded object (valid until
 * vigil_state_maps_stop). */
void vigil_state_maps_fds(const struct vigil_state_maps *st, struct vigil_svc_maps *maps);
/* The lb_feeds map (struct vigil_feed_stats), -1 when st is NULL. */
int vigil_state_maps_lb_feeds_fd(const struct vigil_state_maps *st);
void vigil_state_maps_stop(struct vigil_state_maps *st);

/* The loaded object (its maps' pin paths and fds: vigild restores lost pins). */
struct bpf_object;
const struct bpf_object *vigil_state_maps_object(const struct vigil_state_maps *st);

#endif
