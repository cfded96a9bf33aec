/* SPDX-License-Identifier: MIT */
/* vigilctl command entry points (one file per command family). */
#ifndef VIGIL_VIGILCTL_H
#define VIGIL_VIGILCTL_H

#include <stdbool.h>

#define EXIT_USAGE 2

struct global_opts {
	const char *pin_dir;
};

/* Parses "--json" / "--follow" / "-h" style flags shared by the read commands;
 * positional arguments are left in argv[optind..]. Returns 0, 1 for --help
 * printed, or EXIT_USAGE. */
int ctl_parse_flags(int argc, char **argv, bool *json, bool *follow, const char *usage);

int cmd_services(const struct global_opts *g, int argc, char **argv);
int cmd_backends(const struct global_opts *g, int argc, char **argv);
int cmd_events(const struct global_opts *g, int argc, char **argv);
int cmd_drain(const struct global_opts *g, int argc, char **argv);
int cmd_undrain(const struct global_opts *g, int argc, char **argv);
int cmd_disable(const struct global_opts *g, int argc, char **argv);
int cmd_enable(const struct global_opts *g, int argc, char **argv);
int cmd_xdp(const struct global_opts *g, int argc, char **argv);

#endif
