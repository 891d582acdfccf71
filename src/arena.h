/*
 * Bump allocator for the values of one record: many small allocations,
 * freed together. The first failed allocation sets a sticky flag, so
 * builders can chain calls and check once at the end.
 */
#ifndef MX_ARENA_H
#define MX_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t used;		/* bytes used in head */
	size_t total;		/* bytes of all blocks, for the record limit */
	size_t limit;		/* 0: no limit */
	bool failed;		/* an allocation failed or passed the limit */
};

void arena_init(struct arena *a, size_t limit);
void arena_free(struct arena *a);

/* Returns 16-byte aligned memory, or NULL (and sets failed). */
void *arena_alloc(struct arena *a, size_t size);
void *arena_zalloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
