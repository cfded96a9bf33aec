/* SPDX-License-Identifier: MIT */
#include "sock_rescue.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <vigil/abi.h>

#include "addr.h"
#include "log.h"
#include "maps.h"
#include "netns.h"
#include "path.h"
#include "sock_dp.h"
#include "sock_rescue.skel.h"
#include "tc_filter.h"

#define MAX_IFS 8
/* Under pin_dir/links: the sockops link, and per interface IF the egress
 * program pinned as rescue-tc-IF, which records that the filters are there
 * (tc holds the programs, not a pin). */
#define SOCKOPS_LINK "rescue-sockops"
#define TC_RECORD_PREFIX "rescue-tc-"

/* Priority 2: on an interface that also has the packet datapath's tc hook
 * (priority 1), that one sees ingress packets first. */
static const struct vigil_tc_filter out_filter = { .point = BPF_TC_EGRESS, .handle = 0x7672,
						   .priority = 2 };
static const struct vigil_tc_filter in_filter = { .point = BPF_TC_INGRESS, .handle = 0x7672,
						  .priority = 2 };

/* Interfaces the rescue attaches to. */
struct ifset {
	int index[MAX_IFS];
	char name[MAX_IFS][IF_NAMESIZE];
	size_t n;
};

struct vigil_sock_rescue {
	struct sock_rescue_bpf *skel;
	char pin_dir[256];
	char netns[256]; /* where its tc filters are ("" = vigild's own) */
	struct bpf_link *ops_link; /* sockops on lb.cgroup, held while vigild runs */
	struct ifset attached;     /* interfaces with its filters (tc_on: any) */
	bool tc_on;
};

static bool wanted(const struct vigil_config *cfg)
{
	for (size_t i = 0; cfg->lb_rescue && i < cfg->n_services; i++)
		if (cfg->services[i].datapath & VIGIL_DATAPATH_SOCKET)
			return true;
	return false;
}

static int links_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	return vigil_path_fmt(buf, len, "%s/%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR, name);
}

/* ---- loading ------------------------------------------------------------------- */

static int open_and_load(struct vigil_sock_rescue *r, const struct vigil_config *cfg, char *err,
			 size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->pin_dir);
	int ret;

	r->skel = sock_rescue_bpf__open_opts(&opts);
	if (!r->skel) {
		snprintf(err, errlen, "opening its object failed: %s", strerror(errno));
		return -errno;
	}
	/* The monitor's signal maps, which the rescue reuses, are sized by
	 * watch_all_max: so must their definition here be. */
	ret = bpf_map__set_max_entries(r->skel->maps.backend_stats, cfg->watch_all_max);
	if (!ret)
		ret = vigil_pins_check(r->skel->obj, err, errlen);
	if (!ret && (ret = sock_rescue_bpf__load(r->skel)))
		snprintf(err, errlen, "loading its programs failed: %s", strerror(-ret));
	return ret;
}

/* Flows an older vigil rescued (and a new one keeps translating through
 * their pinned entries) have forward entries without VIGIL_RESCUE_COUNTED:
 * uncounted, the filter would skip their packets. Flag and count them before
 * the new programs attach; the guard keeps the count from reading 0 while
 * a flagged entry is not in it yet. */
static void adopt_uncounted(const struct sock_rescue_bpf *skel)
{
	int flows = bpf_map__fd(skel->maps.rescue_flows);
	struct vigil_flow_key key, next;
	struct vigil_rescue_flow f;
	__u64 adopted = 0, *live;
	bool first = true;

	live = mmap(NULL, sizeof(*live), PROT_READ | PROT_WRITE, MAP_SHARED,
		    bpf_map__fd(skel->maps.rescue_live), 0);
	if (live == MAP_FAILED) {
		pr_warn("socket rescue: mapping rescue_live failed: %s: connections an older vigild "
			"rescued are not translated any more", strerror(errno));
		return;
	}
	__atomic_fetch_add(live, 1, __ATOMIC_SEQ_CST);
	while (bpf_map_get_next_key(flows, first ? NULL : &key, &next) == 0) {
		key = next;
		first = false;
		if (bpf_map_lookup_elem(flows, &key, &f) || f.kind != VIGIL_RESCUE_FORWARD ||
		    (f.flags & VIGIL_RESCUE_COUNTED))
			continue;
		f.flags |= VIGIL_RESCUE_COUNTED;
		if (bpf_map_update_elem(flows, &key, &f, BPF_EXIST) == 0)
			adopted++;
	}
	__atomic_fetch_add(live, adopted - 1, __ATOMIC_SEQ_CST); /* the guard goes */
	munmap(live, sizeof(*live));
	if (adopted)
		pr_info("socket rescue: %llu connections rescued by an earlier vigild counted",
			(unsigned long long)adopted);
}

