/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* The kernel's choice of a backend from a service's set (struct
 * vigil_backend_set: the serving tier, then healthy backups as the fallback
 * tier). One rule for every choice the kernel makes itself: connect()
 * (bpf/sock_lb.bpf.c), the socket datapath's rescue of a failed connect
 * (bpf/sock_rescue.bpf.c), and the packet load balancer when Maglev's probes
 * find only backends the fast path marked down or a connect it rescues has
 * to move (bpf/lb_core.h). The callers differ only in the filter. Needs
 * backend_health (maps_health.h). */
#ifndef VIGIL_BPF_SET_PICK_H
#define VIGIL_BPF_SET_PICK_H

#include "endpoint.h"

/* Marked down by the fast path; with failing_too also when its last connect
 * failed (no success since): a connect being rescued avoids such a backend. */
static __always_inline bool backend_unhealthy(const struct vigil_endpoint *ep, bool failing_too)
{
	struct vigil_backend_health *h = bpf_map_lookup_elem(&backend_health, ep);

	return h && (h->down || (failing_too && h->consecutive_failures));
}

static __always_inline bool backend_down(const struct vigil_endpoint *ep)
{
	return backend_unhealthy(ep, false);
}

/* Which entries of a set a connection may get. */
struct pick_filter {
	struct vigil_endpoint avoid; /* never this backend (when has_avoid) */
	__u8 has_avoid;
	__u8 family;      /* 0: any (connect6 reaches IPv4 backends v4-mapped);
			   * else only this family */
	__u8 failing_too; /* skip, as down, backends whose last connect failed */
	__u8 last_resort; /* nothing healthy: the preferred entries anyway */
};

/* State shared with the bpf_loop callbacks. bpf_loop keeps verification cost
 * independent of VIGIL_MAX_SET: an unrolled or bounded loop with a map lookup
 * per entry exceeds the verifier's budget. Bytes where they do: the frame
 * stays within the stack the XDP entry's rescue path leaves (512 bytes for
 * the whole call chain). */
struct pick_ctx {
	const struct vigil_backend_set *set;
	struct pick_filter f;
	__u8 lo, hi;  /* entries considered: [lo, hi) */
	__u8 ignore_down;
	__u32 mask;   /* bit i: entry i may be chosen */
	__u32 total;  /* sum of their weights */
	__u32 target; /* point in [0, total) */
	__s32 chosen;
};
_Static_assert(VIGIL_MAX_SET <= 32, "pick_ctx: a mask bit and a byte index per entry");

/* Whether the choice passes over ep (ignore_down: in the last resort). */
static __always_inline bool skipped_as_down(__u8 ignore_down, const struct pick_filter *f,
					    const struct vigil_endpoint *ep)
{
#ifdef VIGIL_MUTANT_SOCKLB_SKIP
	/* Mutation smoke test (see tests/mutants.sh): the set choice (connect(),
	 * both rescues) ignores the fast path's down flag. */
	(void)ignore_down;
	(void)f;
	(void)ep;
	return false;
#endif
	return !ignore_down && backend_unhealthy(ep, f->failing_too);
}

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
	if (skipped_as_down(c->ignore_down, &c->f, &e->backend))
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

/* Weighted choice (seed picks the point) among the preferred entries the
 * filter allows and the fast path has not marked down; if every one is down,
 * among the fallback tier (healthy backups); if those are down too and the
 * filter says last_resort, among the preferred entries anyway rather than
 * failing (vigild publishes backups or fails open right after). The index of
 * the entry, or -1 when nothing fits the filter. */
static __always_inline __s32 set_pick(const struct vigil_backend_set *set,
				      const struct pick_filter *f, __u32 seed)
{
	__u8 count = set->count < VIGIL_MAX_SET ? set->count : VIGIL_MAX_SET;
	__u8 preferred = set->n_preferred < count ? set->n_preferred : count;
	struct pick_ctx c = { .set = set, .f = *f, .hi = preferred, .chosen = -1 };

	bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	if (c.total == 0) {
		c.lo = preferred;
		c.hi = count;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0 && f->last_resort) {
		c.lo = 0;
		c.hi = preferred;
		c.ignore_down = 1;
		bpf_loop(VIGIL_MAX_SET, mark_usable, &c, 0);
	}
	if (c.total == 0)
		return -1;
	c.target = seed % c.total;
	bpf_loop(VIGIL_MAX_SET, pick_target, &c, 0);
	if (c.chosen < 0 || c.chosen >= VIGIL_MAX_SET)
		return -1;
	return c.chosen;
}

/* Random draws from the set's slot table before set_pick's walk takes over:
 * each draw that lands on a backend already found down (or that the filter
 * excludes) costs no lookup, so with one of two backends down this is at
 * most two lookups, and the walk runs only when 1/2^8 of the draws would all
 * miss. */
#define PICK_DRAWS 8

static __always_inline bool filtered_out(const struct vigil_set_entry *e, const struct pick_filter *f)
{
	return (f->family && e->backend.family != f->family) ||
	       (f->has_avoid && same_endpoint(&e->backend, &f->avoid));
}

/* set_pick() at random by weight (a socket has no flow hash to keep to), in
 * one or two lookups: a random slot of the set's table (vigild builds it
 * with the set, user/lib/set_slots.c: each preferred entry holds slots by
 * weight; one table of the IPv4 entries, one of all) is one draw and one
 * health lookup; a backend the fast path marked down, or the filter
 * excludes, is skipped by drawing again, so its share spreads over the
 * others by weight. Drawing again rather than taking the next slot: a
 * neighbour slot would inherit the whole share. When the draws find nothing,
 * or the table is empty, the walk decides (backup tier, then last_resort). */
static __always_inline const struct vigil_set_entry *choose(const struct vigil_backend_set *set,
							    const struct pick_filter *f)
{
	int table = f->family == VIGIL_AF_INET ? VIGIL_SLOTS_V4 : VIGIL_SLOTS_ANY;
	__u32 n = set->n_slots[table], skip = 0, count = set->count;
	__s32 i;

	for (int d = 0; d < PICK_DRAWS && n && n <= VIGIL_SET_SLOTS; d++) {
		__u32 idx = set->slots[table][(bpf_get_prandom_u32() % n) & (VIGIL_SET_SLOTS - 1)];
		const struct vigil_set_entry *e;

		if (idx >= count || idx >= VIGIL_MAX_SET)
			break; /* not a table of this set: trust the walk */
		if (skip & (1u << idx))
			continue;
		e = &set->entries[idx];
		if (!filtered_out(e, f) && !skipped_as_down(0, f, &e->backend))
			return e;
		skip |= 1u << idx;
	}
	i = set_pick(set, f, bpf_get_prandom_u32());
	return i < 0 ? NULL : &set->entries[i & (VIGIL_MAX_SET - 1)];
}

#endif
