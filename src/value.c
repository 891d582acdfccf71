/* Record values: building, public accessors, and JSON output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

static struct mx_value *new_value(struct arena *a, enum mx_type type)
{
	struct mx_value *v;

	if (!a)
		return NULL;
	v = arena_zalloc(a, sizeof(*v));
	if (v)
		v->type = type;
	return v;
}

struct mx_value *val_null(struct arena *a)
{
	return new_value(a, MX_NULL);
}

struct mx_value *val_bool(struct arena *a, bool b)
{
	struct mx_value *v = new_value(a, MX_BOOL);

	if (v)
		v->u.b = b;
	return v;
}

struct mx_value *val_int(struct arena *a, int64_t i)
{
	struct mx_value *v = new_value(a, MX_INT);

	if (v)
		v->u.i = i;
	return v;
}

struct mx_value *val_double(struct arena *a, double d)
{
	struct mx_value *v = new_value(a, MX_DOUBLE);

	if (v)
		v->u.d = d;
	return v;
}

struct mx_value *val_string(struct arena *a, const char *s, size_t len)
{
	struct mx_value *v = new_value(a, MX_STRING);

	if (!v)
		return NULL;
	v->u.str.bytes = arena_strndup(a, s ? s : "", s ? len : 0);
	v->u.str.len = s ? len : 0;
	return v->u.str.bytes ? v : NULL;
}

struct mx_value *val_cstring(struct arena *a, const char *s)
{
	if (!s)
		return val_null(a);
	return val_string(a, s, strlen(s));
}

struct mx_value *val_object(struct arena *a)
{
	return new_value(a, MX_OBJECT);
}

struct mx_value *val_array(struct arena *a)
{
	return new_value(a, MX_ARRAY);
}

static struct mx_value *append(struct arena *a, struct mx_value *list,
			       const char *key, struct mx_value *value)
{
	struct mx_member *items;

	if (!a || !list || !value)
		return NULL;
	if (list->u.list.count == list->u.list.cap) {
		size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 8;

		/* The old array stays in the arena: a bounded waste of 1x. */
		items = arena_alloc(a, cap * sizeof(*items));
		if (!items)
			return NULL;
		if (list->u.list.count)
			memcpy(items, list->u.list.items,
			       list->u.list.count * sizeof(*items));
		list->u.list.items = items;
		list->u.list.cap = cap;
	}
	items = &list->u.list.items[list->u.list.count++];
	items->key = key;
	items->value = value;
	return value;
}

struct mx_value *val_put(struct arena *a, struct mx_value *obj,
			 const char *key, struct mx_value *value)
{
	const char *copy;

	if (!obj || obj->type != MX_OBJECT || !key)
		return NULL;
	copy = arena_strndup(a, key, strlen(key));
	if (!copy)
		return NULL;
	return append(a, obj, copy, value);
}

struct mx_value *val_push(struct arena *a, struct mx_value *arr,
			  struct mx_value *value)
{
	if (!arr || arr->type != MX_ARRAY)
		return NULL;
	return append(a, arr, NULL, value);
}

struct mx_value *val_put_int(struct arena *a, struct mx_value *obj,
			     const char *key, int64_t i)
{
	return obj ? val_put(a, obj, key, val_int(a, i)) : NULL;
}

struct mx_value *val_put_double(struct arena *a, struct mx_value *obj,
				const char *key, double d)
{
	return obj ? val_put(a, obj, key, val_double(a, d)) : NULL;
}

struct mx_value *val_put_bool(struct arena *a, struct mx_value *obj,
			      const char *key, bool b)
{
	return obj ? val_put(a, obj, key, val_bool(a, b)) : NULL;
}

struct mx_value *val_put_cstring(struct arena *a, struct mx_value *obj,
				 const char *key, const char *s)
{
	return obj ? val_put(a, obj, key, val_cstring(a, s)) : NULL;
}

struct mx_value *val_put_object(struct arena *a, struct mx_value *obj,
				const char *key)
{
	return obj ? val_put(a, obj, key, val_object(a)) : NULL;
}

struct mx_value *val_put_array(struct arena *a, struct mx_value *obj,
			       const char *key)
{
	return obj ? val_put(a, obj, key, val_array(a)) : NULL;
}

static struct mx_value *find_key(const struct mx_value *obj, const char *key,
				 size_t key_len)
{
	size_t i;

	if (!obj || obj->type != MX_OBJECT)
		return NULL;
	for (i = 0; i < obj->u.list.count; i++) {
		const struct mx_member *m = &obj->u.list.items[i];

		if (strlen(m->key) == key_len &&
		    memcmp(m->key, key, key_len) == 0)
			return m->value;
	}
	return NULL;
}

struct mx_value *val_find(const struct mx_value *obj, const char *key)
{
	return find_key(obj, key, strlen(key));
}

/* Public accessors. */

enum mx_type mx_value_type(const struct mx_value *v)
{
	return v ? v->type : MX_NULL;
}

/* Decodes one JSON pointer token ("~0" is '~', "~1" is '/') into buf. */
static size_t decode_token(const char *tok, size_t len, char *buf)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (tok[i] == '~' && i + 1 < len &&
		    (tok[i + 1] == '0' || tok[i + 1] == '1')) {
			buf[n++] = tok[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			buf[n++] = tok[i];
		}
	}
	return n;
}

