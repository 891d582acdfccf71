#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "shard.h"

#define SHARD_COUNT_MAX 1000000

int shard_parse(const char *text, struct shard *out)
{
	unsigned long k, n;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	k = strtoul(text, &end, 10);
	if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	n = strtoul(end + 1, &end, 10);
	if (errno || *end || k < 1 || n < 1 || k > n || n > SHARD_COUNT_MAX)
		return -EINVAL;
	out->index = (unsigned)k;
	out->count = (unsigned)n;
	return 0;
}

unsigned shard_of(const char *path, size_t len, unsigned count)
{
	return (unsigned)(XXH64(path, len, 0) % count) + 1;
}

bool shard_owns(const struct shard *s, const char *path)
{
	return s->count == 0 ||
	       shard_of(path, strlen(path), s->count) == s->index;
}
