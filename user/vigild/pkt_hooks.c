/* SPDX-License-Identifier: MIT */
#include "pkt_hooks.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maps.h"
#include "netns.h"
#include "path.h"
#include "tc_filter.h"

/* Our clsact filter (tc_filter.h). */
static const struct vigil_tc_filter lb_filter = { .point = BPF_TC_INGRESS, .handle = 0x7667,
						  .priority = 1 };

#define XDP_PIN_PREFIX VIGIL_PKT_XDP_PIN_PREFIX
#define TC_PIN_PREFIX VIGIL_PKT_TC_PIN_PREFIX

/* 0, or -ENAMETOOLONG (buf then holds the truncated path, for messages). */
static int pin_path(char *buf, size_t len, const char *pin_dir, const char *prefix,
		    const char *ifname)
{
	return vigil_path_fmt(buf, len, "%s/%s/%s%s", pin_dir, VIGIL_PIN_LINKS_DIR, prefix, ifname);
}

static bool listed(const struct vigil_config *cfg, const char *ifname)
{
	for (size_t i = 0; i < cfg->n_xdp_interfaces; i++)
		if (strcmp(cfg->xdp_interfaces[i], ifname) == 0)
			return true;
	return false;
}

/* ---- XDP ------------------------------------------------------------------------ */

static __u32 attach_mode_of(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	return bpf_xdp_query(ifindex, 0, &q) < 0 ? XDP_ATTACHED_NONE : q.attach_mode;
}

static const char *xdp_mode_name(__u32 mode)
{
	switch (mode) {
	case XDP_ATTACHED_DRV: return "native (driver) mode";
	case XDP_ATTACHED_SKB: return "generic (skb) mode";
	case XDP_ATTACHED_HW: return "offloaded mode";
	default: return "unknown mode";
	}
}

static bool mode_matches(__u32 attached, __u32 wanted)
{
	return wanted == VIGIL_XDP_MODE_AUTO ||
	       (wanted == VIGIL_XDP_MODE_NATIVE && attached == XDP_ATTACHED_DRV) ||
	       (wanted == VIGIL_XDP_MODE_GENERIC && attached == XDP_ATTACHED_SKB);
}

/* Replace the program under an existing pinned link: no gap in forwarding.
 * Returns 1 when there is no usable link (none, or in the wrong mode). */
static int replace_pinned_xdp(const char *path, int prog_fd, int ifindex, __u32 mode)
{
	int link_fd;
	bool replaced;

	if (access(path, F_OK) != 0)
		return 1;
	link_fd = bpf_obj_get(path);
	replaced = link_fd >= 0 && mode_matches(attach_mode_of(ifindex), mode) &&
		   bpf_link_update(link_fd, prog_fd, NULL) == 0;
	if (link_fd >= 0)
		close(link_fd);
	if (!replaced)
		unlink(path); /* detaches the old link; the new one follows at once */
	return replaced ? 0 : 1;
}

static int create_xdp_link(const char *path, int prog_fd, int ifindex, __u32 mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int link_fd, ret;

	opts.flags = mode == VIGIL_XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE
		     : mode == VIGIL_XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : 0;
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (link_fd < 0)
		return -errno;
	ret = bpf_obj_pin(link_fd, path) ? -errno : 0;
	close(link_fd);
	return ret;
}

/* The driver's name (ethtool), "" if unknown. */
static void driver_of(const char *ifname, char *buf, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	buf[0] = '\0';
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		snprintf(buf, len, "%s", info.driver);
	close(fd);
}

static void log_xdp_attached(const struct vigil_config *cfg, const char *ifname, int ifindex)
{
	__u32 mode = attach_mode_of(ifindex);
	char driver[32];

	pr_info("XDP load balancer attached to %s in %s%s", ifname, xdp_mode_name(mode),
		mode == XDP_ATTACHED_SKB && cfg->xdp_mode == VIGIL_XDP_MODE_AUTO
			? ": the driver has no native XDP" : "");
	driver_of(ifname, driver, sizeof(driver));
	/* A veth delivers XDP_TX/XDP_REDIRECT frames only to a peer with NAPI
	 * (GRO on, or an XDP program); otherwise the kernel drops them. */
	if (mode == XDP_ATTACHED_DRV && strcmp(driver, "veth") == 0 &&
	    cfg->xdp_forward == VIGIL_FWD_REDIRECT)
		pr_warn("%s is a veth in native XDP mode: packets the program sends out through "
			"it are dropped unless its peer has GRO on ('ethtool -K PEER gro on') or "
			"an XDP program; otherwise use xdp.mode: generic, xdp.hook: tc or "
			"xdp.forward: kernel", ifname);
}