static struct vigil_sock_rescue *load(const struct vigil_config *cfg)
{
	struct vigil_sock_rescue *r = calloc(1, sizeof(*r));
	char err[512] = "out of memory";

	if (r && open_and_load(r, cfg, err, sizeof(err)) == 0) {
		snprintf(r->pin_dir, sizeof(r->pin_dir), "%s", cfg->pin_dir);
		adopt_uncounted(r->skel);
		if (!r->skel->kconfig->CONFIG_HZ)
			pr_warn("socket rescue: syn_rto_ms is not applied (the kernel's 1 s stays): "
				"libbpf found no kernel config to read CONFIG_HZ from "
				"(/proc/config.gz or /boot/config-$(uname -r))");
		return r;
	}
	pr_warn("socket rescue unavailable: %s: connects to a backend that fails before "
		"answering are not rescued", err);
	vigil_sock_rescue_stop(r);
	return NULL;
}

/* ---- what each service wants ----------------------------------------------------- */

static bool vip_configured(const void *key, const void *ctx)
{
	const struct vigil_config *cfg = ctx;

	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t v = 0; v < cfg->services[i].n_vips; v++)
			if (memcmp(&cfg->services[i].vips[v], key, sizeof(struct vigil_endpoint)) == 0)
				return true;
	return false;
}

static void publish_services(const struct vigil_sock_rescue *r, const struct vigil_config *cfg)
{
	int fd = bpf_map__fd(r->skel->maps.rescue_svc);

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct vigil_service_cfg *svc = &cfg->services[i];
		struct vigil_rescue_svc v = { .syn_rto_ms = svc->syn_rto_ms };

		for (size_t k = 0; k < svc->n_vips; k++)
			if (bpf_map_update_elem(fd, &svc->vips[k], &v, BPF_ANY))
				pr_warn("socket rescue: service %s: writing its SYN timeout failed: %s: "
					"its connects keep the kernel's", svc->name, strerror(errno));
	}
	if (vigil_map_delete_unless(fd, sizeof(struct vigil_endpoint), vip_configured, cfg))
		pr_warn("socket rescue: removing services no longer configured from rescue_svc "
			"failed");
}

/* ---- sockops on lb.cgroup ---------------------------------------------------------- */

static void attach_sockops(struct vigil_sock_rescue *r, const struct vigil_config *cfg)
{
	char err[512], dir[PATH_MAX], path[PATH_MAX];
	const char *cgroup = cfg->lb_cgroup;
	int fd = vigil_cgroup_open(&cgroup, err, sizeof(err)), ret = fd;

	if (fd >= 0 && (ret = links_path(path, sizeof(path), r->pin_dir, SOCKOPS_LINK)) == 0) {
		if (vigil_path_fmt(dir, sizeof(dir), "%s/%s", r->pin_dir, VIGIL_PIN_LINKS_DIR) == 0)
			mkdir(dir, 0700); /* EEXIST is the normal case */
		ret = vigil_cgroup_link_attach(r->skel->progs.vigil_rescue_ops, fd, path,
					       &r->ops_link);
		snprintf(err, sizeof(err), "attaching sockops to %s failed: %s", cgroup,
			 strerror(-ret));
	}
	if (fd >= 0)
		close(fd);
	if (ret)
		pr_warn("socket rescue: the SYN timeout of service connections stays the kernel's "
			"(1 s, so a rescue comes later): %s", err);
}

/* ---- interfaces ---------------------------------------------------------------------- */

static void ifset_add(struct ifset *s, int ifindex)
{
	char name[IF_NAMESIZE];

	for (size_t i = 0; i < s->n; i++)
		if (s->index[i] == ifindex)
			return;
	if (s->n == MAX_IFS || !if_indextoname((unsigned)ifindex, name)) {
		pr_warn("socket rescue: interface %d left out (%s)", ifindex,
			s->n == MAX_IFS ? "more than 8 interfaces" : strerror(errno));
		return;
	}
	s->index[s->n] = ifindex;
	snprintf(s->name[s->n++], IF_NAMESIZE, "%s", name);
}

