#include <string.h>

#include "histogram.h"

void histogram_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned histogram_bucket(uint64_t ns)
{
	const uint64_t sub = 1u << HISTOGRAM_SUB_BITS;
	unsigned msb, shift;

	if (ns < sub)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	if (msb >= HISTOGRAM_MAX_BITS)
		return HISTOGRAM_BUCKETS - 1;
	/* Values of [2^msb, 2^(msb+1)) fall into 32 buckets of 2^shift. */
	shift = msb - HISTOGRAM_SUB_BITS;
	return ((shift + 1) << HISTOGRAM_SUB_BITS) +
	       (unsigned)((ns >> shift) - sub);
}

uint64_t histogram_bucket_max(unsigned bucket)
{
	const unsigned sub = 1u << HISTOGRAM_SUB_BITS;
	unsigned shift;

	if (bucket < sub)
		return bucket;
	shift = (bucket >> HISTOGRAM_SUB_BITS) - 1;
	return (((uint64_t)(bucket & (sub - 1)) + sub + 1) << shift) - 1;
}

void histogram_add(struct histogram *h, uint64_t ns)
{
	h->counts[histogram_bucket(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
	unsigned i;

	for (i = 0; i < HISTOGRAM_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t histogram_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	/* The smallest rank whose share of the samples reaches q. */
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t top = histogram_bucket_max(i);

			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
