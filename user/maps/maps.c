/* SPDX-License-Identifier: MIT */
#include "maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "path.h"

static const char *type_name(__u32 type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_PERCPU_HASH: return "percpu_hash";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: return "lru_percpu_hash";
	case BPF_MAP_TYPE_RINGBUF: return "ringbuf";
	default: return "another type";
	}
}

/* The pinned object at path is the map this build expects: a map of that
 * type, key and value size (a per-CPU map read as a plain one, or a smaller
 * value, would overrun the reader's buffer). */
static int check_pinned(int fd, const char *path, __u32 type, size_t key_size,
			size_t value_size, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) < 0) {
		snprintf(err, errlen, "%s is not a BPF map (%s): remove it and restart vigild, or "
			 "pass the right --pin-dir", path, strerror(errno));
		return -EPROTO;
	}
	if (info.type == type && info.key_size == key_size && info.value_size == value_size)
		return 0;
	snprintf(err, errlen, "pinned map %s is a %s map with key/value size %u/%u, this "
		 "vigilctl expects a %s map with %zu/%zu: it was not pinned by this vigil "
		 "version; stop vigild, run 'vigild --unpin' and start vigild from this build",
		 path, type_name(info.type), info.key_size, info.value_size, type_name(type),
		 key_size, value_size);
	return -EPROTO;
}

