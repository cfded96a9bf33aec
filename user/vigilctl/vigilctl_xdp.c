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

#include "counter_names.h"
#include "heartbeat.h"
#include "maps.h"
#include "vigilctl.h"

/* Sum over CPUs of entries [0, n) of the per-CPU array pinned as name.
 * Returns 0, or 1 with the reason printed. */
static int read_counters(const char *pin_dir, const char *name, __u32 n, __u64 *sum)
{
	char err[512];

	if (vigil_percpu_sum(pin_dir, name, n, sum, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "vigilctl: %s (the load balancer runs only for services with datapath xdp "
		"or both)\n", err);
	return 1;
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
			json_object_set_new(obj, vigil_xdp_counter_names[i].name, json_integer((json_int_t)sum[i]));
		for (int i = 0; i < VIGIL_DROP_REASONS; i++)
			json_object_set_new(by_reason, vigil_drop_names[i].name,
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
		printf("%-16s %14llu  %s\n", vigil_xdp_counter_names[i].name, (unsigned long long)sum[i],
		       vigil_xdp_counter_names[i].meaning);
	printf("\n%-16s %14s  %s\n", "DROP REASON", "PACKETS", "MEANING");
	for (int i = 0; i < VIGIL_DROP_REASONS; i++)
		printf("%-16s %14llu  %s\n", vigil_drop_names[i].name, (unsigned long long)dropped[i],
		       vigil_drop_names[i].meaning);
	return 0;
}
