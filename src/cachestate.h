/* Page cache residency of a file. */
#ifndef MX_CACHESTATE_H
#define MX_CACHESTATE_H

#include <stdint.h>

/*
 * Returns the fraction (0 to 1) of the size bytes of fd that are in the
 * page cache, from cachestat(2) (Linux 6.5 and later), or else from
 * mincore(2) on the first CACHE_SAMPLE_BYTES. Returns 1 when neither
 * works, so that callers keep buffered reads.
 */
double cached_fraction(int fd, uint64_t size);

#endif
