/*
 * Allocation: the only module that names mimalloc. Chunk buffers come from
 * alloc_aligned(), everything else from alloc_malloc() and friends.
 */
#ifndef MX_ALLOC_H
#define MX_ALLOC_H

#include <stddef.h>

void *alloc_malloc(size_t size);
void *alloc_calloc(size_t count, size_t size);
void *alloc_realloc(void *p, size_t size);
void *alloc_aligned(size_t alignment, size_t size);
char *alloc_strdup(const char *s);
void alloc_free(void *p);

#endif
