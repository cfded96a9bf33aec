/* SPDX-License-Identifier: MIT */
/* Ownership of the pin directory: one vigild per pin_dir (a lock held for its
 * lifetime), what vigil pins there (so --unpin removes only that), and
 * restoring pins someone removed under a running vigild. */
#ifndef VIGIL_PINS_H
#define VIGIL_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bpf_object;

/* Lock files live in VIGIL_LOCK_DIR (not in the pin directory: bpffs holds
 * no regular files), one per pin directory: LOCK_DIR/<hash of the path>.lock,
 * holding the owner's PID and the pin directory. */
#define VIGIL_LOCK_DIR "/run/vigil"

/* Take the lock of pin_dir (flock, not waiting) and write our PID into it.
 * Returns the fd to keep open, or -EBUSY with err naming the owner's PID, or
 * another -errno with err saying why. */
int vigil_pin_lock(const char *pin_dir, char *err, size_t errlen);

/* Release (unlinks the lock file first, then closes fd); fd < 0: no-op. */
void vigil_pin_unlock(int fd, const char *pin_dir);

/* Path of pin_dir's lock file. */
void vigil_pin_lock_path(const char *pin_dir, char *buf, size_t len);

/* Is name (an entry of pin_dir, or of pin_dir/links with in_links) one vigil
 * pins? */
bool vigil_is_own_pin(const char *name, bool in_links);

/* Pin again every map of obj that has a pin path and is missing there.
 * Returns how many were re-pinned, or -errno of the first failure. */
int vigil_repin_object(const struct bpf_object *obj);

/* Noticing pins removed under a running vigild without looking each one up
 * every loop round: inotify on pin_dir and pin_dir/links reports removals
 * (and renames away), so a round with nothing removed costs one read(2).
 * Without inotify every round counts as one that may have removed a pin. */
struct vigil_pin_watch;

/* Watch pin_dir (and its links/); the first vigil_pin_watch_removed says
 * yes, for anything removed before the watch was set. NULL: out of memory. */
struct vigil_pin_watch *vigil_pin_watch_new(const char *pin_dir);

/* Watch the directories again, after they were created anew (rm -rf). */
void vigil_pin_watch_arm(struct vigil_pin_watch *w);

/* Whether something under the directories may have been removed since the
 * last call (vigild's own unlinks count too: the caller checks which pins
 * are missing). */
bool vigil_pin_watch_removed(struct vigil_pin_watch *w);

void vigil_pin_watch_free(struct vigil_pin_watch *w);

#endif
