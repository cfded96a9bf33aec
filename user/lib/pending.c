/* SPDX-License-Identifier: MIT */
#include "pending.h"

#include <string.h>

void vigil_pending_init(struct vigil_pending *p)
{
	memset(p, 0, sizeof(*p));
}

static void push(struct vigil_pending_ring *r, const struct vigil_pending_sample *s,
		 __u64 every_ns)
{
	const struct vigil_pending_sample *last =
		&r->s[(r->next + VIGIL_PENDING_SAMPLES - 1) % VIGIL_PENDING_SAMPLES];

	if (r->n && s->t_ns - last->t_ns < every_ns)
		return;
	r->s[r->next] = *s;
	r->next = (r->next + 1) % VIGIL_PENDING_SAMPLES;
	if (r->n < VIGIL_PENDING_SAMPLES)
		r->n++;
}

/* a - b, or 0 below it. */
static __u64 less(__u64 a, __u64 b)
{
	return a > b ? a - b : 0;
}

struct vigil_pending_open vigil_pending_counted(const struct vigil_backend_stats *sum)
{
	return (struct vigil_pending_open){
		less(sum->connects_opened, sum->connects_closed),
		less(sum->requests_opened, sum->requests_closed),
		less(sum->requests_retrans, sum->requests_retrans_cleared),
	};
}

void vigil_pending_sample(struct vigil_pending *p, __u64 now, const struct vigil_backend_stats *sum)
{
	struct vigil_pending_sample s = { now, sum->connects_opened, sum->requests_opened };
	struct vigil_pending_open counted = vigil_pending_counted(sum);

	if (s.connects_opened < p->now.connects_opened || s.requests_opened < p->now.requests_opened)
		vigil_pending_init(p);
	p->now = s;
	p->open.connects = less(counted.connects, p->dead.connects);
	p->open.requests = less(counted.requests, p->dead.requests);
	p->open.retrans = less(counted.retrans, p->dead.retrans);
	push(&p->fine, &s, VIGIL_PENDING_FINE_NS);
	push(&p->coarse, &s, VIGIL_PENDING_COARSE_NS);
}

struct vigil_pending_open vigil_pending_dead(const struct vigil_backend_stats *before,
					     const struct vigil_backend_stats *after,
					     const struct vigil_pending_open *live)
{
	struct vigil_pending_open was = vigil_pending_counted(before);

	return (struct vigil_pending_open){
		less(was.connects, live->connects + (after->connects_opened - before->connects_opened)),
		less(was.requests, live->requests + (after->requests_opened - before->requests_opened)),
		less(was.retrans, live->retrans + (after->requests_retrans - before->requests_retrans)),
	};
}

void vigil_pending_set_dead(struct vigil_pending *p, const struct vigil_pending_open *dead)
{
	p->dead = *dead;
}

static __u32 sat_u32(__u64 v)
{
	return v > 0xffffffffull ? 0xffffffffu : (__u32)v;
}

/* One limit as the samples are visited: the open ones opened before the
 * latest sample that waited it, and the wait of the oldest such sample. */
struct cut {
	__u64 limit_ns, open_now, opened_now;
	__u64 best_t; /* latest sample old enough so far, 0: none */
	__u64 before;
	__u64 oldest_wait_ns;
};

static void visit(struct cut *k, __u64 t, __u64 opened_then, __u64 waited)
{
	__u64 before = less(k->open_now, k->opened_now - opened_then);

	if (waited < k->limit_ns)
		return;
	if (t > k->best_t) {
		k->best_t = t;
		k->before = before;
	}
	if (before && waited > k->oldest_wait_ns)
		k->oldest_wait_ns = waited;
}

static __u64 max3(__u64 a, __u64 b, __u64 c)
{
	__u64 m = a > b ? a : b;

	return m > c ? m : c;
}

void vigil_pending_stuck(const struct vigil_pending *p, const struct vigil_pending_limits *lim,
			 const struct vigil_det_stall *stalls, size_t n_stalls,
			 struct vigil_pending_stuck *out)
{
	const struct vigil_pending_open *o = &p->open;
	struct cut c = { lim->connect_ns, o->connects, p->now.connects_opened, 0, 0, 0 };
	struct cut r = { lim->request_ns, o->requests, p->now.requests_opened, 0, 0, 0 };
	struct cut st = { lim->stall_ns, o->requests, p->now.requests_opened, 0, 0, 0 };
	const struct vigil_pending_ring *rings[] = { &p->fine, &p->coarse };
	__u64 now = p->now.t_ns, stuck, stalled;

	for (size_t i = 0; i < 2; i++)
		for (unsigned int j = 0; j < rings[i]->n; j++) {
			const struct vigil_pending_sample *s = &rings[i]->s[j];
			__u64 waited = now - s->t_ns -
				       vigil_det_stalled_ns(stalls, n_stalls, s->t_ns, now);

			visit(&c, s->t_ns, s->connects_opened, waited);
			visit(&r, s->t_ns, s->requests_opened, waited);
			visit(&st, s->t_ns, s->requests_opened, waited);
		}
	stuck = less(r.before, less(o->requests, o->retrans));
	stalled = less(st.before, o->retrans);
	out->connects = sat_u32(c.before);
	out->requests = sat_u32(stuck);
	out->stalled = sat_u32(stalled);
	/* A wait is kept only where something was open before: 0 unless found. */
	out->oldest_us = sat_u32(max3(c.before ? c.oldest_wait_ns : 0,
				      stuck ? r.oldest_wait_ns : 0,
				      stalled ? st.oldest_wait_ns : 0) / 1000);
}
