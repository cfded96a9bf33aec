/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The socket datapath's choice of a backend from a published set
 * (service_sets, maps_sets.h), shared by connect() (bpf/sock_lb.bpf.c) and
 * the rescue of a failed connect (bpf/sock_rescue.bpf.c): one rule for a new
 * connection and for one that has to move. */
#ifndef VIGIL_BPF_SOCK_PICK_H
#define VIGIL_BPF_SOCK_PICK_H

#include "endpoint.h"

static __always_inline bool backend_down(const struct vigil_endpoint *ep)
{
	struct vigil_backend_health *h = bpf_map_lookup_elem(&backend_health, ep);

#ifdef VIGIL_MUTANT_SOCKLB_SKIP
	/* Mutation smoke test (see tests/mutants.sh): connect() ignores the fast
	 * path's down flag. */
	(void)h;
	return false;
#endif
	return h && h->down;
}

/* Which entries of a set a connection may get. */
struct pick_filter {
	struct vigil_endpoint avoid; /* never this backend (when has_avoid) */
	__u8 has_avoid;
	__u8 family;                 /* 0: any (connect6 reaches IPv4 backends v4-mapped);
				      * else only this family */
	bool last_resort;            /* nothing healthy: the preferred entries anyway */
};

/* State shared with the bpf_loop callbacks. bpf_loop keeps verification cost
 * independent of VIGIL_MAX_SET: an unrolled or bounded loop with a map lookup
 * per entry exceeds the verifier's budget. */
struct pick_ctx {
	const struct vigil_backend_set *set;
	struct pick_filter f;
	__u32 lo, hi; /* entries considered: [lo, hi) */
	__u32 ignore_down;
	__u32 mask;   /* bit i: entry i may be chosen */
	__u32 total;  /* sum of their weights */
	__u32 target; /* random point in [0, total) */
	__s32 chosen;
};

static long mark_usable(__u32 i, void *data)
{
	struct pick_ctx *c = data;
	const struct vigil_set_entry *e;

	if (i >= VIGIL_MAX_SET || i >= c->hi)
		return 1;
	if (i < c->lo)
		return 0;
	e = &c->set->entries[i & (VIGIL_MAX_SET - 1)];
	if (c->f.family && e->backend.family != c->f.family)
		return 0;
	if (c->f.has_avoid && same_endpoint(&e->backend, &c->f.avoid))
		return 0;
	if (!c->ignore_down && backend_down(&e->backend))
		return 0;
	c->mask |= 1u << i;
	c->total += e->weight;
	return 0;
}

static long pick_target(__u32 i, void *data)
{
	struct pick_ctx *c = data;
	__u32 w;

	if (i >= VIGIL_MAX_SET)
		return 1;
	if (!(c->mask & (1u << i)))
		return 0;
	w = c->set->entries[i & (VIGIL_MAX_SET - 1)].weight;
	if (c->target < w) {
		c->chosen = (__s32)i;
		return 1;
	}
	c->target -= w;
	return 0;
}

/* Weighted choice among the preferred entries the fast path has not marked
 * down; if every one is down, among the fallback tier (healthy backups); if
 * those are down too and the filter says last_resort, among the preferred
 * entries anyway rather than failing the connect (vigild publishes backups or
 * fails open right after). NULL when nothing fits the filter. */
static __always_inline const struct vigil_set_entry *choose(const struct vigil_backend_set *set,
							    const struct pick_filter *f)
{
	__u32 preferred = set->n_preferred < set->count ? set->n_preferred : set->count;
	struct pick_ctx c = { .set = set, .f = *f, .hi = preferred, .chosen = -1 };

	bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	if (c.total == 0) {
		c.lo = preferred;
		c.hi = set->count;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0 && f->last_resort) {
		c.lo = 0;
		c.hi = preferred;
		c.ignore_down = 1;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0)
		return NULL;
	c.target = bpf_get_prandom_u32() % c.total;
	bpf_loop(VIGIL_MAX_SET, pick_target, &c, 0);
	if (c.chosen < 0 || c.chosen >= VIGIL_MAX_SET)
		return NULL;
	return &set->entries[c.chosen];
}

#endif
