/* SPDX-License-Identifier: MIT */
/* Running a piece of vigild inside another network namespace, or in every
 * one (the thread switches, not the process: setns on /proc/thread-self). */
#ifndef VIGIL_NETNS_H
#define VIGIL_NETNS_H

/* Enter the namespace at path (NULL or "" = stay); *saved gets what
 * vigil_netns_leave needs. Returns 0 or -errno. */
int vigil_netns_enter(const char *path, int *saved);

/* Return to the namespace saved by vigil_netns_enter (no-op for -1). */
void vigil_netns_leave(int saved);

/* Called with the thread inside a namespace; ns names it for messages.
 * Returns 0 to go on, a negative errno to stop the walk (then returned). */
typedef int (*vigil_netns_visit_fn)(const char *ns, void *ctx);

/* The walk could not bring the thread back into its own namespace. */
#define VIGIL_NETNS_STRANDED 1

/* Visit every network namespace on the host once (deduplicated by device
 * and inode): the thread's own first, then those of /proc/PID/ns/net and
 * /run/netns/NAME, each entered with setns() and left before the next one.
 * A namespace that cannot be entered is skipped; *enter_err gets the first
 * refusal of setns() (-EPERM: needs CAP_SYS_ADMIN; logged). Returns 0, the
 * stop value of visit, -errno when the walk could not start (no /proc), or
 * VIGIL_NETNS_STRANDED (logged). */
int vigil_netns_for_each(vigil_netns_visit_fn visit, void *ctx, int *enter_err);

#endif
