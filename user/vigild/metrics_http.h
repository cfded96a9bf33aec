/* SPDX-License-Identifier: MIT */
/*
 * vigild's HTTP endpoint on metrics.listen (libmicrohttpd): /metrics (the
 * Prometheus text format, metrics.h), /healthz (alive, hooks attached) and
 * /readyz (config applied). One thread serves it, created with the normal
 * scheduling policy (vigild's main thread may run SCHED_RR: a scrape must
 * never take its CPU) and keeping CAP_BPF only: it faces the network, and
 * reading pinned maps is all it does. It reads the kernel counters from the
 * pins itself and everything else from state (metrics_state.h), so a scrape
 * never delays the main loop.
 */
#ifndef VIGIL_METRICS_HTTP_H
#define VIGIL_METRICS_HTTP_H

#include <stddef.h>
#include <vigil/abi.h>

#include "metrics_state.h"

struct vigil_metrics_http;

/* Bind listen and start serving state. Returns 0, or -errno with what
 * failed and the fix in err (nothing left running). */
int vigil_metrics_http_start(struct vigil_metrics_http **out, const struct vigil_endpoint *listen,
			     struct vigil_metrics_state *state, char *err, size_t errlen);

/* Stop serving (waits for a scrape in progress) and close the socket. */
void vigil_metrics_http_stop(struct vigil_metrics_http *h);

#endif
