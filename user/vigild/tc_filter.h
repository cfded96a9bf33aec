/* SPDX-License-Identifier: MIT */
/* vigild's tc clsact filters (the packet datapath's tc hook, the socket
 * rescue): each use has a fixed handle and priority, so a restart replaces
 * its filter in place (BPF_TC_F_REPLACE) and a detach removes exactly it,
 * never another tool's filter on the same qdisc. */
#ifndef VIGIL_TC_FILTER_H
#define VIGIL_TC_FILTER_H

#include <bpf/libbpf.h>

struct vigil_tc_filter {
	enum bpf_tc_attach_point point; /* BPF_TC_INGRESS or BPF_TC_EGRESS */
	__u32 handle, priority;
};

/* Attach prog_fd as filter f of ifindex (in the calling thread's network
 * namespace), creating the clsact qdisc if needed. 0 or -errno; *what gets
 * the step that failed ("creating the clsact qdisc", "attaching"). */
int vigil_tc_filter_attach(const struct vigil_tc_filter *f, int ifindex, int prog_fd,
			   const char **what);

/* Remove filter f of ifindex; the clsact qdisc stays (other tools may have
 * filters on it). 0, or -errno (-ENOENT: there was none). */
int vigil_tc_filter_detach(const struct vigil_tc_filter *f, int ifindex);

#endif
