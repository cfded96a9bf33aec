/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The socket load balancer's backend sets: read by bpf/sock_lb.bpf.c on every
 * connect(), written by vigild through bpf/state_maps.bpf.c (loaded whatever
 * the datapath, so the engine and vigilctl always have it); both objects pin
 * it at one path and so share the one map. */
#ifndef VIGIL_BPF_MAPS_SETS_H
#define VIGIL_BPF_MAPS_SETS_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_backend_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} service_sets SEC(".maps");

#endif
