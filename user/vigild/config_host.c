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
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"

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

/* metrics.listen names an address of this host: binding it (port 0, so a
 * running vigild holding the port does not fail the check) would fail with
 * EADDRNOTAVAIL at start otherwise. */
static int check_metrics_listen(const struct vigil_config *cfg, const char *file, char *err,
				size_t errlen)
{
	const struct vigil_metrics_cfg *m = &cfg->metrics;
	struct vigil_endpoint probe = m->listen;
	struct sockaddr_storage ss;
	char ep[VIGIL_ENDPOINT_STRLEN];
	socklen_t len;
	int fd, ret = 0;

	if (!m->enabled)
		return 0;
	probe.port = 0;
	len = vigil_endpoint_sockaddr(&probe, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0)
		ret = fail(err, errlen, file, m->listen_line, "metrics.listen",
			   vigil_endpoint_format(&m->listen, ep, sizeof(ep)), -errno,
			   strerror(errno), errno == EADDRNOTAVAIL
			   ? "not an address of this host: give one of its addresses, or 0.0.0.0 / "
			     "[::] for every address"
			   : "check the address family is enabled on this host");
	if (fd >= 0)
		close(fd);
	return ret;
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
	if (!ret)
		ret = check_netns("daemon.monitor_netns", cfg->monitor_netns,
				  cfg->monitor_netns_line, file, err, errlen);
	if (!ret)
		ret = check_metrics_listen(cfg, file, err, errlen);
	return ret;
}
