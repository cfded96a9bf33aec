// SPDX-License-Identifier: MIT
/*
 * bpf_floor: loads tests/bench/floor.bpf.c on the hooks vigil uses and holds
 * it until SIGTERM or SIGINT, for scripts/bench.sh (FLOOR=1), which reads
 * the programs' run_time_ns / run_cnt under kernel.bpf_stats_enabled while
 * its loads run. Figures come from the script; this only attaches.
 *
 *   bpf_floor --cgroup DIR --netns PATH --ifname NAME --ready FILE
 *             [--connect4 empty|store|lookup|draw|choose|vigil|lru]
 *             [--vip ADDR:PORT --backend ADDR:PORT...]
 *
 * Attached: tp_btf sock_send_length, sock_recv_length, inet_sock_set_state
 * (every socket of the host); sockops and cgroup/connect4 on DIR; tc clsact
 * ingress and egress of NAME in the network namespace PATH (vigil's socket
 * rescue attaches there). --connect4 picks the connect4 program (default
 * empty); lookup, draw, choose, vigil and lru need the service (--vip, --backend),
 * which goes into the object's own service_sets and backend_health (nothing
 * pinned: vigild's maps are not touched). Root; under the net lock.
 * Exit 0 after a signal, 1 on an error (said on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "set_slots.h"
#include "bench/floor.skel.h"

#define MAX_BACKENDS 8
/* Handle and priority of our tc filters: not vigild's (tc_filter.c users),
 * so a stray one could never be mistaken for the rescue. */
#define FLOOR_TC_HANDLE 0xf1
#define FLOOR_TC_PRIO 0xf1

struct opts {
	const char *cgroup, *netns, *ifname, *ready, *connect4;
	struct vigil_endpoint vip;
	struct vigil_endpoint backends[MAX_BACKENDS];
	int n_backends;
	bool has_vip;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "bpf_floor: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: bpf_floor --cgroup DIR --netns PATH --ifname NAME --ready FILE\n"
			"                 [--connect4 empty|store|lookup|draw|choose|vigil|lru]\n"
			"                 [--vip ADDR:PORT --backend ADDR:PORT...]\n");
	return 1;
}

static int parse_endpoint(const char *text, struct vigil_endpoint *ep)
{
	const char *why = "";

	if (vigil_endpoint_parse_why(text, ep, &why) == 0)
		return 0;
	fprintf(stderr, "bpf_floor: %s: %s\n", text, why);
	return -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "cgroup", required_argument, NULL, 'c' }, { "netns", required_argument, NULL, 'n' },
		{ "ifname", required_argument, NULL, 'i' }, { "ready", required_argument, NULL, 'r' },
		{ "connect4", required_argument, NULL, '4' }, { "vip", required_argument, NULL, 'v' },
		{ "backend", required_argument, NULL, 'b' }, { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .connect4 = "empty" };
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'c': o->cgroup = optarg; break;
		case 'n': o->netns = optarg; break;
		case 'i': o->ifname = optarg; break;
		case 'r': o->ready = optarg; break;
		case '4': o->connect4 = optarg; break;
		case 'v':
			if (parse_endpoint(optarg, &o->vip))
				return -1;
			o->has_vip = true;
			break;
		case 'b':
			if (o->n_backends == MAX_BACKENDS) {
				fprintf(stderr, "bpf_floor: more than %d backends\n", MAX_BACKENDS);
				return -1;
			}
			if (parse_endpoint(optarg, &o->backends[o->n_backends]))
				return -1;
			o->n_backends++;
			break;
		default: return -1;
		}
	}
	if (!o->cgroup || !o->netns || !o->ifname || !o->ready || optind != argc)
		return -1;
	return 0;
}

/* The connect4 program of a --connect4 name, NULL if none. */
static struct bpf_program *connect4_prog(struct floor_bpf *skel, const char *name)
{
	static const char *const names[] = { "empty", "store", "lookup", "draw", "choose", "vigil", "lru" };
	struct bpf_program *progs[] = { skel->progs.floor_connect4, skel->progs.floor_c4_store,
					skel->progs.floor_c4_lookup, skel->progs.floor_c4_draw,
					skel->progs.floor_c4_choose, skel->progs.vigil_connect4,
					skel->progs.floor_c4_lru };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return progs[i];
	return NULL;
}

/* Only the chosen connect4 and the hook programs load; nothing is pinned. */
static void select_programs(struct floor_bpf *skel, const struct bpf_program *c4)
{
	struct bpf_program *p;
	struct bpf_map *m;

	bpf_object__for_each_program(p, skel->obj)
		if (bpf_program__expected_attach_type(p) == BPF_CGROUP_INET4_CONNECT ||
		    bpf_program__expected_attach_type(p) == BPF_CGROUP_INET6_CONNECT ||
		    bpf_program__expected_attach_type(p) == BPF_CGROUP_INET4_GETPEERNAME ||
		    bpf_program__expected_attach_type(p) == BPF_CGROUP_INET6_GETPEERNAME)
			bpf_program__set_autoload(p, p == c4);
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	/* Preallocated: only the run that uses it pays its ~20 MiB. */
	if (c4 != skel->progs.floor_c4_lru)
		bpf_map__set_max_entries(skel->maps.floor_vip_lru, 1);
}

/* The service as vigild publishes it: one set, slot tables built the same
 * way (vigil_set_slots_build), a health entry per backend, none down. */
