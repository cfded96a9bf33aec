/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* setns */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int vigil_netns_enter(const char *path, int *saved)
{
	int fd;

	*saved = -1;
	if (!path || !*path)
		return 0;
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*saved < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return -e;
	}
	close(fd);
	return 0;
}

void vigil_netns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0)
		pr_err("cannot return to vigild's network namespace: %s", strerror(errno));
	close(saved);
}
