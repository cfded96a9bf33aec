/* SPDX-License-Identifier: MIT */
/* Files vigild trusts or writes as root: the config (who may have written
 * it) and the ready file (never through a symlink). */
#ifndef VIGIL_SAFEFILE_H
#define VIGIL_SAFEFILE_H

#include <stddef.h>

/* 0 when the config at path may be trusted: the file (after symlinks) is a
 * regular file owned by root or by vigild's effective user and not
 * world-writable, and its directory (and the symlink's, for a symlink) is
 * owned by one of them and not writable by others unless sticky; a path that
 * does not resolve is left to the loader to report (0). Else -EPERM (or -errno) with a message
 * naming the file and the fix in err. Checked at start, by --check and on
 * every reload. */
int vigil_config_file_check(const char *path, char *err, size_t errlen);

/* Create path holding vigild's PID. A symlink at path is refused (-ELOOP);
 * a regular file left by an earlier run is replaced. Logs any failure. */
int vigil_ready_file_write(const char *path);

#endif
