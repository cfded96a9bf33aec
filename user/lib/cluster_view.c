// SPDX-License-Identifier: MIT
/* Cluster key layout and the view of other nodes' verdicts (cluster_view.h). */
#include "cluster_view.h"
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- verdict kinds ------------------------------------------------------- */

enum vigil_verdict_kind vigil_verdict_kind_of(enum vigil_rule rule)
{
	switch (rule) {
	case VIGIL_RULE_CONSECUTIVE:
	case VIGIL_RULE_FAST_PATH:
	case VIGIL_RULE_STUCK_CONNECT:
	case VIGIL_RULE_STUCK_REQUEST:
	case VIGIL_RULE_PROBE_FAILED:
		return VIGIL_VERDICT_HARD;
	case VIGIL_RULE_ERROR_RATIO:
	case VIGIL_RULE_SLOW:
		return VIGIL_VERDICT_OUTLIER;
	default:
		return VIGIL_VERDICT_NONE;
	}
}

static const char *const kind_names[] = {
	[VIGIL_VERDICT_NONE] = "none",
	[VIGIL_VERDICT_HARD] = "hard",
	[VIGIL_VERDICT_OUTLIER] = "outlier",
	[VIGIL_VERDICT_SUSPECT] = "suspect",
};

const char *vigil_verdict_kind_name(enum vigil_verdict_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "none";
}

