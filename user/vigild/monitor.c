/* SPDX-License-Identifier: MIT */
#include "monitor.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maps.h"
#include "monitor.skel.h"
#include "path.h"
#include "pins.h"
#include "watch_ports.h"
#include "watch_sync.h"

#define MAX_MON_LINKS 8

struct vigil_monitor {
	struct monitor_bpf *skel;
	struct ring_buffer *ring;
	vigil_event_fn on_event;
	void *ctx;
	char pin_dir[256];
	/* The attached hooks, pinned at pin_dir/links/monitor-TRACEPOINT so the
	 * monitor (and its fast path) outlives vigild. */
	struct bpf_link *links[MAX_MON_LINKS];
	char link_names[MAX_MON_LINKS][64];
	int n_links;
};

/* Hooks whose absence only turns some signals off. */
static const struct optional_hook {
	const char *tracepoint;
	const char *what_is_lost;
} optional_hooks[] = {
	{ "sock_send_length", "request/response latency and bytes sent" },
	{ "sock_recv_length", "request/response latency and bytes received" },
	{ "tcp_send_reset", "resets sent" },
	{ "tcp_receive_reset", "refused connects (counted as timeouts) and resets received" },
	{ "tcp_retransmit_skb", "SYN and data retransmits" },
};

static bool kernel_has_tracepoint(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
}

static struct bpf_program *program_for(struct monitor_bpf *skel, const char *tp)
{
	struct bpf_program *prog;
	char sec[160];

	snprintf(sec, sizeof(sec), "tp_btf/%s", tp);
	bpf_object__for_each_program(prog, skel->obj)
		if (strcmp(bpf_program__section_name(prog), sec) == 0)
			return prog;
	return NULL;
}

static int disable_missing_hooks(struct monitor_bpf *skel, char *err, size_t errlen)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	if (!vmlinux) {
		snprintf(err, errlen, "cannot read kernel BTF: %s", strerror(errno));
		return -errno;
	}
	if (!kernel_has_tracepoint(vmlinux, "inet_sock_set_state")) {
		btf__free(vmlinux);
		snprintf(err, errlen, "kernel lacks the sock:inet_sock_set_state tracepoint "
			 "(Linux 4.16+ with BTF raw tracepoints, 5.5+): upgrade the kernel");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < sizeof(optional_hooks) / sizeof(optional_hooks[0]); i++) {
		const struct optional_hook *hook = &optional_hooks[i];

		if (kernel_has_tracepoint(vmlinux, hook->tracepoint))
			continue;
		bpf_program__set_autoload(program_for(skel, hook->tracepoint), false);
		pr_warn("kernel lacks tracepoint %s: signal off: %s", hook->tracepoint,
			hook->what_is_lost);
	}
	btf__free(vmlinux);
	return 0;
}

/* Unlink the entries of dir vigil pins (in_links: dir is pin_dir/links), then
 * dir if that left it empty. Foreign entries stay and are counted. */
static int remove_own_entries(const char *dir, bool in_links, int *foreign)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int first_error = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (!in_links && strcmp(de->d_name, VIGIL_PIN_LINKS_DIR) == 0))
			continue;
		if (!vigil_is_own_pin(de->d_name, in_links)) {
			pr_warn("unpin: leaving %s/%s: not a vigil pin", dir, de->d_name);
			(*foreign)++;
			continue;
		}
		if (vigil_path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name)) {
			pr_warn("cannot unpin %s...: the path is longer than PATH_MAX: remove it "
				"by hand", path);
			if (!first_error)
				first_error = -ENAMETOOLONG;
		} else if (unlink(path) < 0 && !first_error) {
			first_error = -errno;
		}
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST && !first_error)
		first_error = -errno;
	return first_error;
}

static int handle_ring_record(void *ctx, void *data, size_t size)
{
	struct vigil_monitor *mon = ctx;
	struct vigil_event ev;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	if (mon->on_event)
		mon->on_event(&ev, mon->ctx);
	return 0;
}

/* Whether map is pinned already: before load, whether libbpf will reuse it. */
static bool pinned_before_load(const struct bpf_map *map)
{
	const char *path = bpf_map__pin_path(map);

	return path && access(path, F_OK) == 0;
}

