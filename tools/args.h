/* Option values shared by the metaextract command and its bench mode. */
#ifndef MX_TOOLS_ARGS_H
#define MX_TOOLS_ARGS_H

#include <stdint.h>

/*
 * Parses a chunk size at s, such as "256K": a multiple of 4096 bytes from
 * 4K to 1024M, with an optional K or M suffix (powers of 1024). Stores the
 * size in *out and the first character after it in *end. Returns 0, or
 * -EINVAL for a value out of range or no number.
 */
int args_chunk_size(const char *s, char **end, uint32_t *out);

#endif
