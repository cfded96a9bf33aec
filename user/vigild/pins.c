/* SPDX-License-Identifier: MIT */
#include "pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vigil/abi.h>

#include "log.h"
#include "maps.h"
#include "path.h"
#include "sock_dp.h"

/* FNV-1a over the path without trailing slashes. */
void vigil_pin_lock_path(const char *pin_dir, char *buf, size_t len)
{
	unsigned long long h = 1469598103934665603ull;
	size_t n = strlen(pin_dir);

	while (n > 1 && pin_dir[n - 1] == '/')
		n--;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)pin_dir[i];
		h *= 1099511628211ull;
	}
	snprintf(buf, len, "%s/%016llx.lock", VIGIL_LOCK_DIR, h);
}

static pid_t owner_pid(int fd)
{
	char text[64] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	return n > 0 ? (pid_t)atoi(text) : 0;
}

int vigil_pin_lock(const char *pin_dir, char *err, size_t errlen)
{
	char path[256], text[400];
	struct stat a, b;
	int fd, ret;

	vigil_pin_lock_path(pin_dir, path, sizeof(path));
	if (mkdir(VIGIL_LOCK_DIR, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s for the lock of %s: %s", VIGIL_LOCK_DIR,
			 pin_dir, strerror(errno));
		return ret;
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
			return ret;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			pid_t pid = owner_pid(fd);

			ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
			if (ret == -EBUSY)
				snprintf(err, errlen, "another vigild (pid %d) owns pin directory %s "
					 "(lock %s): stop it first", (int)pid, pin_dir, path);
			else
				snprintf(err, errlen, "cannot lock %s: %s", path, strerror(-ret));
			close(fd);
			return ret;
		}
		/* The owner before us may have unlinked the file between our open
		 * and flock: then we hold a lock nobody else can see. Retry. */
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot lock %s: it keeps being replaced", path);
		return -EAGAIN;
	}
	snprintf(text, sizeof(text), "%d\n%s\n", (int)getpid(), pin_dir);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot write lock file %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

void vigil_pin_unlock(int fd, const char *pin_dir)
{
	char path[256];

	if (fd < 0)
		return;
	vigil_pin_lock_path(pin_dir, path, sizeof(path));
	unlink(path);
	close(fd);
}

static const char *const own_maps[] = {
	VIGIL_PIN_BACKEND_STATS, VIGIL_PIN_LOCAL_STATS, VIGIL_PIN_WATCH_EXACT,
	VIGIL_PIN_WATCH_PREFIX,  VIGIL_PIN_INFLIGHT,    VIGIL_PIN_SOCK_STATE,
	VIGIL_PIN_SOCK_COUNTS,
	VIGIL_PIN_EVENTS,        VIGIL_PIN_HEALTH,      VIGIL_PIN_SERVICE_SETS,
	VIGIL_PIN_SERVICES,      VIGIL_PIN_BACKEND_INFO, VIGIL_PIN_ADMIN,
	VIGIL_PIN_HISTORY,       VIGIL_PIN_XDP_SERVICES,
	VIGIL_PIN_XDP_BACKENDS,  VIGIL_PIN_XDP_TABLES,  VIGIL_PIN_FLOWS,
	VIGIL_PIN_REV_FLOWS,     VIGIL_PIN_XDP_STATS,   VIGIL_PIN_XDP_DROPS,
	VIGIL_PIN_XDP_SETS,      VIGIL_PIN_HEARTBEAT,
	VIGIL_PIN_LOSS,          VIGIL_PIN_RESCUE_FLOWS,
	VIGIL_PIN_RESCUE_SVC,    VIGIL_PIN_RESCUE_STATS,  VIGIL_PIN_RESCUE_LIVE,
	VIGIL_PIN_DAEMON_STATUS, VIGIL_PIN_TRACKED_PORTS,
	VIGIL_PIN_LB_FEEDS,      VIGIL_PIN_PENDING,
	/* An older vigil's maps: the local-port watch (now a bitmap in the
	 * monitor's settings), the socket LB's VIPs and the rescue's socket
	 * marks (now in sock_state). */
	"watch_local", "sock_vip", "rescue_marks",
};

static const char *const own_link_prefixes[] = { VIGIL_PIN_MON_LINK_PREFIX, "new-monitor-", "xdp-",
						 "tc-", "rescue-" };

bool vigil_is_own_pin(const char *name, bool in_links)
{
	if (!in_links) {
		for (size_t i = 0; i < sizeof(own_maps) / sizeof(own_maps[0]); i++)
			if (strcmp(name, own_maps[i]) == 0)
				return true;
		return strcmp(name, VIGIL_PIN_LINKS_DIR) == 0;
	}
	for (size_t i = 0; i < VIGIL_SOCK_DP_N_LINKS; i++)
		if (strcmp(name, vigil_sock_dp_link_names[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(own_link_prefixes) / sizeof(own_link_prefixes[0]); i++)
		if (strncmp(name, own_link_prefixes[i], strlen(own_link_prefixes[i])) == 0)
			return true;
	return false;
}

int vigil_repin_object(const struct bpf_object *obj)
{
	struct bpf_map *map;
	int n = 0;

	bpf_object__for_each_map(map, obj) {
		const char *path = bpf_map__pin_path(map);
		int ret;

		if (!path)
			continue;
		/* bpf_map__pin() believes the map is still pinned: pin the fd. */
		ret = vigil_repin_fd(bpf_map__fd(map), path);
		if (ret < 0)
			return ret;
		n += ret;
	}
	return n;
}

/* ---- noticing removals ------------------------------------------------------ */

#define REMOVALS (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF)

struct vigil_pin_watch {
	int fd;       /* inotify; -1: none, every round may have removed a pin */
	bool pending; /* report a removal at the next call */
	char pin_dir[PATH_MAX];
};

static void watch_unavailable(struct vigil_pin_watch *w, const char *what)
{
	pr_warn("cannot watch %s for removed pins (%s: %s): every pin is looked up at every "
		"loop round instead", w->pin_dir, what, strerror(errno));
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

struct vigil_pin_watch *vigil_pin_watch_new(const char *pin_dir)
{
	struct vigil_pin_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	snprintf(w->pin_dir, sizeof(w->pin_dir), "%s", pin_dir);
	w->pending = true;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		watch_unavailable(w, "inotify_init1");
	vigil_pin_watch_arm(w);
	return w;
}

void vigil_pin_watch_arm(struct vigil_pin_watch *w)
{
	char links[PATH_MAX];

	if (!w || w->fd < 0)
		return;
	/* Adding a watch again to the same directory only updates its mask. */
	if (inotify_add_watch(w->fd, w->pin_dir, REMOVALS) < 0) {
		watch_unavailable(w, "inotify_add_watch");
		return;
	}
	/* A path that does not fit names no pin vigild could have made. */
	if (vigil_path_fmt(links, sizeof(links), "%s/%s", w->pin_dir, VIGIL_PIN_LINKS_DIR) == 0 &&
	    inotify_add_watch(w->fd, links, REMOVALS) < 0 && errno != ENOENT)
		watch_unavailable(w, "inotify_add_watch");
}

bool vigil_pin_watch_removed(struct vigil_pin_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool removed;

	if (!w)
		return false;
	removed = w->pending || w->fd < 0;
	w->pending = false;
	/* Any event: a removal, a directory gone (IN_IGNORED), a queue overflow. */
	while (w->fd >= 0 && read(w->fd, buf, sizeof(buf)) > 0)
		removed = true;
	return removed;
}

void vigil_pin_watch_free(struct vigil_pin_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
