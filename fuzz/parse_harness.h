/*
 * Shared body of the libFuzzer targets of the format backends
 * (av_fuzz.c, hdf5_fuzz.c).
 */
#ifndef MX_PARSE_HARNESS_H
#define MX_PARSE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "fmt.h"

/* Runs fmt_init_all() and aborts when a backend cannot be set up. */
void harness_init(void);

/*
 * Runs ops->probe() and ops->parse() on the size bytes at data as a parser
 * worker runs them on a file, then encodes the results as the worker
 * sends them, decodes them as the parent does and writes them as JSON.
 * Aborts when the decoded results do not encode back to the same bytes.
 * Frees everything it allocated before it returns.
 */
void harness_parse(const struct fmt_ops *ops, const uint8_t *data,
		   size_t size);

#endif
