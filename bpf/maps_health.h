/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The fast-path health map, shared by the monitor, the socket load balancer
 * and the XDP datapath; vigild pins it at one path so all load the same map. */
#ifndef VIGIL_BPF_MAPS_HEALTH_H
#define VIGIL_BPF_MAPS_HEALTH_H

/* Fast-path health per backend endpoint: written by the monitor on hard
 * failures, read by the socket load balancer on every connect(). Entries are
 * created by vigild for service backends only, so this is a plain hash. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_HEALTH);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_backend_health);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backend_health SEC(".maps");

#endif
