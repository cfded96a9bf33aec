/* SPDX-License-Identifier: MIT */
#include "pkt_dp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pkt_hooks.h"
#include "log.h"
#include "maps.h"
#include "maglev.h"
#include "netns.h"
#include "syn_frame.h"
#include "path.h"
#include "xdp_lb.skel.h"

/* One buffer of a VIP's double-buffered Maglev table, mapped for writing. */
struct table_buf {
	int fd; /* -1: not created yet */
	__u64 *mem; /* array maps space elements 8 bytes apart */
	size_t bytes;
	__u32 size;
};

struct table_pair {
	struct table_buf buf[2];
	int active; /* -1: none published yet */
	__u64 version;
};

#define N_PAIRS (VIGIL_MAX_XDP_TABLES / 2)

struct vigil_pkt_dp {
	struct xdp_lb_bpf *skel;
	char pin_dir[256];
	char netns[256]; /* xdp.netns: where the interfaces are ("" = vigild's own) */
	bool replay_wanted; /* xdp.syn_replay */
	bool replay_off; /* the kernel refused a SYN replay: not tried again */
	struct vigil_endpoint ids[VIGIL_MAX_LB_BACKENDS]; /* family 0: free */
	struct table_pair pairs[N_PAIRS];
};

/* ---- attachments ------------------------------------------------------------ */

static struct vigil_pkt_hooks hooks_of(const struct vigil_pkt_dp *xl)
{
	return (struct vigil_pkt_hooks){ .xdp_prog = xl->skel->progs.vigil_xdp_lb,
					.tc_prog = xl->skel->progs.vigil_tc_lb,
					.tx_ports_fd = bpf_map__fd(xl->skel->maps.xdp_tx_ports),
					.pin_dir = xl->pin_dir };
}

int vigil_pkt_dp_reconcile(struct vigil_pkt_dp *xl, const struct vigil_config *cfg, char *err,
			   size_t errlen)
{
	struct vigil_pkt_hooks h = hooks_of(xl);
	int ret;

	/* xdp.forward is the program's read-only data: a reload that changes it
	 * is refused before this point (reload_plan.c). */
	ret = vigil_pkt_hooks_apply(&h, cfg, err, errlen);
	if (ret)
		return ret;
	/* Replays run where the interfaces now are. */
	snprintf(xl->netns, sizeof(xl->netns), "%s", cfg->xdp_netns);
	xl->replay_wanted = cfg->xdp_syn_replay;
	return 0;
}

void vigil_pkt_dp_detach_pinned(const char *pin_dir, const char *netns)
{
	vigil_pkt_hooks_detach_all(pin_dir, netns);
}

/* ---- load ------------------------------------------------------------------- */

static void load_backend_ids(struct vigil_pkt_dp *xl)
{
	int fd = bpf_map__fd(xl->skel->maps.xdp_backends);

	for (__u32 id = 0; id < VIGIL_MAX_LB_BACKENDS; id++) {
		struct vigil_xdp_backend b;

		if (bpf_map_lookup_elem(fd, &id, &b) == 0 && b.ep.family)
			xl->ids[id] = b.ep;
	}
}

static int load_object(struct vigil_pkt_dp *xl, const struct vigil_config *cfg, char *err,
		       size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = xl->pin_dir);
	int ret;

	xl->skel = xdp_lb_bpf__open_opts(&opts);
	if (!xl->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the XDP object: %s", strerror(-ret));
		return ret;
	}
	/* The monitor's backend_stats, reused from its pin: sized the same. */
	ret = bpf_map__set_max_entries(xl->skel->maps.backend_stats, cfg->watch_all_max);
	if (ret) {
		snprintf(err, errlen, "cannot size backend_stats to %u entries: %s: check "
			 "daemon.watch_all_max", cfg->watch_all_max, strerror(-ret));
		return ret;
	}
	xl->skel->rodata->forward_mode = cfg->xdp_forward;
	ret = vigil_pins_check(xl->skel->obj, err, errlen);
	if (ret)
		return ret;
	ret = xdp_lb_bpf__load(xl->skel);
	if (ret)
		snprintf(err, errlen, "loading the XDP load balancer failed (%s); if a pinned map "
			 "could not be reused, remove old pins with 'vigild --unpin'", strerror(-ret));
	return ret;
}

