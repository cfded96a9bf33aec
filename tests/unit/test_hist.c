/* SPDX-License-Identifier: MIT */
/* user/lib/hist.c: bucket rule (shared with BPF) and interpolated percentiles. */
#include <math.h>
#include <stdint.h>

#include "hist.h"
#include "suites.h"

#define TOL 1e-9

static const struct {
	__u64 us;
	int bucket;
} bucket_cases[] = {
	{ 0, 0 },       { 1, 0 },     { 2, 1 },     { 3, 1 },
	{ 4, 2 },       { 7, 2 },     { 8, 3 },     { 1023, 9 },
	{ 1024, 10 },   { 1025, 10 }, { 50000, 15 }, { 65535, 15 },
	{ 65536, 16 },  { (1ULL << 31) - 1, 30 },   { 1ULL << 31, 31 },
	{ 1ULL << 40, 31 }, { UINT64_MAX, 31 },
};

START_TEST(bucket_of)
{
	ck_assert_int_eq(vigil_hist_bucket_of(bucket_cases[_i].us), bucket_cases[_i].bucket);
}
END_TEST

START_TEST(bucket_bounds)
{
	ck_assert_double_eq_tol(vigil_hist_bucket_low(0), 0.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_high(0), 2.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_low(1), 2.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_high(1), 4.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_low(10), 1024.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_high(10), 2048.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_low(31), 2147483648.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_bucket_high(31), 4294967296.0, TOL);
	/* Every value lands in the bucket whose bounds contain it. */
	for (__u64 us = 2; us < 5000; us += 7) {
		int b = vigil_hist_bucket_of(us);

		ck_assert((double)us >= vigil_hist_bucket_low(b));
		ck_assert((double)us < vigil_hist_bucket_high(b));
	}
}
END_TEST

START_TEST(count)
{
	__u64 h[VIGIL_HIST_BUCKETS] = { 0 };

	ck_assert_uint_eq(vigil_hist_count(h, VIGIL_HIST_BUCKETS), 0);
	h[0] = 3;
	h[7] = 4;
	h[31] = 5;
	ck_assert_uint_eq(vigil_hist_count(h, VIGIL_HIST_BUCKETS), 12);
	ck_assert_uint_eq(vigil_hist_count(h, 8), 7);
	ck_assert_uint_eq(vigil_hist_count(h, 0), 0);
}
END_TEST

START_TEST(percentile_empty)
{
	__u64 h[VIGIL_HIST_BUCKETS] = { 0 };

	ck_assert_double_eq_tol(vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, 50), 0.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, 99), 0.0, TOL);
	ck_assert_double_eq_tol(vigil_hist_percentile(h, 0, 50), 0.0, TOL);
}
END_TEST

/* Percentile P of a histogram (the counts of up to 10 buckets; a count of 0
 * ends the list). Rank r of c samples in [low, high) sits at
 * low + (high - low) * r / c. */
static const struct {
	struct {
		int bucket;
		__u64 n;
	} h[10];
	double p, want, tol;
} percentile_cases[] = {
	/* one bucket [1024, 2048) of 4 */
	{ { { 10, 4 } }, 25, 1280.0, TOL },
	{ { { 10, 4 } }, 50, 1536.0, TOL },
	{ { { 10, 4 } }, 51, 1792.0, TOL },
	{ { { 10, 4 } }, 100, 2048.0, TOL },
	{ { { 10, 4 } }, 0.001, 1280.0, TOL },
	/* a single sample: 0 or 1 us, [0, 2); e.g. 50 ms, [32768, 65536) */
	{ { { 0, 1 } }, 50, 2.0, TOL },
	{ { { 15, 1 } }, 1, 65536.0, TOL },
	{ { { 15, 1 } }, 99, 65536.0, TOL },
	/* spread: 50 in [8, 16), 40 in [32, 64), 10 in [1024, 2048) */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 25, 12.0, TOL }, /* rank 25 of bucket 3: 8 + 8 * 25/50 */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 50, 16.0, TOL }, /* last of bucket 3: its upper bound */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 60, 40.0, TOL }, /* 10th of 40 in bucket 5: 32 + 32 * 10/40 */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 90, 64.0, TOL }, /* last of bucket 5 */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 99, 1945.6, 1e-6 }, /* 9th of 10 in bucket 10: 1024 + 1024 * 0.9 */
	{ { { 3, 50 }, { 5, 40 }, { 10, 10 } }, 100, 2048.0, TOL },
	/* ceil(p/100 * total) must not be pushed up by floating point: p90 of 10
	 * samples (one in each of buckets 0-9) is rank 9, not 10. */
#define TEN { { 0, 1 }, { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 6, 1 }, { 7, 1 }, { 8, 1 }, { 9, 1 } }
	{ TEN, 90, 512.0, TOL },
	{ TEN, 50, 32.0, TOL },
	{ TEN, 10, 2.0, TOL },
	{ TEN, 91, 1024.0, TOL },
#undef TEN
};

START_TEST(percentile)
{
	__u64 h[VIGIL_HIST_BUCKETS] = { 0 };

	for (int k = 0; k < 10 && percentile_cases[_i].h[k].n; k++)
		h[percentile_cases[_i].h[k].bucket] = percentile_cases[_i].h[k].n;
	ck_assert_double_eq_tol(vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, percentile_cases[_i].p),
				percentile_cases[_i].want, percentile_cases[_i].tol);
}
END_TEST

START_TEST(percentile_last_bucket)
{
	__u64 h[VIGIL_HIST_BUCKETS] = { 0 };

	h[vigil_hist_bucket_of(UINT64_MAX)] = 2;
	ck_assert_double_eq_tol(vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, 50),
				3221225472.0, TOL); /* 2^31 + 2^31 / 2 */
	ck_assert_double_eq_tol(vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, 99),
				4294967296.0, TOL);
}
END_TEST

/* The estimate always lies within a factor of 2 of every sample value that
 * landed in its bucket, for realistic data. */
START_TEST(percentile_within_bucket)
{
	static const __u64 samples[] = { 90, 120, 130, 250, 900, 1500, 1600, 40000, 41000 };
	__u64 h[VIGIL_HIST_BUCKETS] = { 0 };
	const int n = (int)(sizeof(samples) / sizeof(samples[0]));

	for (int i = 0; i < n; i++)
		h[vigil_hist_bucket_of(samples[i])]++;
	for (int i = 0; i < n; i++) {
		double p = 100.0 * (i + 1) / n;
		double v = vigil_hist_percentile(h, VIGIL_HIST_BUCKETS, p);
		int b = vigil_hist_bucket_of(samples[i]);

		ck_assert_msg(v > vigil_hist_bucket_low(b) && v <= vigil_hist_bucket_high(b),
			      "p%.1f = %.1f outside bucket of %llu", p, v,
			      (unsigned long long)samples[i]);
	}
}
END_TEST

Suite *hist_suite(void)
{
	Suite *s = suite_create("hist");

	UNIT_TCASE(s, "buckets", { bucket_of, N(bucket_cases) }, { bucket_bounds }, { count });
	UNIT_TCASE(s, "percentile", { percentile_empty }, { percentile, N(percentile_cases) },
		   { percentile_last_bucket }, { percentile_within_bucket });
	return s;
}
