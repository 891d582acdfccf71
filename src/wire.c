/* Binary encoding of value trees. wire.h describes the layout. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

enum wire_tag {
	WIRE_NULL = 0,
	WIRE_BOOL = 1,
	WIRE_INT = 2,
	WIRE_DOUBLE = 3,
	WIRE_STRING = 4,
	WIRE_ARRAY = 5,
	WIRE_OBJECT = 6,
};

/* Smallest encodings, used to bound counts by the bytes that remain. */
#define MIN_VALUE_BYTES 1		/* a null */
#define MIN_MEMBER_BYTES (4 + MIN_VALUE_BYTES)	/* empty key and a null */

/* Encoding. */

static void put_u8(struct strbuf *out, unsigned v)
{
	unsigned char b = (unsigned char)v;

	strbuf_append(out, &b, 1);
}

static void put_u32(struct strbuf *out, uint32_t v)
{
	unsigned char b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_append(out, b, sizeof(b));
}

static void put_u64(struct strbuf *out, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_append(out, b, sizeof(b));
}

static int put_bytes(struct strbuf *out, const void *s, size_t len)
{
	if (len > UINT32_MAX)
		return -EOVERFLOW;
	put_u32(out, (uint32_t)len);
	strbuf_append(out, s, len);
	return 0;
}

static int encode_value(const struct mx_value *v, struct strbuf *out,
			unsigned depth);

/* Encodes an array or object, whose nesting level (1 at the root) is level. */
static int encode_list(const struct mx_value *v, struct strbuf *out,
		       unsigned level)
{
	size_t i;
	int ret;

	if (level > WIRE_MAX_DEPTH)
		return -EINVAL;
	if (v->u.list.count > UINT32_MAX)
		return -EOVERFLOW;
	put_u8(out, v->type == MX_ARRAY ? WIRE_ARRAY : WIRE_OBJECT);
	put_u32(out, (uint32_t)v->u.list.count);
	for (i = 0; i < v->u.list.count; i++) {
		const struct mx_member *m = &v->u.list.items[i];

		if (v->type == MX_OBJECT) {
			ret = put_bytes(out, m->key, strlen(m->key));
			if (ret)
				return ret;
		}
		ret = encode_value(m->value, out, level);
		if (ret)
			return ret;
	}
	return 0;
}

/* Encodes v, which sits inside depth arrays and objects. */
static int encode_value(const struct mx_value *v, struct strbuf *out,
			unsigned depth)
{
	uint64_t bits;

	if (!v) {
		put_u8(out, WIRE_NULL);
		return 0;
	}
	switch (v->type) {
	case MX_NULL:
		put_u8(out, WIRE_NULL);
		return 0;
	case MX_BOOL:
		put_u8(out, WIRE_BOOL);
		put_u8(out, v->u.b ? 1 : 0);
		return 0;
	case MX_INT:
		memcpy(&bits, &v->u.i, sizeof(bits));
		put_u8(out, WIRE_INT);
		put_u64(out, bits);
		return 0;
	case MX_DOUBLE:
		memcpy(&bits, &v->u.d, sizeof(bits));
		put_u8(out, WIRE_DOUBLE);
		put_u64(out, bits);
		return 0;
	case MX_STRING:
		put_u8(out, WIRE_STRING);
		return put_bytes(out, v->u.str.bytes, v->u.str.len);
	case MX_ARRAY:
	case MX_OBJECT:
		return encode_list(v, out, depth + 1);
	}
	return -EINVAL;
}

int wire_encode(const struct mx_value *v, struct strbuf *out)
{
	size_t start = out->len;
	int ret;

	if (out->failed)
		return -ENOMEM;
	put_u8(out, WIRE_VERSION);
	ret = encode_value(v, out, 0);
	if (!ret && out->failed)
		ret = -ENOMEM;
	if (ret) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return ret;
}

/* Decoding. */

struct decoder {
	struct arena *a;
	const unsigned char *p;		/* next byte to read */
	const unsigned char *end;
	struct strbuf key;		/* NUL-terminated copy for val_put() */
	const char *error;		/* first error, a static string */
};

static void *fail(struct decoder *d, const char *error)
{
	if (!d->error)
		d->error = error;
	return NULL;
}

static size_t remaining(const struct decoder *d)
{
	return (size_t)(d->end - d->p);
}

/* Points *out at the next n bytes and consumes them, or returns false. */
static bool take(struct decoder *d, size_t n, const unsigned char **out)
{
	if (remaining(d) < n) {
		fail(d, "truncated input");
		return false;
	}
	*out = d->p;
	d->p += n;
	return true;
}

static bool get_u8(struct decoder *d, unsigned *v)
{
	const unsigned char *b;

	if (!take(d, 1, &b))
		return false;
	*v = b[0];
	return true;
}

static bool get_u32(struct decoder *d, uint32_t *v)
{
	const unsigned char *b;

	if (!take(d, 4, &b))
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	     (uint32_t)b[3] << 24;
	return true;
}

static bool get_u64(struct decoder *d, uint64_t *v)
{
	const unsigned char *b;
	int i;

	if (!take(d, 8, &b))
		return false;
	*v = 0;
	for (i = 7; i >= 0; i--)
		*v = *v << 8 | b[i];
	return true;
}