static const struct mx_value *step(const struct mx_value *v, const char *tok,
				   size_t len)
{
	char *end;
	unsigned long idx;
	char buf[256];

	if (v->type == MX_ARRAY) {
		if (len == 0 || len > 19 || (len > 1 && tok[0] == '0'))
			return NULL;
		memcpy(buf, tok, len);
		buf[len] = '\0';
		idx = strtoul(buf, &end, 10);
		if (*end || idx >= v->u.list.count)
			return NULL;
		return v->u.list.items[idx].value;
	}
	if (v->type != MX_OBJECT || len >= sizeof(buf))
		return NULL;
	len = decode_token(tok, len, buf);
	return find_key(v, buf, len);
}

const struct mx_value *mx_value_get(const struct mx_value *v,
				    const char *pointer)
{
	const char *p = pointer;

	if (!v || !pointer)
		return NULL;
	while (*p) {
		const char *next;

		if (*p != '/')
			return NULL;
		p++;
		next = strchr(p, '/');
		if (!next)
			next = p + strlen(p);
		v = step(v, p, (size_t)(next - p));
		if (!v)
			return NULL;
		p = next;
	}
	return v;
}

bool mx_value_bool(const struct mx_value *v)
{
	return v && v->type == MX_BOOL && v->u.b;
}

int64_t mx_value_int(const struct mx_value *v)
{
	return v && v->type == MX_INT ? v->u.i : 0;
}

double mx_value_double(const struct mx_value *v)
{
	if (v && v->type == MX_DOUBLE)
		return v->u.d;
	if (v && v->type == MX_INT)
		return (double)v->u.i;
	return 0.0;
}

const char *mx_value_string(const struct mx_value *v, size_t *len)
{
	if (!v || v->type != MX_STRING)
		return NULL;
	if (len)
		*len = v->u.str.len;
	return v->u.str.bytes;
}

size_t mx_value_count(const struct mx_value *v)
{
	if (!v || (v->type != MX_ARRAY && v->type != MX_OBJECT))
		return 0;
	return v->u.list.count;
}

const struct mx_value *mx_value_item(const struct mx_value *v, size_t i,
				     const char **key)
{
	if (i >= mx_value_count(v))
		return NULL;
	if (key)
		*key = v->u.list.items[i].key;
	return v->u.list.items[i].value;
}

/* JSON output. */

/*
 * Returns the length of the valid UTF-8 sequence at s (at most n bytes
 * available), or 0 when the sequence is invalid: truncated, overlong, a
 * surrogate, or above U+10FFFF.
 */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_sequence(p + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static void write_string(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	strbuf_putc(sb, '"');
	while (i < len) {
		unsigned c = p[i];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		strbuf_append(sb, p + i - run, run);
		run = 0;
		if (c < 0x80) {
			switch (c) {
			case '"': strbuf_puts(sb, "\\\""); break;
			case '\\': strbuf_puts(sb, "\\\\"); break;
			case '\n': strbuf_puts(sb, "\\n"); break;
			case '\r': strbuf_puts(sb, "\\r"); break;
			case '\t': strbuf_puts(sb, "\\t"); break;
			default: strbuf_printf(sb, "\\u%04x", c); break;
			}
			i++;
			continue;
		}
		n = utf8_sequence(p + i, len - i);
		if (n == 0) {
			strbuf_puts(sb, "\xef\xbf\xbd");
			i++;
		} else {
			strbuf_append(sb, p + i, n);
			i += n;
		}
	}
	strbuf_append(sb, p + i - run, run);
	strbuf_putc(sb, '"');
}

/* Writes v in decimal, without printf, which took a tenth of the CPU. */
static void write_int(struct strbuf *sb, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	strbuf_append(sb, p, (size_t)(buf + sizeof(buf) - p));
}

static void write_double(struct strbuf *sb, double d)
{
	char buf[40];
	int prec;

	if (!isfinite(d)) {
		strbuf_puts(sb, "null");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_puts(sb, buf);
	/* Keep doubles recognisable as such: 2 becomes 2.0. */
	if (!strpbrk(buf, ".eEn"))
		strbuf_puts(sb, ".0");
}

void val_write_json(struct strbuf *sb, const struct mx_value *v)
{
	size_t i;

	if (!v) {
		strbuf_puts(sb, "null");
		return;
	}
	switch (v->type) {
	case MX_NULL:
		strbuf_puts(sb, "null");
		break;
	case MX_BOOL:
		strbuf_puts(sb, v->u.b ? "true" : "false");
		break;
	case MX_INT:
		write_int(sb, v->u.i);
		break;
	case MX_DOUBLE:
		write_double(sb, v->u.d);
		break;
	case MX_STRING:
		write_string(sb, v->u.str.bytes, v->u.str.len);
		break;
	case MX_ARRAY:
	case MX_OBJECT:
		strbuf_putc(sb, v->type == MX_ARRAY ? '[' : '{');
		for (i = 0; i < v->u.list.count; i++) {
			const struct mx_member *m = &v->u.list.items[i];

			if (i)
				strbuf_putc(sb, ',');
			if (v->type == MX_OBJECT) {
				write_string(sb, m->key, strlen(m->key));
				strbuf_putc(sb, ':');
			}
			val_write_json(sb, m->value);
		}
		strbuf_putc(sb, v->type == MX_ARRAY ? ']' : '}');
		break;
	}
}
