/* Type identification with libmagic on the first chunk of a file. */
#ifndef MX_SNIFF_H
#define MX_SNIFF_H

#include <stddef.h>

#include "arena.h"
#include "value.h"

struct sniff;

/*
 * Loads the magic database for one thread (libmagic handles are not
 * thread-safe). Returns 0 or a negative errno, with the reason in msg.
 */
int sniff_new(struct sniff **out, char *msg, size_t msg_len);

/*
 * Identifies len bytes from the start of a file and puts "mime" and
 * "description" into obj. Returns the MIME type, valid until the next call,
 * or NULL when libmagic failed.
 */
const char *sniff_buffer(struct sniff *s, const void *head, size_t len,
			 struct arena *a, struct mx_value *obj);

void sniff_free(struct sniff *s);

/* Version of the magic library, e.g. 543 for 5.43. */
int sniff_version(void);

#endif
