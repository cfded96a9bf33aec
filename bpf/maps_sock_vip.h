/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Which service a socket of lb.cgroup connected to: written by connect4|6
 * (bpf/sock_lb.bpf.c), read by getpeername4|6 and by the rescue of a failed
 * connect (bpf/sock_rescue.bpf.c); pinned by name, so both objects share it. */
#ifndef VIGIL_BPF_MAPS_SOCK_VIP_H
#define VIGIL_BPF_MAPS_SOCK_VIP_H

/* Socket cookie -> the virtual address the application asked for. LRU: an
 * entry of a closed socket is simply recycled. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_SOCK_VIP);
	__type(key, __u64);
	__type(value, struct vigil_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_vip SEC(".maps");

#endif