static int attach_xdp(const struct vigil_pkt_hooks *h, const struct vigil_config *cfg,
		      const char *ifname, int ifindex, char *err, size_t errlen)
{
	int prog_fd = bpf_program__fd(h->xdp_prog), ret;
	char path[PATH_MAX];

	ret = pin_path(path, sizeof(path), h->pin_dir, XDP_PIN_PREFIX, ifname);
	if (ret) {
		snprintf(err, errlen, "attaching XDP to %s: its link pin %s... is longer than "
			 "PATH_MAX: choose a shorter daemon.pin_dir", ifname, path);
		return ret;
	}
	ret = replace_pinned_xdp(path, prog_fd, ifindex, cfg->xdp_mode);
	if (ret == 1)
		ret = create_xdp_link(path, prog_fd, ifindex, cfg->xdp_mode);
	if (ret) {
		snprintf(err, errlen, "attaching XDP to %s failed: %s%s", ifname, strerror(-ret),
			 ret == -EBUSY ? " (another XDP program is attached: remove it with "
					 "'ip link set dev IF xdp off')"
			 : ret == -EOPNOTSUPP ? " (no native XDP in this driver: set xdp.mode: "
						"generic or auto)" : "");
		return ret;
	}
	log_xdp_attached(cfg, ifname, ifindex);
	return 0;
}

/* ---- tc ------------------------------------------------------------------------- */

static int attach_tc(const struct vigil_pkt_hooks *h, const char *ifname, int ifindex, char *err,
		     size_t errlen)
{
	char path[PATH_MAX];
	const char *what;
	int ret = vigil_tc_filter_attach(&lb_filter, ifindex, bpf_program__fd(h->tc_prog), &what);

	if (ret) {
		snprintf(err, errlen, "%s for the tc program on %s ingress failed: %s", what, ifname,
			 strerror(-ret));
		return ret;
	}
	/* The pinned program records the attachment for a later detach. */
	if (pin_path(path, sizeof(path), h->pin_dir, TC_PIN_PREFIX, ifname)) {
		pr_warn("recording the tc attachment of %s failed: %s... is longer than PATH_MAX: "
			"choose a shorter daemon.pin_dir", ifname, path);
	} else {
		unlink(path);
		if (bpf_obj_pin(bpf_program__fd(h->tc_prog), path))
			pr_warn("recording the tc attachment of %s at %s failed: %s", ifname, path,
				strerror(errno));
	}
	pr_info("tc load balancer attached to %s ingress (clsact, handle 0x%x, priority %u)",
		ifname, lb_filter.handle, lb_filter.priority);
	return 0;
}

static void detach_tc(const char *dir, const char *ifname)
{
	int ret = vigil_tc_filter_detach(&lb_filter, (int)if_nametoindex(ifname));
	char path[PATH_MAX];

	/* The clsact qdisc stays: other tools may have filters on it. */
	if (ret && ret != -ENOENT && ret != -ENODEV)
		pr_warn("detaching the tc program from %s failed: %s", ifname, strerror(-ret));
	/* dir and ifname come from a directory listing: the path fits */
	if (vigil_path_fmt(path, sizeof(path), "%s/%s%s", dir, TC_PIN_PREFIX, ifname) == 0)
		unlink(path);
}

/* ---- whole set -------------------------------------------------------------------- */

/* Drop the attachments (pins) that cfg no longer wants; cfg NULL: all.
 * in_netns false: the interfaces' namespace could not be entered; tc
 * records are dropped without touching a same-named interface here. */
static void detach_unwanted(const char *pin_dir, const struct vigil_config *cfg, bool in_netns)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (vigil_path_fmt(dir, sizeof(dir), "%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR))
		return; /* no attachment of vigild's can be recorded there */
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		bool xdp = strncmp(name, XDP_PIN_PREFIX, strlen(XDP_PIN_PREFIX)) == 0;
		bool tc = strncmp(name, TC_PIN_PREFIX, strlen(TC_PIN_PREFIX)) == 0;
		const char *ifname = name + (xdp ? strlen(XDP_PIN_PREFIX) : strlen(TC_PIN_PREFIX));
		__u32 hook = xdp ? VIGIL_HOOK_XDP : VIGIL_HOOK_TC;

		if (!xdp && !tc)
			continue;
		if (cfg && listed(cfg, ifname) && cfg->xdp_hook == hook)
			continue;
		if (xdp || !in_netns) { /* unlinking an XDP pin detaches the link */
			if (vigil_path_fmt(path, sizeof(path), "%s/%s", dir, name) == 0)
				unlink(path);
		} else {
			detach_tc(dir, ifname);
		}
		pr_info("load balancer detached from %s (%s)", ifname, xdp ? "XDP" : "tc");
	}
	closedir(d);
}

static bool keep_port(const void *key, const void *ctx)
{
	const struct vigil_config *cfg = ctx;
	char name[IF_NAMESIZE];

	return cfg->xdp_hook == VIGIL_HOOK_XDP && if_indextoname(*(const __u32 *)key, name) &&
	       listed(cfg, name);
}

/* XDP may redirect to the interfaces it is attached to: they have XDP
 * transmit support by construction. Runs inside the interfaces' netns. */
