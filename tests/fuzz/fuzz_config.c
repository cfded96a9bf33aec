/* SPDX-License-Identifier: MIT */
/*
 * Fuzz harness (make fuzz, tests/fuzz/run.sh): each file named on the command
 * line goes through the config loader and validator, the pure part vigild
 * --check, start-up and reload share (user/lib/config*.c). A refused file is
 * a normal outcome; a crash, a sanitizer report or a hang is a finding.
 * Exit 0 always (afl++ looks at signals and time, not the status).
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct vigil_config cfg;
		char err[512];

		if (vigil_config_load_file(argv[i], &cfg, err, sizeof(err)) == 0)
			vigil_config_free(&cfg);
		else if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "%s\n", err);
	}
	return 0;
}
