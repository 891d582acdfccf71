/* The latency histogram: bucket bounds, quantiles and merging. */
#include <criterion/criterion.h>

#include "histogram.h"

Test(histogram, small_values_are_exact)
{
	uint64_t v;

	for (v = 0; v < 32; v++) {
		cr_assert_eq(histogram_bucket(v), v, "bucket of %llu",
			     (unsigned long long)v);
		cr_assert_eq(histogram_bucket_max(histogram_bucket(v)), v);
	}
}

Test(histogram, bucket_holds_its_values)
{
	static const uint64_t values[] = {
		32, 33, 63, 64, 65, 1000, 1023, 1024, 123456789,
		(1ull << 39) + 12345,
	};
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint64_t v = values[i];
		unsigned b = histogram_bucket(v);
		uint64_t top = histogram_bucket_max(b);
		uint64_t below = b ? histogram_bucket_max(b - 1) : 0;

		cr_assert_geq(top, v, "value %llu above its bucket's max %llu",
			      (unsigned long long)v, (unsigned long long)top);
		cr_assert_lt(below, v, "value %llu not above the previous "
			     "bucket's max %llu", (unsigned long long)v,
			     (unsigned long long)below);
		/* Relative width of a bucket is at most 1/32. */
		cr_assert_leq((double)(top - below) / (double)v, 1.0 / 32,
			      "bucket of %llu too wide", (unsigned long long)v);
	}
}

Test(histogram, bucket_bounds_increase)
{
	unsigned b;

	for (b = 1; b < HISTOGRAM_BUCKETS; b++)
		cr_assert_gt(histogram_bucket_max(b), histogram_bucket_max(b - 1),
			     "bucket %u", b);
}

Test(histogram, quantiles_of_uniform_samples)
{
	struct histogram h;
	uint64_t v;

	histogram_init(&h);
	for (v = 1; v <= 1000; v++)
		histogram_add(&h, v * 1000);	/* 1 us to 1 ms */
	cr_assert_eq(h.count, 1000);
	cr_assert_eq(h.min, 1000);
	cr_assert_eq(h.max, 1000000);
	/* The true p50 is 500000 ns, p99 990000 ns; buckets are 3% wide. */
	cr_assert_geq(histogram_quantile(&h, 0.5), 500000);
	cr_assert_leq(histogram_quantile(&h, 0.5), 500000 * 33 / 32);
	cr_assert_geq(histogram_quantile(&h, 0.99), 990000);
	cr_assert_leq(histogram_quantile(&h, 0.99), 1000000);
	cr_assert_eq(histogram_quantile(&h, 1.0), 1000000, "p100 is the max");
}

Test(histogram, merge_adds_counts)
{
	struct histogram a, b;

	histogram_init(&a);
	histogram_init(&b);
	histogram_add(&a, 10);
	histogram_add(&b, 5000);
	histogram_add(&b, 7);
	histogram_merge(&a, &b);
	cr_assert_eq(a.count, 3);
	cr_assert_eq(a.min, 7);
	cr_assert_eq(a.max, 5000);
	cr_assert_eq(histogram_quantile(&a, 0.0), 7, "p0 is the min bucket");
}

Test(histogram, empty_quantile_is_zero)
{
	struct histogram h;

	histogram_init(&h);
	cr_assert_eq(histogram_quantile(&h, 0.99), 0);
}
