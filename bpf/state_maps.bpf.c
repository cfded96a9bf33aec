// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Maps only, no program: the state vigild publishes for vigilctl (services,
 * backend_info, admin, history) and the maps its failover engine writes
 * whatever the datapath (service_sets, backend_health). vigild loads this
 * object whenever services are configured; the socket load balancer
 * (bpf/sock_lb.bpf.c) is loaded only when a service uses it, and reuses
 * service_sets and backend_health from their pins. lb_feeds holds vigild's
 * counters of the pushes into the load balancers it feeds (struct
 * vigil_feed_stats). (vigild's heartbeat is in the monitor, which is always
 * loaded.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <vigil/abi.h>
#include "maps_health.h"
#include "maps_sets.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES);
	__type(key, struct vigil_endpoint);
	__type(value, struct vigil_service_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES * VIGIL_MAX_SVC_BACKENDS);
	__type(key, struct vigil_svc_backend_key);
	__type(value, struct vigil_backend_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backend_info SEC(".maps");

/* Administrative states set by vigilctl; survive vigild restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_SERVICES * VIGIL_MAX_SVC_BACKENDS);
	__type(key, struct vigil_svc_backend_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} admin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_HISTORY_SLOTS);
	__type(key, __u32);
	__type(value, struct vigil_change);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} history SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_FEED_SLOTS);
	__type(key, __u32);
	__type(value, struct vigil_feed_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_feeds SEC(".maps");
