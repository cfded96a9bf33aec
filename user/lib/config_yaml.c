/* SPDX-License-Identifier: MIT */
/*
 * Generic half of the config loader: a libyaml document (so every node knows
 * its line) walked with one-line "FILE:LINE: problem: fix" errors. The schema
 * lives in config.c.
 */
#include "config_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors and node helpers ------------------------------------------- */

static void vfail(struct yc_ctx *c, unsigned long line, const char *fmt, va_list ap)
{
	int n;

	if (!c->err || !c->errlen)
		return;
	n = snprintf(c->err, c->errlen, "%s:%lu: ", c->name, line);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
}

int yc_fail_line(struct yc_ctx *c, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, line, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

unsigned long yc_line(const yaml_node_t *node)
{
	return (unsigned long)node->start_mark.line + 1;
}

int yc_fail(struct yc_ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, yc_line(node), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static yaml_node_t *node_at(struct yc_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *str_of(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool yc_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = str_of(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static const char *kind_of(const yaml_node_t *n)
{
	if (yc_is_null(n))
		return "an empty value";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return "a scalar";
}

yaml_node_t *yc_find(struct yc_ctx *c, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(str_of(k), key))
			return node_at(c, p->value);
	}
	return NULL;
}

/* ---- scalars ------------------------------------------------------------- */

int yc_get_str(struct yc_ctx *c, yaml_node_t *v, const char *path, const char *want,
	       const char **out)
{
	*out = "";
	if (v->type != YAML_SCALAR_NODE || yc_is_null(v))
		return yc_fail(c, v, "%s: expected %s, got %s: see docs/config.md", path, want,
			       kind_of(v));
	*out = str_of(v);
	return 0;
}

/* Decimal only, no sign or leading zeros (YAML 1.1 would read 010 as octal). */
int yc_get_uint(struct yc_ctx *c, yaml_node_t *v, const char *path, unsigned long min,
		unsigned long max, unsigned long *out)
{
	const char *s, *p;
	unsigned long n = 0;
	int err = yc_get_str(c, v, path, "an integer", &s);

	*out = 0;
	if (err)
		return err;
	for (p = s; *p >= '0' && *p <= '9' && n <= max; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (*p || p == s || (s[0] == '0' && s[1]) || n < min || n > max)
		return yc_fail(c, v, "%s: \"%s\": must be an integer %lu-%lu", path, s, min, max);
	*out = n;
	return 0;
}

int yc_get_double(struct yc_ctx *c, yaml_node_t *v, const char *path, double min, double max,
		      double *out)
{
	const char *s;
	char *end;
	int err = yc_get_str(c, v, path, "a number", &s);

	if (err)
		return err;
	*out = strtod(s, &end);
	if (*end || end == s || !(*out >= min && *out <= max))
		return yc_fail(c, v, "%s: \"%s\": must be a number from %g to %g", path, s, min, max);
	return 0;
}

int yc_get_bool(struct yc_ctx *c, yaml_node_t *v, const char *path, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	const char *s;
	int err = yc_get_str(c, v, path, "a boolean", &s);

	if (err)
		return err;
	for (int i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return yc_fail(c, v, "%s: \"%s\" is not a boolean: use true or false (or yes/no, on/off)",
		       path, s);
}

/* ---- mappings ------------------------------------------------------------ */

int yc_check_key(struct yc_ctx *c, yaml_node_t *map, yaml_node_pair_t *pair,
		 const char *path)
{
	yaml_node_t *k = node_at(c, pair->key);

	if (k->type != YAML_SCALAR_NODE)
		return yc_fail(c, k, "%s: keys must be plain words, got %s: write \"key: value\"",
			       path, kind_of(k));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
		yaml_node_t *prev = node_at(c, p->key);

		if (prev->type == YAML_SCALAR_NODE && !strcmp(str_of(prev), str_of(k)))
			return yc_fail(c, k, "%s: duplicate key \"%s\" (first at line %lu): "
				       "keep only one", path, str_of(k), yc_line(prev));
	}
	return 0;
}

static int unknown_key(struct yc_ctx *c, yaml_node_t *k, const char *path,
		       const struct yc_key *keys, size_t nkeys)
{
	char known[256] = "";

	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].hidden)
			continue;
		if (known[0])
			strncat(known, ", ", sizeof(known) - strlen(known) - 1);
		strncat(known, keys[i].key, sizeof(known) - strlen(known) - 1);
	}
	return yc_fail(c, k, "%s: unknown key \"%s\" (known: %s)", path, str_of(k), known);
}

int yc_walk_map(struct yc_ctx *c, yaml_node_t *map, const char *path,
		const struct yc_key *keys, size_t nkeys)
{
	const char *shown = *path ? path : "top level";

	if (yc_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return yc_fail(c, map, "%s: expected a mapping, got %s: write indented "
			       "\"key: value\" lines", shown, kind_of(map));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);
		char sub[YC_PATH_MAX];
		size_t i;
		int err = yc_check_key(c, map, p, shown);

		if (err)
			return err;
		for (i = 0; i < nkeys && strcmp(keys[i].key, str_of(k)); i++)
			;
		if (i == nkeys)
			return unknown_key(c, k, shown, keys, nkeys);
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", keys[i].key);
		err = keys[i].fn(c, node_at(c, p->value), sub);
		if (err)
			return err;
	}
	return 0;
}

