// SPDX-License-Identifier: MIT
/*
 * vigil_probe: test driver for user/vigild/probe.c.
 *
 *   vigil_probe [--netns PATH] [--http PATH] [--timeout MS] ADDR:PORT
 *
 * Runs one probe and prints "ok=1 status=S latency_us=N" (status 0 for a TCP
 * probe) or "ok=0 error=NAME status=S latency_us=N" (error 0 when an HTTP
 * server answered with a status outside 2xx/3xx). Exit 0 when the probe
 * succeeded, 1 when it failed, 2 on usage or setup errors (message on stderr).
 * The library sources are compiled in directly: tools link only -lpthread.
 */
#define _GNU_SOURCE
#include "../../user/lib/addr.c"
#include "../../user/lib/log.c"
#include "../../user/vigild/probe.c"

#include <getopt.h>
#include <time.h>

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: vigil_probe [--netns PATH] [--http PATH] [--timeout MS] ADDR:PORT\n");
	return 2;
}

/* Drive the prober until the single probe finishes. */
static int run(struct vigil_prober *p, struct vigil_probe_result *res)
{
	for (;;) {
		struct pollfd fds[1];
		size_t n = vigil_prober_pollfds(p, fds, 1);
		int r = poll(fds, n, vigil_prober_timeout_ms(p, mono_ns()));

		if (r < 0 && errno != EINTR)
			return -errno;
		if (vigil_prober_collect(p, mono_ns(), res, 1) == 1)
			return 0;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "http", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *netns = NULL, *http = NULL, *why = NULL;
	struct vigil_probe_result res;
	struct vigil_endpoint ep;
	struct vigil_prober *p;
	unsigned long timeout = 1000;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "n:H:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'H': http = optarg; break;
		case 't':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno || *end || timeout == 0 || timeout > 3600000)
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	if (vigil_endpoint_parse_why(argv[optind], &ep, &why) < 0) {
		fprintf(stderr, "vigil_probe: bad endpoint '%s': %s\n", argv[optind], why);
		return usage();
	}
	p = vigil_prober_new(netns);
	if (!p) {
		fprintf(stderr, "vigil_probe: cannot use network namespace %s: %s\n", netns,
			strerror(errno));
		return 2;
	}
	rc = vigil_probe_start(p, &ep, http, (unsigned)timeout, 1, mono_ns());
	if (rc < 0)
		fprintf(stderr, "vigil_probe: cannot start the probe: %s%s\n", strerror(-rc),
			rc == -EINVAL ? " (an HTTP path starts with '/' and has no spaces)" : "");
	else if ((rc = run(p, &res)) < 0)
		fprintf(stderr, "vigil_probe: poll: %s\n", strerror(-rc));
	vigil_prober_free(p);
	if (rc < 0)
		return 2;
	if (res.ok)
		printf("ok=1 status=%u latency_us=%llu\n", res.http_status,
		       (unsigned long long)(res.latency_ns / 1000));
	else
		printf("ok=0 error=%s status=%u latency_us=%llu\n",
		       res.error ? strerrorname_np(res.error) : "0", res.http_status,
		       (unsigned long long)(res.latency_ns / 1000));
	return res.ok ? 0 : 1;
}
