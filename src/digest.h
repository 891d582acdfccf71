/* Streaming digests: one pass over the bytes feeds every selected one. */
#ifndef MX_DIGEST_H
#define MX_DIGEST_H

#include <stddef.h>

#include "arena.h"
#include "value.h"

struct digest_set;

/* Returns a new set for the mask of enum mx_digest, or NULL (no memory). */
struct digest_set *digest_new(unsigned mask);

/* Starts over for the next file, keeping the allocated states. */
int digest_reset(struct digest_set *ds);

void digest_update(struct digest_set *ds, const void *data, size_t len);

/* Finishes every digest and puts its lowercase hex under its name in obj. */
void digest_finish(struct digest_set *ds, struct arena *a,
		   struct mx_value *obj);

void digest_free(struct digest_set *ds);

#endif