/* ---- lists --------------------------------------------------------------- */

static yaml_node_t *item_at(struct yc_ctx *c, yaml_node_t *list, size_t i)
{
	return node_at(c, list->data.sequence.items.start[i]);
}

static int check_unique(struct yc_ctx *c, yaml_node_t *list, size_t i, const char *path,
			const struct yc_list *spec, const char *arr)
{
	const char *cur = arr + i * spec->elem;
	yaml_node_t *it = item_at(c, list, i);

	for (size_t j = 0; j < i; j++) {
		const char *prev = arr + j * spec->elem;
		unsigned long first = yc_line(item_at(c, list, j));

		if (memcmp(prev, cur, spec->cmp))
			continue;
		if (spec->conflict && memcmp(prev, cur, spec->elem))
			return yc_fail(c, it, "%s: \"%s\" conflicts with line %lu: %s", path,
				       str_of(it), first, spec->conflict);
		return yc_fail(c, it, "%s: \"%s\" is listed twice (first at line %lu): "
			       "remove the duplicate", path, str_of(it), first);
	}
	return 0;
}

int yc_load_list(struct yc_ctx *c, yaml_node_t *v, const char *path,
		 const struct yc_list *spec, void **arr, size_t *count)
{
	size_t n;

	if (yc_is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return yc_fail(c, v, "%s: expected a list, got %s: write e.g. %s", path,
			       kind_of(v), spec->example);
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > spec->max)
		return yc_fail(c, v, "%s: %zu entries, at most %zu are supported: watch a prefix "
			       "instead of many single entries", path, n, spec->max);
	*arr = n ? calloc(n, spec->elem) : NULL;
	if (n && !*arr)
		return yc_fail(c, v, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++) {
		char ipath[YC_PATH_MAX];
		int err;

		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		err = spec->parse(c, item_at(c, v, i), ipath, (char *)*arr + i * spec->elem);
		if (!err)
			err = check_unique(c, v, i, ipath, spec, *arr);
		if (err)
			return err;
		*count = i + 1;
	}
	return 0;
}

/* ---- documents ----------------------------------------------------------- */

static unsigned long offset_line(const struct yc_ctx *c, size_t offset)
{
	unsigned long line = 1;

	for (size_t i = 0; i < offset && i < c->len; i++)
		line += c->text[i] == '\n';
	return line;
}

static int syntax_error(struct yc_ctx *c, const yaml_parser_t *p)
{
	unsigned long line = (unsigned long)p->problem_mark.line + 1;
	unsigned long start = (unsigned long)p->context_mark.line + 1;
	char where[160] = "";

	if (p->error == YAML_MEMORY_ERROR)
		return yc_fail_line(c, line, "out of memory while parsing");
	/* The reader (encoding errors) only records a byte offset. */
	if (p->error == YAML_READER_ERROR)
		line = offset_line(c, p->problem_offset);
	/* "while parsing a flow sequence": say where that construct started,
	 * which is where the mistake usually is. */
	if (p->context && start != line)
		snprintf(where, sizeof(where), " (%s that started at line %lu)", p->context,
			 start);
	else if (p->context)
		snprintf(where, sizeof(where), " (%s)", p->context);
	return yc_fail_line(c, line, "YAML syntax error: %s%s: %s",
			    p->problem ? p->problem : "unknown error", where,
			    p->problem_mark.index < c->len && c->text[p->problem_mark.index] == '\t' ?
			    "indent with spaces, YAML does not allow tabs" :
			    "check indentation, quoting and brackets");
}