int vigil_pin_open(const char *pin_dir, const char *name, __u32 type, size_t key_size,
		   size_t value_size, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, ret;

	if (vigil_path_fmt(path, sizeof(path), "%s/%s", pin_dir, name)) {
		snprintf(err, errlen, "pinned map path %.64s...: longer than PATH_MAX: use a "
			 "shorter --pin-dir", path);
		return -ENAMETOOLONG;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open pinned map %s: %s%s", path, strerror(e),
			 e == ENOENT ? " (is vigild running, or did it ever run with this "
				       "pin_dir? start it or pass --pin-dir)"
			 : e == EPERM || e == EACCES ? " (run vigilctl as root)" : "");
		return -e;
	}
	ret = check_pinned(fd, path, type, key_size, value_size, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* The first property (libbpf's reuse test) in which the pinned map differs. */
static const char *pin_mismatch(const struct bpf_map *map, const struct bpf_map_info *info,
				__u32 *have, __u32 *want)
{
	const struct {
		const char *name;
		__u32 have, want;
	} props[] = {
		{ "type", info->type, (__u32)bpf_map__type(map) },
		{ "key size", info->key_size, bpf_map__key_size(map) },
		{ "value size", info->value_size, bpf_map__value_size(map) },
		{ "max_entries", info->max_entries, bpf_map__max_entries(map) },
		{ "flags", info->map_flags, bpf_map__map_flags(map) },
	};

	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (props[i].have != props[i].want) {
			*have = props[i].have;
			*want = props[i].want;
			return props[i].name;
		}
	return NULL;
}

int vigil_pins_check(const struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *path = bpf_map__pin_path(map), *what;
		struct bpf_map_info info = {};
		__u32 len = sizeof(info), have, want;
		int fd, ret;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet (or unreadable: libbpf says why) */
		ret = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		what = ret ? NULL : pin_mismatch(map, &info, &have, &want);
		if (!what)
			continue;
		snprintf(err, errlen, "pinned map %s has %s %u, this vigild needs %u: it was "
			 "created by another vigil version or with another daemon.watch_all_max, "
			 "and a pinned map cannot change; stop vigild, remove the old pins with "
			 "'vigild --unpin' (same -c config) and start it again", path, what, have,
			 want);
		return -EEXIST;
	}
	return 0;
}

/* Walk a per-CPU map; per entry, add_row(snap, key, values, ncpus, stride)
 * folds the CPUs' values (each rounded up to 8 bytes) into a new row. */
typedef int (*add_row_fn)(struct vigil_snapshot *snap, const void *key, const char *values,
			  int ncpus, size_t stride);

static int walk_percpu(int fd, size_t key_size, size_t value_size, struct vigil_snapshot *snap,
		       add_row_fn add_row)
{
	__u8 key[64], prev_key[64];
	size_t stride = (value_size + 7) & ~(size_t)7;
	int ncpus = libbpf_num_possible_cpus(), ret = 0;
	char *values = ncpus > 0 ? calloc((size_t)ncpus, stride) : NULL;
	void *prev = NULL;

	if (!values)
		return -ENOMEM;
	while (!ret && bpf_map_get_next_key(fd, prev, key) == 0) {
		memcpy(prev_key, key, key_size);
		prev = prev_key;
		/* An entry evicted between next_key and lookup is simply skipped. */
		if (bpf_map_lookup_elem(fd, key, values) == 0)
			ret = add_row(snap, key, values, ncpus, stride);
	}
	free(values);
	return ret;
}

int vigil_grow_rows(void **rows, size_t n, size_t elem)
{
	void *grown;

	if (n && (n < 16 || (n & (n - 1))))
		return 0;
	grown = realloc(*rows, (n ? n * 2 : 16) * elem);
	if (!grown)
		return -ENOMEM;
	*rows = grown;
	return 0;
}

static int add_backend_row(struct vigil_snapshot *snap, const void *key, const char *values,
			   int ncpus, size_t stride)
{
	struct vigil_backend_row *row;

	if (vigil_grow_rows((void **)&snap->backends, snap->n_backends, sizeof(*row)))
		return -ENOMEM;
	row = &snap->backends[snap->n_backends++];
	memset(row, 0, sizeof(*row));
	memcpy(&row->ep, key, sizeof(row->ep));
	for (int cpu = 0; cpu < ncpus; cpu++)
		vigil_backend_stats_add(&row->s, (const void *)(values + cpu * stride));
	return 0;
}

static int add_local_row(struct vigil_snapshot *snap, const void *key, const char *values,
			 int ncpus, size_t stride)
{
	struct vigil_local_row *row;
	__u32 port;

	if (vigil_grow_rows((void **)&snap->locals, snap->n_locals, sizeof(*row)))
		return -ENOMEM;
	row = &snap->locals[snap->n_locals++];
	memset(row, 0, sizeof(*row));
	memcpy(&port, key, sizeof(port));
	row->port = (__u16)port;
	for (int cpu = 0; cpu < ncpus; cpu++)
		vigil_local_stats_add(&row->s, (const void *)(values + cpu * stride));
	return 0;
}

/* Keys of at most 64 bytes. */
static size_t count_entries(int fd)
{
	__u8 key[64], prev_key[64], *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, key) == 0) {
		memcpy(prev_key, key, sizeof(key));
		prev = prev_key;
		n++;
	}
	return n;
}

int vigil_percpu_sum(const char *pin_dir, const char *name, __u32 n, __u64 *sum, char *err,
		     size_t errlen)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *per_cpu;
	int fd = vigil_pin_open(pin_dir, name, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
				sizeof(__u64), err, errlen);

	if (fd < 0)
		return fd;
	per_cpu = ncpus > 0 ? calloc((size_t)ncpus, sizeof(*per_cpu)) : NULL;
	for (__u32 i = 0; per_cpu && i < n; i++) {
		sum[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, per_cpu) == 0)
			for (int c = 0; c < ncpus; c++)
				sum[i] += per_cpu[c];
	}
	close(fd);
	if (!per_cpu) {
		snprintf(err, errlen, "out of memory reading %s", name);
		return -ENOMEM;
	}
	free(per_cpu);
	return 0;
}

int vigil_rescue_read(const char *pin_dir, __u64 rescue[VIGIL_RESCUE_COUNTERS])
{
	char err[512];

	if (vigil_percpu_sum(pin_dir, VIGIL_PIN_RESCUE_STATS, VIGIL_RESCUE_COUNTERS, rescue, err,
			     sizeof(err)) == 0)
		return 1;
	memset(rescue, 0, VIGIL_RESCUE_COUNTERS * sizeof(rescue[0]));
	return 0;
}

