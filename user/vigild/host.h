/* SPDX-License-Identifier: MIT */
/* Start-up checks of the host: privileges, BTF, bpffs. */
#ifndef VIGIL_HOST_H
#define VIGIL_HOST_H

#include <stddef.h>

/* 0 when the effective capabilities allow loading tracing BPF programs,
 * otherwise -EPERM with the reason and fix in err. */
int vigil_host_check_privileges(char *err, size_t errlen);

/* 0 when the kernel exposes BTF, otherwise -ENOENT with reason and fix. */
int vigil_host_check_btf(char *err, size_t errlen);

/* Mount bpffs at /sys/fs/bpf if needed and create pin_dir (mkdir -p). */
int vigil_host_prepare_bpffs(const char *pin_dir, char *err, size_t errlen);

/* Run vigild SCHED_RR at priority (1-99; 0 leaves the normal policy). A
 * failure (no CAP_SYS_NICE, RT bandwidth reserved elsewhere) is logged as a
 * warning naming the fix: vigild still works, with slower detection on a
 * busy host. */
void vigil_host_set_sched_priority(unsigned int priority);

/* 0 when path lies on a bpf filesystem. */
int vigil_host_is_bpffs(const char *path);

#endif
