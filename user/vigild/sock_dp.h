/* SPDX-License-Identifier: MIT */
/* The socket datapath: loads the socket-level load balancer
 * (bpf/sock_lb.bpf.c), only when a service uses it; attaches
 * connect/getpeername hooks to a cgroup v2. The service maps vigild
 * publishes in are the state maps' (state_maps.h), whatever the datapath. */
#ifndef VIGIL_SOCK_DP_H
#define VIGIL_SOCK_DP_H

#include <stdbool.h>
#include <stddef.h>

struct vigil_sock_dp;

/* Load (reusing maps pinned under pin_dir: backend_health shared with the
 * monitor, service_sets written through the state maps, state_maps.h)
 * without attaching. */
int vigil_sock_dp_load(struct vigil_sock_dp **out, const char *pin_dir, char *err, size_t errlen);

/* Attach to cgroup (NULL/"" = the cgroup v2 root). Links are pinned under
 * pin_dir/links so the datapath keeps serving while vigild restarts, and
 * held by lb until vigil_sock_dp_stop so it keeps serving while someone
 * removes the pins; a link from a previous run (or this one) is switched to
 * the new program in place. */
int vigil_sock_dp_attach(struct vigil_sock_dp *lb, const char *cgroup, char *err, size_t errlen);

/* Attach prog to the cgroup open at cgroup_fd through a link pinned at
 * pin_path and held in *held (NULL at start: then a link an earlier vigild
 * pinned there is taken over): one on the same cgroup gets the new program
 * in place (no gap), one on another cgroup moves (the new attachment
 * first). 0 or -errno. */
struct bpf_link;
struct bpf_program;
int vigil_cgroup_link_attach(struct bpf_program *prog, int cgroup_fd, const char *pin_path,
			     struct bpf_link **held);

/* Open lb.cgroup *cgroup (NULL/"" = the cgroup v2 root, then *cgroup
 * names it) as a directory fd, or -errno with the reason and fix in err. */
int vigil_cgroup_open(const char **cgroup, char *err, size_t errlen);

/* Remove the pinned links, e.g. when no service is left: the hooks detach
 * once nothing holds them (vigil_sock_dp_stop of a loaded datapath). */
void vigil_sock_dp_detach_pinned(const char *pin_dir);

/* Pin again, from the held links, the hooks' pins someone removed (the hooks
 * stayed attached). Returns how many, or -errno. */
int vigil_sock_dp_repin_links(const struct vigil_sock_dp *lb);

/* The pin names of the hooks' links under pin_dir/links. */
#define VIGIL_SOCK_DP_N_LINKS 4
extern const char *const vigil_sock_dp_link_names[VIGIL_SOCK_DP_N_LINKS];

void vigil_sock_dp_stop(struct vigil_sock_dp *lb);

/* The cgroup v2 root: /sys/fs/cgroup when it is cgroup2, else
 * /sys/fs/cgroup/unified (hybrid hierarchy). NULL when none is mounted. */
const char *vigil_cgroup2_root(void);

/* The loaded object (its maps' pin paths and fds: vigild restores lost pins). */
struct bpf_object;
const struct bpf_object *vigil_sock_dp_object(const struct vigil_sock_dp *st);

#endif
