/* SPDX-License-Identifier: MIT */
#include "history_filter.h"

#include <string.h>

static bool same(const struct vigil_endpoint *a, const struct vigil_endpoint *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

bool vigil_history_match(const struct vigil_history_filter *f, const struct vigil_change *c)
{
	bool vip_ok = !f->by_service;

	for (size_t i = 0; i < f->n_vips && !vip_ok; i++)
		vip_ok = same(&f->vips[i], &c->key.vip);
	return vip_ok && (!f->by_backend || same(&f->backend, &c->key.backend));
}
