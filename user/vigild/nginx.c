/* SPDX-License-Identifier: MIT */
/*
 * The nginx feed. Open-source nginx has no runtime API, so vigild writes the
 * server lines of each fed service's upstream into an include file (write a
 * temporary file, rename it over the old one: nginx never reads half a file)
 * and reloads nginx: SIGHUP to the master whose PID is in nginx.pid_file, or
 * nginx.reload_command. Reloads are coalesced: at most one per
 * nginx.reload_interval_ms, so a flapping backend cannot cause a reload
 * storm. A file that already says the same is not written, and nginx is not
 * reloaded when no file changed. docs/integrations.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "feed.h"
#include "hist.h"
#include "lbfeed.h"
#include "log.h"

#define FILE_MAX (VIGIL_MAX_SVC_BACKENDS * 256)

extern char **environ;

/* One include file: what it should say, and whether it says it yet. */
struct ng_file {
	char service[VIGIL_NAME_LEN]; /* first: vigil_feed_find */
	const struct vigil_nginx_upstream_cfg *cfg;
	char *text;          /* NULL until the service is first published */
	bool stale;          /* text not on disk yet */
	size_t servers;
};

struct vigil_nginx {
	const struct vigil_config *cfg;
	struct ng_file *files;
	size_t n_files;
	__u64 due_ns;          /* next reload; 0: nothing to do */
	__u64 decided_ns;      /* oldest change not in a reload yet */
	__u64 last_reload_ns;
	pid_t cmd_pid;         /* reload_command still running, 0: none */
	__u64 cmd_decided_ns;
	struct vigil_feed_stats stats;
	bool stats_dirty;
};

static struct ng_file *file_of(struct vigil_nginx *ng, const char *service)
{
	return vigil_feed_find(ng->files, ng->n_files, sizeof(*ng->files), service);
}

static void ng_reconfigure(void *feed, const struct vigil_config *cfg)
{
	struct vigil_nginx *ng = feed;
	const struct vigil_nginx_cfg *n = &cfg->nginx;
	struct ng_file *files = calloc(n->n_upstreams + 1, sizeof(*files));

	if (!files) {
		pr_err("nginx: out of memory following the new config: keeping the old files");
		return;
	}
	for (size_t i = 0; i < n->n_upstreams; i++) {
		struct ng_file *old = file_of(ng, n->upstreams[i].service);

		snprintf(files[i].service, sizeof(files[i].service), "%s", n->upstreams[i].service);
		files[i].cfg = &n->upstreams[i];
		/* Same service, same file: what it says carries over. */
		if (old && strcmp(old->cfg->file, n->upstreams[i].file) == 0) {
			files[i].text = old->text;
			files[i].stale = old->stale;
			old->text = NULL;
		}
	}
	for (size_t i = 0; i < ng->n_files; i++)
		free(ng->files[i].text);
	free(ng->files);
	ng->files = files;
	ng->n_files = n->n_upstreams;
	ng->cfg = cfg;
}

static void *ng_start(const struct vigil_config *cfg)
{
	struct vigil_nginx *ng = calloc(1, sizeof(*ng));

	if (ng)
		ng_reconfigure(ng, cfg);
	return ng;
}

static void ng_stop(void *feed)
{
	struct vigil_nginx *ng = feed;

	for (size_t i = 0; i < ng->n_files; i++)
		free(ng->files[i].text);
	free(ng->files);
	free(ng);
}

static void ng_run(void *feed, __u64 now);

