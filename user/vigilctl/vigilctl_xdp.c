/* SPDX-License-Identifier: MIT */
/* vigilctl xdp: the packet load balancer's counters and drops by reason (XDP
 * and tc entries). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heartbeat.h"
#include "maps.h"
#include "vigilctl.h"

struct xdp_counter_desc {
	const char *name;
	const char *meaning;
};

/* Indexed by enum vigil_xdp_counter. */
static const struct xdp_counter_desc counters[VIGIL_XDP_COUNTERS] = {
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
};

/* Indexed by enum vigil_drop_reason. */
static const struct xdp_counter_desc drops[VIGIL_DROP_REASONS] = {
	[VIGIL_DROP_NO_BACKEND] = { "no_backend", "for a VIP, no backend of the packet's family" },
	[VIGIL_DROP_REDIRECT_MISS] = { "redirect_miss",
				       "XDP: egress left the device map after the flow cached it" },
	[VIGIL_DROP_REDIRECT] = { "redirect", "tc: bpf_redirect/bpf_redirect_neigh refused" },
	[VIGIL_DROP_NAT_REWRITE] = { "nat_rewrite", "tc: a helper refused the address/port rewrite" },
	[VIGIL_DROP_HOP_REWRITE] = { "hop_rewrite", "tc: the TTL/hop-limit decrement was refused" },
	[VIGIL_DROP_MAC_REWRITE] = { "mac_rewrite", "tc: storing the next hop's MACs was refused" },
};

/* Sum over CPUs of entries [0, n) of the per-CPU array pinned as name.
 * Returns 0, or 1 with the reason printed. */
static int read_counters(const char *pin_dir, const char *name, __u32 n, __u64 *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	char err[512];
	__u64 *per_cpu;
	int fd = vigil_pin_open(pin_dir, name, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
				sizeof(__u64), err, sizeof(err));

	if (fd < 0) {
		fprintf(stderr, "vigilctl: %s (the load balancer runs only for services with "
			"datapath xdp or both)\n", err);
		return 1;
	}
	per_cpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*per_cpu)) : NULL;
	for (__u32 i = 0; per_cpu && i < n; i++) {
		sum[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, per_cpu) == 0)
			for (int c = 0; c < ncpus; c++)
				sum[i] += per_cpu[c];
	}
	close(fd);
	if (!per_cpu) {
		fprintf(stderr, "vigilctl: out of memory reading %s\n", name);
		return 1;
	}
	free(per_cpu);
	return 0;
}

int cmd_xdp(const struct global_opts *g, int argc, char **argv)
{
	static const char usage[] = "usage: vigilctl xdp [--json]\n";
	__u64 sum[VIGIL_XDP_COUNTERS], dropped[VIGIL_DROP_REASONS];
	bool json = false;
	int ret = ctl_parse_flags(argc, argv, &json, NULL, 0, usage);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (read_counters(g->pin_dir, VIGIL_PIN_XDP_STATS, VIGIL_XDP_COUNTERS, sum) ||
	    read_counters(g->pin_dir, VIGIL_PIN_XDP_DROPS, VIGIL_DROP_REASONS, dropped))
		return 1;
	if (json) {
		json_t *obj = json_object(), *by_reason = json_object(), *root;

		for (int i = 0; i < VIGIL_XDP_COUNTERS; i++)
			json_object_set_new(obj, counters[i].name, json_integer((json_int_t)sum[i]));
		for (int i = 0; i < VIGIL_DROP_REASONS; i++)
			json_object_set_new(by_reason, drops[i].name,
					    json_integer((json_int_t)dropped[i]));
		root = json_pack("{s:i, s:o, s:o}", "schema", 1, "counters", obj, "drops",
				 by_reason);
		ctl_vigild_add(root);
		ret = json_dumpf(root, stdout, JSON_COMPACT);
		json_decref(root);
		putchar('\n');
		return ret ? 1 : 0;
	}
	printf("%-16s %14s  %s\n", "COUNTER", "PACKETS", "MEANING");
	for (int i = 0; i < VIGIL_XDP_COUNTERS; i++)
		printf("%-16s %14llu  %s\n", counters[i].name, (unsigned long long)sum[i],
		       counters[i].meaning);
	printf("\n%-16s %14s  %s\n", "DROP REASON", "PACKETS", "MEANING");
	for (int i = 0; i < VIGIL_DROP_REASONS; i++)
		printf("%-16s %14llu  %s\n", drops[i].name, (unsigned long long)dropped[i],
		       drops[i].meaning);
	return 0;
}