int vigil_loss_read(const char *pin_dir, __u64 loss[VIGIL_LOSS_REASONS])
{
	char err[512];

	if (vigil_percpu_sum(pin_dir, VIGIL_PIN_LOSS, VIGIL_LOSS_REASONS, loss, err,
			     sizeof(err)) == 0)
		return 1;
	memset(loss, 0, VIGIL_LOSS_REASONS * sizeof(loss[0]));
	return 0;
}

int vigil_feeds_read(const char *pin_dir, struct vigil_feed_stats feeds[VIGIL_FEEDS])
{
	char err[512];
	int fd = vigil_pin_open(pin_dir, VIGIL_PIN_LB_FEEDS, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
				sizeof(struct vigil_feed_stats), err, sizeof(err));

	memset(feeds, 0, VIGIL_FEEDS * sizeof(*feeds));
	for (__u32 i = 0; fd >= 0 && i < VIGIL_FEEDS; i++)
		if (bpf_map_lookup_elem(fd, &i, &feeds[i]) < 0)
			memset(&feeds[i], 0, sizeof(feeds[i]));
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* Sockets the monitor tracks now: those whose tracking started minus those
 * whose tracking ended or that a restart found gone (their storage itself
 * cannot be walked). */
static size_t tracked_sockets(const char *pin_dir)
{
	__u64 counts[VIGIL_SOCK_COUNTS] = { 0 };
	char err[512];

	__u64 gone;

	if (vigil_percpu_sum(pin_dir, VIGIL_PIN_SOCK_COUNTS, VIGIL_SOCK_COUNTS, counts, err,
			     sizeof(err)) < 0)
		return 0; /* no pin: an older vigild */
	gone = counts[VIGIL_SOCK_RELEASED] + counts[VIGIL_SOCK_DISCOUNTED];
	/* Below 0: read across an update on another CPU. */
	return gone < counts[VIGIL_SOCK_TRACKED] ? (size_t)(counts[VIGIL_SOCK_TRACKED] - gone) : 0;
}

/* max_entries as the kernel has it: vigild may size a map below the ABI
 * limit (watch_all_max). 0 when it cannot be read. */
static size_t max_entries_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.max_entries : 0;
}

/* rescue_flows is pinned by vigild versions that have the rescue; counted
 * by walking its keys like inflight (at most 65,536: cheap enough for a CLI). */
static void read_pinned_fill(const char *pin_dir, const char *name, size_t key_size,
			     size_t value_size, struct vigil_fill *fill)
{
	char err[512];
	int fd = vigil_pin_open(pin_dir, name, BPF_MAP_TYPE_LRU_HASH, key_size, value_size, err,
				sizeof(err));

	if (fd < 0)
		return;
	fill->entries = count_entries(fd);
	fill->max_entries = max_entries_of(fd);
	close(fd);
}

static void read_fill(const char *pin_dir, struct vigil_snapshot *snap, int fd_b, int fd_l,
		      int fd_i, size_t pending_syns)
{
	snap->fill[VIGIL_FILL_INFLIGHT] = (struct vigil_fill){ pending_syns, max_entries_of(fd_i) };
	snap->fill[VIGIL_FILL_BACKEND_STATS] =
		(struct vigil_fill){ snap->n_backends, max_entries_of(fd_b) };
	snap->fill[VIGIL_FILL_LOCAL_STATS] = (struct vigil_fill){ snap->n_locals, max_entries_of(fd_l) };
	read_pinned_fill(pin_dir, VIGIL_PIN_RESCUE_FLOWS, sizeof(struct vigil_flow_key),
			 sizeof(struct vigil_rescue_flow), &snap->fill[VIGIL_FILL_RESCUE_FLOWS]);
}