enum vigil_verdict_kind vigil_verdict_kind_parse(const char *s)
{
	for (unsigned k = VIGIL_VERDICT_HARD; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (!strcmp(s, kind_names[k]))
			return (enum vigil_verdict_kind)k;
	return VIGIL_VERDICT_NONE;
}

/* ---- keys ------------------------------------------------------------------ */

#define NODES "nodes/"
#define VERDICTS "verdicts/"

/* Copies the next '/'-separated part of *s into dst (NUL-terminated);
 * false when it is empty or too long. */
static bool next_part(const char **s, char *dst, size_t len, bool last)
{
	size_t n = strcspn(*s, "/");

	if (!n || n >= len || (last != !(*s)[n]))
		return false;
	memcpy(dst, *s, n);
	dst[n] = '\0';
	*s += n + !last;
	return true;
}

void vigil_cluster_key_parse(const char *prefix, const char *key, struct vigil_cluster_key *out)
{
	size_t plen = strlen(prefix);
	char backend[VIGIL_ENDPOINT_STRLEN];
	const char *s = key + plen;

	memset(out, 0, sizeof(*out));
	if (strncmp(key, prefix, plen))
		return;
	if (!strncmp(s, NODES, strlen(NODES))) {
		s += strlen(NODES);
		if (next_part(&s, out->node, sizeof(out->node), true))
			out->type = VIGIL_CKEY_NODE;
		return;
	}
	if (strncmp(s, VERDICTS, strlen(VERDICTS)))
		return;
	s += strlen(VERDICTS);
	if (next_part(&s, out->service, sizeof(out->service), false) &&
	    next_part(&s, backend, sizeof(backend), false) &&
	    next_part(&s, out->node, sizeof(out->node), true) &&
	    vigil_endpoint_parse(backend, &out->backend) == 0)
		out->type = VIGIL_CKEY_VERDICT;
}

int vigil_cluster_key_verdict(char *buf, size_t len, const char *prefix, const char *service,
			      const struct vigil_endpoint *backend, const char *node)
{
	char ep[VIGIL_ENDPOINT_STRLEN];
	int n = snprintf(buf, len, "%s" VERDICTS "%s/%s/%s", prefix, service,
			 vigil_endpoint_format(backend, ep, sizeof(ep)), node);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

int vigil_cluster_key_node(char *buf, size_t len, const char *prefix, const char *node)
{
	int n = snprintf(buf, len, "%s" NODES "%s", prefix, node);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* ---- the view -------------------------------------------------------------- */

/* Verdicts in a chained hash on (node, service, backend): a mass failure
 * across a fleet puts nodes x backends entries here. */
struct cview_entry {
	struct vigil_cluster_key key;
	enum vigil_verdict_kind kind;
	int64_t mod_revision;
	bool stale;
	struct cview_entry *next;
};

#define CVIEW_BUCKETS 4096

struct vigil_cview {
	struct cview_entry *buckets[CVIEW_BUCKETS];
	size_t n_verdicts;
	char (*nodes)[VIGIL_NODE_LEN];
	size_t n_nodes, cap_nodes;
};

static unsigned fnv(const void *data, size_t len, unsigned h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Entries of one (service, backend) share a bucket, so counting reporters
 * walks one chain. */
static struct cview_entry **bucket_of(struct vigil_cview *v, const char *service,
				      const struct vigil_endpoint *backend)
{
	unsigned h = fnv(service, strlen(service), 2166136261u);

	h = fnv(backend, sizeof(*backend), h);
	return &v->buckets[h % CVIEW_BUCKETS];
}

static bool same_key(const struct vigil_cluster_key *a, const struct vigil_cluster_key *b)
{
	return !strcmp(a->node, b->node) && !strcmp(a->service, b->service) &&
	       !memcmp(&a->backend, &b->backend, sizeof(a->backend));
}

struct vigil_cview *vigil_cview_new(void)
{
	return calloc(1, sizeof(struct vigil_cview));
}

void vigil_cview_clear(struct vigil_cview *v)
{
	for (size_t i = 0; i < CVIEW_BUCKETS; i++) {
		while (v->buckets[i]) {
			struct cview_entry *e = v->buckets[i];

			v->buckets[i] = e->next;
			free(e);
		}
	}
	v->n_verdicts = 0;
	v->n_nodes = 0;
}

void vigil_cview_mark_stale(struct vigil_cview *v)
{
	for (size_t i = 0; i < CVIEW_BUCKETS; i++)
		for (struct cview_entry *e = v->buckets[i]; e; e = e->next)
			e->stale = true;
	v->n_nodes = 0;
}

void vigil_cview_sweep_stale(struct vigil_cview *v)
{
	for (size_t i = 0; i < CVIEW_BUCKETS; i++) {
		for (struct cview_entry **p = &v->buckets[i]; *p;) {
			struct cview_entry *e = *p;

			if (!e->stale) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			free(e);
			v->n_verdicts--;
		}
	}
}

void vigil_cview_free(struct vigil_cview *v)
{
	if (!v)
		return;
	vigil_cview_clear(v);
	free(v->nodes);
	free(v);
}

bool vigil_cview_put(struct vigil_cview *v, const struct vigil_cluster_key *k,
		     enum vigil_verdict_kind kind, int64_t mod_revision)
{
	struct cview_entry **head = bucket_of(v, k->service, &k->backend), *e;

	for (e = *head; e; e = e->next) {
		if (!same_key(&e->key, k))
			continue;
		e->stale = false;
		if (e->mod_revision == mod_revision && e->kind == kind)
			return false;
		e->kind = kind;
		e->mod_revision = mod_revision;
		return true;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	*e = (struct cview_entry){ .key = *k, .kind = kind, .mod_revision = mod_revision,
				   .next = *head };
	*head = e;
	v->n_verdicts++;
	return true;
}

void vigil_cview_del(struct vigil_cview *v, const struct vigil_cluster_key *k)
{
	for (struct cview_entry **p = bucket_of(v, k->service, &k->backend); *p; p = &(*p)->next) {
		struct cview_entry *e = *p;

		if (same_key(&e->key, k)) {
			*p = e->next;
			free(e);
			v->n_verdicts--;
			return;
		}
	}
}

void vigil_cview_node(struct vigil_cview *v, const char *node, bool alive)
{
	size_t i;

	for (i = 0; i < v->n_nodes && strcmp(v->nodes[i], node); i++)
		;
	if (!alive) {
		if (i < v->n_nodes)
			memcpy(v->nodes[i], v->nodes[--v->n_nodes], VIGIL_NODE_LEN);
		return;
	}
	if (i < v->n_nodes)
		return;
	if (v->n_nodes == v->cap_nodes) {
		size_t cap = v->cap_nodes ? 2 * v->cap_nodes : 16;
		void *p = realloc(v->nodes, cap * VIGIL_NODE_LEN);

		if (!p)
			return;
		v->nodes = p;
		v->cap_nodes = cap;
	}
	snprintf(v->nodes[v->n_nodes++], VIGIL_NODE_LEN, "%s", node);
}

unsigned vigil_cview_reporters(const struct vigil_cview *v, const char *service,
			       const struct vigil_endpoint *backend, enum vigil_verdict_kind kind)
{
	struct cview_entry *e = *bucket_of((struct vigil_cview *)v, service, backend);
	unsigned n = 0;

	for (; e; e = e->next)
		n += e->kind == kind && !strcmp(e->key.service, service) &&
		     !memcmp(&e->key.backend, backend, sizeof(*backend));
	return n;
}

unsigned vigil_cview_live_nodes(const struct vigil_cview *v)
{
	return (unsigned)v->n_nodes;
}

size_t vigil_cview_verdicts(const struct vigil_cview *v)
{
	return v->n_verdicts;
}
