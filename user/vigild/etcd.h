/* SPDX-License-Identifier: MIT */
/*
 * A small client of etcd v3's JSON gateway (the /v3/kv, /v3/lease and
 * /v3/watch endpoints; etcd 3.4) over libcurl, with failover between endpoints. Keys
 * and values are strings (base64 on the wire, as the gateway wants). Every
 * call blocks for at most the configured timeout per endpoint, so it is
 * used from vigild's cluster threads, never from the tick.
 */
#ifndef VIGIL_ETCD_H
#define VIGIL_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_ETCD_MAX_ENDPOINTS 8

struct vigil_etcd_opts {
	const char *endpoints[VIGIL_ETCD_MAX_ENDPOINTS]; /* http(s)://host:port */
	size_t n_endpoints;
	unsigned timeout_ms;   /* per request and endpoint (connect + answer) */
	const char *ca_file;   /* TLS: NULL = system CAs */
	const char *cert_file; /* TLS client certificate, NULL = none */
	const char *key_file;
};

struct vigil_etcd {
	struct vigil_etcd_opts opts;
	size_t current;        /* endpoint that answered last */
	void *curl;            /* CURL * for unary calls */
	char err[256];         /* why the last call failed */
};

struct vigil_etcd_kv {
	const char *key, *value; /* NUL-terminated copies, valid during the callback */
	int64_t mod_revision;
	bool deleted;            /* watch: a DELETE event (value is "") */
};
typedef void (*vigil_etcd_kv_cb)(const struct vigil_etcd_kv *kv, void *arg);

int vigil_etcd_open(struct vigil_etcd *e, const struct vigil_etcd_opts *opts);
void vigil_etcd_close(struct vigil_etcd *e);
const char *vigil_etcd_endpoint(const struct vigil_etcd *e);

int vigil_etcd_grant(struct vigil_etcd *e, unsigned ttl_s, int64_t *lease);
/* *ttl_s is what the lease has left; 0 means it expired (grant a new one). */
int vigil_etcd_keepalive(struct vigil_etcd *e, int64_t lease, int64_t *ttl_s);
int vigil_etcd_revoke(struct vigil_etcd *e, int64_t lease);
int vigil_etcd_put(struct vigil_etcd *e, const char *key, const char *value, int64_t lease);
int vigil_etcd_delete(struct vigil_etcd *e, const char *key);
/* Every key under prefix; *revision is the store revision of the answer
 * (watch from *revision + 1 to miss nothing). */
int vigil_etcd_range_prefix(struct vigil_etcd *e, const char *prefix, vigil_etcd_kv_cb cb,
			    void *arg, int64_t *revision);
/* Stream the changes under prefix from start_revision, calling cb for each,
 * until the stream breaks (returns -1, e->err says why), *stop becomes
 * true (returns 0) or a compaction passed start_revision (returns -2:
 * range again). Uses its own connection. */
int vigil_etcd_watch_prefix(struct vigil_etcd *e, const char *prefix, int64_t start_revision,
			    vigil_etcd_kv_cb cb, void *arg, const volatile bool *stop);

#endif
