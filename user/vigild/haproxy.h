/* SPDX-License-Identifier: MIT */
/*
 * The HAProxy feed: pushes vigil's verdicts into HAProxy through its runtime
 * API (set server B/S health|state, shutdown sessions) the moment they are
 * published, finds the servers by address and port in `show servers state`
 * (re-read every haproxy.resync_ms and after any failure, so a reload or
 * restart of HAProxy is followed), re-applies what HAProxy lost, and retries
 * every haproxy.retry_ms while HAProxy is unreachable. Never blocks: one
 * exchange for pushes and one for the server table, both driven by vigild's
 * poll loop (haproxy_conn.h). docs/integrations.md.
 */
#ifndef VIGIL_HAPROXY_H
#define VIGIL_HAPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"
#include "feed.h"
#include "haproxy_table.h"

struct vigil_haproxy;

/* The feed's operations (feed.h): start, publish, run, ... */
/* Read the server table now, waiting up to haproxy.timeout_ms (at start, so
 * the services made from it exist before the engine starts). 0 or -errno. */
int vigil_haproxy_sync_wait(struct vigil_haproxy *hp);

/* The last server table read (n 0 before the first). */
const struct vigil_hp_table *vigil_haproxy_table(const struct vigil_haproxy *hp);

/* True once after a table whose servers differ from the derived services of
 * the running config (vigild then rebuilds them). */
bool vigil_haproxy_derive_due(struct vigil_haproxy *hp);

/* The counters (lb_feeds map); true when they changed since the last call. */
bool vigil_haproxy_stats(struct vigil_haproxy *hp, struct vigil_feed_stats *out);

#endif
