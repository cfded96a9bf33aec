/* SPDX-License-Identifier: MIT */
#include "sock_census.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "netns.h"
#include "sock_census.skel.h"

struct listing {
	int link_fd;               /* the attached iterator */
	struct vigil_inflight *v;  /* what it wrote, every namespace so far */
	size_t n;
	int err;
	char ns[128];              /* where it failed */
};

/* Append what fd gives, whole records only (a record may be split across
 * reads: its start stays in buf until the rest comes). */
static int read_records(int fd, struct listing *l)
{
	struct vigil_inflight buf[64];
	size_t have = 0;
	ssize_t got;

	while ((got = read(fd, (char *)buf + have, sizeof(buf) - have)) > 0) {
		size_t whole;

		have += (size_t)got;
		whole = have / sizeof(buf[0]);
		for (size_t i = 0; i < whole; i++) {
			if (vigil_grow_rows((void **)&l->v, l->n, sizeof(*l->v)))
				return -ENOMEM;
			l->v[l->n++] = buf[i];
		}
		have -= whole * sizeof(buf[0]);
		memmove(buf, (char *)buf + whole * sizeof(buf[0]), have);
	}
	return got < 0 ? -errno : 0;
}

/* In one namespace (vigil_netns_visit_fn): an iterator created here lists
 * this namespace's sockets. */
static int list_namespace(const char *ns, void *arg)
{
	struct listing *l = arg;
	int fd = bpf_iter_create(l->link_fd), ret;

	if (fd < 0) {
		ret = -errno;
	} else {
		ret = read_records(fd, l);
		close(fd);
	}
	if (ret)
		snprintf(l->ns, sizeof(l->ns), "%s", ns);
	return ret;
}

static int load(struct sock_census_bpf **out, int sock_state_fd, char *err, size_t errlen)
{
	struct sock_census_bpf *skel = sock_census_bpf__open();
	int ret = skel ? bpf_map__reuse_fd(skel->maps.sock_state, sock_state_fd) : -errno;

	if (!ret)
		ret = sock_census_bpf__load(skel);
	if (ret) {
		snprintf(err, errlen, "cannot load the TCP socket iterator (iter/tcp, Linux 5.9+): %s",
			 strerror(-ret));
		sock_census_bpf__destroy(skel);
		return ret;
	}
	*out = skel;
	return 0;
}

/* Slot `slot` of sock_counts summed over CPUs, or 0. */
static __u64 count_of(int fd, __u32 slot, __u64 *per_cpu, int ncpus)
{
	__u64 sum = 0;

	if (bpf_map_lookup_elem(fd, &slot, per_cpu) == 0)
		for (int c = 0; c < ncpus; c++)
			sum += per_cpu[c];
	return sum;
}

/* Tracked sockets counted before the listing (tracked - released -
 * discounted) that it did not find, less those tracked meanwhile (any may
 * be among those found), are gone: discount them. vigild alone writes that
 * slot, so rewriting it races with no BPF update. */
static void discount_gone(int fd, __u64 counted, __u64 tracked_before, size_t found)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *per_cpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*per_cpu)) : NULL;
	__u32 slot = VIGIL_SOCK_DISCOUNTED;
	__u64 since, gone;

	if (!per_cpu)
		return;
	since = count_of(fd, VIGIL_SOCK_TRACKED, per_cpu, ncpus) - tracked_before;
	gone = counted > found + since ? counted - found - since : 0;
	if (gone && bpf_map_lookup_elem(fd, &slot, per_cpu) == 0) {
		per_cpu[0] += gone;
		bpf_map_update_elem(fd, &slot, per_cpu, BPF_ANY);
	}
	free(per_cpu);
}

/* What sock_counts says is tracked now, and how many were ever tracked. */
static __u64 counted_tracked(int fd, __u64 *tracked)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *per_cpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*per_cpu)) : NULL, gone;

	*tracked = 0;
	if (!per_cpu)
		return 0;
	*tracked = count_of(fd, VIGIL_SOCK_TRACKED, per_cpu, ncpus);
	gone = count_of(fd, VIGIL_SOCK_RELEASED, per_cpu, ncpus) +
	       count_of(fd, VIGIL_SOCK_DISCOUNTED, per_cpu, ncpus);
	free(per_cpu);
	return *tracked > gone ? *tracked - gone : 0;
}

int vigil_sock_census(int sock_state_fd, int sock_counts_fd, struct vigil_inflight **out,
		      char *err, size_t errlen)
{
	__u64 tracked_before, counted = counted_tracked(sock_counts_fd, &tracked_before);
	struct sock_census_bpf *skel = NULL;
	struct listing l = { 0 };
	struct bpf_link *link = NULL;
	int ret = load(&skel, sock_state_fd, err, errlen), enter_err = 0;

	if (!ret) {
		link = bpf_program__attach_iter(skel->progs.vigil_tracked_sockets, NULL);
		ret = link ? 0 : -errno;
		if (ret)
			snprintf(err, errlen, "cannot attach the TCP socket iterator: %s",
				 strerror(-ret));
	}
	if (!ret) {
		l.link_fd = bpf_link__fd(link);
		ret = vigil_netns_for_each(list_namespace, &l, &enter_err);
		if (ret == VIGIL_NETNS_STRANDED)
			ret = -EIO;
		else if (!ret)
			ret = enter_err; /* a namespace not listed: its sockets would look gone */
		if (ret)
			snprintf(err, errlen, "cannot list the TCP sockets of %s: %s",
				 l.ns[0] ? l.ns : "every network namespace", strerror(-ret));
	}
	bpf_link__destroy(link);
	sock_census_bpf__destroy(skel);
	if (ret) {
		free(l.v);
		return ret;
	}
	discount_gone(sock_counts_fd, counted, tracked_before, l.n);
	if (out)
		*out = l.v;
	else
		free(l.v);
	return (int)l.n;
}