int vigil_pkt_dp_start(struct vigil_pkt_dp **out, const struct vigil_config *cfg, char *err,
		       size_t errlen)
{
	struct vigil_pkt_dp *xl = calloc(1, sizeof(*xl));
	int ret;

	if (!xl)
		return -ENOMEM;
	snprintf(xl->pin_dir, sizeof(xl->pin_dir), "%s", cfg->pin_dir);
	for (int p = 0; p < N_PAIRS; p++) {
		xl->pairs[p].active = -1;
		xl->pairs[p].buf[0].fd = xl->pairs[p].buf[1].fd = -1;
	}
	ret = load_object(xl, cfg, err, errlen);
	if (!ret) {
		load_backend_ids(xl);
		ret = vigil_pkt_dp_reconcile(xl, cfg, err, errlen);
	}
	if (ret) {
		vigil_pkt_dp_stop(xl);
		return ret;
	}
	*out = xl;
	return 0;
}

void vigil_pkt_dp_stop(struct vigil_pkt_dp *xl)
{
	if (!xl)
		return;
	/* The outer map keeps the inner maps alive for the pinned datapath. */
	for (int p = 0; p < N_PAIRS; p++)
		for (int b = 0; b < 2; b++)
			if (xl->pairs[p].buf[b].fd >= 0) {
				munmap(xl->pairs[p].buf[b].mem, xl->pairs[p].buf[b].bytes);
				close(xl->pairs[p].buf[b].fd);
			}
	xdp_lb_bpf__destroy(xl->skel);
	free(xl);
}

/* ---- backends ---------------------------------------------------------------- */

static int pending_clear(struct vigil_pkt_dp *xl, __u32 id);

int vigil_pkt_dp_backend_id(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep)
{
	int free_id = -1;

	for (int id = 0; id < VIGIL_MAX_LB_BACKENDS; id++) {
		if (memcmp(&xl->ids[id], ep, sizeof(*ep)) == 0)
			return id;
		if (free_id < 0 && xl->ids[id].family == 0)
			free_id = id;
	}
	if (free_id < 0)
		return -ENOSPC;
	xl->ids[free_id] = *ep;
	/* requests an earlier holder of the id left pending are not ep's */
	pending_clear(xl, (__u32)free_id);
	return free_id;
}

int vigil_pkt_dp_set_flags(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep,
				__u32 flags)
{
	struct vigil_xdp_backend b = { .ep = *ep, .flags = flags };
	int id = vigil_pkt_dp_backend_id(xl, ep);
	__u32 key;

	if (id < 0)
		return id;
	key = (__u32)id;
	return bpf_map_update_elem(bpf_map__fd(xl->skel->maps.xdp_backends), &key, &b, BPF_ANY)
		       ? -errno : 0;
}

/* ---- Maglev tables ------------------------------------------------------------- */

/* The table's backends: only the serving tier, and only backends of the
 * VIP's address family (a packet cannot be NATed across families). Returns
 * how many, or a negative error. */
static int table_backends(struct vigil_pkt_dp *xl, const struct vigil_backend_set *set,
			  __u8 family, struct vigil_maglev_backend *mb)
{
	int n = 0;

	for (__u32 i = 0; i < set->n_preferred && i < VIGIL_MAX_SET; i++) {
		int id;

		if (set->entries[i].backend.family != family)
			continue;
		id = vigil_pkt_dp_backend_id(xl, &set->entries[i].backend);
		if (id < 0)
			return id;
		mb[n++] = (struct vigil_maglev_backend){ .ep = set->entries[i].backend,
							 .weight = set->entries[i].weight,
							 .id = (__u32)id };
	}
	return n ? n : -ENOENT;
}

/* Create buffer b of pair p (outer slot 2p+b) with size slots and map it.
 * Installing it in the outer map waits for an RCU grace period, which is why
 * this happens once per buffer, not per table change. */
static int create_buffer(struct vigil_pkt_dp *xl, __u32 pair, int b, __u32 size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	struct table_buf *tb = &xl->pairs[pair].buf[b];
	__u32 slot = pair * 2 + (__u32)b;
	size_t bytes = (size * sizeof(__u64) + 4095) & ~(size_t)4095;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vigil_maglev", 4, 4, size, &opts);
	void *mem;

	if (fd < 0)
		return -errno;
	/* Populated now: a table switch then never waits for page faults. */
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (mem == MAP_FAILED || bpf_map_update_elem(bpf_map__fd(xl->skel->maps.xdp_tables), &slot,
						     &fd, BPF_ANY)) {
		int e = errno;

		if (mem != MAP_FAILED)
			munmap(mem, bytes);
		close(fd);
		return -e;
	}
	if (tb->fd >= 0) {
		munmap(tb->mem, tb->bytes);
		close(tb->fd);
	}
	*tb = (struct table_buf){ .fd = fd, .mem = mem, .bytes = bytes, .size = size };
	return 0;
}

