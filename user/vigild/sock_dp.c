/* SPDX-License-Identifier: MIT */
#include "sock_dp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <vigil/abi.h>

#include "log.h"
#include "maps.h"
#include "path.h"
#include "sock_lb.skel.h"

#define CGROUP2_MAGIC 0x63677270

struct vigil_sock_dp {
	struct sock_lb_bpf *skel;
	char pin_dir[256];
	/* The hooks' links, held for vigild's lifetime beside their pins: the
	 * pins keep the hooks attached after vigild is gone, these keep them
	 * attached while someone removes the pins under a running vigild. */
	struct bpf_link *links[VIGIL_SOCK_DP_N_LINKS];
};

const char *const vigil_sock_dp_link_names[VIGIL_SOCK_DP_N_LINKS] = { "connect4", "connect6",
								     "getpeername4", "getpeername6" };

static bool is_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == CGROUP2_MAGIC;
}

const char *vigil_cgroup2_root(void)
{
	if (is_cgroup2("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	if (is_cgroup2("/sys/fs/cgroup/unified"))
		return "/sys/fs/cgroup/unified";
	return NULL;
}

int vigil_sock_dp_load(struct vigil_sock_dp **out, const char *pin_dir, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct vigil_sock_dp *lb = calloc(1, sizeof(*lb));
	int ret = -ENOMEM;

	if (!lb)
		goto fail;
	snprintf(lb->pin_dir, sizeof(lb->pin_dir), "%s", pin_dir);
	lb->skel = sock_lb_bpf__open_opts(&opts);
	if (!lb->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open socket LB object: %s", strerror(-ret));
		goto fail;
	}
	ret = vigil_pins_check(lb->skel->obj, err, errlen);
	if (ret)
		goto fail;
	ret = sock_lb_bpf__load(lb->skel);
	if (ret) {
		snprintf(err, errlen, "loading the socket load balancer failed (%s); if a pinned "
			 "map could not be reused, remove old pins with 'vigild --unpin'",
			 strerror(-ret));
		goto fail;
	}
	*out = lb;
	return 0;
fail:
	vigil_sock_dp_stop(lb);
	return ret;
}

/* cgroup v2 ids are the inode numbers of the cgroup directories. */
static __u64 cgroup_id_of_fd(int cgroup_fd)
{
	struct stat st;

	return fstat(cgroup_fd, &st) == 0 ? (__u64)st.st_ino : 0;
}

static __u64 link_cgroup_id(const struct bpf_link *link)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len))
		return 0;
	return info.cgroup.cgroup_id;
}

/* Attach prog to cgroup_fd and pin the link at pin_path, replacing old (a
 * link on another cgroup, or NULL). The new attachment exists before the old
 * one goes, so a client in both cgroups always has the hook. Returns the new
 * link (held by the caller) or NULL with errno set. */
static struct bpf_link *attach_new(struct bpf_program *prog, int cgroup_fd, const char *pin_path,
				   struct bpf_link *old)
{
	struct bpf_link *link = bpf_program__attach_cgroup(prog, cgroup_fd);
	int ret;

	if (!link) {
		ret = errno;
		bpf_link__destroy(old);
		errno = ret;
		return NULL;
	}
	unlink(pin_path);
	bpf_link__destroy(old); /* its pin is gone: this detaches it */
	ret = bpf_link__pin(link, pin_path);
	if (ret) {
		bpf_link__destroy(link);
		errno = -ret;
		return NULL;
	}
	return link;
}

int vigil_cgroup_link_attach(struct bpf_program *prog, int cgroup_fd, const char *pin_path,
			     struct bpf_link **held)
{
	/* Only open a pin that exists: libbpf warns about a missing one. */
	struct bpf_link *link = *held ? *held
			      : access(pin_path, F_OK) == 0 ? bpf_link__open(pin_path) : NULL;

	*held = NULL;
	/* Same cgroup (a restart, a reload): swap the program under the
	 * existing attachment, no gap in service. lb.cgroup changed: move. */
	if (link && link_cgroup_id(link) == cgroup_id_of_fd(cgroup_fd) &&
	    bpf_link__update_program(link, prog) == 0) {
		*held = link;
		return 0;
	}
	*held = attach_new(prog, cgroup_fd, pin_path, link);
	return *held ? 0 : -errno;
}

