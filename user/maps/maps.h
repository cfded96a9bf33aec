/* SPDX-License-Identifier: MIT */
/* Reading the monitor's pinned maps (used by vigilctl; works without vigild). */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "stats.h"

/* Open pin_dir/name after checking that it is a map of this type (enum
 * bpf_map_type) and these key and value sizes, as this build expects.
 * Returns an fd or -errno with the pin, the reason and the fix in err. */
int vigil_pin_open(const char *pin_dir, const char *name, __u32 type, size_t key_size,
		   size_t value_size, char *err, size_t errlen);

struct bpf_object;

/* Before loading obj (opened with the pin directory as pin_root_path): the
 * first map already pinned at its pin path that libbpf would refuse to reuse
 * (another type, key or value size, max_entries or flags: left by another
 * vigil version or another daemon.watch_all_max). Returns 0, or -EEXIST with
 * err naming the pin, the difference and the fix. */
int vigil_pins_check(const struct bpf_object *obj, char *err, size_t errlen);

/* Read backend_stats, local_stats, the in-flight count, the loss counters and
 * the LRU fill levels into snap (rows sorted). */
int vigil_snapshot_read(const char *pin_dir, struct vigil_snapshot *snap, char *err,
			size_t errlen);

/* Sum over CPUs of every loss reason (the pinned 'loss' array). Returns 1,
 * or 0 with loss all zero when there is no loss pin (a vigild from before
 * the loss counters): not an error, the rest is still useful. */
int vigil_loss_read(const char *pin_dir, __u64 loss[VIGIL_LOSS_REASONS]);
/* The socket rescue's counters (rescue_stats, by enum vigil_rescue_counter):
 * 1, or 0 (zeroed) when not pinned (the rescue never ran): not an error. */
int vigil_rescue_read(const char *pin_dir, __u64 rescue[VIGIL_RESCUE_COUNTERS]);

/* Sum over CPUs of entries [0, n) of the per-CPU array of __u64 pinned as
 * pin_dir/name (loss, xdp_stats, xdp_drops). Returns 0 or -errno with the
 * pin, the reason and the fix in err. */
int vigil_percpu_sum(const char *pin_dir, const char *name, __u32 n, __u64 *sum, char *err,
		     size_t errlen);
/* The counters of the load balancers vigild feeds (lb_feeds, by enum
 * vigil_feed); 1, or 0 (feeds zeroed) when not pinned (no services). */
int vigil_feeds_read(const char *pin_dir, struct vigil_feed_stats feeds[VIGIL_FEEDS]);

/* Delete every key of the map for which keep(key, ctx) is false. Keys are
 * collected first, because deleting during the walk restarts it. Returns 0,
 * -ENOMEM with nothing deleted, or the first -errno of a delete that failed
 * (the others are still tried; a key already gone counts as deleted). Keys
 * are at most 64 bytes. */
int vigil_map_delete_unless(int fd, size_t key_size,
			    bool (*keep)(const void *key, const void *ctx), const void *ctx);

/* Pin fd (a map or link vigild holds) at path unless something is pinned
 * there: someone removed the pin under a running vigild. Logged. Returns 1
 * when pinned again, 0 when present, -errno. */
int vigil_repin_fd(int fd, const char *path);
/* The same for a link pinned as pin_dir/links/name. */
int vigil_repin_link(int fd, const char *pin_dir, const char *name);

/* Make room for element n of *rows (elem bytes each), which holds n now:
 * capacity doubles at 16, 32, ... Returns 0 or -ENOMEM (*rows unchanged). */
int vigil_grow_rows(void **rows, size_t n, size_t elem);

#endif