static int ensure_buffers(struct vigil_pkt_dp *xl, __u32 pair, __u32 size)
{
	for (int b = 0; b < 2; b++) {
		int ret = xl->pairs[pair].buf[b].fd >= 0 && xl->pairs[pair].buf[b].size == size
				  ? 0 : create_buffer(xl, pair, b, size);

		if (ret)
			return ret;
	}
	return 0;
}

/* The whole set (serving tier and fallback backups) with the backend ids: the
 * program chooses from it itself, by the socket load balancer's rule, when
 * Maglev's probes find only backends the fast path marked down. */
static int write_xdp_set(struct vigil_pkt_dp *xl, const struct vigil_endpoint *vip,
			 const struct vigil_backend_set *set)
{
	struct vigil_xdp_set xs = { .set = *set };

	for (__u32 i = 0; i < set->count && i < VIGIL_MAX_SET; i++) {
		int id = vigil_pkt_dp_backend_id(xl, &set->entries[i].backend);

		if (id < 0)
			return id;
		xs.ids[i] = (__u32)id;
	}
	return bpf_map_update_elem(bpf_map__fd(xl->skel->maps.xdp_sets), vip, &xs, BPF_ANY)
		       ? -errno : 0;
}

int vigil_pkt_dp_publish(struct vigil_pkt_dp *xl, __u32 service_id, const struct vigil_endpoint *vip,
		      const struct vigil_backend_set *set, __u32 table_size, __u64 *elapsed_ns)
{
	struct table_pair *tp = service_id < N_PAIRS ? &xl->pairs[service_id] : NULL;
	struct vigil_maglev_backend mb[VIGIL_MAX_SET];
	__u64 start = vigil_now_ns();
	struct vigil_xdp_service svc;
	int n, ret = -EINVAL, b;

	if (!tp)
		goto out;
	n = ret = table_backends(xl, set, vip->family, mb);
	if (ret < 0)
		goto out;
	ret = ensure_buffers(xl, service_id, table_size);
	if (!ret) /* the set before the table that may send flows to its backups */
		ret = write_xdp_set(xl, vip, set);
	if (ret)
		goto out;
	/* Built straight into the idle buffer's mapped values (8 bytes apart). */
	b = tp->active == 0 ? 1 : 0;
	ret = vigil_maglev_build_strided(mb, (size_t)n, table_size, tp->buf[b].mem,
					 sizeof(*tp->buf[b].mem));
	if (ret)
		goto out;
	/* The switch: one hash update; packets see the old table or the new. */
	svc = (struct vigil_xdp_service){ .service_id = service_id * 2 + (__u32)b,
					  .table_size = table_size, .version = ++tp->version };
	if (bpf_map_update_elem(bpf_map__fd(xl->skel->maps.xdp_services), vip, &svc, BPF_ANY))
		ret = -errno;
	else
		tp->active = b;
out:
	if (elapsed_ns)
		*elapsed_ns = vigil_now_ns() - start;
	return ret;
}

/* ---- pending requests ------------------------------------------------------------ */

static const struct vigil_pending_requests no_pending;

int vigil_pkt_dp_id_of(const struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep)
{
	for (int id = 0; id < VIGIL_MAX_LB_BACKENDS; id++)
		if (memcmp(&xl->ids[id], ep, sizeof(*ep)) == 0)
			return id;
	return -ENOENT;
}

static int pending_clear(struct vigil_pkt_dp *xl, __u32 id)
{
	return bpf_map_update_elem(bpf_map__fd(xl->skel->maps.pending_requests), &id, &no_pending,
				   BPF_ANY) ? -errno : 0;
}

int vigil_pkt_dp_pending_reset(struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep)
{
	int id = vigil_pkt_dp_id_of(xl, ep);

	return id < 0 ? id : pending_clear(xl, (__u32)id);
}

