/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The per-socket storage (struct vigil_sock_state) of the monitor and the
 * socket load balancer: pinned by name, so both objects use one map and a
 * socket carries one storage for both. */
#ifndef VIGIL_BPF_MAPS_SOCK_H
#define VIGIL_BPF_MAPS_SOCK_H

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vigil_sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_state SEC(".maps");

#endif
