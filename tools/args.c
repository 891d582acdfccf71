#include <errno.h>
#include <stdlib.h>

#include "args.h"

int args_chunk_size(const char *s, char **end, uint32_t *out)
{
	unsigned long long v;

	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, end, 10);
	if (errno || *end == s)
		return -EINVAL;
	/* The bounds keep the shift from overflowing. */
	if ((**end == 'K' || **end == 'k') && v <= (1ull << 20)) {
		v <<= 10;
		(*end)++;
	} else if ((**end == 'M' || **end == 'm') && v <= 1024) {
		v <<= 20;
		(*end)++;
	}
	if (v < 4096 || v > (1ull << 30) || v % 4096)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}
