/* SPDX-License-Identifier: MIT */
/*
 * One exchange with HAProxy's runtime API, never blocking: connect to the
 * stats socket (unix path or TCP), write one line of commands, read until
 * HAProxy closes (it does after the last command of a line, outside its
 * interactive mode). Driven by the caller's poll loop.
 */
#ifndef VIGIL_HAPROXY_CONN_H
#define VIGIL_HAPROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <vigil/abi.h>

#include "config.h"

struct hp_conn {
	int fd;              /* -1: no exchange */
	char *out;           /* the request line */
	size_t out_len, sent;
	char *in;            /* the answer so far, NUL-terminated */
	size_t in_len, in_cap;
	__u64 deadline_ns;
	__u64 written_ns;    /* when the whole request was written, 0 before */
	int error;           /* once finished: 0 (the answer is in) or -errno */
};

#define HP_CONN_INIT { .fd = -1 }

/* Start an exchange of req (a line ending in '\n') at now, finishing by
 * now + cfg->timeout_ms. 0, or -errno when it failed at once (HAProxy not
 * there: ENOENT, ECONNREFUSED). */
int hp_conn_start(struct hp_conn *c, const struct vigil_haproxy_cfg *cfg, const char *req,
		  __u64 now);

bool hp_conn_busy(const struct hp_conn *c);

/* The poll events the exchange waits for (0 when idle). */
short hp_conn_events(const struct hp_conn *c);

/* Advance without blocking. True once finished: then c->error says how, and
 * c->in holds the answer (the socket is closed). */
bool hp_conn_step(struct hp_conn *c, __u64 now);

/* Drop the exchange and free its buffers. */
void hp_conn_close(struct hp_conn *c);

#endif