static int publish_service(struct floor_bpf *skel, const struct opts *o)
{
	struct vigil_backend_set set = { .service_id = 1, .version = 1 };
	struct vigil_backend_health h = {};

	for (int i = 0; i < o->n_backends; i++) {
		set.entries[i] = (struct vigil_set_entry){ .backend = o->backends[i], .weight = 1 };
		if (bpf_map__update_elem(skel->maps.backend_health, &o->backends[i], sizeof(o->backends[i]),
					 &h, sizeof(h), BPF_ANY))
			return -errno;
	}
	set.count = set.n_preferred = set.total_weight = (__u32)o->n_backends;
	vigil_set_slots_build(&set);
	if (bpf_map__update_elem(skel->maps.service_sets, &o->vip, sizeof(o->vip), &set, sizeof(set),
				 BPF_ANY))
		return -errno;
	return 0;
}

/* sockops in the skeleton's links, connect4 in *c4_link. */
static int attach_cgroup(struct floor_bpf *skel, struct bpf_program *c4, const char *cgroup,
			 struct bpf_link **c4_link)
{
	int fd = open(cgroup, O_RDONLY | O_DIRECTORY), ret = 0;

	if (fd < 0)
		return -errno;
	skel->links.floor_sockops = bpf_program__attach_cgroup(skel->progs.floor_sockops, fd);
	if (skel->links.floor_sockops)
		*c4_link = bpf_program__attach_cgroup(c4, fd);
	if (!*c4_link)
		ret = -errno;
	close(fd);
	return ret;
}

static int attach_tracepoints(struct floor_bpf *skel)
{
	skel->links.floor_send_length = bpf_program__attach(skel->progs.floor_send_length);
	if (skel->links.floor_send_length)
		skel->links.floor_recv_length = bpf_program__attach(skel->progs.floor_recv_length);
	if (skel->links.floor_recv_length)
		skel->links.floor_set_state = bpf_program__attach(skel->progs.floor_set_state);
	return skel->links.floor_set_state ? 0 : -errno;
}

static int enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		ret = -errno;
	close(fd);
	return ret;
}

struct tc_state {
	int ifindex;
	bool in, out, qdisc_made;
};

static int tc_attach(struct tc_state *tc, enum bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLOOR_TC_HANDLE, .priority = FLOOR_TC_PRIO,
		    .prog_fd = prog_fd);

	return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(struct tc_state *tc)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FLOOR_TC_HANDLE, .priority = FLOOR_TC_PRIO);

	hook.attach_point = BPF_TC_INGRESS;
	if (tc->in)
		bpf_tc_detach(&hook, &opts);
	hook.attach_point = BPF_TC_EGRESS;
	if (tc->out)
		bpf_tc_detach(&hook, &opts);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	if (tc->qdisc_made)
		bpf_tc_hook_destroy(&hook);
}

static int attach_tc(struct floor_bpf *skel, struct tc_state *tc, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	int ret;

	tc->ifindex = (int)if_nametoindex(ifname);
	if (!tc->ifindex)
		return -errno;
	hook.ifindex = tc->ifindex;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	tc->qdisc_made = ret == 0;
	ret = tc_attach(tc, BPF_TC_INGRESS, bpf_program__fd(skel->progs.floor_tc_in));
	tc->in = ret == 0;
	if (!ret)
		ret = tc_attach(tc, BPF_TC_EGRESS, bpf_program__fd(skel->progs.floor_tc_out));
	tc->out = tc->in && ret == 0;
	return ret;
}

static int write_ready(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", getpid());
	return fclose(f) ? -errno : 0;
}

/* Attach everything, say so in the ready file, wait for a signal. */
static int run(struct floor_bpf *skel, const struct opts *o, struct bpf_program *c4,
	       struct bpf_link **c4_link, struct tc_state *tc, const sigset_t *unblocked)
{
	int ret;

	select_programs(skel, c4);
	if ((ret = floor_bpf__load(skel)))
		return fail("loading tests/bench/floor.bpf.c", ret);
	if (o->has_vip && (ret = publish_service(skel, o)))
		return fail("writing the service into the object's maps", ret);
	if ((ret = attach_tracepoints(skel)))
		return fail("attaching the tp_btf programs", ret);
	if ((ret = attach_cgroup(skel, c4, o->cgroup, c4_link)))
		return fail(o->cgroup, ret);
	if ((ret = enter_netns(o->netns)))
		return fail(o->netns, ret);
	if ((ret = attach_tc(skel, tc, o->ifname)))
		return fail("attaching the tc programs", ret);
	if ((ret = write_ready(o->ready)))
		return fail(o->ready, ret);
	while (!stop)
		sigsuspend(unblocked);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct bpf_link *c4_link = NULL;
	struct tc_state tc = { 0 };
	sigset_t block, unblocked;
	struct bpf_program *c4;
	struct floor_bpf *skel;
	struct opts o;
	int rc;

	if (parse_opts(argc, argv, &o))
		return usage();
	/* Blocked until sigsuspend: a signal during set-up is not lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	skel = floor_bpf__open();
	if (!skel)
		return fail("opening tests/bench/floor.bpf.c", errno);
	c4 = connect4_prog(skel, o.connect4);
	if (!c4 || (c4 != skel->progs.floor_connect4 && c4 != skel->progs.floor_c4_store &&
		    (!o.has_vip || !o.n_backends))) {
		fprintf(stderr, "bpf_floor: --connect4 %s: %s\n", o.connect4,
			c4 ? "needs --vip and --backend" : "not one of empty store lookup draw choose vigil lru");
		floor_bpf__destroy(skel);
		return 1;
	}
	rc = run(skel, &o, c4, &c4_link, &tc, &unblocked);
	if (tc.ifindex)
		tc_detach(&tc);
	bpf_link__destroy(c4_link);
	floor_bpf__destroy(skel);
	return rc;
}