/* The interface the route to ep leaves through, or -errno. */
static int route_oif(struct nl_sock *sk, const struct vigil_endpoint *ep)
{
	bool v4 = ep->family == VIGIL_AF_INET;
	struct nl_addr *dst = nl_addr_build(v4 ? AF_INET : AF_INET6, v4 ? &ep->addr[12] : ep->addr,
					    v4 ? 4 : 16);
	struct rtnl_route *route = NULL;
	struct rtnl_nexthop *nh;
	int ret;

	if (!dst)
		return -ENOMEM;
	ret = rtnl_route_lookup(sk, dst, &route);
	nl_addr_put(dst);
	if (ret < 0)
		return -ENETUNREACH;
	nh = rtnl_route_nexthop_n(route, 0);
	ret = nh ? rtnl_route_nh_get_ifindex(nh) : -ENETUNREACH;
	rtnl_route_put(route);
	return ret > 0 ? ret : -ENETUNREACH;
}

/* Every interface a route to a socket-datapath backend leaves through. */
static void routed_interfaces(const struct vigil_config *cfg, struct ifset *s)
{
	struct nl_sock *sk = nl_socket_alloc();
	char ep[VIGIL_ENDPOINT_STRLEN];

	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0) {
		pr_warn("socket rescue: no route lookups (cannot open a netlink socket): "
			"set lb.rescue_interfaces");
		nl_socket_free(sk);
		return;
	}
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct vigil_service_cfg *svc = &cfg->services[i];

		for (size_t b = 0; (svc->datapath & VIGIL_DATAPATH_SOCKET) && b < svc->n_backends; b++) {
			int oif = route_oif(sk, &svc->backends[b].ep);

			if (oif > 0)
				ifset_add(s, oif);
			else
				pr_warn("socket rescue: service %s: no route to backend %s: %s", svc->name,
					vigil_endpoint_format(&svc->backends[b].ep, ep, sizeof(ep)),
					strerror(-oif));
		}
	}
	nl_socket_free(sk);
}

static void listed_interfaces(const struct vigil_config *cfg, struct ifset *s)
{
	for (size_t i = 0; i < cfg->n_lb_rescue_interfaces; i++) {
		int ifindex = (int)if_nametoindex(cfg->lb_rescue_interfaces[i]);

		if (ifindex)
			ifset_add(s, ifindex);
		else
			pr_warn("socket rescue: lb.rescue_interfaces: %s: no such interface%s%s: "
				"not attached there", cfg->lb_rescue_interfaces[i],
				cfg->probe_netns[0] ? " in " : "", cfg->probe_netns);
	}
}

static bool ifset_has(const struct ifset *s, const char *name)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return true;
	return false;
}

/* Remove the filters recorded under pin_dir/links that keep (NULL: none)
 * does not list; in_netns false: their namespace could not be entered, only
 * the records go. */
static void detach_unwanted(const char *pin_dir, const struct ifset *keep, bool in_netns)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (vigil_path_fmt(dir, sizeof(dir), "%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR) ||
	    !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		const char *ifname = de->d_name + strlen(TC_RECORD_PREFIX);
		int ifindex;

		if (strncmp(de->d_name, TC_RECORD_PREFIX, strlen(TC_RECORD_PREFIX)) != 0 ||
		    ifset_has(keep, ifname))
			continue;
		ifindex = in_netns ? (int)if_nametoindex(ifname) : 0;
		vigil_tc_filter_detach(&out_filter, ifindex);
		vigil_tc_filter_detach(&in_filter, ifindex);
		/* dir and the name come from a directory listing: the path fits */
		if (vigil_path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) == 0)
			unlink(path);
		pr_info("socket rescue detached from %s", ifname);
	}
	closedir(d);
}

/* Both filters on ifindex, and the record. */
static int attach_interface(const struct vigil_sock_rescue *r, int ifindex, const char *ifname)
{
	int out = bpf_program__fd(r->skel->progs.vigil_rescue_out);
	int in = bpf_program__fd(r->skel->progs.vigil_rescue_in);
	char path[PATH_MAX], name[64];
	const char *what;
	int ret = vigil_tc_filter_attach(&out_filter, ifindex, out, &what);

	if (!ret)
		ret = vigil_tc_filter_attach(&in_filter, ifindex, in, &what);
	if (ret) {
		pr_warn("socket rescue not on %s: %s its tc filters failed: %s", ifname, what,
			strerror(-ret));
		return ret;
	}
	snprintf(name, sizeof(name), "%s%s", TC_RECORD_PREFIX, ifname);
	if (links_path(path, sizeof(path), r->pin_dir, name) == 0) {
		unlink(path);
		if (bpf_obj_pin(out, path))
			pr_warn("socket rescue: recording its filters on %s at %s failed: %s: a "
				"later vigild will not detach them", ifname, path, strerror(errno));
	}
	return 0;
}