/* Reads a u32 length and points *bytes at that many following bytes. */
static bool get_bytes(struct decoder *d, const unsigned char **bytes,
		      size_t *len)
{
	uint32_t n;

	if (!get_u32(d, &n))
		return false;
	if (n > remaining(d)) {
		fail(d, "length past the end of the input");
		return false;
	}
	*len = n;
	*bytes = d->p;
	d->p += n;
	return true;
}

/* Turns a NULL from a value builder into the allocation error. */
static struct mx_value *built(struct decoder *d, struct mx_value *v)
{
	return v ? v : fail(d, "arena allocation failed or passed its limit");
}

static struct mx_value *decode_value(struct decoder *d, unsigned depth);

/*
 * Sizes the member array of list for count members at once, so val_push()
 * and val_put() never grow it. The caller has checked count against the
 * remaining input.
 */
static bool reserve_members(struct decoder *d, struct mx_value *list,
			    size_t count)
{
	if (count == 0)
		return true;
	if (count > SIZE_MAX / sizeof(struct mx_member)) {
		fail(d, "count larger than the remaining input");
		return false;
	}
	list->u.list.items = arena_alloc(d->a,
					 count * sizeof(struct mx_member));
	if (!list->u.list.items) {
		built(d, NULL);
		return false;
	}
	list->u.list.cap = count;
	return true;
}

static bool decode_member(struct decoder *d, struct mx_value *obj,
			  unsigned depth)
{
	const unsigned char *key;
	size_t key_len;
	struct mx_value *value;

	if (!get_bytes(d, &key, &key_len))
		return false;
	if (memchr(key, '\0', key_len)) {
		fail(d, "object key contains a NUL byte");
		return false;
	}
	value = decode_value(d, depth);
	if (!value)
		return false;

	/* Nested objects reuse d->key, so copy the key only now. */
	strbuf_reset(&d->key);
	strbuf_append(&d->key, key, key_len);
	if (d->key.failed) {
		fail(d, "out of memory for an object key");
		return false;
	}
	return built(d, val_put(d->a, obj, key_len ? d->key.data : "",
				value)) != NULL;
}

/* Decodes an array or object, whose nesting level (1 at the root) is level. */
static struct mx_value *decode_list(struct decoder *d, enum wire_tag tag,
				    unsigned level)
{
	size_t min_bytes = tag == WIRE_ARRAY ? MIN_VALUE_BYTES
					     : MIN_MEMBER_BYTES;
	struct mx_value *list;
	uint32_t count, i;

	_Static_assert(WIRE_MAX_DEPTH == 128, "update the message below");
	if (level > WIRE_MAX_DEPTH)
		return fail(d, "arrays and objects nested deeper than 128");
	if (!get_u32(d, &count))
		return NULL;
	if (count > remaining(d) / min_bytes)
		return fail(d, "count larger than the remaining input");

	list = built(d, tag == WIRE_ARRAY ? val_array(d->a)
					  : val_object(d->a));
	if (!list || !reserve_members(d, list, count))
		return NULL;
	for (i = 0; i < count; i++) {
		struct mx_value *item;

		if (tag == WIRE_OBJECT) {
			if (!decode_member(d, list, level))
				return NULL;
			continue;
		}
		item = decode_value(d, level);
		if (!item || !built(d, val_push(d->a, list, item)))
			return NULL;
	}
	return list;
}

/* Decodes one value, which sits inside depth arrays and objects. */
static struct mx_value *decode_value(struct decoder *d, unsigned depth)
{
	const unsigned char *bytes;
	unsigned tag, b;
	uint64_t bits;
	int64_t i;
	double x;
	size_t len;

	if (!get_u8(d, &tag))
		return NULL;
	switch (tag) {
	case WIRE_NULL:
		return built(d, val_null(d->a));
	case WIRE_BOOL:
		if (!get_u8(d, &b))
			return NULL;
		if (b > 1)
			return fail(d, "invalid boolean byte");
		return built(d, val_bool(d->a, b == 1));
	case WIRE_INT:
		if (!get_u64(d, &bits))
			return NULL;
		memcpy(&i, &bits, sizeof(i));
		return built(d, val_int(d->a, i));
	case WIRE_DOUBLE:
		if (!get_u64(d, &bits))
			return NULL;
		memcpy(&x, &bits, sizeof(x));
		return built(d, val_double(d->a, x));
	case WIRE_STRING:
		if (!get_bytes(d, &bytes, &len))
			return NULL;
		return built(d, val_string(d->a, (const char *)bytes, len));
	case WIRE_ARRAY:
	case WIRE_OBJECT:
		return decode_list(d, (enum wire_tag)tag, depth + 1);
	}
	return fail(d, "unknown type tag");
}

struct mx_value *wire_decode(struct arena *a, const void *data, size_t len,
			     const char **error)
{
	static const unsigned char empty[1];
	struct decoder d = { .a = a };
	struct mx_value *root = NULL;
	unsigned version;

	/* Pointer arithmetic on NULL is undefined, even adding 0. */
	if (!data) {
		data = empty;
		len = 0;
	}
	d.p = data;
	d.end = d.p + len;
	strbuf_init(&d.key);
	if (!get_u8(&d, &version))
		goto out;
	if (version != WIRE_VERSION) {
		fail(&d, "unsupported encoding version");
		goto out;
	}
	root = decode_value(&d, 0);
	if (root && remaining(&d) != 0)
		root = fail(&d, "trailing bytes after the value");

out:
	strbuf_free(&d.key);
	if (!root && error)
		*error = d.error ? d.error : "decoding failed";
	return root;
}
