/* SPDX-License-Identifier: MIT */
/* Lost pins: someone removed pins (rm -rf of the pin directory, or a single
 * map or link) under a running vigild. vigilctl would lose its view and a
 * restart its state; an XDP attachment whose pin went is detached. vigild
 * holds every map, the monitor's links and the cgroup hooks' links, so those
 * keep working and are pinned again from its fds (same objects: nothing
 * lost); the XDP attachments are made again. Noticed at the next loop round
 * (pins.h, vigil_pin_watch: one read(2) per round while nothing changes). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <vigil/abi.h>

#include "log.h"
#include "monitor.h"
#include "path.h"
#include "pins.h"
#include "pkt_dp.h"
#include "pkt_hooks.h"
#include "sock_dp.h"
#include "sock_rescue.h"
#include "state_maps.h"
#include "vigild.h"

static void add(int *total, int n, const char *what, int *first_error)
{
	if (n < 0) {
		pr_err("restoring pins: %s: %s", what, strerror(-n));
		if (!*first_error)
			*first_error = n;
		return;
	}
	*total += n;
}

/* The directories, created again if they went, and watched again. */
static int recreate_dirs(struct vigild *d)
{
	char links[PATH_MAX];

	if (mkdir(d->cfg->pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (vigil_path_fmt(links, sizeof(links), "%s/%s", d->cfg->pin_dir, VIGIL_PIN_LINKS_DIR))
		return -ENAMETOOLONG;
	if (mkdir(links, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Before restoring: a removal from now on is seen at the next round. */
	vigil_pin_watch_arm(d->pin_watch);
	return 0;
}

void vigild_check_pins(struct vigild *d)
{
	char err[512];
	int total = 0, first_error = 0, ret;
	bool hooks_lost;

	if (!d->mon || !vigil_pin_watch_removed(d->pin_watch))
		return;
	ret = recreate_dirs(d);
	if (ret) {
		pr_err("restoring pins: cannot create %s: %s", d->cfg->pin_dir, strerror(-ret));
		return;
	}
	add(&total, vigil_monitor_restore_pins(d->mon), "monitor", &first_error);
	if (d->state)
		add(&total, vigil_repin_object(vigil_state_maps_object(d->state)), "state maps",
		    &first_error);
	if (d->sock) {
		add(&total, vigil_repin_object(vigil_sock_dp_object(d->sock)), "socket LB maps",
		    &first_error);
		add(&total, vigil_sock_dp_repin_links(d->sock), "socket LB hooks", &first_error);
	}
	if (d->rescue) {
		add(&total, vigil_repin_object(vigil_sock_rescue_object(d->rescue)),
		    "socket rescue maps", &first_error);
		add(&total, vigil_sock_rescue_repin(d->rescue), "socket rescue hooks", &first_error);
	}
	hooks_lost = d->pkt && vigil_pkt_hooks_pins_lost(d->cfg->pin_dir, d->cfg);
	if (d->pkt) {
		add(&total, vigil_repin_object(vigil_pkt_dp_object(d->pkt)), "XDP maps",
		    &first_error);
		if (hooks_lost && vigil_pkt_dp_reconcile(d->pkt, d->cfg, err, sizeof(err)))
			pr_err("restoring pins: packet datapath: %s", err);
	}
	if (total || hooks_lost || first_error)
		pr_warn("restored %d pinned maps and links under %s%s%s", total, d->cfg->pin_dir,
			hooks_lost ? "; packet load balancer attached again" : "",
			first_error ? " (with errors, see above)" : "");
}
