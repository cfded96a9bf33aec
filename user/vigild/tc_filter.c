/* SPDX-License-Identifier: MIT */
#include "tc_filter.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <string.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>

/* Whether ifindex already has a clsact qdisc (1), none (0) or the question
 * could not be asked (-errno). Asked first because creating one that exists,
 * or attaching where none exists, is refused and libbpf logs the kernel's
 * refusal as a warning an operator would chase. */
static int clsact_present(int ifindex)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q = NULL;
	int ret = -ENOMEM;

	if (!sk)
		return ret;
	ret = nl_connect(sk, NETLINK_ROUTE) ?: rtnl_qdisc_alloc_cache(sk, &cache);
	if (ret) {
		ret = -EIO;
		goto out;
	}
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_CLSACT);
	ret = q && rtnl_tc_get_kind(TC_CAST(q)) && !strcmp(rtnl_tc_get_kind(TC_CAST(q)), "clsact");
	rtnl_qdisc_put(q);
out:
	nl_cache_free(cache);
	nl_socket_free(sk);
	return ret;
}

int vigil_tc_filter_attach(const struct vigil_tc_filter *f, int ifindex, int prog_fd,
			   const char **what)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = f->point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = prog_fd);
	int ret = clsact_present(ifindex);

	/* Unknown (netlink failed): create and accept "exists". */
	if (ret <= 0) {
		ret = bpf_tc_hook_create(&hook);
		if (ret && ret != -EEXIST) {
			*what = "creating the clsact qdisc";
			return ret;
		}
	}
	*what = "attaching";
	return bpf_tc_attach(&hook, &opts);
}

int vigil_tc_filter_detach(const struct vigil_tc_filter *f, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = f->point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority);

	return ifindex ? bpf_tc_detach(&hook, &opts) : -ENODEV;
}
