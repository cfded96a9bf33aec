/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Signal maps shared by the socket monitor and the XDP datapath; vigild pins
 * them at one path so both objects load the same maps. */
#ifndef VIGIL_BPF_MAPS_SIGNALS_H
#define VIGIL_BPF_MAPS_SIGNALS_H

#include "maps_loss.h" /* every object writing these maps can lose data */

/* Per backend endpoint, client-side signals: the socket monitor and the XDP
 * datapath's passive health both count here so every detector rule works for
 * both datapaths. LRU so watch_all cannot exhaust memory. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, VIGIL_MAX_BACKENDS);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_backend_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backend_stats SEC(".maps");

/* XDP connections in flight: a SYN waiting for its SYN-ACK, keyed by flow
 * hash. LRU so an entry whose answer was never seen cannot pin memory. The
 * monitor keeps its sockets' state in socket-local storage (sock_state,
 * maps_sock.h) and does not write this map; it is declared here so that
 * both objects pin one map and vigild reads it through either. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct vigil_pkt_inflight);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} inflight SEC(".maps");

/* One record per hard failure, consumed by vigild. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VIGIL_EVENT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

#endif
