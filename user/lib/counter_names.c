/* SPDX-License-Identifier: MIT */
#include "counter_names.h"

const struct vigil_counter_name vigil_loss_names[VIGIL_LOSS_REASONS] = {
	[VIGIL_LOSS_RINGBUF_FULL] = { "ringbuf_full", "events ring buffer full: failure events lost" },
	[VIGIL_LOSS_INFLIGHT_FULL] = { "inflight_full", "in-flight state not stored: connection "
				       "untracked" },
	[VIGIL_LOSS_SOCK_VIP_FULL] = { "sock_vip_full", "socket storage for the VIP not created: "
				       "peer name not kept" },
	[VIGIL_LOSS_BACKEND_STATS_FULL] = { "backend_stats_full",
					    "backend_stats insert refused: signals lost" },
	[VIGIL_LOSS_LOCAL_STATS_FULL] = { "local_stats_full",
					  "local_stats insert refused: signals lost" },
	[VIGIL_LOSS_RESCUE_FULL] = { "rescue_full",
				     "rescue_flows insert refused: a connect not rescued" },
};

const struct vigil_counter_name vigil_rescue_names[VIGIL_RESCUE_COUNTERS] = {
	[VIGIL_RESCUE_MOVED] = { "moved", "connects moved to a healthy backend" },
	[VIGIL_RESCUE_RST_WITHHELD] = { "refusals_withheld",
					"refused connects retried elsewhere (RST withheld)" },
	[VIGIL_RESCUE_RST_PASSED] = { "refusals_passed",
				      "refusals let through: refused twice, or nowhere to go" },
	[VIGIL_RESCUE_NO_TARGET] = { "no_target", "connects to a failed backend, none healthy" },
	[VIGIL_RESCUE_LATE_DROPPED] = { "late_dropped",
					"packets of the backend a connect left, dropped" },
	[VIGIL_RESCUE_REWRITE_FAILED] = { "rewrite_failed",
					  "packets dropped: a checksum/store helper failed" },
	[VIGIL_RESCUE_PORT_BUSY] = { "port_busy",
				     "SYNs held back, moves put off: 4-tuple in use" },
};

const struct vigil_counter_name vigil_xdp_counter_names[VIGIL_XDP_COUNTERS] = {
	[VIGIL_XDP_PASS_OTHER] = { "pass_other", "TCP not for a VIP nor a known reply: passed" },
	[VIGIL_XDP_FORWARDED] = { "forwarded", "client -> backend, rewritten" },
	[VIGIL_XDP_REVERSED] = { "reversed", "backend -> client, rewritten" },
	[VIGIL_XDP_NEW_FLOWS] = { "new_flows", "connections placed by the Maglev table" },
	[VIGIL_XDP_RESELECTED] = { "reselected", "flows moved off a backend they may not keep" },
	[VIGIL_XDP_PASS_MALFORMED] = { "pass_malformed", "TCP header truncated: passed" },
	[VIGIL_XDP_PASS_NOT_TCP] = { "pass_not_tcp", "not whole IPv4/IPv6 TCP: passed" },
	[VIGIL_XDP_DROP_NO_BACKEND] = { "drop_no_backend", "for a VIP, no backend to give: dropped" },
	[VIGIL_XDP_FWD_DIRECT] = { "fwd_direct", "sent out by the program (TX/redirect)" },
	[VIGIL_XDP_FWD_KERNEL] = { "fwd_kernel", "rewritten, left to the kernel's forwarding" },
	[VIGIL_XDP_RESCUED] = { "rescued", "connects moved off a backend that refused or failed them" },
};

const struct vigil_counter_name vigil_drop_names[VIGIL_DROP_REASONS] = {
	[VIGIL_DROP_NO_BACKEND] = { "no_backend", "for a VIP, no backend of the packet's family" },
	[VIGIL_DROP_REDIRECT_MISS] = { "redirect_miss",
				       "XDP: egress left the device map after the flow cached it" },
	[VIGIL_DROP_REDIRECT] = { "redirect", "tc: bpf_redirect/bpf_redirect_neigh refused" },
	[VIGIL_DROP_NAT_REWRITE] = { "nat_rewrite", "tc: a helper refused the address/port rewrite" },
	[VIGIL_DROP_HOP_REWRITE] = { "hop_rewrite", "tc: the TTL/hop-limit decrement was refused" },
	[VIGIL_DROP_MAC_REWRITE] = { "mac_rewrite", "tc: storing the next hop's MACs was refused" },
	[VIGIL_DROP_RST_WITHHELD] = { "rst_withheld",
				      "a refusing RST kept from the client: its SYN is rescued" },
};

const char *const vigil_fill_names[VIGIL_FILL_MAPS] = {
	[VIGIL_FILL_INFLIGHT] = VIGIL_PIN_INFLIGHT,
	[VIGIL_FILL_BACKEND_STATS] = VIGIL_PIN_BACKEND_STATS,
	[VIGIL_FILL_LOCAL_STATS] = VIGIL_PIN_LOCAL_STATS,
	[VIGIL_FILL_RESCUE_FLOWS] = VIGIL_PIN_RESCUE_FLOWS,
};