/* Only one document: a stray "---" followed by more keys is an error. */
static int check_single_doc(struct yc_ctx *c, yaml_parser_t *p)
{
	for (;;) {
		yaml_document_t extra;
		yaml_node_t *root;
		unsigned long line;
		bool empty;

		if (!yaml_parser_load(p, &extra))
			return syntax_error(c, p);
		root = yaml_document_get_root_node(&extra);
		empty = !root || yc_is_null(root);
		line = root ? yc_line(root) : 0;
		yaml_document_delete(&extra);
		if (!root)
			return 0;
		if (!empty)
			return yc_fail_line(c, line, "a second YAML document: keep everything in "
					    "one document (remove the extra \"---\")");
	}
}

/* One event: nesting depth and NUL bytes. 1 at the end of the stream. */
static int scan_event(struct yc_ctx *c, const yaml_event_t *ev, int *depth)
{
	unsigned long line = (unsigned long)ev->start_mark.line + 1;

	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (++*depth > YC_DEPTH_MAX)
			return yc_fail_line(c, line, "nested more than %d levels deep: vigil's "
					    "schema needs 5; flatten it", YC_DEPTH_MAX);
		return 0;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		--*depth;
		return 0;
	case YAML_SCALAR_EVENT:
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return yc_fail_line(c, line, "a value contains a NUL byte (\"\\0\" or "
					    "\"\\x00\" in quotes): remove it");
		return 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

/* Before anything is built: libyaml's loader takes time quadratic in the
 * nesting depth (80k levels: tens of seconds), and a NUL inside a quoted
 * scalar would cut the value short when read as a C string. Events cost
 * linear time and stop at the first problem. */
static int prescan(struct yc_ctx *c, const char *text, size_t len)
{
	yaml_parser_t parser;
	int depth = 0, ret = 0;

	if (!yaml_parser_initialize(&parser))
		return yc_fail_line(c, 1, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!ret) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			ret = syntax_error(c, &parser);
			break;
		}
		ret = scan_event(c, &ev, &depth);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return ret < 0 ? ret : 0;
}

int yc_parse(struct yc_ctx *c, const char *text, size_t len,
	     int (*root)(struct yc_ctx *c, yaml_node_t *root))
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int ret;

	c->text = text;
	c->len = len;
	ret = prescan(c, text, len);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser))
		return yc_fail_line(c, 1, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(c, &parser);
	} else {
		c->doc = &doc;
		ret = check_single_doc(c, &parser);
		if (!ret)
			ret = root(c, yaml_document_get_root_node(&doc));
		c->doc = NULL;
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return ret;
}

/* Room for at least one more byte and the final NUL; 0 or -errno. */
static int grow(char **buf, size_t *cap, size_t len)
{
	char *tmp;

	if (*cap - len >= 2)
		return 0;
	if (*cap >= YC_FILE_MAX)
		return -EFBIG;
	*cap = *cap ? *cap * 2 : 4096;
	tmp = realloc(*buf, *cap);
	if (!tmp)
		return -ENOMEM;
	*buf = tmp;
	return 0;
}

/* Opened without blocking (a FIFO would wait for a writer) and only if it
 * is a regular file (-EFTYPE otherwise). */
static FILE *open_regular(const char *path, int *ret)
{
	struct stat st;
	FILE *f;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	*ret = fd < 0 ? -errno : 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		*ret = S_ISDIR(st.st_mode) ? -EISDIR : -EFTYPE;
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		*ret = -errno;
		close(fd);
	}
	return f;
}

/* All bytes, NULs included (libyaml then reports them with their line). */
int yc_read_file(const char *path, char **out, size_t *outlen)
{
	size_t len = 0, cap = 0, n = 0;
	char *buf = NULL;
	int ret;
	FILE *f = open_regular(path, &ret);

	if (!f)
		return ret;
	do {
		ret = grow(&buf, &cap, len);
		if (!ret)
			n = fread(buf + len, 1, cap - len - 1, f);
		len += ret ? 0 : n;
	} while (!ret && n > 0);
	if (!ret && ferror(f))
		ret = errno ? -errno : -EIO;
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}
