/* SPDX-License-Identifier: MIT */
/* The socket datapath's rescue of connects to a failed backend
 * (bpf/sock_rescue.bpf.c): its sockops program on lb.cgroup (the SYN timeout
 * of each service, rescue_svc) and its tc programs, egress and ingress, on
 * the interfaces the backends are reached through from daemon.probe_netns
 * (a route lookup per backend, or lb.rescue_interfaces). Every part is
 * optional: what the kernel or the host does not allow is logged and the
 * socket datapath runs without it. */
#ifndef VIGIL_SOCK_RESCUE_H
#define VIGIL_SOCK_RESCUE_H

#include <stdbool.h>

#include "config.h"

struct vigil_sock_rescue;

/* Bring the rescue in line with cfg (start, reload): loaded, services
 * published, hooks attached where they should be and detached elsewhere;
 * everything detached and *r freed (NULL) when cfg wants no rescue
 * (lb.rescue false, or no service with the socket datapath). Never fails:
 * each part that cannot be had is logged with its reason. */
void vigil_sock_rescue_apply(struct vigil_sock_rescue **r, const struct vigil_config *cfg);

/* Remove the rescue's hooks recorded under pin_dir/links: the sockops link's
 * pin (the hook detaches once nothing holds it: vigil_sock_rescue_stop) and
 * the tc filters (looked up in netns, "" = vigild's own). */
void vigil_sock_rescue_detach_pinned(const char *pin_dir, const char *netns);

void vigil_sock_rescue_stop(struct vigil_sock_rescue *r);

/* Whether connects still waiting for their SYN-ACK are the rescue's to move
 * (its tc programs are attached): then a backend's teardown spares them. */
bool vigil_sock_rescue_moves_connects(const struct vigil_sock_rescue *r);

/* Pin again what someone removed under a running vigild: the sockops link
 * (held: the hook stayed attached) and the records of its tc filters.
 * Returns how many, or -errno. */
int vigil_sock_rescue_repin(const struct vigil_sock_rescue *r);

/* The loaded object (its maps' pin paths and fds: vigild restores lost pins). */
struct bpf_object;
const struct bpf_object *vigil_sock_rescue_object(const struct vigil_sock_rescue *r);

#endif
