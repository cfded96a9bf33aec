/* SPDX-License-Identifier: MIT */
/* HAProxy's runtime API, the pure half (haproxy_table.h). */
#include "haproxy_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

void vigil_hp_table_free(struct vigil_hp_table *t)
{
	free(t->srv);
	t->srv = NULL;
	t->n = 0;
}

int vigil_hp_discovery_request(const struct vigil_haproxy_cfg *cfg, char *buf, size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < cfg->n_backends; i++) {
		int n = snprintf(buf + used, len - used, "%sshow servers state %s; show stat %s 4 -1",
				 i ? "; " : "", cfg->backends[i].backend, cfg->backends[i].backend);

		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	if (used + 2 > len)
		return -ENOSPC;
	memcpy(buf + used, "\n", 2);
	return 0;
}

size_t vigil_hp_split_answers(char *text, char **out, size_t n)
{
	char *start = text, *p = text, *nl;
	size_t k = 0;

	while (k < n && (nl = strchr(p, '\n'))) {
		if (nl == p) { /* an empty line ends an output */
			*p = '\0';
			out[k++] = start;
			start = nl + 1;
		}
		p = nl + 1;
	}
	return k;
}

/* ---- show servers state ---------------------------------------------------- */

enum { COL_BE, COL_SRV, COL_ADDR, COL_OP, COL_ADMIN, COL_WEIGHT, COL_CHECK, COL_PORT, N_COLS };

static const char *const col_names[N_COLS] = {
	[COL_BE] = "be_name", [COL_SRV] = "srv_name", [COL_ADDR] = "srv_addr",
	[COL_OP] = "srv_op_state", [COL_ADMIN] = "srv_admin_state", [COL_WEIGHT] = "srv_uweight",
	[COL_CHECK] = "srv_check_state", [COL_PORT] = "srv_port",
};

/* Up to max words of line (split in place at sep); returns how many. */
static size_t split_words(char *line, const char *sep, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, sep, &save); tok && n < max; tok = strtok_r(NULL, sep, &save))
		w[n++] = tok;
	return n;
}

/* Column index of each wanted name in the header words; -1 if missing. */
static int header_columns(char **words, size_t n, const char *const *names, size_t n_names,
			  int *col)
{
	int missing = 0;

	for (size_t c = 0; c < n_names; c++) {
		col[c] = -1;
		for (size_t i = 0; i < n; i++)
			if (strcmp(words[i], names[c]) == 0)
				col[c] = (int)i;
		missing |= col[c] < 0;
	}
	return missing ? -EINVAL : 0;
}

static void server_endpoint(struct vigil_hp_server *s, const char *addr, const char *port)
{
	char text[VIGIL_ENDPOINT_STRLEN];

	memset(&s->ep, 0, sizeof(s->ep));
	snprintf(text, sizeof(text), strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr, port);
	if (vigil_endpoint_parse(text, &s->ep) || vigil_endpoint_unusable(&s->ep))
		memset(&s->ep, 0, sizeof(s->ep));
}

static int add_server(struct vigil_hp_table *t, char **w, const int *col)
{
	struct vigil_hp_server *s, *grown = realloc(t->srv, (t->n + 1) * sizeof(*t->srv));

	if (!grown)
		return -ENOMEM;
	t->srv = grown;
	s = &t->srv[t->n];
	memset(s, 0, sizeof(*s));
	if (strlen(w[col[COL_BE]]) >= sizeof(s->backend) || strlen(w[col[COL_SRV]]) >= sizeof(s->name))
		return 0; /* longer than any name vigil can address: skipped */
	snprintf(s->backend, sizeof(s->backend), "%s", w[col[COL_BE]]);
	snprintf(s->name, sizeof(s->name), "%s", w[col[COL_SRV]]);
	server_endpoint(s, w[col[COL_ADDR]], w[col[COL_PORT]]);
	s->op_state = (__u32)strtoul(w[col[COL_OP]], NULL, 10);
	s->admin_flags = (__u32)strtoul(w[col[COL_ADMIN]], NULL, 10);
	s->weight = (__u32)strtoul(w[col[COL_WEIGHT]], NULL, 10);
	s->checked = strtoul(w[col[COL_CHECK]], NULL, 10) & VIGIL_HP_CHK_ENABLED;
	t->n++;
	return 0;
}

