/* SPDX-License-Identifier: MIT */
#include "metrics_hooks.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vigil/abi.h>

#include "path.h"

void vigil_hook_spec_add(struct vigil_hook_spec *spec, enum vigil_hook_kind kind,
			 const char *prefix, const char *name)
{
	if (spec->n >= VIGIL_MAX_HOOKS)
		return;
	snprintf(spec->hooks[spec->n].name, sizeof(spec->hooks[0].name), "%s%s", prefix, name);
	spec->hooks[spec->n++].kind = kind;
}

/* NULL when the link still has what it is attached to, else why not. */
static const char *detached(int fd, enum vigil_hook_kind kind)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return "its pin is not a BPF link";
	if (kind == VIGIL_HOOK_CGROUP && info.cgroup.cgroup_id == 0)
		return "detached from its cgroup";
	if (kind == VIGIL_HOOK_XDP_LINK && info.xdp.ifindex == 0)
		return "detached from its interface";
	return NULL;
}

static const char *check_one(const char *path, enum vigil_hook_kind kind)
{
	const char *problem = NULL;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return errno == ENOENT ? "its pin is missing" : strerror(errno);
	if (kind != VIGIL_HOOK_TC_PROG)
		problem = detached(fd, kind);
	close(fd);
	return problem;
}

unsigned int vigil_hooks_check(const struct vigil_hook_spec *spec, char *why, size_t len)
{
	char path[PATH_MAX];
	unsigned int bad = 0;

	if (len)
		why[0] = '\0';
	for (size_t i = 0; i < spec->n; i++) {
		const char *name = spec->hooks[i].name, *problem;

		if (vigil_path_fmt(path, sizeof(path), "%s/%s/%s", spec->pin_dir,
				   VIGIL_PIN_LINKS_DIR, name))
			problem = "its pin path is too long";
		else
			problem = check_one(path, spec->hooks[i].kind);
		if (!problem)
			continue;
		if (bad++ == 0)
			snprintf(why, len, "hook %s (%s): %s: restart vigild to attach it again",
				 name, path, problem);
	}
	if (bad > 1 && len)
		snprintf(why + strlen(why), len - strlen(why), " (and %u more)", bad - 1);
	return bad;
}
