/* SPDX-License-Identifier: MIT */
/* Active probes used to re-admit ejected backends: non-blocking TCP connect
 * (optionally an HTTP GET expecting a 2xx/3xx status), driven by the caller's
 * poll loop, optionally from inside another network namespace. */
#ifndef VIGIL_PROBE_H
#define VIGIL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

struct vigil_prober;

/* netns_path: NULL or "" for the caller's namespace, else a namespace file
 * such as /var/run/netns/NAME or /proc/PID/ns/net: probe sockets are created
 * there (the calling thread returns to its own namespace afterwards).
 * Returns NULL with errno set. */
struct vigil_prober *vigil_prober_new(const char *netns_path);
void vigil_prober_free(struct vigil_prober *p);

/* Start a probe; http_path NULL or "" = plain TCP connect. The tag is handed
 * back with the result. Returns 0 or -errno (probe not started). */
int vigil_probe_start(struct vigil_prober *p, const struct vigil_endpoint *ep,
		      const char *http_path, unsigned timeout_ms, unsigned long tag, __u64 now_ns);

/* File descriptors to poll: fills up to max pollfd-style (fd, events) pairs.
 * Returns how many. */
struct pollfd;
size_t vigil_prober_pollfds(const struct vigil_prober *p, struct pollfd *fds, size_t max);

/* Milliseconds until the earliest probe deadline (-1: none pending). */
int vigil_prober_timeout_ms(const struct vigil_prober *p, __u64 now_ns);

struct vigil_probe_result {
	unsigned long tag;
	struct vigil_endpoint ep;
	bool ok;
	int error;            /* errno on failure, or 0; ETIMEDOUT on deadline */
	unsigned http_status; /* 0 for TCP probes */
	__u64 latency_ns;
};

/* Advance every probe (after poll returned or on timeout); writes finished
 * probes into results and returns how many (at most max). */
size_t vigil_prober_collect(struct vigil_prober *p, __u64 now_ns, struct vigil_probe_result *results,
			    size_t max);

#endif
