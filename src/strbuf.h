/* Growable byte buffer for serialising records. */
#ifndef MX_STRBUF_H
#define MX_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;		/* NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	bool failed;		/* an allocation failed; data is incomplete */
};

void strbuf_init(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hands the buffer to the caller (free with mx_free) and resets sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
