/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The records are arrays of __u64 counters; treating them as such keeps the
 * fold/diff code independent of the field list. */
#define N_U64(type) (sizeof(type) / sizeof(__u64))
_Static_assert(sizeof(struct vigil_backend_stats) % sizeof(__u64) == 0, "u64 record");
_Static_assert(sizeof(struct vigil_local_stats) % sizeof(__u64) == 0, "u64 record");

static void add_u64s(__u64 *sum, const __u64 *add, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum[i] += add[i];
}

static void sub_u64s(__u64 *out, const __u64 *now, const __u64 *before, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = now[i] > before[i] ? now[i] - before[i] : 0;
}

void vigil_backend_stats_add(struct vigil_backend_stats *sum, const struct vigil_backend_stats *add)
{
	add_u64s((__u64 *)sum, (const __u64 *)add, N_U64(*sum));
}

void vigil_local_stats_add(struct vigil_local_stats *sum, const struct vigil_local_stats *add)
{
	add_u64s((__u64 *)sum, (const __u64 *)add, N_U64(*sum));
}

void vigil_backend_stats_sub(struct vigil_backend_stats *out, const struct vigil_backend_stats *now,
			     const struct vigil_backend_stats *before)
{
	sub_u64s((__u64 *)out, (const __u64 *)now, (const __u64 *)before, N_U64(*out));
}

void vigil_local_stats_sub(struct vigil_local_stats *out, const struct vigil_local_stats *now,
			   const struct vigil_local_stats *before)
{
	sub_u64s((__u64 *)out, (const __u64 *)now, (const __u64 *)before, N_U64(*out));
}

__u64 vigil_backend_errors(const struct vigil_backend_stats *s)
{
	return s->refused + s->timeouts + s->resets_rcvd;
}

double vigil_backend_error_ratio(const struct vigil_backend_stats *s)
{
	double ratio;

	if (s->connect_attempts == 0)
		return 0.0;
	ratio = (double)vigil_backend_errors(s) / (double)s->connect_attempts;
	return ratio > 1.0 ? 1.0 : ratio;
}

static int compare_endpoint(const struct vigil_endpoint *a, const struct vigil_endpoint *b)
{
	/* IPv4 first, then by address bytes and port. */
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	if (c)
		return c;
	return (int)a->port - (int)b->port;
}

static int compare_backend_rows(const void *a, const void *b)
{
	return compare_endpoint(&((const struct vigil_backend_row *)a)->ep,
				&((const struct vigil_backend_row *)b)->ep);
}

static int compare_local_rows(const void *a, const void *b)
{
	return (int)((const struct vigil_local_row *)a)->port -
	       (int)((const struct vigil_local_row *)b)->port;
}

void vigil_snapshot_sort(struct vigil_snapshot *snap)
{
	if (snap->n_backends)
		qsort(snap->backends, snap->n_backends, sizeof(*snap->backends), compare_backend_rows);
	if (snap->n_locals)
		qsort(snap->locals, snap->n_locals, sizeof(*snap->locals), compare_local_rows);
}

void vigil_snapshot_delta(struct vigil_snapshot *now, const struct vigil_snapshot *before)
{
	for (size_t i = 0; i < now->n_backends; i++) {
		struct vigil_backend_row *row = &now->backends[i];

		for (size_t j = 0; j < before->n_backends; j++)
			if (compare_endpoint(&row->ep, &before->backends[j].ep) == 0) {
				vigil_backend_stats_sub(&row->s, &row->s, &before->backends[j].s);
				break;
			}
	}
	for (size_t i = 0; i < now->n_locals; i++) {
		struct vigil_local_row *row = &now->locals[i];

		for (size_t j = 0; j < before->n_locals; j++)
			if (row->port == before->locals[j].port) {
				vigil_local_stats_sub(&row->s, &row->s, &before->locals[j].s);
				break;
			}
	}
	/* Loss and rescue counters only grow while the pin lives; clamp in case
	 * it was recreated (vigild --unpin) between the two reads. */
	for (int i = 0; i < VIGIL_LOSS_REASONS; i++)
		now->loss[i] = now->loss[i] > before->loss[i] ? now->loss[i] - before->loss[i] : 0;
	for (int i = 0; i < VIGIL_RESCUE_COUNTERS; i++)
		now->rescue[i] = now->rescue[i] > before->rescue[i] ? now->rescue[i] - before->rescue[i]
								    : 0;
}

static void *dup_rows(const void *rows, size_t n, size_t elem)
{
	void *copy = n ? malloc(n * elem) : NULL;

	if (copy)
		memcpy(copy, rows, n * elem);
	return copy;
}

int vigil_snapshot_copy(struct vigil_snapshot *dst, const struct vigil_snapshot *src)
{
	*dst = *src;
	dst->backends = dup_rows(src->backends, src->n_backends, sizeof(*src->backends));
	dst->locals = dup_rows(src->locals, src->n_locals, sizeof(*src->locals));
	if ((src->n_backends && !dst->backends) || (src->n_locals && !dst->locals)) {
		vigil_snapshot_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void vigil_snapshot_free(struct vigil_snapshot *snap)
{
	free(snap->backends);
	free(snap->locals);
	memset(snap, 0, sizeof(*snap));
}
