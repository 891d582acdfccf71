#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "cachestate.h"

/* cachestat(2) is newer than the C library headers of Debian 12. */
#ifndef __NR_cachestat
#if defined(__x86_64__) || defined(__aarch64__)
#define __NR_cachestat 451
#endif
#endif

/* mincore(2) looks at this much of the file, from its start. */
#define CACHE_SAMPLE_BYTES (256ull << 20)

struct cachestat_range {
	uint64_t off;
	uint64_t len;		/* 0: to the end of the file */
};

struct cachestat_result {
	uint64_t nr_cache;
	uint64_t nr_dirty;
	uint64_t nr_writeback;
	uint64_t nr_evicted;
	uint64_t nr_recently_evicted;
};

static double from_cachestat(int fd, uint64_t pages)
{
#ifdef __NR_cachestat
	struct cachestat_range range = { 0, 0 };
	struct cachestat_result cs;

	if (syscall(__NR_cachestat, fd, &range, &cs, 0) == 0)
		return pages ? (double)cs.nr_cache / (double)pages : 1.0;
#else
	(void)fd;
	(void)pages;
#endif
	return -1;
}

static double from_mincore(int fd, uint64_t size, long page)
{
	uint64_t len = size < CACHE_SAMPLE_BYTES ? size : CACHE_SAMPLE_BYTES;
	size_t pages = (size_t)((len + (uint64_t)page - 1) / (uint64_t)page);
	unsigned char *vec;
	void *map;
	size_t i, cached = 0;

	if (!pages)
		return 1.0;
	map = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 1.0;
	vec = alloc_malloc(pages);
	if (vec && mincore(map, (size_t)len, vec) == 0) {
		for (i = 0; i < pages; i++)
			cached += vec[i] & 1;
	} else {
		cached = pages;
	}
	alloc_free(vec);
	munmap(map, (size_t)len);
	return (double)cached / (double)pages;
}

double cached_fraction(int fd, uint64_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	double f;

	if (page <= 0)
		return 1.0;
	f = from_cachestat(fd, (size + (uint64_t)page - 1) / (uint64_t)page);
	return f >= 0 ? f : from_mincore(fd, size, page);
}