static void fill_tx_ports(const struct vigil_pkt_hooks *h, const struct vigil_config *cfg)
{
	for (size_t i = 0; cfg->xdp_hook == VIGIL_HOOK_XDP && i < cfg->n_xdp_interfaces; i++) {
		__u32 ifindex = if_nametoindex(cfg->xdp_interfaces[i]);

		if (ifindex && bpf_map_update_elem(h->tx_ports_fd, &ifindex, &ifindex, BPF_ANY))
			pr_warn("%s cannot be a redirect target (%s): its packets go through the "
				"kernel's forwarding", cfg->xdp_interfaces[i], strerror(errno));
	}
	if (vigil_map_delete_unless(h->tx_ports_fd, sizeof(__u32), keep_port, cfg))
		pr_warn("map xdp_tx_ports: removing interfaces no longer configured failed: "
			"XDP may still redirect to them");
}

/* Runs inside the interfaces' namespace. */
static int find_interfaces(const struct vigil_config *cfg, int *ifindex, char *err,
			   size_t errlen)
{
	for (size_t i = 0; i < cfg->n_xdp_interfaces; i++) {
		ifindex[i] = (int)if_nametoindex(cfg->xdp_interfaces[i]);
		if (!ifindex[i]) {
			snprintf(err, errlen, "xdp interface %s: no such interface%s%s: fix "
				 "xdp.interfaces (or xdp.netns)", cfg->xdp_interfaces[i],
				 cfg->xdp_netns[0] ? " in " : "", cfg->xdp_netns);
			return -ENODEV;
		}
	}
	return 0;
}

static int enter_xdp_netns(const struct vigil_config *cfg, int *saved, char *err, size_t errlen)
{
	int ret = vigil_netns_enter(cfg->xdp_netns, saved);

	if (ret)
		snprintf(err, errlen, "cannot enter network namespace %s: %s: fix xdp.netns",
			 cfg->xdp_netns, strerror(-ret));
	return ret;
}

int vigil_pkt_hooks_check(const struct vigil_config *cfg, char *err, size_t errlen)
{
	int ifindex[8], saved, ret = enter_xdp_netns(cfg, &saved, err, errlen);

	if (ret)
		return ret;
	ret = find_interfaces(cfg, ifindex, err, errlen);
	vigil_netns_leave(saved);
	return ret;
}

static int apply_in_netns(const struct vigil_pkt_hooks *h, const struct vigil_config *cfg,
			  char *err, size_t errlen)
{
	int ifindex[8], ret = find_interfaces(cfg, ifindex, err, errlen);

	if (ret)
		return ret;
	/* Redirect targets first: the program may run from the attach on. */
	fill_tx_ports(h, cfg);
	for (size_t i = 0; !ret && i < cfg->n_xdp_interfaces; i++)
		ret = cfg->xdp_hook == VIGIL_HOOK_TC
			      ? attach_tc(h, cfg->xdp_interfaces[i], ifindex[i], err, errlen)
			      : attach_xdp(h, cfg, cfg->xdp_interfaces[i], ifindex[i], err, errlen);
	if (ret)
		return ret;
	detach_unwanted(h->pin_dir, cfg, true);
	return 0;
}

int vigil_pkt_hooks_apply(const struct vigil_pkt_hooks *h, const struct vigil_config *cfg,
			 char *err, size_t errlen)
{
	char links_dir[300];
	int saved, ret;

	snprintf(links_dir, sizeof(links_dir), "%s/%s", h->pin_dir, VIGIL_PIN_LINKS_DIR);
	mkdir(links_dir, 0700);
	ret = enter_xdp_netns(cfg, &saved, err, errlen);
	if (ret)
		return ret;
	ret = apply_in_netns(h, cfg, err, errlen);
	vigil_netns_leave(saved);
	return ret;
}

bool vigil_pkt_hooks_pins_lost(const char *pin_dir, const struct vigil_config *cfg)
{
	const char *prefix = cfg->xdp_hook == VIGIL_HOOK_TC ? TC_PIN_PREFIX : XDP_PIN_PREFIX;
	char path[PATH_MAX];

	/* A path that does not fit names no pin vigild could have made. */
	for (size_t i = 0; i < cfg->n_xdp_interfaces; i++)
		if (pin_path(path, sizeof(path), pin_dir, prefix, cfg->xdp_interfaces[i]) == 0 &&
		    access(path, F_OK) < 0)
			return true;
	return false;
}

void vigil_pkt_hooks_detach_all(const char *pin_dir, const char *netns)
{
	int saved;
	bool entered = vigil_netns_enter(netns, &saved) == 0;

	if (!entered)
		pr_warn("cannot enter network namespace %s: its tc filters are not detached (they go "
			"with the namespace)", netns);
	detach_unwanted(pin_dir, NULL, entered);
	vigil_netns_leave(saved);
}
