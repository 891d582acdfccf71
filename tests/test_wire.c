/*
 * Binary encoding of value trees: exact round trips, real records, and
 * hostile input (truncations, flipped bytes, huge counts).
 *
 * With MX_WIRE_SEED_DIR set, the real_records test also writes each
 * encoding there as a seed corpus for fuzz/wire_fuzz.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strbuf.h"
#include "support.h"
#include "value.h"
#include "wire.h"

static struct arena arena;	/* trees built by the tests */
static struct arena decoded;	/* trees rebuilt by wire_decode() */
static struct strbuf out;

static void setup(void)
{
	arena_init(&arena, 0);
	arena_init(&decoded, 0);
	strbuf_init(&out);
}

static void teardown(void)
{
	arena_free(&arena);
	arena_free(&decoded);
	strbuf_free(&out);
}

TestSuite(wire, .init = setup, .fini = teardown);

/* Helpers. */

static uint64_t double_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return bits;
}

static double bits_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* splitmix64, so every seed gives the same bytes on every machine. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Asserts that a and b are the same tree: same types, bit-identical
 * doubles, byte-identical strings and keys, same member order. path names
 * the position for messages, as a JSON pointer.
 */
static void expect_equal(const struct mx_value *a, const struct mx_value *b,
			 const char *path)
{
	char child[1024];
	size_t i;

	cr_assert_not_null(b, "%s: value missing after decoding", path);
	cr_assert_eq(a->type, b->type, "%s: expected type %s, got %s", path,
		     type_name(a->type), type_name(b->type));
	switch (a->type) {
	case MX_NULL:
		return;
	case MX_BOOL:
		cr_assert_eq(a->u.b, b->u.b, "%s: expected %d, got %d", path,
			     a->u.b, b->u.b);
		return;
	case MX_INT:
		cr_assert_eq(a->u.i, b->u.i, "%s: expected %lld, got %lld",
			     path, (long long)a->u.i, (long long)b->u.i);
		return;
	case MX_DOUBLE:
		cr_assert_eq(double_bits(a->u.d), double_bits(b->u.d),
			     "%s: expected bits %#llx, got %#llx", path,
			     (unsigned long long)double_bits(a->u.d),
			     (unsigned long long)double_bits(b->u.d));
		return;
	case MX_STRING:
		cr_assert_eq(a->u.str.len, b->u.str.len,
			     "%s: expected a string of %zu bytes, got %zu",
			     path, a->u.str.len, b->u.str.len);
		cr_assert_eq(memcmp(a->u.str.bytes, b->u.str.bytes,
				    a->u.str.len), 0,
			     "%s: string bytes differ", path);
		cr_assert_eq(b->u.str.bytes[b->u.str.len], '\0',
			     "%s: decoded string is not NUL-terminated", path);
		return;
	case MX_ARRAY:
	case MX_OBJECT:
		break;
	}
	cr_assert_eq(a->u.list.count, b->u.list.count,
		     "%s: expected %zu entries, got %zu", path,
		     a->u.list.count, b->u.list.count);
	for (i = 0; i < a->u.list.count; i++) {
		const struct mx_member *ma = &a->u.list.items[i];
		const struct mx_member *mb = &b->u.list.items[i];

		if (a->type == MX_OBJECT) {
			cr_assert_not_null(mb->key, "%s: key %zu missing",
					   path, i);
			cr_assert_str_eq(ma->key, mb->key,
					 "%s: key %zu: expected \"%s\", "
					 "got \"%s\"", path, i, ma->key,
					 mb->key);
			snprintf(child, sizeof(child), "%s/%.200s", path,
				 ma->key);
		} else {
			cr_assert_null(mb->key, "%s: array item %zu has a key",
				       path, i);
			snprintf(child, sizeof(child), "%s/%zu", path, i);
		}
		expect_equal(ma->value, mb->value, child);
	}
}

/* Encodes v into out (reset first) and asserts success. */
static void encode(const struct mx_value *v)
{
	int ret;

	strbuf_reset(&out);
	ret = wire_encode(v, &out);
	cr_assert_eq(ret, 0, "wire_encode: expected 0, got %d", ret);
	cr_assert_gt(out.len, 0, "wire_encode wrote nothing");
}

/*
 * Decodes len bytes from an exactly sized heap copy, so AddressSanitizer
 * reports any read past the end. Returns the tree or NULL, and the error.
 */
