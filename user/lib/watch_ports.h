/* SPDX-License-Identifier: MIT */
/* The monitor's settings (abi.h, struct vigil_settings) from a config: the
 * watch_all switches and the port bitmaps that let the monitor turn an
 * unwatched connection away before any map lookup. */
#ifndef VIGIL_WATCH_PORTS_H
#define VIGIL_WATCH_PORTS_H

#include <stdbool.h>
#include <vigil/abi.h>
#include "config.h"

/* Fill s from cfg: remote_ports has the port of every watched endpoint
 * (watch.backends and every service backend) and of every prefix watch;
 * remote_any_port is set when a prefix watch has no port; local_ports has
 * watch.local_ports. */
void vigil_watch_settings(const struct vigil_config *cfg, struct vigil_settings *s);

/* Whether port p is set in a bitmap of VIGIL_PORT_WORDS words. */
bool vigil_port_bit(const __u64 *ports, __u16 p);

#endif
