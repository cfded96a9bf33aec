/* SPDX-License-Identifier: MIT */
/* Running a piece of vigild inside another network namespace (the thread
 * switches, not the process: setns on /proc/thread-self). */
#ifndef VIGIL_NETNS_H
#define VIGIL_NETNS_H

/* Enter the namespace at path (NULL or "" = stay); *saved gets what
 * vigil_netns_leave needs. Returns 0 or -errno. */
int vigil_netns_enter(const char *path, int *saved);

/* Return to the namespace saved by vigil_netns_enter (no-op for -1). */
void vigil_netns_leave(int saved);

#endif
