/* SPDX-License-Identifier: MIT */
/*
 * Private to config.c: walking a libyaml document with one-line
 * "FILE:LINE: what is wrong: how to fix" errors. config_yaml.c knows YAML,
 * config.c knows the schema (which keys exist and what they mean).
 */
#ifndef VIGIL_CONFIG_YAML_H
#define VIGIL_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config.h"

#define YC_PATH_MAX 64          /* "watch.backends[4095]" and friends */
#define YC_FILE_MAX (64u << 20) /* a config file larger than this is a mistake */
#define YC_DEPTH_MAX 64         /* nesting levels; the schema needs 5 */

struct yc_ctx {
	const char *name; /* file name used in messages */
	const char *text; /* whole input, to locate reader errors */
	size_t len;
	yaml_document_t *doc;
	struct vigil_config *cfg;
	struct vigil_service_cfg *svc; /* the service being parsed */
	char *err;
	size_t errlen;
};

/* Handler for the value of one known key; path is e.g. "daemon.log_level". */
typedef int (*yc_key_fn)(struct yc_ctx *c, yaml_node_t *val, const char *path);

struct yc_key {
	const char *key;
	yc_key_fn fn;
	bool hidden; /* reserved: handled, but not listed as a known key */
};

/* One kind of list: entries of elem bytes whose first cmp bytes identify an
 * entry. The same identity twice is an error: "listed twice" when the whole
 * entry is equal, otherwise "conflict" (NULL: treat as listed twice). */
struct yc_list {
	size_t max, elem, cmp;
	const char *example;
	const char *conflict;
	int (*parse)(struct yc_ctx *c, yaml_node_t *item, const char *path, void *slot);
};

/* Errors: always return -EINVAL. */
int yc_fail_line(struct yc_ctx *c, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int yc_fail(struct yc_ctx *c, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
unsigned long yc_line(const yaml_node_t *node);

/* A plain "", "~" or "null": the key is present without a value. */
bool yc_is_null(const yaml_node_t *node);
/* Value of the key in a mapping node, NULL if absent or not a mapping. */
yaml_node_t *yc_find(struct yc_ctx *c, yaml_node_t *map, const char *key);

/* Scalars; on error *out is "", 0 or unchanged and an error is written. */
int yc_get_str(struct yc_ctx *c, yaml_node_t *v, const char *path, const char *want,
	       const char **out);
int yc_get_uint(struct yc_ctx *c, yaml_node_t *v, const char *path, unsigned long min,
		unsigned long max, unsigned long *out);
int yc_get_bool(struct yc_ctx *c, yaml_node_t *v, const char *path, bool *out);
int yc_get_double(struct yc_ctx *c, yaml_node_t *v, const char *path, double min, double max,
		  double *out);

/* pair (of map) has a scalar key not used by an earlier pair of map;
 * otherwise an error naming both lines. */
int yc_check_key(struct yc_ctx *c, yaml_node_t *map, yaml_node_pair_t *pair,
		 const char *path);

/* Calls the handler of every key (an empty value is an empty mapping);
 * unknown and duplicate keys are errors. path "" is the top level. */
int yc_walk_map(struct yc_ctx *c, yaml_node_t *map, const char *path,
		const struct yc_key *keys, size_t nkeys);

/* Parses a list (an empty value is an empty list) into a new calloc'ed array
 * stored in *arr; *count is the number of entries parsed so far, so the caller
 * frees *arr on error as on success. */
int yc_load_list(struct yc_ctx *c, yaml_node_t *v, const char *path,
		 const struct yc_list *spec, void **arr, size_t *count);

/* Parses text (exactly one YAML document) and calls root(c, root node) with
 * the document loaded; root may be NULL for an empty document. */
int yc_parse(struct yc_ctx *c, const char *text, size_t len,
	     int (*root)(struct yc_ctx *c, yaml_node_t *root));

/* Whole file into a new NUL-terminated buffer; 0 or -errno (-EFBIG above
 * YC_FILE_MAX, -EFTYPE for anything but a regular file, never blocking). */
int yc_read_file(const char *path, char **out, size_t *outlen);

#endif
