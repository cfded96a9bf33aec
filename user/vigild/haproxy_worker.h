/* SPDX-License-Identifier: MIT */
/*
 * The thread that pushes to HAProxy: the main loop hands it a line of
 * commands and goes on at once; the thread runs the exchange
 * (haproxy_conn.h) and notes when the line was written and when HAProxy
 * answered, so those times are HAProxy's and not the main loop's (which may
 * be tearing down the connections of the very backend it just ejected).
 * One exchange at a time; the main loop polls hp_worker_fd for its end.
 */
#ifndef VIGIL_HAPROXY_WORKER_H
#define VIGIL_HAPROXY_WORKER_H

#include <stdbool.h>
#include <vigil/abi.h>

#include "config.h"

struct hp_worker;

struct hp_result {
	char *answer;       /* HAProxy's answer (caller frees), NULL on error */
	int error;          /* 0 or -errno (ENOENT, ECONNREFUSED: HAProxy is not there) */
	__u64 written_ns;   /* the whole line written (0: never) */
	__u64 answered_ns;  /* the exchange ended */
};

/* NULL with errno set when the thread cannot start. */
struct hp_worker *hp_worker_new(void);
/* Stops the thread (after the exchange under way, at most its timeout). */
void hp_worker_free(struct hp_worker *w);

bool hp_worker_busy(const struct hp_worker *w);
/* Start an exchange of line with the runtime API of cfg. 0, -EBUSY, -ENOMEM. */
int hp_worker_submit(struct hp_worker *w, const struct vigil_haproxy_cfg *cfg, const char *line,
		     __u64 now);
/* Readable when an exchange has ended. */
int hp_worker_fd(const struct hp_worker *w);
/* The ended exchange, once: true and *out filled; false while none ended. */
bool hp_worker_take(struct hp_worker *w, struct hp_result *out);

#endif
