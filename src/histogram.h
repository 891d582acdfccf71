/*
 * Latency histogram with log-linear buckets: each power of two is split
 * into 32 linear buckets, so any value is placed within 1/32 (3.1%) of
 * its size, from 1 ns to about 18 minutes, in a fixed 9 KiB.
 */
#ifndef MX_HISTOGRAM_H
#define MX_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 5
#define HISTOGRAM_MAX_BITS 40
#define HISTOGRAM_BUCKETS \
	((HISTOGRAM_MAX_BITS - HISTOGRAM_SUB_BITS + 1) << HISTOGRAM_SUB_BITS)

struct histogram {
	uint64_t counts[HISTOGRAM_BUCKETS];
	uint64_t count;
	uint64_t min;		/* exact, in ns */
	uint64_t max;		/* exact, in ns */
	long double sum;	/* for the mean */
};

void histogram_init(struct histogram *h);
void histogram_add(struct histogram *h, uint64_t ns);
void histogram_merge(struct histogram *into, const struct histogram *from);

/* Bucket index of ns, and the largest value that bucket holds. */
unsigned histogram_bucket(uint64_t ns);
uint64_t histogram_bucket_max(unsigned bucket);

/*
 * Value below which the fraction q (0 to 1) of the samples lie: the upper
 * bound of the bucket that contains that rank, capped at the exact maximum.
 * Returns 0 for an empty histogram.
 */
uint64_t histogram_quantile(const struct histogram *h, double q);

#endif