/* tracked_ports was created now beside a sock_state pinned before: sockets
 * an older vigil tracked may not have their ports in it, so every port
 * counts as tracked (abi.h, struct vigil_tracked_ports). */
static int fill_tracked_ports(struct monitor_bpf *skel, char *err, size_t errlen)
{
	struct vigil_tracked_ports all;
	__u32 key = 0;

	memset(&all, 0xff, sizeof(all));
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.tracked_ports), &key, &all, BPF_ANY)) {
		int ret = -errno;

		snprintf(err, errlen, "cannot fill the tracked_ports map: %s", strerror(-ret));
		return ret;
	}
	pr_info("monitor: sockets tracked before this version may be open: the message "
		"hooks' port filter is off until 'vigild --unpin'");
	return 0;
}

static int load_objects(struct vigil_monitor *mon, const struct vigil_config *cfg, char *err,
			size_t errlen)
{
	/* Maps marked LIBBPF_PIN_BY_NAME are pinned (or reused) at pin_dir/NAME. */
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->pin_dir);
	bool fill;
	int ret;

	mon->skel = monitor_bpf__open_opts(&opts);
	if (!mon->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open BPF object: %s", strerror(-ret));
		return ret;
	}
	ret = bpf_map__set_max_entries(mon->skel->maps.backend_stats, cfg->watch_all_max);
	if (ret) {
		snprintf(err, errlen, "cannot size backend_stats to %u entries: %s: check "
			 "daemon.watch_all_max", cfg->watch_all_max, strerror(-ret));
		return ret;
	}
	ret = disable_missing_hooks(mon->skel, err, errlen);
	if (!ret)
		ret = vigil_pins_check(mon->skel->obj, err, errlen);
	if (ret)
		return ret;
	fill = !pinned_before_load(mon->skel->maps.tracked_ports) &&
	       pinned_before_load(mon->skel->maps.sock_state);
	ret = monitor_bpf__load(mon->skel);
	if (ret) {
		snprintf(err, errlen,
			 "loading BPF programs failed (%s); if the log above says a pinned map "
			 "could not be reused, maps under %s come from another vigil version or "
			 "watch_all_max: remove them with 'vigild --unpin'",
			 strerror(-ret), cfg->pin_dir);
		return ret;
	}
	return fill ? fill_tracked_ports(mon->skel, err, errlen) : 0;
}

/* A pinned monitor link's name: VIGIL_PIN_MON_LINK_PREFIX + tracepoint. */
static bool is_monitor_link(const char *name)
{
	if (strncmp(name, "new-", 4) == 0) /* a replacement a crash left half done */
		name += 4;
	return strncmp(name, VIGIL_PIN_MON_LINK_PREFIX, strlen(VIGIL_PIN_MON_LINK_PREFIX)) == 0;
}

/* Attach prog and pin the link at path, replacing what is pinned there.
 * Tracing links cannot change program (BPF_LINK_UPDATE), so the new link is
 * attached and pinned aside first, then renamed over the old pin: from then
 * on the old link has no reference left and detaches. The hook is never
 * missing; both programs run for the moment in between. *replaced says
 * whether a pin was there. */
static struct bpf_link *attach_pinned(struct bpf_program *prog, const char *path, bool *replaced)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char tmp[PATH_MAX];
	struct bpf_link *link;
	int ret;

	*replaced = access(path, F_OK) == 0;
	link = bpf_program__attach(prog);
	if (!link)
		return NULL;
	/* bpffs refuses names with a dot: the temporary is NEW-NAME. */
	ret = vigil_path_fmt(tmp, sizeof(tmp), "%.*snew-%s", (int)(base - path), path, base);
	if (!ret) {
		unlink(tmp);
		ret = bpf_obj_pin(bpf_link__fd(link), tmp);
	}
	if (!ret && rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
	}
	if (ret) {
		ret = ret < 0 ? ret : -EIO;
		bpf_link__destroy(link);
		errno = -ret;
		return NULL;
	}
	return link;
}

/* Drop pinned monitor links whose hook this run did not attach (a kernel
 * that lost an optional tracepoint, an older vigil's names). */
static void remove_stale_links(struct vigil_monitor *mon, const char *links_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(links_dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		bool ours = false;

		if (!is_monitor_link(de->d_name))
			continue;
		for (int i = 0; i < mon->n_links; i++)
			ours |= strcmp(de->d_name, mon->link_names[i]) == 0;
		if (ours)
			continue;
		if (vigil_path_fmt(path, sizeof(path), "%s/%s", links_dir, de->d_name) == 0 &&
		    unlink(path) == 0)
			pr_info("removed stale monitor link %s", path);
	}
	closedir(d);
}

