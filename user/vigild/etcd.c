// SPDX-License-Identifier: MIT
/* etcd v3 JSON gateway client (etcd.h). */
#include "etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

struct body {
	char *p;
	size_t len;
};

/* ---- encoding ----------------------------------------------------------- */

static char *b64_encode(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

/* EVP_DecodeBlock counts the padding as data: take it off again. */
static char *b64_decode(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len / 4 * 3 + 1);
	int n;

	if (!out)
		return NULL;
	n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	for (; len && s[len - 1] == '='; len--)
		n--;
	out[n] = '\0';
	return out;
}

/* The range end that selects every key starting with prefix. */
static char *prefix_end(const char *prefix)
{
	char *end = strdup(prefix);
	size_t i = strlen(prefix);

	while (end && i--) {
		if ((unsigned char)end[i] < 0xff) {
			end[i]++;
			end[i + 1] = '\0';
			return end;
		}
	}
	free(end);
	return strdup("\x01"); /* unreachable for our prefixes; a harmless range */
}

/* Gateway integers are strings ("revision": "12"). */
static int64_t json_i64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* ---- transport ---------------------------------------------------------- */

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->len += size * n;
	p[b->len] = '\0';
	b->p = p;
	return size * n;
}

static void setup_handle(const struct vigil_etcd *e, CURL *c, struct curl_slist *hdrs)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->opts.timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	/* A member that vanishes without a RST must not hold a watch forever. */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 1L);
	if (e->opts.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->opts.ca_file);
	if (e->opts.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, e->opts.cert_file);
	if (e->opts.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, e->opts.key_file);
}

/* One POST to one endpoint. 0: an HTTP answer in *out and *status. */
static int post_once(struct vigil_etcd *e, size_t idx, const char *path, const char *json,
		     struct body *out, long *status)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", e->opts.endpoints[idx], path);
	setup_handle(e, e->curl, hdrs);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->opts.timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(e->curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(e->err, sizeof(e->err), "%s: %s", e->opts.endpoints[idx], curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* POST req to path, trying each endpoint once from the one that answered
 * last. A 4xx is etcd's answer (no failover); a 5xx or a transport error
 * moves on. Returns the parsed answer or NULL (e->err). */
static json_t *etcd_call(struct vigil_etcd *e, const char *path, json_t *req)
{
	char *json = json_dumps(req, JSON_COMPACT);
	json_t *resp = NULL;
	size_t i;

	json_decref(req);
	for (i = 0; json && i < e->opts.n_endpoints && !resp; i++) {
		size_t idx = (e->current + i) % e->opts.n_endpoints;
		struct body out = { 0 };
		long status = 0;

		if (post_once(e, idx, path, json, &out, &status) == 0) {
			if (status == 200)
				resp = json_loads(out.p ? out.p : "", 0, NULL);
			if (status == 200 || (status >= 400 && status < 500))
				e->current = idx;
			snprintf(e->err, sizeof(e->err), "%s%s: HTTP %ld: %.120s", e->opts.endpoints[idx],
				 path, status, out.p ? out.p : "");
			if (status >= 400 && status < 500)
				i = e->opts.n_endpoints; /* a real answer: no failover */
		}
		free(out.p);
	}
	free(json);
	return resp;
}

/* ---- API ---------------------------------------------------------------- */

int vigil_etcd_open(struct vigil_etcd *e, const struct vigil_etcd_opts *opts)
{
	memset(e, 0, sizeof(*e));
	if (!opts->n_endpoints || opts->n_endpoints > VIGIL_ETCD_MAX_ENDPOINTS)
		return -EINVAL;
	e->opts = *opts;
	e->curl = curl_easy_init();
	return e->curl ? 0 : -ENOMEM;
}

void vigil_etcd_close(struct vigil_etcd *e)
{
	if (e->curl)
		curl_easy_cleanup(e->curl);
	e->curl = NULL;
}

const char *vigil_etcd_endpoint(const struct vigil_etcd *e)
{
	return e->opts.endpoints[e->current];
}

int vigil_etcd_grant(struct vigil_etcd *e, unsigned ttl_s, int64_t *lease)
{
	json_t *r = etcd_call(e, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ttl_s));

	*lease = r ? json_i64(r, "ID") : 0;
	json_decref(r);
	return *lease ? 0 : -1;
}

int vigil_etcd_keepalive(struct vigil_etcd *e, int64_t lease, int64_t *ttl_s)
{
	json_t *r = etcd_call(e, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)lease));

	if (!r)
		return -1;
	*ttl_s = json_i64(json_object_get(r, "result"), "TTL");
	json_decref(r);
	return 0;
}

int vigil_etcd_revoke(struct vigil_etcd *e, int64_t lease)
{
	json_t *r = etcd_call(e, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)lease));

	json_decref(r);
	return r ? 0 : -1;
}

int vigil_etcd_put(struct vigil_etcd *e, const char *key, const char *value, int64_t lease)
{
	char *k = b64_encode(key), *v = b64_encode(value);
	json_t *r = NULL;

	if (k && v)
		r = etcd_call(e, "/v3/kv/put",
			      json_pack("{s:s, s:s, s:I}", "key", k, "value", v, "lease", (json_int_t)lease));
	free(k);
	free(v);
	json_decref(r);
	return r ? 0 : -1;
}