static void ng_publish(void *feed, const struct vigil_service_cfg *svc,
		       const struct vigil_desired *want, __u64 now)
{
	struct vigil_nginx *ng = feed;
	struct ng_file *f = file_of(ng, svc->name);
	struct vigil_lb_verdict v[VIGIL_MAX_SVC_BACKENDS];
	char *text;
	__u64 earliest = ng->last_reload_ns + (__u64)ng->cfg->nginx.reload_interval_ms * 1000000ull;

	if (!f)
		return;
	vigil_lb_verdicts(want, v);
	text = malloc(FILE_MAX);
	if (!text || vigil_nginx_render(svc, v, f->cfg->options, text, FILE_MAX) < 0 ||
	    (f->text && strcmp(f->text, text) == 0)) {
		free(text);
		return;
	}
	free(f->text);
	f->text = text;
	f->stale = true;
	f->servers = svc->n_backends;
	if (ng->due_ns) { /* a reload is due already: this change goes with it */
		ng->stats.coalesced++;
		ng->stats_dirty = true;
		return;
	}
	ng->decided_ns = now;
	ng->due_ns = ng->last_reload_ns && earliest > now ? earliest : now;
	/* Due now: at once, not after whatever else this tick does (tearing
	 * down the connections of an ejected backend takes milliseconds). */
	if (ng->due_ns == now)
		ng_run(ng, now);
}

/* ---- files ------------------------------------------------------------------------ */

static bool same_on_disk(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 2);
	FILE *f = buf ? fopen(path, "re") : NULL;
	bool same = f && fread(buf, 1, len + 1, f) == len && memcmp(buf, text, len) == 0;

	if (f)
		fclose(f);
	free(buf);
	return same;
}

/* Temporary file beside it, then rename: a reading nginx sees the old file
 * or the new one, never a part. 0 or -errno. */