static struct mx_value *decode_copy(struct arena *a, const void *data,
				    size_t len, const char **error)
{
	void *copy = malloc(len ? len : 1);
	struct mx_value *v;

	cr_assert_not_null(copy, "malloc(%zu) failed", len);
	if (len)
		memcpy(copy, data, len);
	*error = NULL;
	v = wire_decode(a, copy, len, error);
	free(copy);
	if (v)
		cr_assert_null(*error, "wire_decode set an error on success");
	else
		cr_assert_not_null(*error, "wire_decode failed without error");
	return v;
}

/* Encodes v, decodes it and asserts that the result equals v. */
static struct mx_value *round_trip(const struct mx_value *v)
{
	const char *error;
	struct mx_value *back;

	encode(v);
	back = decode_copy(&decoded, out.data, out.len, &error);
	cr_assert_not_null(back, "wire_decode of %zu bytes failed: %s",
			   out.len, error);
	expect_equal(v, back, "");
	return back;
}

/* Asserts that the len bytes at data are rejected with error expected. */
static void expect_rejected(const void *data, size_t len,
			    const char *expected)
{
	const char *error;
	struct mx_value *v = decode_copy(&decoded, data, len, &error);

	cr_assert_null(v, "%zu bytes: expected rejection (%s), got a value",
		       len, expected);
	cr_assert_str_eq(error, expected,
			 "%zu bytes: expected error \"%s\", got \"%s\"", len,
			 expected, error);
}

/* Builds a tree with every type, nesting, and awkward strings and keys. */
static struct mx_value *sample_tree(struct arena *a)
{
	struct mx_value *root = val_object(a);
	struct mx_value *list, *inner;

	val_put(a, root, "null", val_null(a));
	val_put_bool(a, root, "yes", true);
	val_put_bool(a, root, "no", false);
	val_put_int(a, root, "min", INT64_MIN);
	val_put_int(a, root, "max", INT64_MAX);
	val_put_double(a, root, "neg_zero", -0.0);
	val_put_double(a, root, "nan", bits_double(0x7ff8000000000123ULL));
	val_put(a, root, "nul", val_string(a, "a\0b", 3));
	val_put(a, root, "latin1", val_string(a, "caf\xe9", 4));
	val_put_cstring(a, root, "", "empty key");
	list = val_put_array(a, root, "list");
	val_push(a, list, val_int(a, -1));
	val_push(a, list, val_object(a));
	val_push(a, list, val_array(a));
	inner = val_push(a, list, val_object(a));
	val_put_int(a, inner, "dup", 1);
	val_put_int(a, inner, "dup", 2);
	val_put_cstring(a, root, "utf8", "Gen\xc3\xa8re \xe2\x82\xac");
	cr_assert_not(a->failed, "building the sample tree failed");
	return root;
}

/* Builds levels arrays nested in each other, an int in the innermost. */
static struct mx_value *nested_arrays(struct arena *a, int levels)
{
	struct mx_value *root = val_array(a);
	struct mx_value *v = root;
	int i;

	for (i = 1; i < levels; i++)
		v = val_push(a, v, val_array(a));
	val_push(a, v, val_int(a, 42));
	cr_assert_not(a->failed, "building %d nested arrays failed", levels);
	return root;
}

/* Writes the encoding of levels nested arrays, byte by byte, into buf. */
static size_t nested_array_bytes(unsigned char *buf, int levels)
{
	size_t n = 0;
	int i;

	buf[n++] = WIRE_VERSION;
	for (i = 0; i < levels; i++) {
		buf[n++] = 5;
		buf[n++] = 1;
		buf[n++] = 0;
		buf[n++] = 0;
		buf[n++] = 0;
	}
	buf[n++] = 0;
	return n;
}

/* Builds a random tree of at most depth levels for seed-driven tests. */
static struct mx_value *random_tree(struct arena *a, uint64_t *state,
				    int depth)
{
	uint64_t r = next_random(state);
	unsigned char bytes[40];
	char key[8];
	struct mx_value *v;
	size_t i, n;

	switch (depth > 0 ? r % 7 : r % 5) {
	case 0:
		return val_null(a);
	case 1:
		return val_bool(a, r >> 8 & 1);
	case 2:
		return val_int(a, (int64_t)next_random(state));
	case 3:
		return val_double(a, bits_double(next_random(state)));
	case 4:
		n = next_random(state) % sizeof(bytes);
		for (i = 0; i < n; i++)
			bytes[i] = (unsigned char)next_random(state);
		return val_string(a, (const char *)bytes, n);
	case 5:
		v = val_array(a);
		n = next_random(state) % 6;
		for (i = 0; i < n; i++)
			val_push(a, v, random_tree(a, state, depth - 1));
		return v;
	default:
		v = val_object(a);
		n = next_random(state) % 6;
		for (i = 0; i < n; i++) {
			/* Few distinct keys, so duplicates happen. */
			snprintf(key, sizeof(key), "k%u",
				 (unsigned)(next_random(state) % 4));
			val_put(a, v, key, random_tree(a, state, depth - 1));
		}
		return v;
	}
}

