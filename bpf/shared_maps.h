/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Maps used by more than one BPF object. Each object declares them from here;
 * vigild pins them at one path so every object loads the same map. */
#ifndef VIGIL_BPF_SHARED_MAPS_H
#define VIGIL_BPF_SHARED_MAPS_H

/* Fast-path health per backend endpoint: written by the monitor on hard
 * failures, read by the socket load balancer on every connect(). Entries are
 * created by vigild for service backends only, so this is a plain hash. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_HEALTH);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_backend_health);
} backend_health SEC(".maps");

#endif