int vigil_etcd_delete(struct vigil_etcd *e, const char *key)
{
	char *k = b64_encode(key);
	json_t *r = k ? etcd_call(e, "/v3/kv/deleterange", json_pack("{s:s}", "key", k)) : NULL;

	free(k);
	json_decref(r);
	return r ? 0 : -1;
}

/* Decode one gateway kv object and hand it to cb. */
static void deliver(json_t *kv, bool deleted, vigil_etcd_kv_cb cb, void *arg)
{
	json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
	char *key = b64_decode(json_is_string(k) ? json_string_value(k) : "");
	char *value = b64_decode(json_is_string(v) ? json_string_value(v) : "");
	struct vigil_etcd_kv out = { .key = key, .value = value, .deleted = deleted,
				     .mod_revision = json_i64(kv, "mod_revision") };

	if (key && value)
		cb(&out, arg);
	free(key);
	free(value);
}

int vigil_etcd_range_prefix(struct vigil_etcd *e, const char *prefix, vigil_etcd_kv_cb cb,
			    void *arg, int64_t *revision)
{
	char *end = prefix_end(prefix), *k = b64_encode(prefix), *ke = end ? b64_encode(end) : NULL;
	json_t *r = NULL, *kv;
	size_t i;

	if (k && ke)
		r = etcd_call(e, "/v3/kv/range", json_pack("{s:s, s:s}", "key", k, "range_end", ke));
	free(end);
	free(k);
	free(ke);
	if (!r)
		return -1;
	*revision = json_i64(json_object_get(r, "header"), "revision");
	json_array_foreach(json_object_get(r, "kvs"), i, kv)
		deliver(kv, false, cb, arg);
	json_decref(r);
	return 0;
}

/* ---- watch -------------------------------------------------------------- */

struct watch_stream {
	struct body buf;
	vigil_etcd_kv_cb cb;
	void *arg;
	const volatile bool *stop;
	bool compacted;
};

/* One message of the stream: {"result": {"events": [...], ...}}. */
static void watch_message(struct watch_stream *w, json_t *msg)
{
	json_t *res = json_object_get(msg, "result"), *ev;
	size_t i;

	if (json_i64(res, "compact_revision") > 0)
		w->compacted = true;
	json_array_foreach(json_object_get(res, "events"), i, ev) {
		json_t *type = json_object_get(ev, "type");
		bool deleted = json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0;

		deliver(json_object_get(ev, "kv"), deleted, w->cb, w->arg);
	}
}

/* The gateway writes one JSON object per message; a chunk may end inside
 * one, which stays buffered for the next. */
static size_t on_watch_data(char *data, size_t size, size_t n, void *arg)
{
	struct watch_stream *w = arg;
	size_t used = 0;

	if (on_data(data, size, n, &w->buf) != size * n)
		return 0;
	while (used < w->buf.len) {
		json_error_t jerr;
		json_t *msg;

		while (used < w->buf.len && strchr(" \r\n\t", w->buf.p[used]))
			used++;
		msg = json_loadb(w->buf.p + used, w->buf.len - used, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!msg)
			break;
		used += jerr.position;
		watch_message(w, msg);
		json_decref(msg);
	}
	memmove(w->buf.p, w->buf.p + used, w->buf.len - used);
	w->buf.len -= used;
	return size * n;
}

static int on_watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const struct watch_stream *w = arg;

	(void)a, (void)b, (void)c, (void)d;
	return *w->stop || w->compacted;
}

static char *watch_request(const char *prefix, int64_t start_revision)
{
	char *end = prefix_end(prefix), *k = b64_encode(prefix), *ke = end ? b64_encode(end) : NULL;
	json_t *req = NULL;
	char *json = NULL;

	if (k && ke)
		req = json_pack("{s:{s:s, s:s, s:I}}", "create_request", "key", k, "range_end", ke,
				"start_revision", (json_int_t)start_revision);
	if (req)
		json = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(end);
	free(k);
	free(ke);
	return json;
}

static int watch_on(struct vigil_etcd *e, CURL *c, size_t idx, const char *json,
		    struct watch_stream *w)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	CURLcode rc;

	snprintf(url, sizeof(url), "%s/v3/watch", e->opts.endpoints[idx]);
	setup_handle(e, c, hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	snprintf(e->err, sizeof(e->err), "watch on %s: %s", e->opts.endpoints[idx],
		 rc == CURLE_OK ? "stream ended" : curl_easy_strerror(rc));
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ? -1 : 0;
}

int vigil_etcd_watch_prefix(struct vigil_etcd *e, const char *prefix, int64_t start_revision,
			    vigil_etcd_kv_cb cb, void *arg, const volatile bool *stop)
{
	struct watch_stream w = { .cb = cb, .arg = arg, .stop = stop };
	char *json = watch_request(prefix, start_revision);
	CURL *c = curl_easy_init();
	size_t i;

	for (i = 0; json && c && i < e->opts.n_endpoints && !*stop; i++) {
		size_t idx = (e->current + i) % e->opts.n_endpoints;

		if (watch_on(e, c, idx, json, &w) == 0) {
			e->current = idx; /* connected: the stream ran until it broke */
			break;
		}
	}
	if (c)
		curl_easy_cleanup(c);
	free(json);
	free(w.buf.p);
	if (w.compacted)
		return -2;
	return *stop ? 0 : -1;
}