/* Round trips. */

Test(wire, scalars_round_trip)
{
	round_trip(val_null(&arena));
	round_trip(val_bool(&arena, true));
	round_trip(val_bool(&arena, false));
	round_trip(val_int(&arena, 0));
	round_trip(val_int(&arena, -1));
	round_trip(val_int(&arena, INT64_MIN));
	round_trip(val_int(&arena, INT64_MAX));
	round_trip(val_string(&arena, "", 0));
	round_trip(val_cstring(&arena, "hello"));
}

Test(wire, doubles_bit_exact)
{
	static const uint64_t bits[] = {
		0x0000000000000000ULL,	/* +0.0 */
		0x8000000000000000ULL,	/* -0.0 */
		0x7ff0000000000000ULL,	/* +inf */
		0xfff0000000000000ULL,	/* -inf */
		0x7ff8000000000000ULL,	/* quiet NaN */
		0xfff8000000000000ULL,	/* negative quiet NaN */
		0x7ff8000000000001ULL,	/* NaN with a payload */
		0x7ff0000000000001ULL,	/* signalling NaN */
		0x0000000000000001ULL,	/* smallest denormal */
		0x000fffffffffffffULL,	/* largest denormal */
		0x8000000000000001ULL,	/* negative denormal */
		0x0010000000000000ULL,	/* DBL_MIN */
		0x7fefffffffffffffULL,	/* DBL_MAX */
		0x3fb999999999999aULL,	/* 0.1 */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		struct mx_value *back =
			round_trip(val_double(&arena, bits_double(bits[i])));

		cr_assert_eq(double_bits(back->u.d), bits[i],
			     "double %zu: expected bits %#llx, got %#llx", i,
			     (unsigned long long)bits[i],
			     (unsigned long long)double_bits(back->u.d));
	}
}

Test(wire, strings_keep_exact_bytes)
{
	static const struct {
		const char *bytes;
		size_t len;
	} cases[] = {
		{ "a\0b", 3 },
		{ "\0", 1 },
		{ "\0\0\0", 3 },
		{ "caf\xe9", 4 },
		{ "\xc0\xaf", 2 },		/* overlong '/' */
		{ "\xed\xa0\x80", 3 },		/* surrogate U+D800 */
		{ "\xff\xfe\xfd", 3 },
		{ "ab\xe2\x82", 4 },		/* cut-short sequence */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mx_value *s = val_string(&arena, cases[i].bytes,
						cases[i].len);
		struct mx_value *back = round_trip(s);

		cr_assert_eq(back->u.str.len, cases[i].len,
			     "string %zu: expected %zu bytes, got %zu", i,
			     cases[i].len, back->u.str.len);
	}
}

Test(wire, long_string_round_trip)
{
	size_t len = 3u << 20;
	char *bytes = malloc(len);
	uint64_t state = 7;
	size_t i;

	cr_assert_not_null(bytes, "malloc(%zu) failed", len);
	for (i = 0; i < len; i++)
		bytes[i] = (char)next_random(&state);
	round_trip(val_string(&arena, bytes, len));
	free(bytes);
}

Test(wire, empty_containers_round_trip)
{
	struct mx_value *o = val_object(&arena);

	round_trip(val_array(&arena));
	round_trip(val_object(&arena));
	val_put(&arena, o, "a", val_array(&arena));
	val_put(&arena, o, "o", val_object(&arena));
	val_put(&arena, o, "", val_object(&arena));
	round_trip(o);
}

Test(wire, duplicate_keys_keep_order)
{
	struct mx_value *o = val_object(&arena);
	struct mx_value *back;

	val_put_int(&arena, o, "b", 1);
	val_put_int(&arena, o, "a", 2);
	val_put_int(&arena, o, "b", 3);
	val_put(&arena, o, "", val_null(&arena));
	val_put(&arena, o, "\xff\xfe", val_null(&arena));
	back = round_trip(o);
	cr_assert_eq(back->u.list.count, 5, "expected 5 members, got %zu",
		     back->u.list.count);
	cr_assert_eq(back->u.list.items[2].value->u.i, 3,
		     "third member: expected 3, got %lld",
		     (long long)back->u.list.items[2].value->u.i);
}