static int attach_hooks(struct vigil_monitor *mon, char *err, size_t errlen)
{
	struct bpf_program *prog;
	char links_dir[PATH_MAX], path[PATH_MAX];
	int replaced = 0, ret;

	ret = vigil_path_fmt(links_dir, sizeof(links_dir), "%s/%s", mon->pin_dir,
			     VIGIL_PIN_LINKS_DIR);
	if (!ret && mkdir(links_dir, 0700) < 0 && errno != EEXIST)
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "cannot create %s: %s: check daemon.pin_dir", links_dir,
			 strerror(-ret));
		return ret;
	}
	bpf_object__for_each_program(prog, mon->skel->obj) {
		const char *sec = bpf_program__section_name(prog), *tp = strchr(sec, '/');
		char *name;
		bool was_pinned;

		if (!bpf_program__autoload(prog) || !tp || mon->n_links >= MAX_MON_LINKS)
			continue;
		name = mon->link_names[mon->n_links];
		snprintf(name, sizeof(mon->link_names[0]), "%s%s", VIGIL_PIN_MON_LINK_PREFIX, tp + 1);
		ret = vigil_path_fmt(path, sizeof(path), "%s/%s", links_dir, name);
		if (ret) {
			snprintf(err, errlen, "cannot pin tracepoint %s under %s: the path is too "
				 "long: shorten daemon.pin_dir", tp + 1, links_dir);
			return ret;
		}
		mon->links[mon->n_links] = attach_pinned(prog, path, &was_pinned);
		if (!mon->links[mon->n_links]) {
			ret = -errno;
			snprintf(err, errlen, "attaching tracepoint %s (pinned at %s) failed: %s", tp + 1,
				 path, strerror(-ret));
			return ret;
		}
		mon->n_links++;
		replaced += was_pinned;
	}
	remove_stale_links(mon, links_dir);
	if (replaced)
		pr_info("monitor: %d hooks were still attached from an earlier vigild (pinned under "
			"%s): replaced in place", replaced, links_dir);
	return 0;
}

/* The settings of cfg into the programs' global data (.bss stays writable,
 * mmapped, after load: the programs read them on their next run). widen: only
 * add cfg's ports to those in place, so that across a reload a port of both
 * configs never leaves the bitmaps while the watch maps change (a port too
 * many only costs the map lookups it would have saved). */
static int write_settings(struct vigil_monitor *mon, const struct vigil_config *cfg, bool widen,
			  char *err, size_t errlen)
{
	struct vigil_settings *now = &mon->skel->bss->vigil_settings;
	struct vigil_settings *want;
	struct stat st = { 0 };

	if (cfg->monitor_netns[0] && stat(cfg->monitor_netns, &st)) {
		snprintf(err, errlen, "daemon.monitor_netns: %s: %s", cfg->monitor_netns,
			 strerror(errno));
		return -errno;
	}
	want = malloc(sizeof(*want));
	if (!want) {
		snprintf(err, errlen, "out of memory applying the watch settings");
		return -ENOMEM;
	}
	vigil_watch_settings(cfg, want);
	for (size_t i = 0; i < VIGIL_PORT_WORDS; i++) {
		now->remote_ports[i] = want->remote_ports[i] | (widen ? now->remote_ports[i] : 0);
		now->local_ports[i] = want->local_ports[i] | (widen ? now->local_ports[i] : 0);
	}
	now->remote_any_port = want->remote_any_port || (widen && now->remote_any_port);
	if (!widen) {
		now->watch_all = want->watch_all;
		now->watch_all_local = want->watch_all_local;
		now->netns_ino = (__u32)st.st_ino;
	}
	free(want);
	return 0;
}

