/* SPDX-License-Identifier: MIT */
/* Attaching the packet datapath to interfaces: XDP through pinned BPF
 * links (pin_dir/links/xdp-IF), or tc clsact ingress filters (marked by the
 * program pinned at pin_dir/links/tc-IF), and the XDP redirect device map. */
#ifndef VIGIL_PKT_HOOKS_H
#define VIGIL_PKT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Pin names under pin_dir/links: PREFIX + interface name. */
#define VIGIL_PKT_XDP_PIN_PREFIX "xdp-" /* the XDP link */
#define VIGIL_PKT_TC_PIN_PREFIX "tc-"   /* the program of our tc filter */

struct bpf_program;

struct vigil_pkt_hooks {
	struct bpf_program *xdp_prog, *tc_prog;
	int tx_ports_fd; /* xdp_tx_ports devmap */
	const char *pin_dir;
};

/* Bring the interfaces in line with cfg (xdp.interfaces, hook, mode, netns):
 * attach or replace the program on every listed interface, then detach the
 * hooks of interfaces no longer listed (or listed with the other hook), and
 * refill the redirect map. Every interface is checked to exist before
 * anything changes. Logs the hook and mode per interface. */
int vigil_pkt_hooks_apply(const struct vigil_pkt_hooks *h, const struct vigil_config *cfg,
			 char *err, size_t errlen);

/* 0 when every xdp.interfaces entry exists in xdp.netns, else -errno with
 * the missing interface (or namespace) and the fix in err. Changes nothing. */
int vigil_pkt_hooks_check(const struct vigil_config *cfg, char *err, size_t errlen);

/* Whether the pin of an attachment cfg wants (pin_dir/links/xdp-IF or tc-IF)
 * is missing: removed under a running vigild (an XDP link went with its pin;
 * a tc filter stays, unrecorded). vigil_pkt_hooks_apply makes them again. */
bool vigil_pkt_hooks_pins_lost(const char *pin_dir, const struct vigil_config *cfg);

/* Detach every attachment recorded under pin_dir/links (XDP links and tc
 * filters; tc filters are looked up in netns, "" = vigild's own). */
void vigil_pkt_hooks_detach_all(const char *pin_dir, const char *netns);

#endif
