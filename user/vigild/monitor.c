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
#include <unistd.h>

#include "log.h"
#include "maps.h"
#include "monitor.skel.h"
#include "path.h"
#include "watch_sync.h"

struct vigil_monitor {
	struct monitor_bpf *skel;
	struct ring_buffer *ring;
	vigil_event_fn on_event;
	void *ctx;
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

/* Unlink every entry of dir (bpffs pins; no subdirectories but links/), then dir. */
static int remove_dir_entries(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int first_error = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, VIGIL_PIN_LINKS_DIR) == 0)
			continue;
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
	if (rmdir(dir) < 0 && !first_error)
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

static int load_objects(struct vigil_monitor *mon, const struct vigil_config *cfg, char *err,
			size_t errlen)
{
	/* Maps marked LIBBPF_PIN_BY_NAME are pinned (or reused) at pin_dir/NAME. */
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->pin_dir);
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
	ret = monitor_bpf__load(mon->skel);
	if (ret) {
		snprintf(err, errlen,
			 "loading BPF programs failed (%s); if the log above says a pinned map "
			 "could not be reused, maps under %s come from another vigil version or "
			 "watch_all_max: remove them with 'vigild --unpin'",
			 strerror(-ret), cfg->pin_dir);
		return ret;
	}
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
	ret = load_objects(mon, cfg, err, errlen);
	if (ret)
		goto fail;
	mon->skel->bss->vigil_settings.watch_all = cfg->watch_all;
	mon->skel->bss->vigil_settings.watch_all_local = cfg->watch_all_local;
	ret = vigil_watch_sync(mon->skel, cfg, err, errlen);
	if (ret)
		goto fail;
	ret = monitor_bpf__attach(mon->skel);
	if (ret) {
		snprintf(err, errlen, "attaching tracepoints failed: %s", strerror(-ret));
		goto fail;
	}
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
	int ret = vigil_watch_sync(mon->skel, cfg, err, errlen);

	if (ret)
		return ret;
	/* .bss stays writable (mmapped) after load: the programs read the new
	 * settings on their next run. */
	mon->skel->bss->vigil_settings.watch_all = cfg->watch_all;
	mon->skel->bss->vigil_settings.watch_all_local = cfg->watch_all_local;
	return 0;
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
	monitor_bpf__destroy(mon->skel);
	free(mon);
}

/* Removes every pin in pin_dir (maps of all vigil objects, pinned links). */
int vigil_monitor_unpin(const char *pin_dir)
{
	char links[512];
	int ret;

	snprintf(links, sizeof(links), "%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR);
	ret = remove_dir_entries(links);
	if (ret == 0 || ret == -ENOENT)
		ret = remove_dir_entries(pin_dir);
	return ret == -ENOENT ? 0 : ret;
}

int vigil_monitor_epoll_fd(const struct vigil_monitor *mon)
{
	return ring_buffer__epoll_fd(mon->ring);
}

int vigil_monitor_consume(struct vigil_monitor *mon)
{
	return ring_buffer__consume(mon->ring);
}

void vigil_monitor_maps(const struct vigil_monitor *mon, int *backend_stats, int *inflight)
{
	*backend_stats = bpf_map__fd(mon->skel->maps.backend_stats);
	*inflight = bpf_map__fd(mon->skel->maps.inflight);
}
