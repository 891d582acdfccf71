#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include <mimalloc.h>

#include "alloc.h"

void *alloc_malloc(size_t size)
{
	return mi_malloc(size);
}

void *alloc_calloc(size_t count, size_t size)
{
	return mi_calloc(count, size);
}

void *alloc_realloc(void *p, size_t size)
{
	return mi_realloc(p, size);
}

void *alloc_aligned(size_t alignment, size_t size)
{
	return mi_malloc_aligned(size, alignment);
}

char *alloc_strdup(const char *s)
{
	return mi_strdup(s);
}

void alloc_free(void *p)
{
	mi_free(p);
}

/*
 * Chunk buffers sit in 2 MiB pages. A read into contiguous memory is one
 * segment for the device, while 4 KiB pages split a 1 MiB read into
 * several requests on a virtio disk: 3.0 against 4.3 GB/s measured
 * (bench/README.md). MADV_HUGEPAGE requests them when THP is in "madvise"
 * mode. The kernel charges registered huge pages whole to RLIMIT_MEMLOCK,
 * so callers budget alloc_buffers_length() bytes and pass huge = false
 * when that does not fit.
 */
#define HUGE_PAGE ((size_t)2 << 20)

size_t alloc_buffers_length(size_t size)
{
	return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *alloc_buffers(size_t size, bool huge)
{
	size_t len = alloc_buffers_length(size), lead;
	uint8_t *p;

	if (!huge)
		return mi_malloc_aligned(size, 4096);

	p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	lead = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
	if (lead)
		munmap(p, lead);
	munmap(p + lead + len, HUGE_PAGE - lead);
	p += lead;
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

void alloc_buffers_free(void *p, size_t size, bool huge)
{
	if (!huge)
		mi_free(p);
	else if (p)
		munmap(p, alloc_buffers_length(size));
}