/* One output of `show servers state B`: "1", "# be_id be_name ...", rows;
 * or a message such as "Can't find backend." (no servers). */
static int parse_servers_state(char *out, struct vigil_hp_table *t, char *err, size_t errlen)
{
	char *save = NULL, *line = strtok_r(out, "\n", &save), *w[64];
	int col[N_COLS];
	size_t n;

	if (!line || strcmp(line, "1") != 0)
		return 0;
	line = strtok_r(NULL, "\n", &save);
	n = line && line[0] == '#' ? split_words(line + 1, " ", w, 64) : 0;
	if (header_columns(w, n, col_names, N_COLS, col)) {
		snprintf(err, errlen, "show servers state: unexpected header (format 1 with %s, "
			 "%s, %s, %s expected)", col_names[COL_BE], col_names[COL_SRV],
			 col_names[COL_ADDR], col_names[COL_PORT]);
		return -EINVAL;
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		int ret;

		if (line[0] == '#')
			continue;
		n = split_words(line, " ", w, 64);
		for (size_t c = 0; c < N_COLS; c++)
			if ((size_t)col[c] >= n)
				goto short_row;
		ret = add_server(t, w, col);
		if (ret)
			return ret;
		continue;
short_row:
		snprintf(err, errlen, "show servers state: a row with %zu fields", n);
		return -EINVAL;
	}
	return 0;
}

/* ---- show stat (CSV): the backup flag --------------------------------------- */

static void mark_backup(struct vigil_hp_table *t, const char *be, const char *srv)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->srv[i].backend, be) == 0 && strcmp(t->srv[i].name, srv) == 0)
			t->srv[i].backup = true;
}

static void parse_stat(char *out, struct vigil_hp_table *t)
{
	static const char *const names[] = { "pxname", "svname", "bck" };
	char *save = NULL, *line = strtok_r(out, "\n", &save), *w[256];
	int col[3];
	size_t n;

	/* Fields may be empty: strsep keeps them, strtok would not. */
	n = 0;
	for (char *p = line && line[0] == '#' ? line + 2 : NULL, *f; p && n < 256;)
		if ((f = strsep(&p, ",")))
			w[n++] = f;
	if (header_columns(w, n, names, 3, col))
		return; /* no bck column (not a stat answer): no backups known */
	while ((line = strtok_r(NULL, "\n", &save))) {
		n = 0;
		for (char *p = line, *f; p && n < 256;)
			if ((f = strsep(&p, ",")))
				w[n++] = f;
		if ((size_t)col[2] < n && strcmp(w[col[2]], "1") == 0)
			mark_backup(t, w[col[0]], w[col[1]]);
	}
}

int vigil_hp_parse_discovery(char *text, const struct vigil_haproxy_cfg *cfg,
			     struct vigil_hp_table *t, char *err, size_t errlen)
{
	size_t want = 2 * cfg->n_backends;
	char **out = calloc(want ? want : 1, sizeof(*out));
	struct vigil_hp_table next = { 0 };
	int ret = -ENOMEM;

	if (!out)
		goto done;
	ret = -EINVAL;
	if (vigil_hp_split_answers(text, out, want) < want) {
		snprintf(err, errlen, "the answer ended before the %zu outputs asked for", want);
		goto done;
	}
	ret = 0;
	for (size_t i = 0; i < cfg->n_backends && !ret; i++)
		ret = parse_servers_state(out[2 * i], &next, err, errlen);
	for (size_t i = 0; i < cfg->n_backends && !ret; i++)
		parse_stat(out[2 * i + 1], &next);
done:
	free(out);
	if (ret) {
		vigil_hp_table_free(&next);
		return ret;
	}
	vigil_hp_table_free(t);
	*t = next;
	return 0;
}

size_t vigil_hp_find(const struct vigil_hp_table *t, const char *backend,
		     const struct vigil_endpoint *ep, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n && n < max; i++)
		if (t->srv[i].ep.family && strcmp(t->srv[i].backend, backend) == 0 &&
		    memcmp(&t->srv[i].ep, ep, sizeof(*ep)) == 0)
			idx[n++] = i;
	return n;
}
