/* SPDX-License-Identifier: MIT */
/* vigilctl command entry points (one file per command family). */
#ifndef VIGIL_VIGILCTL_H
#define VIGIL_VIGILCTL_H

#include <stdbool.h>

#define EXIT_USAGE 2
/* Longest --pin-dir: PATH_MAX less room for "/" and the longest pin name. */
#define VIGILCTL_PIN_DIR_MAX (4096 - 32)

struct global_opts {
	const char *pin_dir;
};

/* Parses "--json" / "--follow" / "-h" style flags shared by the read commands;
 * at most max_args positional arguments are left in argv[optind..] (more are
 * a usage error). Returns 0, 1 for --help printed (on stdout), or EXIT_USAGE. */
int ctl_parse_flags(int argc, char **argv, bool *json, bool *follow, int max_args,
		    const char *usage);

int cmd_services(const struct global_opts *g, int argc, char **argv);
int cmd_backends(const struct global_opts *g, int argc, char **argv);
int cmd_events(const struct global_opts *g, int argc, char **argv);
int cmd_drain(const struct global_opts *g, int argc, char **argv);
int cmd_undrain(const struct global_opts *g, int argc, char **argv);
int cmd_disable(const struct global_opts *g, int argc, char **argv);
int cmd_enable(const struct global_opts *g, int argc, char **argv);
int cmd_xdp(const struct global_opts *g, int argc, char **argv);
int cmd_status(const struct global_opts *g, int argc, char **argv);

#endif