int vigil_monitor_start(struct vigil_monitor **out, const struct vigil_config *cfg,
			vigil_event_fn on_event, void *ctx, char *err, size_t errlen)
{
	struct vigil_monitor *mon = calloc(1, sizeof(*mon));
	int ret;

	if (!mon)
		return -ENOMEM;
	mon->on_event = on_event;
	mon->ctx = ctx;
	snprintf(mon->pin_dir, sizeof(mon->pin_dir), "%s", cfg->pin_dir);
	ret = load_objects(mon, cfg, err, errlen);
	if (ret)
		goto fail;
	ret = write_settings(mon, cfg, false, err, errlen);
	if (!ret)
		ret = vigil_watch_sync(mon->skel, cfg, err, errlen);
	if (ret)
		goto fail;
	ret = attach_hooks(mon, err, errlen);
	if (ret)
		goto fail;
	mon->ring = ring_buffer__new(bpf_map__fd(mon->skel->maps.events), handle_ring_record,
				     mon, NULL);
	if (!mon->ring) {
		ret = -errno;
		snprintf(err, errlen, "cannot open event ring buffer: %s", strerror(errno));
		goto fail;
	}
	*out = mon;
	return 0;
fail:
	vigil_monitor_stop(mon);
	return ret;
}

int vigil_monitor_reconfigure(struct vigil_monitor *mon, const struct vigil_config *cfg,
			      char *err, size_t errlen)
{
	int ret = write_settings(mon, cfg, true, err, errlen);

	if (!ret)
		ret = vigil_watch_sync(mon->skel, cfg, err, errlen);
	return ret ? ret : write_settings(mon, cfg, false, err, errlen);
}

int vigil_monitor_poll(struct vigil_monitor *mon, int timeout_ms)
{
	int ret = ring_buffer__poll(mon->ring, timeout_ms);

	return ret == -EINTR ? 0 : ret;
}

void vigil_monitor_stop(struct vigil_monitor *mon)
{
	if (!mon)
		return;
	ring_buffer__free(mon->ring);
	/* Closing a pinned link's fd leaves it attached. */
	for (int i = 0; i < mon->n_links; i++)
		bpf_link__destroy(mon->links[i]);
	monitor_bpf__destroy(mon->skel);
	free(mon);
}

/* Removes vigil's pins in pin_dir (maps of all vigil objects, pinned links),
 * then the directories if nothing else is left in them. */
int vigil_monitor_unpin(const char *pin_dir)
{
	char links[512];
	int ret, foreign = 0;

	snprintf(links, sizeof(links), "%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR);
	ret = remove_own_entries(links, true, &foreign);
	if (ret == 0 || ret == -ENOENT)
		ret = remove_own_entries(pin_dir, false, &foreign);
	if (foreign)
		pr_warn("unpin: %d entries that vigil did not pin left in place under %s", foreign,
			pin_dir);
	return ret == -ENOENT ? 0 : ret;
}

int vigil_monitor_restore_pins(struct vigil_monitor *mon)
{
	int n = vigil_repin_object(mon->skel->obj), ret;

	for (int i = 0; n >= 0 && i < mon->n_links; i++) {
		ret = vigil_repin_link(bpf_link__fd(mon->links[i]), mon->pin_dir, mon->link_names[i]);
		n = ret < 0 ? ret : n + ret;
	}
	return n;
}

const struct bpf_object *vigil_monitor_object(const struct vigil_monitor *mon)
{
	return mon->skel->obj;
}

int vigil_monitor_epoll_fd(const struct vigil_monitor *mon)
{
	return ring_buffer__epoll_fd(mon->ring);
}

int vigil_monitor_consume(struct vigil_monitor *mon)
{
	return ring_buffer__consume(mon->ring);
}

void vigil_monitor_maps(const struct vigil_monitor *mon, struct vigil_monitor_maps *out)
{
	out->backend_stats = bpf_map__fd(mon->skel->maps.backend_stats);
	out->inflight = bpf_map__fd(mon->skel->maps.inflight);
	out->sock_state = bpf_map__fd(mon->skel->maps.sock_state);
	out->sock_counts = bpf_map__fd(mon->skel->maps.sock_counts);
}

int vigil_monitor_status_fd(const struct vigil_monitor *mon)
{
	return bpf_map__fd(mon->skel->maps.daemon_status);
}

int vigil_monitor_heartbeat_fd(const struct vigil_monitor *mon)
{
	return bpf_map__fd(mon->skel->maps.heartbeat);
}

size_t vigil_monitor_link_names(const struct vigil_monitor *mon, const char **names, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < mon->n_links && n < max; i++)
		names[n++] = mon->link_names[i];
	return n;
}