Test(wire, mixed_tree_round_trip)
{
	round_trip(sample_tree(&arena));
}

Test(wire, random_trees_round_trip)
{
	uint64_t seed;

	for (seed = 1; seed <= 500; seed++) {
		uint64_t state = seed;
		struct mx_value *v = random_tree(&arena, &state, 6);

		support_set_context("seed %llu", (unsigned long long)seed);
		cr_assert_not(arena.failed, "seed %llu: building failed",
			      (unsigned long long)seed);
		round_trip(v);
	}
}

Test(wire, encode_appends_to_buffer)
{
	const char *error;
	struct mx_value *v = sample_tree(&arena);
	struct mx_value *back;

	strbuf_reset(&out);
	strbuf_puts(&out, "prefix");
	cr_assert_eq(wire_encode(v, &out), 0, "wire_encode after a prefix");
	cr_assert_eq(memcmp(out.data, "prefix", 6), 0, "prefix overwritten");
	back = decode_copy(&decoded, out.data + 6, out.len - 6, &error);
	cr_assert_not_null(back, "wire_decode after a prefix: %s", error);
	expect_equal(v, back, "");
}

Test(wire, null_pointer_encodes_as_null)
{
	const char *error;
	struct mx_value *back;

	strbuf_reset(&out);
	cr_assert_eq(wire_encode(NULL, &out), 0, "wire_encode(NULL)");
	back = decode_copy(&decoded, out.data, out.len, &error);
	cr_assert_not_null(back, "wire_decode: %s", error);
	cr_assert_eq(back->type, MX_NULL, "expected null, got %s",
		     type_name(back->type));
}

/* Nesting limit. */

Test(wire, nesting_at_limit_accepted)
{
	struct mx_value *o = val_object(&arena);
	struct mx_value *v = o;
	int i;

	round_trip(nested_arrays(&arena, WIRE_MAX_DEPTH));
	for (i = 1; i < WIRE_MAX_DEPTH; i++)
		v = val_put_object(&arena, v, "k");
	val_put_cstring(&arena, v, "leaf", "x");
	round_trip(o);
}

Test(wire, nesting_past_limit_rejected)
{
	unsigned char buf[1 + 5 * (WIRE_MAX_DEPTH + 1) + 1];
	struct mx_value *deep = nested_arrays(&arena, WIRE_MAX_DEPTH + 1);
	size_t n;
	int ret;

	strbuf_reset(&out);
	strbuf_puts(&out, "keep");
	ret = wire_encode(deep, &out);
	cr_assert_eq(ret, -EINVAL, "wire_encode of %d levels: expected %d, "
		     "got %d", WIRE_MAX_DEPTH + 1, -EINVAL, ret);
	cr_assert_eq(out.len, 4, "failed encode left %zu bytes, expected 4",
		     out.len);
	cr_assert_str_eq(out.data, "keep", "failed encode changed the buffer");

	n = nested_array_bytes(buf, WIRE_MAX_DEPTH);
	cr_assert_not_null(wire_decode(&decoded, buf, n, NULL),
			   "%d nested arrays must decode", WIRE_MAX_DEPTH);
	n = nested_array_bytes(buf, WIRE_MAX_DEPTH + 1);
	expect_rejected(buf, n, "arrays and objects nested deeper than 128");
}

/*
 * A string or list with a length above UINT32_MAX, faked in the struct:
 * the encoder checks the length before it reads any bytes or items.
 */
Test(wire, lengths_past_u32_rejected)
{
	struct mx_value fake = { .type = MX_STRING };
	int ret;

	if (SIZE_MAX <= UINT32_MAX)
		cr_skip_test("size_t cannot exceed UINT32_MAX here");
	fake.u.str.bytes = "x";
	fake.u.str.len = (size_t)UINT32_MAX + 1;
	strbuf_reset(&out);
	strbuf_puts(&out, "keep");
	ret = wire_encode(&fake, &out);
	cr_assert_eq(ret, -EOVERFLOW, "string of 4 GiB: expected %d, got %d",
		     -EOVERFLOW, ret);
	cr_assert_eq(out.len, 4, "failed encode left %zu bytes, expected 4",
		     out.len);

	fake = (struct mx_value){ .type = MX_ARRAY };
	fake.u.list.count = (size_t)UINT32_MAX + 1;
	ret = wire_encode(&fake, &out);
	cr_assert_eq(ret, -EOVERFLOW, "array of 4G items: expected %d, got %d",
		     -EOVERFLOW, ret);
	cr_assert_str_eq(out.data, "keep", "failed encode changed the buffer");
}

