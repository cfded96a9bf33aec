/* SPDX-License-Identifier: MIT */
/* Lost pins: someone removed pins (rm -rf of the pin directory, say) under a
 * running vigild. vigilctl would lose its view, a restart its state, and a
 * cgroup or XDP attachment whose pin went is detached. Checked every loop
 * round (at most a tick apart); maps and monitor links are pinned again from
 * vigild's fds (same maps, same hooks: nothing lost), the load balancer's
 * attachments are made again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <vigil/abi.h>

#include "log.h"
#include "monitor.h"
#include "pins.h"
#include "pkt_dp.h"
#include "sock_dp.h"
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

void vigild_check_pins(struct vigild *d)
{
	char err[512];
	int total = 0, first_error = 0;
	bool sock_lost;

	if (!d->mon)
		return;
	sock_lost = d->sock && vigil_sock_dp_links_lost(d->cfg->pin_dir);
	if (!sock_lost && !vigil_monitor_pins_lost(d->mon))
		return;
	pr_warn("pins under %s were removed while vigild runs: restoring them", d->cfg->pin_dir);
	if (mkdir(d->cfg->pin_dir, 0700) < 0 && errno != EEXIST) {
		pr_err("restoring pins: cannot create %s: %s", d->cfg->pin_dir, strerror(errno));
		return;
	}
	add(&total, vigil_monitor_restore_pins(d->mon), "monitor", &first_error);
	if (d->state)
		add(&total, vigil_repin_object(vigil_state_maps_object(d->state)), "state maps",
		    &first_error);
	if (d->sock)
		add(&total, vigil_repin_object(vigil_sock_dp_object(d->sock)), "socket LB maps",
		    &first_error);
	if (d->pkt)
		add(&total, vigil_repin_object(vigil_pkt_dp_object(d->pkt)), "XDP maps",
		    &first_error);
	/* The cgroup links were pinned, not held: their attachment went with
	 * the pin. Attach again (attach_one pins what is missing). */
	if (sock_lost && vigil_sock_dp_attach(d->sock, d->cfg->lb_cgroup, err, sizeof(err)))
		pr_err("restoring pins: socket load balancer: %s", err);
	if (d->pkt && vigil_pkt_dp_reconcile(d->pkt, d->cfg, err, sizeof(err)))
		pr_err("restoring pins: packet datapath: %s", err);
	pr_warn("restored %d pinned maps and links under %s%s%s", total, d->cfg->pin_dir,
		sock_lost ? "; socket load balancer attached again" : "",
		first_error ? " (with errors, see above)" : "");
}
