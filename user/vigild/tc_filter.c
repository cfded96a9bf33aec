/* SPDX-License-Identifier: MIT */
#include "tc_filter.h"

#include <errno.h>

int vigil_tc_filter_attach(const struct vigil_tc_filter *f, int ifindex, int prog_fd,
			   const char **what)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = f->point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = prog_fd);
	int ret;

	*what = "attaching";
	/* The qdisc is created only when the filter finds none: creating it
	 * when it exists is refused, and libbpf logs the kernel's refusal. */
	if (bpf_tc_attach(&hook, &opts) == 0)
		return 0;
	opts.prog_id = 0;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST) {
		*what = "creating the clsact qdisc";
		return ret;
	}
	return bpf_tc_attach(&hook, &opts);
}

int vigil_tc_filter_detach(const struct vigil_tc_filter *f, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = f->point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f->handle, .priority = f->priority);

	return ifindex ? bpf_tc_detach(&hook, &opts) : -ENODEV;
}
