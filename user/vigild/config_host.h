/* SPDX-License-Identifier: MIT */
/* Config checks that need the host (syscalls, so not in user/lib's pure
 * validator): run by vigild --check, at start-up and on reload, before
 * anything is loaded. */
#ifndef VIGIL_CONFIG_HOST_H
#define VIGIL_CONFIG_HOST_H

#include <stddef.h>
#include "config.h"

/* lb.cgroup is a cgroup v2 directory; daemon.probe_netns and xdp.netns are
 * network namespaces; metrics.listen is an address of this host. Returns 0,
 * or -errno with "FILE:LINE: key: path: problem: fix" in err (file names the
 * config in messages). */
int vigil_config_host_check(const struct vigil_config *cfg, const char *file, char *err,
			    size_t errlen);

#endif
