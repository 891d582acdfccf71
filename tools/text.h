/* Text helpers shared by the command's output formats. */
#ifndef MX_TOOLS_TEXT_H
#define MX_TOOLS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s, or 0 when it is invalid. */
size_t text_utf8_length(const unsigned char *s);

/* Like text_utf8_length(), for a string of which avail bytes remain. */
size_t text_utf8_sequence(const unsigned char *p, size_t avail);

/* True when the len bytes at s are valid UTF-8. */
bool text_utf8_valid(const char *s, size_t len);

/*
 * Writes the len bytes at s to f with U+FFFD in place of each byte that is
 * not part of valid UTF-8, as records do.
 */
void text_put_utf8(FILE *f, const char *s, size_t len);

/*
 * Closes f, a stream from open_memstream(buf, ...), and returns *buf, or
 * frees it and returns NULL when writing ran out of memory.
 */
char *text_memstream_finish(FILE *f, char **buf);

/* Writes s as a JSON string, with the same repair of invalid UTF-8. */
void text_put_json_string(FILE *f, const char *s);

#endif
