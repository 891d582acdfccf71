#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"

#define BLOCK_MIN 4096

struct arena_block {
	struct arena_block *next;
	size_t size;		/* usable bytes in data */
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t limit)
{
	memset(a, 0, sizeof(*a));
	a->limit = limit;
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b) {
		struct arena_block *next = b->next;

		alloc_free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
	a->total = 0;
}

static struct arena_block *add_block(struct arena *a, size_t need)
{
	size_t size = BLOCK_MIN;
	struct arena_block *b;

	/* Blocks double with the arena, so a large record costs few blocks. */
	if (a->total > size)
		size = a->total;
	if (size < need)
		size = need;
	if (a->limit && a->total + size > a->limit) {
		if (a->total + need > a->limit)
			return NULL;
		size = need;
	}
	b = alloc_malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = a->head;
	b->size = size;
	a->head = b;
	a->used = 0;
	a->total += size;
	return b;
}

void *arena_alloc(struct arena *a, size_t size)
{
	void *p;

	if (a->failed)
		return NULL;
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (!a->head || a->head->size - a->used < size) {
		if (!add_block(a, size)) {
			a->failed = true;
			return NULL;
		}
	}
	p = a->head->data + a->used;
	a->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		a->failed = true;
		return NULL;
	}
	p = arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