/* Hostile input. */

Test(wire, malformed_inputs_rejected)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
		const char *error;
	} cases[] = {
		{ "empty", "", 0, "truncated input" },
		{ "version only", "\x01", 1, "truncated input" },
		{ "version 0", "\x00\x00", 2, "unsupported encoding version" },
		{ "version 2", "\x02\x00", 2, "unsupported encoding version" },
		{ "tag 7", "\x01\x07", 2, "unknown type tag" },
		{ "tag 255", "\x01\xff", 2, "unknown type tag" },
		{ "bool 2", "\x01\x01\x02", 3, "invalid boolean byte" },
		{ "bool 255", "\x01\x01\xff", 3, "invalid boolean byte" },
		{ "short int", "\x01\x02\x00\x00\x00", 5, "truncated input" },
		{ "short double", "\x01\x03\x00", 3, "truncated input" },
		{ "string past end", "\x01\x04\x05\x00\x00\x00" "abcd", 10,
		  "length past the end of the input" },
		{ "string length 4G", "\x01\x04\xff\xff\xff\xff" "ab", 8,
		  "length past the end of the input" },
		{ "trailing byte", "\x01\x00\x00", 3,
		  "trailing bytes after the value" },
		{ "array count past end", "\x01\x05\x03\x00\x00\x00\x00\x00",
		  8, "count larger than the remaining input" },
		{ "object count past end",
		  "\x01\x06\x01\x00\x00\x00\x00\x00\x00\x00", 10,
		  "count larger than the remaining input" },
		{ "key past end",
		  "\x01\x06\x01\x00\x00\x00\x09\x00\x00\x00\x00", 11,
		  "length past the end of the input" },
		{ "key with NUL",
		  "\x01\x06\x01\x00\x00\x00\x02\x00\x00\x00" "a\0" "\x00",
		  13, "object key contains a NUL byte" },
		{ "bad item in array",
		  "\x01\x05\x02\x00\x00\x00\x00\x09", 8, "unknown type tag" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		support_set_context("%s", cases[i].name);
		expect_rejected(cases[i].bytes, cases[i].len, cases[i].error);
	}
}

Test(wire, null_data_rejected)
{
	const char *error = NULL;

	cr_assert_null(wire_decode(&decoded, NULL, 0, &error),
		       "NULL data must be rejected");
	cr_assert_str_eq(error, "truncated input", "error for NULL data: %s",
			 error);
	cr_assert_null(wire_decode(&decoded, NULL, 100, &error),
		       "NULL data with a length must be rejected");
}

Test(wire, huge_count_rejected_without_allocating)
{
	static const unsigned char array[] = {
		WIRE_VERSION, 5, 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
	};
	static const unsigned char object[] = {
		WIRE_VERSION, 6, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0,
	};

	expect_rejected(array, sizeof(array),
			"count larger than the remaining input");
	expect_rejected(object, sizeof(object),
			"count larger than the remaining input");
	cr_assert_eq(decoded.total, 0,
		     "rejected counts allocated %zu arena bytes, expected 0",
		     decoded.total);
}

Test(wire, every_truncation_rejected)
{
	struct mx_value *v = sample_tree(&arena);
	char *full;
	size_t len, n;

	encode(v);
	len = out.len;
	full = malloc(len);
	cr_assert_not_null(full, "malloc(%zu) failed", len);
	memcpy(full, out.data, len);
	for (n = 0; n < len; n++) {
		const char *error;

		support_set_context("prefix of %zu of %zu bytes", n, len);
		cr_assert_null(decode_copy(&decoded, full, n, &error),
			       "prefix of %zu of %zu bytes decoded", n, len);
		arena_free(&decoded);
	}
	free(full);
}

/*
 * The encoding is canonical (one encoding per tree), so any input that
 * decodes must encode back to the same bytes.
 */