int vigil_snapshot_read(const char *pin_dir, struct vigil_snapshot *snap, char *err,
			size_t errlen)
{
	int fd_b, fd_l, fd_i, ret;

	memset(snap, 0, sizeof(*snap));
	fd_b = vigil_pin_open(pin_dir, VIGIL_PIN_BACKEND_STATS, BPF_MAP_TYPE_LRU_PERCPU_HASH,
			      sizeof(struct vigil_endpoint),
			      sizeof(struct vigil_backend_stats), err, errlen);
	if (fd_b < 0)
		return fd_b;
	fd_l = vigil_pin_open(pin_dir, VIGIL_PIN_LOCAL_STATS, BPF_MAP_TYPE_LRU_PERCPU_HASH,
			      sizeof(__u32),
			      sizeof(struct vigil_local_stats), err, errlen);
	fd_i = fd_l < 0 ? -1 : vigil_pin_open(pin_dir, VIGIL_PIN_INFLIGHT,
					       BPF_MAP_TYPE_LRU_HASH, sizeof(__u64),
					       sizeof(struct vigil_pkt_inflight), err, errlen);
	ret = fd_l < 0 ? fd_l : fd_i < 0 ? fd_i : 0;
	if (!ret)
		ret = walk_percpu(fd_b, sizeof(struct vigil_endpoint),
				  sizeof(struct vigil_backend_stats), snap, add_backend_row);
	if (!ret)
		ret = walk_percpu(fd_l, sizeof(__u32), sizeof(struct vigil_local_stats), snap,
				  add_local_row);
	if (!ret) {
		size_t pending_syns = count_entries(fd_i);

		snap->inflight = tracked_sockets(pin_dir) + pending_syns;
		read_fill(pin_dir, snap, fd_b, fd_l, fd_i, pending_syns);
		snap->have_loss = vigil_loss_read(pin_dir, snap->loss);
		snap->have_feeds = vigil_feeds_read(pin_dir, snap->feeds);
		snap->have_rescue = vigil_rescue_read(pin_dir, snap->rescue);
		vigil_snapshot_sort(snap);
	} else if (ret == -ENOMEM) {
		snprintf(err, errlen, "out of memory reading %s", pin_dir);
	}
	if (ret)
		vigil_snapshot_free(snap);
	close(fd_b);
	if (fd_l >= 0)
		close(fd_l);
	if (fd_i >= 0)
		close(fd_i);
	return ret;
}

int vigil_map_delete_unless(int fd, size_t key_size,
			    bool (*keep)(const void *key, const void *ctx), const void *ctx)
{
	__u8 key[64], prev_key[64], *stale = NULL;
	size_t n = 0;
	void *prev = NULL;
	int ret = 0;

	while (bpf_map_get_next_key(fd, prev, key) == 0) {
		if (!keep(key, ctx)) {
			if (vigil_grow_rows((void **)&stale, n, key_size)) {
				free(stale);
				return -ENOMEM;
			}
			memcpy(stale + n++ * key_size, key, key_size);
		}
		memcpy(prev_key, key, key_size);
		prev = prev_key;
	}
	for (size_t i = 0; i < n; i++) {
		/* ENOENT: gone already (the datapath or vigilctl deleted it) */
		if (bpf_map_delete_elem(fd, stale + i * key_size) && errno != ENOENT && !ret)
			ret = -errno;
	}
	free(stale);
	return ret;
}

int vigil_repin_fd(int fd, const char *path)
{
	if (access(path, F_OK) == 0)
		return 0;
	if (bpf_obj_pin(fd, path) < 0)
		return -errno;
	pr_warn("pin %s was removed while vigild runs: pinned again (the same object)", path);
	return 1;
}

int vigil_repin_link(int fd, const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	/* A path that does not fit names no pin vigild could have made. */
	if (vigil_path_fmt(path, sizeof(path), "%s/%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR, name))
		return -ENAMETOOLONG;
	return vigil_repin_fd(fd, path);
}
