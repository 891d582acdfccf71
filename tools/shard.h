/*
 * --shard K/N: a static split of the input among N independent jobs, such
 * as the tasks of a job array. Every job walks the whole input, and job K
 * handles the entries whose path, as walked, hashes to K.
 */
#ifndef MX_TOOLS_SHARD_H
#define MX_TOOLS_SHARD_H

#include <stdbool.h>
#include <stddef.h>

struct shard {
	unsigned index;		/* K, from 1 */
	unsigned count;		/* N; 0 when the input is not split */
};

/* Parses "K/N" with 1 <= K <= N <= 1000000. Returns 0 or -EINVAL. */
int shard_parse(const char *text, struct shard *out);

/*
 * The job, from 1 to count, that handles path: XXH64 (seed 0) of its
 * bytes modulo count, plus one.
 */
unsigned shard_of(const char *path, size_t len, unsigned count);

/* True when the job s handles path (always, without a split). */
bool shard_owns(const struct shard *s, const char *path);

#endif
