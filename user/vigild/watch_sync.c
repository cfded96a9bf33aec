/* SPDX-License-Identifier: MIT */
#include "watch_sync.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps.h"
#include "monitor.skel.h"

/* One map's desired content: n keys of key_size bytes and their values. */
struct desired {
	const char *name;
	int fd;
	size_t key_size;
	const void *keys;
	const void *values; /* NULL: every value is value_one */
	size_t value_size;
	size_t n;
};

static bool wanted(const void *key, const void *ctx)
{
	const struct desired *d = ctx;

	for (size_t i = 0; i < d->n; i++)
		if (memcmp((const char *)d->keys + i * d->key_size, key, d->key_size) == 0)
			return true;
	return false;
}

static int insert_all(const struct desired *d)
{
	static const __u8 value_one = 1;

	for (size_t i = 0; i < d->n; i++) {
		const void *key = (const char *)d->keys + i * d->key_size;
		const void *val = d->values ? (const void *)((const char *)d->values + i * d->value_size)
					    : (const void *)&value_one;

		if (bpf_map_update_elem(d->fd, key, val, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

static int sync_one(const struct desired *d, char *err, size_t errlen)
{
	int ret = insert_all(d);

	if (!ret)
		ret = vigil_map_delete_unless(d->fd, d->key_size, wanted, d);
	if (ret)
		snprintf(err, errlen, "updating watch map %s failed: %s", d->name, strerror(-ret));
	else
		pr_debug("watch map %s: %zu entries", d->name, d->n);
	return ret;
}

/* Explicit watch.backends plus every service backend (watched automatically),
 * without duplicates. Caller frees. */
static struct vigil_endpoint *watched_endpoints(const struct vigil_config *cfg, size_t *n_out)
{
	size_t cap = cfg->n_backends + 1, n = 0;
	struct vigil_endpoint *eps;

	for (size_t s = 0; s < cfg->n_services; s++)
		cap += cfg->services[s].n_backends;
	eps = calloc(cap, sizeof(*eps));
	if (!eps)
		return NULL;
	for (size_t i = 0; i < cfg->n_backends; i++)
		eps[n++] = cfg->backends[i];
	for (size_t s = 0; s < cfg->n_services; s++)
		for (size_t b = 0; b < cfg->services[s].n_backends; b++) {
			const struct vigil_endpoint *ep = &cfg->services[s].backends[b].ep;
			size_t j = 0;

			while (j < n && memcmp(&eps[j], ep, sizeof(*ep)) != 0)
				j++;
			if (j == n)
				eps[n++] = *ep;
		}
	*n_out = n;
	return eps;
}

int vigil_watch_sync(struct monitor_bpf *skel, const struct vigil_config *cfg, char *err,
		     size_t errlen)
{
	size_t n_exact = 0;
	struct vigil_endpoint *exact = watched_endpoints(cfg, &n_exact);
	struct vigil_prefix_key *pkeys = calloc(cfg->n_prefixes + 1, sizeof(*pkeys));
	struct vigil_prefix_watch *pvals = calloc(cfg->n_prefixes + 1, sizeof(*pvals));
	int ret = -ENOMEM;

	if (!pkeys || !pvals || !exact)
		goto out;
	for (size_t i = 0; i < cfg->n_prefixes; i++) {
		pkeys[i] = cfg->prefixes[i].key;
		pvals[i].port = cfg->prefixes[i].port;
	}

	struct desired maps[] = {
		{ "watch_exact", bpf_map__fd(skel->maps.watch_exact), sizeof(struct vigil_endpoint),
		  exact, NULL, 1, n_exact },
		{ "watch_prefix", bpf_map__fd(skel->maps.watch_prefix), sizeof(*pkeys), pkeys,
		  pvals, sizeof(*pvals), cfg->n_prefixes },
	};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		ret = sync_one(&maps[i], err, errlen);
		if (ret)
			break;
	}
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory building watch maps");
	free(exact);
	free(pkeys);
	free(pvals);
	return ret;
}