int vigil_cgroup_open(const char **cgroup, char *err, size_t errlen)
{
	const char *path = *cgroup && **cgroup ? *cgroup : vigil_cgroup2_root();
	int fd;

	if (!path || !is_cgroup2(path)) {
		snprintf(err, errlen, "%s is not a cgroup v2 directory: set lb.cgroup to a cgroup v2 "
			 "path (mount one with 'mount -t cgroup2 none /sys/fs/cgroup/unified')",
			 path ? path : "no cgroup v2 hierarchy is mounted;");
		return -ENOTDIR;
	}
	*cgroup = path;
	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "cannot open cgroup %s: %s", path, strerror(-fd));
	}
	return fd;
}

int vigil_sock_dp_attach(struct vigil_sock_dp *lb, const char *cgroup, char *err, size_t errlen)
{
	struct bpf_program *progs[] = {
		lb->skel->progs.vigil_connect4, lb->skel->progs.vigil_connect6,
		lb->skel->progs.vigil_getpeername4, lb->skel->progs.vigil_getpeername6,
	};
	char links_dir[PATH_MAX], path[PATH_MAX];
	int cgroup_fd = vigil_cgroup_open(&cgroup, err, errlen), ret = 0;

	if (cgroup_fd < 0)
		return cgroup_fd;
	/* EEXIST is the normal case; anything else shows when the pin fails. */
	if (vigil_path_fmt(links_dir, sizeof(links_dir), "%s/%s", lb->pin_dir, VIGIL_PIN_LINKS_DIR) == 0)
		mkdir(links_dir, 0700);
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]) && !ret; i++) {
		ret = vigil_path_fmt(path, sizeof(path), "%s/%s/%s", lb->pin_dir, VIGIL_PIN_LINKS_DIR,
				     vigil_sock_dp_link_names[i]);
		if (!ret)
			ret = vigil_cgroup_link_attach(progs[i], cgroup_fd, path, &lb->links[i]);
		if (ret)
			snprintf(err, errlen, "attaching cgroup/%s to %s failed: %s",
				 vigil_sock_dp_link_names[i], cgroup, strerror(-ret));
	}
	close(cgroup_fd);
	if (!ret)
		pr_info("socket load balancer attached to cgroup %s", cgroup);
	return ret;
}

void vigil_sock_dp_detach_pinned(const char *pin_dir)
{
	char path[PATH_MAX];

	/* A path that does not fit names no pin vigild could have made. */
	for (size_t i = 0; i < VIGIL_SOCK_DP_N_LINKS; i++)
		if (vigil_path_fmt(path, sizeof(path), "%s/%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR,
				   vigil_sock_dp_link_names[i]) == 0)
			unlink(path);
	if (vigil_path_fmt(path, sizeof(path), "%s/%s", pin_dir, VIGIL_PIN_LINKS_DIR) == 0)
		rmdir(path);
}

int vigil_sock_dp_repin_links(const struct vigil_sock_dp *lb)
{
	int n = 0, ret;

	for (size_t i = 0; i < VIGIL_SOCK_DP_N_LINKS; i++) {
		ret = lb->links[i] ? vigil_repin_link(bpf_link__fd(lb->links[i]), lb->pin_dir,
						      vigil_sock_dp_link_names[i]) : 0;
		if (ret < 0)
			return ret;
		n += ret;
	}
	return n;
}

void vigil_sock_dp_stop(struct vigil_sock_dp *lb)
{
	if (!lb)
		return;
	/* Closing the held links leaves pinned hooks attached and detaches
	 * those whose pins vigil_sock_dp_detach_pinned removed. */
	for (size_t i = 0; i < VIGIL_SOCK_DP_N_LINKS; i++)
		bpf_link__destroy(lb->links[i]);
	sock_lb_bpf__destroy(lb->skel);
	free(lb);
}

const struct bpf_object *vigil_sock_dp_object(const struct vigil_sock_dp *st)
{
	return st->skel->obj;
}
