/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* setns */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "path.h"

int vigil_netns_enter(const char *path, int *saved)
{
	int fd;

	*saved = -1;
	if (!path || !*path)
		return 0;
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return -e;
	}
	close(fd);
	return 0;
}

void vigil_netns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0)
		pr_err("cannot return to vigild's network namespace: %s", strerror(errno));
	close(saved);
}

/* ---- every namespace ------------------------------------------------------- */

struct ns_id {
	dev_t dev;
	ino_t ino;
};

struct walk {
	vigil_netns_visit_fn visit;
	void *ctx;
	int self_fd;     /* the thread's own namespace, to come back to */
	int *enter_err;  /* first setns() refusal */
	struct ns_id *seen; /* namespaces visited */
	size_t n_seen, cap_seen;
};

/* Record st's namespace; false if it was visited already. */
static bool first_visit(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->n_seen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return false;
	if (w->n_seen == w->cap_seen) {
		size_t cap = w->cap_seen ? w->cap_seen * 2 : 16;
		struct ns_id *ids = realloc(w->seen, cap * sizeof(*ids));

		if (!ids)
			return false; /* out of memory: treat as visited, i.e. skip */
		w->seen = ids;
		w->cap_seen = cap;
	}
	w->seen[w->n_seen++] = (struct ns_id){ .dev = st->st_dev, .ino = st->st_ino };
	return true;
}

/* Enter the namespace at path (unless already seen), visit it, come back.
 * Returns 0, a stop value of the visit, or VIGIL_NETNS_STRANDED. */
static int visit_path(struct walk *w, const char *path)
{
	struct stat st;
	int fd, rc;

	if (stat(path, &st) < 0 || !first_visit(w, &st))
		return 0; /* process gone, or namespace already visited */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET) < 0) {
		if (errno == EPERM && !*w->enter_err) { /* every other one fails the same way */
			*w->enter_err = -errno;
			pr_warn("entering network namespace %s failed: %s (needs CAP_SYS_ADMIN)", path,
				strerror(errno));
		} else { /* e.g. a stale /run/netns file whose mount is gone */
			pr_debug("skipping network namespace %s: %s", path, strerror(errno));
		}
		close(fd);
		return 0;
	}
	close(fd);
	rc = w->visit(path, w->ctx);
	if (setns(w->self_fd, CLONE_NEWNET) < 0) {
		pr_err("cannot return to the original network namespace: %s", strerror(errno));
		return VIGIL_NETNS_STRANDED;
	}
	return rc;
}

/* Visit every namespace found under dir (entries matching "<name>/<suffix>"). */
static int visit_dir(struct walk *w, const char *dir, const char *suffix, bool numeric)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return 0;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (numeric && (de->d_name[0] < '0' || de->d_name[0] > '9')))
			continue;
		if (vigil_path_fmt(path, sizeof(path), "%s/%s%s", dir, de->d_name, suffix)) {
			pr_warn("skipping network namespace %s...: longer than PATH_MAX", path);
			continue;
		}
		rc = visit_path(w, path);
	}
	closedir(d);
	return rc;
}

/* True if the calling thread is in the namespace st describes. Checked rather
 * than re-entering blindly: setns() needs CAP_SYS_ADMIN even to stay put, and
 * its failure would be reported as being stranded in another namespace. */
static bool in_ns(const struct stat *st)
{
	struct stat now;

	return stat("/proc/thread-self/ns/net", &now) == 0 && now.st_dev == st->st_dev &&
	       now.st_ino == st->st_ino;
}

int vigil_netns_for_each(vigil_netns_visit_fn visit, void *ctx, int *enter_err)
{
	struct walk w = { .visit = visit, .ctx = ctx, .enter_err = enter_err };
	struct stat st;
	int rc;

	*enter_err = 0;
	/* thread-self: setns() changes this thread, not the whole process. */
	w.self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (w.self_fd < 0 || fstat(w.self_fd, &st) < 0) {
		rc = -errno;
		if (w.self_fd >= 0)
			close(w.self_fd);
		return rc;
	}
	first_visit(&w, &st);
	rc = visit("the own network namespace", ctx);
	if (rc == 0)
		rc = visit_dir(&w, "/proc", "/ns/net", true);
	if (rc == 0)
		rc = visit_dir(&w, "/run/netns", "", false);
	if (rc != VIGIL_NETNS_STRANDED && !in_ns(&st) &&
	    setns(w.self_fd, CLONE_NEWNET) < 0) /* belt and braces */
		rc = VIGIL_NETNS_STRANDED;
	close(w.self_fd);
	free(w.seen);
	return rc;
}
