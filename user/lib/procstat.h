/* SPDX-License-Identifier: MIT */
/* Reading /proc/PID/stat text (proc(5)); parsing only, no file access. */
#ifndef VIGIL_PROCSTAT_H
#define VIGIL_PROCSTAT_H

/* The process's start time in clock ticks after boot (field 22, starttime)
 * from the text of /proc/PID/stat. The command name (field 2) may hold
 * spaces and parentheses: fields are counted after its last ')'. Returns 0,
 * or -EINVAL when the text is not such a line. */
int vigil_proc_start_ticks(const char *stat, unsigned long long *ticks);

#endif