/* Runs in the clients' namespace (daemon.probe_netns). */
static void attach_interfaces(struct vigil_sock_rescue *r, const struct vigil_config *cfg)
{
	struct ifset s = { .n = 0 };
	char names[MAX_IFS * (IF_NAMESIZE + 2)] = "";
	size_t attached = 0;

	if (cfg->n_lb_rescue_interfaces)
		listed_interfaces(cfg, &s);
	else
		routed_interfaces(cfg, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (attach_interface(r, s.index[i], s.name[i]))
			continue;
		s.index[attached] = s.index[i];
		memmove(s.name[attached], s.name[i], IF_NAMESIZE);
		attached++;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 attached > 1 ? ", " : "", s.name[i]);
	}
	s.n = attached;
	detach_unwanted(r->pin_dir, &s, true);
	r->attached = s;
	r->tc_on = attached > 0;
	if (attached)
		pr_info("socket rescue on %s%s%s (%s)", names, cfg->probe_netns[0] ? " in " : "",
			cfg->probe_netns, cfg->n_lb_rescue_interfaces ? "lb.rescue_interfaces"
							      : "the routes to the backends");
	else
		pr_warn("socket rescue unavailable: attached to no interface: connects to a backend "
			"that fails before answering are not rescued");
}

/* Every filter recorded under pin_dir/links, in netns ("" = vigild's own). */
static void detach_filters_in(const char *pin_dir, const char *netns)
{
	int saved;
	bool entered = vigil_netns_enter(netns, &saved) == 0;

	if (!entered)
		pr_warn("socket rescue: cannot enter network namespace %s: its tc filters are not "
			"detached (they go with the namespace)", netns);
	detach_unwanted(pin_dir, NULL, entered);
	vigil_netns_leave(saved);
}

static void place_filters(struct vigil_sock_rescue *r, const struct vigil_config *cfg)
{
	int saved;

	/* daemon.probe_netns changed: the filters leave the old namespace. */
	if (strcmp(r->netns, cfg->probe_netns) != 0)
		detach_filters_in(r->pin_dir, r->netns);
	snprintf(r->netns, sizeof(r->netns), "%s", cfg->probe_netns);
	r->tc_on = false;
	r->attached.n = 0;
	if (vigil_netns_enter(cfg->probe_netns, &saved)) {
		pr_warn("socket rescue unavailable: cannot enter network namespace %s (daemon."
			"probe_netns)", cfg->probe_netns);
		return;
	}
	attach_interfaces(r, cfg);
	vigil_netns_leave(saved);
}

/* ---- public ---------------------------------------------------------------------------- */

void vigil_sock_rescue_apply(struct vigil_sock_rescue **rp, const struct vigil_config *cfg)
{
	struct vigil_sock_rescue *r = *rp;

	if (!wanted(cfg)) {
		vigil_sock_rescue_detach_pinned(cfg->pin_dir, r ? r->netns : cfg->probe_netns);
		vigil_sock_rescue_stop(r);
		*rp = NULL;
		return;
	}
	if (!r) {
		r = load(cfg);
		if (!r)
			return;
		snprintf(r->netns, sizeof(r->netns), "%s", cfg->probe_netns);
		*rp = r;
	}
	publish_services(r, cfg);
	attach_sockops(r, cfg);
	place_filters(r, cfg);
}

void vigil_sock_rescue_detach_pinned(const char *pin_dir, const char *netns)
{
	char path[PATH_MAX];

	if (links_path(path, sizeof(path), pin_dir, SOCKOPS_LINK) == 0)
		unlink(path); /* the sockops hook detaches once nothing holds it */
	detach_filters_in(pin_dir, netns);
}

void vigil_sock_rescue_stop(struct vigil_sock_rescue *r)
{
	if (!r)
		return;
	/* A pinned hook stays attached, one whose pin went detaches. */
	bpf_link__destroy(r->ops_link);
	sock_rescue_bpf__destroy(r->skel);
	free(r);
}

bool vigil_sock_rescue_moves_connects(const struct vigil_sock_rescue *r)
{
	return r && r->tc_on;
}

int vigil_sock_rescue_repin(const struct vigil_sock_rescue *r)
{
	int out = bpf_program__fd(r->skel->progs.vigil_rescue_out), n = 0, ret = 0;
	char name[64];

	if (r->ops_link)
		ret = vigil_repin_link(bpf_link__fd(r->ops_link), r->pin_dir, SOCKOPS_LINK);
	for (size_t i = 0; ret >= 0 && i < r->attached.n; i++) {
		n += ret;
		snprintf(name, sizeof(name), "%s%s", TC_RECORD_PREFIX, r->attached.name[i]);
		ret = vigil_repin_link(out, r->pin_dir, name);
	}
	return ret < 0 ? ret : n + ret;
}

const struct bpf_object *vigil_sock_rescue_object(const struct vigil_sock_rescue *r)
{
	return r->skel->obj;
}
