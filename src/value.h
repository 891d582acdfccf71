/*
 * Building record values. Every function accepts NULL for the arena-made
 * arguments and then does nothing, so a failed allocation needs no check
 * at each step: the arena's failed flag reports it once at the end.
 */
#ifndef MX_VALUE_H
#define MX_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaextract.h"
#include "arena.h"
#include "strbuf.h"

struct mx_member {
	const char *key;		/* NULL in arrays */
	struct mx_value *value;
};

struct mx_value {
	enum mx_type type;
	union {
		bool b;
		int64_t i;
		double d;
		struct {
			const char *bytes;	/* any bytes; JSON output repairs
						   invalid UTF-8 */
			size_t len;
		} str;
		struct {
			struct mx_member *items;
			size_t count;
			size_t cap;
		} list;
	} u;
};

struct mx_value *val_null(struct arena *a);
struct mx_value *val_bool(struct arena *a, bool b);
struct mx_value *val_int(struct arena *a, int64_t i);
struct mx_value *val_double(struct arena *a, double d);
struct mx_value *val_string(struct arena *a, const char *s, size_t len);
struct mx_value *val_cstring(struct arena *a, const char *s); /* NULL s: null */
struct mx_value *val_object(struct arena *a);
struct mx_value *val_array(struct arena *a);

/* Appends a member (the key is copied) and returns value, or NULL. */
struct mx_value *val_put(struct arena *a, struct mx_value *obj,
			 const char *key, struct mx_value *value);
struct mx_value *val_push(struct arena *a, struct mx_value *arr,
			  struct mx_value *value);

/* Shorthands for val_put() of a new value. */
struct mx_value *val_put_int(struct arena *a, struct mx_value *obj,
			     const char *key, int64_t i);
struct mx_value *val_put_double(struct arena *a, struct mx_value *obj,
				const char *key, double d);
struct mx_value *val_put_bool(struct arena *a, struct mx_value *obj,
			      const char *key, bool b);
struct mx_value *val_put_cstring(struct arena *a, struct mx_value *obj,
				 const char *key, const char *s);
struct mx_value *val_put_object(struct arena *a, struct mx_value *obj,
				const char *key);
struct mx_value *val_put_array(struct arena *a, struct mx_value *obj,
			       const char *key);

/* Returns the member named key of obj, or NULL. */
struct mx_value *val_find(const struct mx_value *obj, const char *key);

/*
 * Appends v as JSON. Strings that are not valid UTF-8 are written with
 * U+FFFD in place of each invalid byte. Doubles use the shortest form that
 * reads back to the same value, and NaN or infinity become null.
 */
void val_write_json(struct strbuf *sb, const struct mx_value *v);

/* True when the len bytes at s are valid UTF-8 (no surrogates, no overlong). */
bool utf8_valid(const char *s, size_t len);

#endif
