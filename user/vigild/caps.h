/* SPDX-License-Identifier: MIT */
/* Dropping the capabilities vigild needs only to start (libcap). */
#ifndef VIGIL_CAPS_H
#define VIGIL_CAPS_H

#include <stdbool.h>
#include <stddef.h>

/* Older libc and libcap headers predate these (Linux 5.8); the numbers are ABI. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* Once every hook is attached: keep only what the running daemon uses
 * (docs/deploy.md, "Capabilities"), in the effective and permitted sets,
 * clear the inheritable and ambient sets, drop the rest from the bounding
 * set when CAP_SETPCAP allows (under systemd CapabilityBoundingSet= has
 * done that) and set no_new_privs. CAP_SYS_NICE stays only when keep_nice
 * (daemon.sched_priority is set: a reload may change the priority). Logs the
 * kept set. 0, or -errno with the reason in err. */
int vigil_caps_drop(bool keep_nice, char *err, size_t errlen);

/* For a thread that serves the network (the metrics server): the calling
 * thread alone keeps CAP_BPF (to read pinned maps and links), effective and
 * permitted, and nothing else; vigild's other threads are unaffected
 * (capabilities are per thread). 0, or -errno with the reason in err. */
int vigil_caps_thread_bpf_only(char *err, size_t errlen);

#endif
