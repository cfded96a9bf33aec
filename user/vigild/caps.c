/* SPDX-License-Identifier: MIT */
/*
 * What the running daemon needs, and why (docs/deploy.md, "Capabilities"):
 *   CAP_BPF        bpf(2) at all (kernel.unprivileged_bpf_disabled), map and
 *                  program loads on reload, pinned objects
 *   CAP_PERFMON    the verifier's rules for programs a reload loads: the
 *                  same as at start (pointer handling, no Spectre-v1 fences
 *                  the start-up load did not have)
 *   CAP_NET_ADMIN  loading and attaching XDP, tc and cgroup programs,
 *                  netlink to links and qdiscs, SOCK_DESTROY
 *   CAP_SYS_ADMIN  setns(2) into the probe, XDP and teardown namespaces
 *   CAP_SYS_PTRACE the teardown walk opens /proc/PID/ns/net of every process;
 *                  the kernel's ptrace access check refuses it for a process
 *                  holding a capability vigild has dropped
 *   CAP_SYS_NICE   sched_setscheduler(SCHED_RR) when daemon.sched_priority
 *                  changes on reload (only kept when it was set at start)
 * Everything else (CAP_DAC_OVERRIDE, CAP_SYS_MODULE, CAP_SYS_RESOURCE,
 * CAP_SETUID, CAP_KILL, CAP_CHOWN, ...) is used, if at all, only at start
 * (mounting bpffs, raising RLIMIT_MEMLOCK on old kernels) and goes.
 */
#include "caps.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "log.h"

static const cap_value_t kept_always[] = {
	CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE,
};

static bool wanted(cap_value_t c, bool keep_nice)
{
	for (size_t i = 0; i < sizeof(kept_always) / sizeof(kept_always[0]); i++)
		if (kept_always[i] == c)
			return true;
	return keep_nice && c == CAP_SYS_NICE;
}

static bool has(cap_t caps, cap_value_t c, cap_flag_t set)
{
	cap_flag_value_t v = CAP_CLEAR;

	return cap_get_flag(caps, c, set, &v) == 0 && v == CAP_SET;
}

/* Drop every capability not kept from the bounding set, so that not even an
 * execve of a set-uid-root program brings one back. Needs CAP_SETPCAP. */
static void drop_bounding(cap_t now, bool keep_nice)
{
	cap_value_t last = cap_max_bits() - 1;
	int failed = 0;

	if (!has(now, CAP_SETPCAP, CAP_EFFECTIVE)) {
		pr_debug("capabilities: no CAP_SETPCAP; the bounding set stays as inherited "
			 "(under systemd: CapabilityBoundingSet=)");
		return;
	}
	for (cap_value_t c = 0; c <= last; c++)
		if (!wanted(c, keep_nice) && CAP_IS_SUPPORTED(c) && cap_get_bound(c) == 1 &&
		    cap_drop_bound(c) < 0)
			failed++;
	if (failed)
		pr_warn("capabilities: %d could not be dropped from the bounding set", failed);
}

int vigil_caps_drop(bool keep_nice, char *err, size_t errlen)
{
	cap_t now = cap_get_proc(), next = cap_init();
	cap_value_t keep[64];
	char names[512] = "";
	size_t n = 0, off = 0;
	int ret = 0;

	if (!now || !next) {
		ret = -errno;
		snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
		goto out;
	}
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits() && n < sizeof(keep) / sizeof(keep[0]);
	     c++) {
		char *name;

		if (!wanted(c, keep_nice) || !has(now, c, CAP_PERMITTED))
			continue;
		keep[n++] = c;
		name = cap_to_name(c);
		off += snprintf(names + off, off < sizeof(names) ? sizeof(names) - off : 0, "%s%s",
				n > 1 ? "," : "", name ? name : "?");
		cap_free(name);
	}
	drop_bounding(now, keep_nice);
	if (n && (cap_set_flag(next, CAP_PERMITTED, (int)n, keep, CAP_SET) ||
		  cap_set_flag(next, CAP_EFFECTIVE, (int)n, keep, CAP_SET))) {
		ret = -errno;
		snprintf(err, errlen, "cannot build the capability set: %s", strerror(errno));
		goto out;
	}
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		pr_warn("capabilities: cannot clear the ambient set: %s", strerror(errno));
	if (cap_set_proc(next) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		pr_warn("cannot set no_new_privs: %s", strerror(errno));
	pr_info("capabilities: kept %s; every other one dropped (effective, permitted, "
		"inheritable, ambient%s)", n ? names : "none",
		has(now, CAP_SETPCAP, CAP_EFFECTIVE) ? ", bounding" : "");
out:
	cap_free(now);
	cap_free(next);
	return ret;
}

int vigil_caps_thread_bpf_only(char *err, size_t errlen)
{
	cap_value_t bpf = CAP_BPF;
	cap_t caps = cap_init();
	int ret = 0;

	/* cap_set_proc() changes the calling thread only (libcap without psx). */
	if (!caps || cap_set_flag(caps, CAP_PERMITTED, 1, &bpf, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &bpf, CAP_SET) || cap_set_proc(caps) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot limit the thread's capabilities to CAP_BPF: %s",
			 strerror(errno));
	}
	cap_free(caps);
	return ret;
}
