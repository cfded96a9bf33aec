// SPDX-License-Identifier: MIT
/*
 * vigil_sockdestroy: test driver for user/vigild/sockdestroy.c.
 *
 *   vigil_sockdestroy [-v] ADDR:PORT
 *
 * Destroys every TCP connection to ADDR:PORT in every network namespace and
 * prints "destroyed=N". Exit 0 on success, 1 when the library reports an
 * error (message on stderr; "destroyed=N" is still printed), 2 on usage.
 * The library sources are compiled in directly; this tool also links libnl-3
 * (the Makefile says so for it alone).
 */
#define _GNU_SOURCE
#include "../../user/lib/addr.c"
#include "../../user/lib/log.c"
#include "../../user/lib/path.c"
#include "../../user/vigild/netns.c"
#include "../../user/vigild/sockdestroy.c"

int main(int argc, char **argv)
{
	struct vigil_endpoint ep;
	const char *why = NULL, *arg;
	char err[512];
	unsigned n = 0;
	int rc;

	if (argc == 3 && strcmp(argv[1], "-v") == 0)
		vigil_log_set_level(VIGIL_LOG_DEBUG);
	else if (argc != 2)
		goto usage;
	arg = argv[argc - 1];
	if (vigil_endpoint_parse_why(arg, &ep, &why) < 0) {
		fprintf(stderr, "vigil_sockdestroy: bad endpoint '%s': %s\n", arg, why ? why : "?");
		goto usage;
	}
	rc = vigil_destroy_connections_to(&ep, &n, err, sizeof(err));
	printf("destroyed=%u\n", n);
	if (rc < 0) {
		fprintf(stderr, "vigil_sockdestroy: %s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: vigil_sockdestroy [-v] ADDR:PORT\n");
	return 2;
}