int vigil_pkt_dp_pending_read(const struct vigil_pkt_dp *xl, const struct vigil_endpoint *ep,
			      struct vigil_pending_requests *out)
{
	int id = vigil_pkt_dp_id_of(xl, ep);
	__u32 key = (__u32)id;

	if (id < 0)
		return id;
	return bpf_map_lookup_elem(bpf_map__fd(xl->skel->maps.pending_requests), &key, out) ? -errno
											       : 0;
}

/* ---- what is no longer configured -------------------------------------------------- */

static bool vip_configured(const void *key, const void *ctx)
{
	const struct vigil_config *cfg = ctx;
	const struct vigil_endpoint *vip = key;

	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t v = 0; v < cfg->services[i].n_vips; v++)
			if ((cfg->services[i].datapath & VIGIL_DATAPATH_XDP) &&
			    memcmp(&cfg->services[i].vips[v], vip, sizeof(*vip)) == 0)
				return true;
	return false;
}

void vigil_pkt_dp_remove_stale(struct vigil_pkt_dp *xl, const struct vigil_config *cfg)
{
	int ret = vigil_map_delete_unless(bpf_map__fd(xl->skel->maps.xdp_services),
					  sizeof(struct vigil_endpoint), vip_configured, cfg);

	/* Once per start or reload: no rate limit needed. */
	if (ret)
		pr_warn("map xdp_services: removing VIPs no longer configured failed: %s: their "
			"packets keep being balanced until vigild restarts", strerror(-ret));
	/* Only read for a VIP in xdp_services: a leftover set is memory, not policy. */
	ret = vigil_map_delete_unless(bpf_map__fd(xl->skel->maps.xdp_sets),
				      sizeof(struct vigil_endpoint), vip_configured, cfg);
	if (ret)
		pr_warn("map xdp_sets: removing VIPs no longer configured failed: %s",
			strerror(-ret));
}

/* ---- SYN replay ---------------------------------------------------------------- */

/* The kernel's "operation not supported" that reaches userspace unnamed. */
#define ENOTSUPP_KERNEL 524

int vigil_pkt_dp_flow_backend(const struct vigil_pkt_dp *xl, const struct vigil_flow_key *k,
			      __u32 *id)
{
	struct vigil_flow fl;

	if (bpf_map_lookup_elem(bpf_map__fd(xl->skel->maps.xdp_flows), k, &fl))
		return -errno;
	*id = fl.backend_id;
	return 0;
}

static int interface_mac(__u32 ifindex, unsigned char mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (!if_indextoname(ifindex, ifr.ifr_name) || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ret;
}

/* The frame through the XDP program as if it had come in on ifindex, with
 * what the program decides carried out (BPF_F_TEST_XDP_LIVE_FRAMES: a
 * redirect or XDP_TX is sent, XDP_PASS goes up the stack). */
static int run_live(const struct vigil_pkt_dp *xl, const void *frame, size_t len, __u32 ifindex)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	return bpf_prog_test_run_opts(bpf_program__fd(xl->skel->progs.vigil_xdp_lb), &opts) ? -errno
											    : 0;
}

int vigil_pkt_dp_replay_syn(struct vigil_pkt_dp *xl, const struct vigil_syn_copy *syn,
			    const struct vigil_endpoint *vip)
{
	unsigned char frame[VIGIL_SYN_FRAME_MAX], mac[6];
	size_t len;
	int saved = -1, ret;

	if (xl->replay_off || !xl->replay_wanted)
		return -EOPNOTSUPP;
	ret = vigil_netns_enter(xl->netns, &saved);
	if (ret)
		return ret;
	ret = interface_mac(syn->ifindex, mac);
	/* Addressed to the interface as the client's router addresses it; the
	 * program takes its next hops from the FIB, never from this frame. */
	len = ret ? 0 : vigil_syn_frame(syn, vip, mac, mac, frame);
	if (!ret)
		ret = len ? run_live(xl, frame, len, syn->ifindex) : -EINVAL;
	vigil_netns_leave(saved);
	if (len && (ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOTSUPP_KERNEL)) {
		xl->replay_off = true;
		pr_warn("this kernel cannot run the XDP program on a replayed SYN (%s; needs "
			"BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18): a connect whose backend is ejected "
			"waits for the client's own SYN retransmit (1 s on Linux clients)",
			strerror(-ret));
	}
	return ret;
}

const struct bpf_object *vigil_pkt_dp_object(const struct vigil_pkt_dp *st)
{
	return st->skel->obj;
}
