/* SPDX-License-Identifier: MIT */
#include "maperr.h"

#include <string.h>

#include "clock.h"
#include "log.h"

bool vigil_map_err_note(struct vigil_map_err *e, __u64 now_ns, __u64 *suppressed)
{
	e->failures++;
	if (e->logged && now_ns - e->last_log_ns < VIGIL_MAPERR_LOG_INTERVAL_NS) {
		e->unlogged++;
		return false;
	}
	*suppressed = e->unlogged;
	e->unlogged = 0;
	e->last_log_ns = now_ns;
	e->logged = true;
	return true;
}

void vigil_map_err_report(struct vigil_map_err *e, int err, const char *what)
{
	__u64 suppressed;

	if (!vigil_map_err_note(e, vigil_now_ns(), &suppressed))
		return;
	pr_warn("map %s: writing %s failed: %s: the datapath keeps the previous entry until a "
		"later write succeeds (%llu more failures of this map not logged in the last "
		"second, %llu in all)", e->map, what, strerror(err < 0 ? -err : err),
		(unsigned long long)suppressed, (unsigned long long)e->failures);
}
