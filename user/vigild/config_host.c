/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* CLONE_NEWNET */
#include "config_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *file, unsigned int line, const char *key,
		const char *path, int ret, const char *problem, const char *fix)
{
	snprintf(err, errlen, "%s:%u: %s: %s: %s: %s", file, line, key, path, problem, fix);
	return ret;
}

static int check_cgroup(const struct vigil_config *cfg, const char *file, char *err,
			size_t errlen)
{
	const char *p = cfg->lb_cgroup;
	unsigned int line = cfg->lb_cgroup_line;
	struct statfs fs;
	struct stat st;

	if (!p[0])
		return 0;
	if (stat(p, &st))
		return fail(err, errlen, file, line, "lb.cgroup", p, -errno, strerror(errno),
			    "give an existing cgroup v2 directory (see: mount -t cgroup2)");
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, file, line, "lb.cgroup", p, -ENOTDIR, "not a directory",
			    "give a cgroup v2 directory (see: mount -t cgroup2)");
	if (statfs(p, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC)
		return fail(err, errlen, file, line, "lb.cgroup", p, -EINVAL,
			    "not a cgroup v2 directory (not on a cgroup2 file system)",
			    "give a directory under the cgroup2 mount (see: mount -t cgroup2)");
	return 0;
}

/* A named network namespace (/var/run/netns/NAME) or /proc/PID/ns/net. */
static int check_netns(const char *key, const char *p, unsigned int line, const char *file,
		       char *err, size_t errlen)
{
	static const char fix[] = "create it (ip netns add NAME) or fix the path";
	int fd, type;

	if (!p[0])
		return 0;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fail(err, errlen, file, line, key, p, -errno, strerror(errno),
			    errno == EACCES || errno == EPERM ? "run as root" : fix);
	type = ioctl(fd, NS_GET_NSTYPE);
	close(fd);
	if (type != CLONE_NEWNET)
		return fail(err, errlen, file, line, key, p, -EINVAL,
			    "not a network namespace", fix);
	return 0;
}

/* The directory of every nginx include file exists (vigild writes the file
 * and a temporary one beside it). */
static int check_nginx_dirs(const struct vigil_config *cfg, const char *file, char *err,
			    size_t errlen)
{
	for (size_t i = 0; i < cfg->nginx.n_upstreams; i++) {
		const struct vigil_nginx_upstream_cfg *up = &cfg->nginx.upstreams[i];
		char dir[sizeof(up->file)], key[48];
		struct stat st;

		snprintf(key, sizeof(key), "nginx.upstreams[%zu].file", i);
		snprintf(dir, sizeof(dir), "%s", up->file);
		*strrchr(dir, '/') = '\0';
		if (!dir[0])
			continue; /* the root directory */
		if (stat(dir, &st) || !S_ISDIR(st.st_mode))
			return fail(err, errlen, file, up->line, key, up->file,
				    -ENOTDIR, "its directory does not exist",
				    "create it (nginx includes the file from there)");
	}
	return 0;
}

int vigil_config_host_check(const struct vigil_config *cfg, const char *file, char *err,
			    size_t errlen)
{
	int ret = check_cgroup(cfg, file, err, errlen);

	if (!ret)
		ret = check_nginx_dirs(cfg, file, err, errlen);
	if (!ret)
		ret = check_netns("daemon.probe_netns", cfg->probe_netns, cfg->probe_netns_line,
				  file, err, errlen);
	if (!ret)
		ret = check_netns("xdp.netns", cfg->xdp_netns, cfg->xdp_netns_line, file, err,
				  errlen);
	return ret;
}
