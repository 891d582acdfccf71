/*
 * Random-access reads for format parsers. A parser never opens the file
 * itself: every byte it reads comes through the engine's ring and is
 * counted in the record.
 */
#ifndef MX_SOURCE_H
#define MX_SOURCE_H

#include <stdint.h>
#include <sys/types.h>

struct source;

/*
 * Reads up to len bytes at offset into buf. Returns the count read (less
 * than len only at end of file), 0 at or past the end, or a negative errno.
 */
ssize_t source_read(struct source *src, void *buf, size_t len,
		    uint64_t offset);

/* Size of the file as statted when it was opened, in bytes. */
uint64_t source_size(const struct source *src);

/* Path given for the file, for libraries that must open it by name. */
const char *source_path(const struct source *src);

#endif
