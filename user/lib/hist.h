/* SPDX-License-Identifier: MIT */
/* Percentiles from vigil's log2 microsecond histograms (pure). */
#ifndef VIGIL_HIST_H
#define VIGIL_HIST_H

#include <vigil/abi.h>

/* Sum of all buckets. */
__u64 vigil_hist_count(const __u64 *buckets, int nbuckets);

/* Lower and upper bound in microseconds of bucket i: [2^i, 2^(i+1)),
 * bucket 0 is [0, 2). */
double vigil_hist_bucket_low(int i);
double vigil_hist_bucket_high(int i);

/* Bucket a latency in microseconds falls into (same rule as the BPF side). */
int vigil_hist_bucket_of(__u64 us);

/* Count the time from from_ns to to_ns (0 if to_ns is earlier) in buckets. */
void vigil_hist_add_ns(__u64 *buckets, __u64 from_ns, __u64 to_ns);

/* p-th percentile (0 < p <= 100) in microseconds, interpolated linearly
 * inside the bucket holding the rank; the true value lies in that bucket, so
 * the error is below a factor of 2. Returns 0 for an empty histogram. */
double vigil_hist_percentile(const __u64 *buckets, int nbuckets, double p);

#endif
