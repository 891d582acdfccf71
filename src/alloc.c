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
