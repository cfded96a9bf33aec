/* SPDX-License-Identifier: MIT */
/* Are vigild's hooks attached? What /healthz checks, from the pins alone (so
 * the metrics thread needs nothing of the main loop's objects): the
 * monitor's tracepoint links, the socket datapath's cgroup links and the
 * packet datapath's XDP links (or tc programs) of the running config. */
#ifndef VIGIL_METRICS_HOOKS_H
#define VIGIL_METRICS_HOOKS_H

#include <stddef.h>

enum vigil_hook_kind {
	VIGIL_HOOK_TRACING, /* a monitor tracepoint link */
	VIGIL_HOOK_CGROUP,  /* a socket datapath link: attached while its cgroup is set */
	VIGIL_HOOK_XDP_LINK, /* attached while its interface is set */
	VIGIL_HOOK_TC_PROG, /* the program of our tc filter (the filter itself is not checked) */
};

#define VIGIL_MAX_HOOKS 24 /* 8 tracepoints, 4 cgroup hooks, 8 interfaces */

struct vigil_hook_spec {
	char pin_dir[256];
	size_t n;
	struct {
		char name[64]; /* under pin_dir/links */
		enum vigil_hook_kind kind;
	} hooks[VIGIL_MAX_HOOKS];
};

/* Add a hook to check (ignored beyond VIGIL_MAX_HOOKS). */
void vigil_hook_spec_add(struct vigil_hook_spec *spec, enum vigil_hook_kind kind,
			 const char *prefix, const char *name);

/* How many hooks of spec are missing or detached; what is wrong with the
 * first in why ("" when none). */
unsigned int vigil_hooks_check(const struct vigil_hook_spec *spec, char *why, size_t len);

#endif
