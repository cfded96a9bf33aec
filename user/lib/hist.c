/* SPDX-License-Identifier: MIT */
/*
 * Percentiles from log2 microsecond histograms. Bucket i holds [2^i, 2^(i+1))
 * microseconds, bucket 0 holds [0, 2) and the last bucket everything above
 * (its upper bound is taken as 2^VIGIL_HIST_BUCKETS for interpolation).
 */
#include "hist.h"

#include <math.h>

__u64 vigil_hist_count(const __u64 *buckets, int nbuckets)
{
	__u64 total = 0;

	for (int i = 0; buckets && i < nbuckets; i++)
		total += buckets[i];
	return total;
}

double vigil_hist_bucket_low(int i)
{
	return i <= 0 ? 0.0 : ldexp(1.0, i);
}

double vigil_hist_bucket_high(int i)
{
	return ldexp(1.0, i < 0 ? 1 : i + 1);
}

int vigil_hist_bucket_of(__u64 us)
{
	int b;

	if (us <= 1)
		return 0;
	b = 63 - __builtin_clzll(us);
	return b < VIGIL_HIST_BUCKETS - 1 ? b : VIGIL_HIST_BUCKETS - 1;
}

void vigil_hist_add_ns(__u64 *buckets, __u64 from_ns, __u64 to_ns)
{
	buckets[vigil_hist_bucket_of(to_ns > from_ns ? (to_ns - from_ns) / 1000 : 0)]++;
}

/* rank = ceil(p/100 * total) in 1..total; p * total first keeps whole-number
 * products exact (p = 90, total = 10 gives 9, not 10). */
static __u64 percentile_rank(double p, __u64 total)
{
	double r = ceil(p * (double)total / 100.0 - 1e-9);

	if (r < 1.0)
		return 1;
	if (r >= (double)total)
		return total;
	return (__u64)r;
}

/*
 * Linear interpolation inside the bucket holding the rank: the k-th of its c
 * samples is placed at low + (high - low) * k / c, so the last sample of a
 * bucket maps to its upper bound and the estimate is within a factor of 2 of
 * the true value.
 */
double vigil_hist_percentile(const __u64 *buckets, int nbuckets, double p)
{
	__u64 total = vigil_hist_count(buckets, nbuckets), rank, cum = 0;

	if (total == 0)
		return 0.0;
	rank = percentile_rank(p, total);
	for (int i = 0; i < nbuckets; i++) {
		double low, high, pos;

		if (buckets[i] == 0 || cum + buckets[i] < rank) {
			cum += buckets[i];
			continue;
		}
		low = vigil_hist_bucket_low(i);
		high = vigil_hist_bucket_high(i);
		pos = (double)(rank - cum) / (double)buckets[i];
		return low + (high - low) * pos;
	}
	return vigil_hist_bucket_high(nbuckets - 1); /* not reached: rank <= total */
}