static int write_atomically(const char *path, const char *text)
{
	char tmp[300];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.vigil-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Every stale file to disk; returns how many changed there, -1 if one
 * could not be written (it stays stale). */
static int write_files(struct vigil_nginx *ng)
{
	int changed = 0, failed = 0;

	for (size_t i = 0; i < ng->n_files; i++) {
		struct ng_file *f = &ng->files[i];
		int ret;

		if (!f->stale || !f->text)
			continue;
		if (same_on_disk(f->cfg->file, f->text)) {
			f->stale = false;
			continue;
		}
		ret = write_atomically(f->cfg->file, f->text);
		if (ret) {
			pr_warn("nginx: writing %s failed: %s: retrying in %u ms", f->cfg->file,
				strerror(-ret), ng->cfg->nginx.reload_interval_ms);
			ng->stats.push_errors++;
			failed = 1;
			continue;
		}
		f->stale = false;
		ng->stats.resyncs++;
		changed++;
	}
	return failed ? -1 : changed;
}

/* ---- reload ------------------------------------------------------------------------ */

static void reload_ok(struct vigil_nginx *ng, __u64 decided_ns, __u64 now)
{
	ng->stats.pushes++;
	ng->stats.reachable = 1;
	ng->stats.last_ok_wall_ns = vigil_wall_ns();
	vigil_hist_add_ns(ng->stats.sent_us, decided_ns, now);
	ng->stats_dirty = true;
}

static void reload_failed(struct vigil_nginx *ng, __u64 *counter)
{
	(*counter)++;
	ng->stats.reachable = 0;
	ng->stats.last_error_wall_ns = vigil_wall_ns();
	ng->stats_dirty = true;
}

/* SIGHUP to the master in pid_file. An nginx that is not running reads the
 * files when it starts: nothing to retry. */
static void signal_master(struct vigil_nginx *ng, __u64 now)
{
	const char *path = ng->cfg->nginx.pid_file;
	FILE *f = fopen(path, "re");
	long pid = 0;

	if (f && fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	if (f)
		fclose(f);
	if (pid > 1 && kill((pid_t)pid, SIGHUP) == 0) {
		pr_info("nginx: reloaded (SIGHUP to master %ld) %llu us after the decision", pid,
			(unsigned long long)((now - ng->decided_ns) / 1000));
		reload_ok(ng, ng->decided_ns, now);
		return;
	}
	pr_warn("nginx: no master to reload (%s: %s): the include files are written; nginx "
		"reads them when it starts", path, pid > 1 ? strerror(errno) : "no pid in it");
	reload_failed(ng, &ng->stats.unreachable);
}

/* /bin/sh -c COMMAND at the normal scheduling policy (vigild's SCHED_RR is
 * for its own deadlines, not for what it starts). */
static void run_command(struct vigil_nginx *ng)
{
	char cmd[sizeof(ng->cfg->nginx.reload_command)], sh[] = "/bin/sh", c[] = "-c";
	char *argv[] = { sh, c, cmd, NULL };
	struct sched_param sp = { .sched_priority = 0 };
	posix_spawnattr_t attr;
	int ret = posix_spawnattr_init(&attr);

	snprintf(cmd, sizeof(cmd), "%s", ng->cfg->nginx.reload_command);
	if (!ret)
		ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSCHEDULER);
	if (!ret)
		ret = posix_spawnattr_setschedpolicy(&attr, SCHED_OTHER);
	if (!ret)
		ret = posix_spawnattr_setschedparam(&attr, &sp);
	if (!ret)
		ret = posix_spawn(&ng->cmd_pid, "/bin/sh", NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);

	if (ret) {
		ng->cmd_pid = 0;
		pr_warn("nginx: cannot run the reload command: %s", strerror(ret));
		reload_failed(ng, &ng->stats.push_errors);
		return;
	}
	ng->cmd_decided_ns = ng->decided_ns;
}

static void reap_command(struct vigil_nginx *ng, __u64 now)
{
	int status;

	if (!ng->cmd_pid || waitpid(ng->cmd_pid, &status, WNOHANG) != ng->cmd_pid)
		return;
	ng->cmd_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		pr_info("nginx: reloaded (%s) %llu us after the decision",
			ng->cfg->nginx.reload_command,
			(unsigned long long)((now - ng->cmd_decided_ns) / 1000));
		reload_ok(ng, ng->cmd_decided_ns, now);
		return;
	}
	pr_warn("nginx: the reload command '%s' failed (status %d)", ng->cfg->nginx.reload_command,
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	reload_failed(ng, &ng->stats.push_errors);
}

static void ng_run(void *feed, __u64 now)
{
	struct vigil_nginx *ng = feed;
	int changed;

	reap_command(ng, now);
	if (!ng->due_ns || now < ng->due_ns || ng->cmd_pid)
		return;
	changed = write_files(ng);
	ng->stats_dirty = true;
	ng->due_ns = changed < 0 ? now + (__u64)ng->cfg->nginx.reload_interval_ms * 1000000ull : 0;
	if (changed <= 0)
		return;
	ng->last_reload_ns = now;
	if (ng->cfg->nginx.pid_file[0])
		signal_master(ng, now);
	else
		run_command(ng);
}

static int ng_timeout_ms(const void *feed, __u64 now)
{
	const struct vigil_nginx *ng = feed;

	if (ng->cmd_pid)
		return 10; /* poll the command's exit */
	if (!ng->due_ns)
		return -1;
	return ng->due_ns <= now ? 0 : (int)((ng->due_ns - now + 999999) / 1000000);
}

static bool ng_stats(void *feed, struct vigil_feed_stats *out)
{
	struct vigil_nginx *ng = feed;
	__u32 pending = 0, servers = 0;

	for (size_t i = 0; i < ng->n_files; i++) {
		pending += ng->files[i].stale;
		servers += (__u32)ng->files[i].servers;
	}
	return vigil_feed_stats_take(&ng->stats, &ng->stats_dirty, pending, servers, out);
}

const struct vigil_feed_ops vigil_nginx_feed = {
	.name = "nginx", .start = ng_start, .stop = ng_stop,
	.reconfigure = ng_reconfigure, .publish = ng_publish, .timeout_ms = ng_timeout_ms,
	.run = ng_run, .stats = ng_stats,
};
