/* SPDX-License-Identifier: MIT */
#include "host.h"

#include <errno.h>
#include <sched.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11
#define BPFFS_ROOT "/sys/fs/bpf"
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static int has_cap(const struct __user_cap_data_struct *data, int cap)
{
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

int vigil_host_check_privileges(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot read capabilities: %s", strerror(e));
		return -e;
	}
	/* Tracing programs need CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN on older
	 * kernels); pinning and mounting bpffs need CAP_SYS_ADMIN anyway. */
	if (has_cap(data, CAP_SYS_ADMIN) && (has_cap(data, CAP_BPF) || geteuid() == 0))
		return 0;
	snprintf(err, errlen,
		 "missing privileges: vigild needs CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON and "
		 "CAP_NET_ADMIN; run it as root (or grant them, e.g. systemd AmbientCapabilities=)");
	return -EPERM;
}

int vigil_host_check_btf(char *err, size_t errlen)
{
	if (access(VMLINUX_BTF, R_OK) == 0)
		return 0;
	snprintf(err, errlen,
		 "kernel BTF not found (%s: %s): vigil needs a kernel built with "
		 "CONFIG_DEBUG_INFO_BTF=y (Linux 5.8 or newer; most distributions ship it)",
		 VMLINUX_BTF, strerror(errno));
	return -ENOENT;
}

int vigil_host_is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		return -errno;
	return (unsigned long)st.f_type == BPF_FS_MAGIC_NUMBER ? 0 : -ENOTDIR;
}

static int mkdir_p(const char *dir)
{
	char buf[256];
	size_t len = strlen(dir);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vigil_host_prepare_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	int ret;

	if (vigil_host_is_bpffs(BPFFS_ROOT) != 0) {
		if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") < 0) {
			int e = errno;

			snprintf(err, errlen,
				 "bpffs is not mounted at %s and mounting it failed (%s): "
				 "mount it with 'mount -t bpf bpf %s'",
				 BPFFS_ROOT, strerror(e), BPFFS_ROOT);
			return -e;
		}
		pr_info("mounted bpffs at %s", BPFFS_ROOT);
	}
	ret = mkdir_p(pin_dir);
	if (ret < 0) {
		snprintf(err, errlen, "cannot create pin directory %s: %s", pin_dir, strerror(-ret));
		return ret;
	}
	if (vigil_host_is_bpffs(pin_dir) != 0) {
		snprintf(err, errlen, "pin directory %s is not on a bpf filesystem: "
			 "choose a daemon.pin_dir under %s", pin_dir, BPFFS_ROOT);
		return -ENOTDIR;
	}
	return 0;
}

void vigil_host_set_sched_priority(unsigned int priority)
{
	struct sched_param sp = { .sched_priority = (int)priority };

	if (priority == 0)
		return;
	if (sched_setscheduler(0, SCHED_RR, &sp) == 0) {
		pr_info("running SCHED_RR at priority %u (daemon.sched_priority)", priority);
		return;
	}
	pr_warn("cannot run SCHED_RR at priority %u: %s; detection may lag on a busy host "
		"(grant CAP_SYS_NICE, or set daemon.sched_priority: 0 to silence this)", priority,
		strerror(errno));
}