Test(wire, flipped_bytes_never_crash)
{
	struct mx_value *v = sample_tree(&arena);
	unsigned char *orig, *bytes;
	size_t len, accepted = 0;
	uint64_t seed;

	encode(v);
	len = out.len;
	orig = malloc(len);
	bytes = malloc(len);
	cr_assert(orig && bytes, "malloc(%zu) failed", len);
	memcpy(orig, out.data, len);
	for (seed = 1; seed <= 20000; seed++) {
		uint64_t state = seed;
		int flips = 1 + (int)(next_random(&state) % 4);
		const char *error;
		struct mx_value *back;

		memcpy(bytes, orig, len);
		while (flips--) {
			uint64_t r = next_random(&state);

			bytes[r % len] ^= (unsigned char)(1 + (r >> 32) % 255);
		}
		back = decode_copy(&decoded, bytes, len, &error);
		if (back) {
			accepted++;
			encode(back);
			cr_assert_eq(out.len, len, "seed %llu: re-encoding "
				     "gave %zu bytes, expected %zu",
				     (unsigned long long)seed, out.len, len);
			cr_assert_eq(memcmp(out.data, bytes, len), 0,
				     "seed %llu: re-encoding differs",
				     (unsigned long long)seed);
		}
		arena_free(&decoded);
	}
	cr_log_info("%zu of 20000 mutated inputs decoded", accepted);
	free(orig);
	free(bytes);
}

/*
 * The worst case for memory is an array of nulls: one input byte each,
 * 48 arena bytes each on LP64. The arena limit must stop a decode that
 * needs more.
 */
Test(wire, memory_bounded_by_input)
{
	size_t count = 100000, len = 1 + 5 + count, limit;
	unsigned char *bytes;
	const char *error;
	struct arena small;

	if (sizeof(struct mx_value) != 32 || sizeof(struct mx_member) != 16)
		cr_skip_test("the 48-byte bound assumes LP64 struct sizes");
	bytes = calloc(1, len);
	cr_assert_not_null(bytes, "calloc(%zu) failed", len);
	bytes[0] = WIRE_VERSION;
	bytes[1] = 5;
	bytes[2] = count & 0xff;
	bytes[3] = count >> 8 & 0xff;
	bytes[4] = count >> 16 & 0xff;
	bytes[5] = count >> 24 & 0xff;

	limit = 48 * len + 4096;
	arena_init(&small, limit);
	cr_assert_not_null(decode_copy(&small, bytes, len, &error),
			   "%zu nulls in a %zu-byte arena limit: %s", count,
			   limit, error);
	arena_free(&small);

	arena_init(&small, 16 * len);
	cr_assert_null(decode_copy(&small, bytes, len, &error),
		       "%zu nulls must not fit in %zu arena bytes", count,
		       16 * len);
	cr_assert_str_eq(error, "arena allocation failed or passed its limit",
			 "error for a full arena: %s", error);
	cr_assert_leq(small.total, 16 * len, "arena passed its limit");
	arena_free(&small);
	free(bytes);
}

/* Real records. */

/* Writes the current encoding to $MX_WIRE_SEED_DIR/NAME.wire, if set. */
static void write_seed(const char *name)
{
	const char *dir = getenv("MX_WIRE_SEED_DIR");
	char path[4096];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.wire", dir, name);
	f = fopen(path, "wb");
	cr_assert_not_null(f, "fopen(%s) failed", path);
	cr_assert_eq(fwrite(out.data, 1, out.len, f), out.len,
		     "writing %s failed", path);
	cr_assert_eq(fclose(f), 0, "closing %s failed", path);
}

Test(wire, real_records_round_trip)
{
	static const char *const fixtures[] = {
		"gen_chunked.h5",
		"gen_types.h5",
		"hdf5json_tall.h5",
		"gen_truncated.h5",
		"gen_faststart.mp4",
		"gen_truncated.mp4",
		"gen_chapters.mkv",
		"exiftool_QuickTime.mov",
		"gen_tone.flac",
		"gen_notes.txt",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct mx_record *rec = extract_fixture(fixtures[i]);
		const struct mx_value *root = mx_record_root(rec);
		char *want, *got;
		size_t want_len, got_len;
		struct mx_value *back;

		back = round_trip(root);
		write_seed(fixtures[i]);
		cr_assert_eq(mx_record_json(rec, &want, &want_len), 0,
			     "%s: mx_record_json failed", fixtures[i]);
		cr_assert_eq(mx_value_json(back, &got, &got_len), 0,
			     "%s: mx_value_json failed", fixtures[i]);
		cr_assert_eq(got_len, want_len,
			     "%s: JSON of %zu bytes, expected %zu",
			     fixtures[i], got_len, want_len);
		cr_assert_str_eq(got, want, "%s: JSON differs", fixtures[i]);
		mx_free(want);
		mx_free(got);
		mx_record_free(rec);
	}
}
