/*
 * Allocation: the only module that names mimalloc. Chunk buffers come from
 * alloc_buffers() (in huge pages), other aligned blocks
 * from alloc_aligned(), everything else from alloc_malloc() and friends.
 */
#ifndef MX_ALLOC_H
#define MX_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *alloc_malloc(size_t size);
void *alloc_calloc(size_t count, size_t size);
void *alloc_realloc(void *p, size_t size);
void *alloc_aligned(size_t alignment, size_t size);
size_t alloc_buffers_length(size_t size);
void *alloc_buffers(size_t size, bool huge);
void alloc_buffers_free(void *p, size_t size, bool huge);
char *alloc_strdup(const char *s);
void alloc_free(void *p);

#endif
