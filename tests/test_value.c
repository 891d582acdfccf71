/* Record values: building, JSON pointers, and JSON output. */
#include <criterion/criterion.h>
#include <string.h>

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "arena.h"
#include "record.h"
#include "strbuf.h"
#include "value.h"

static struct arena arena;
static struct strbuf out;

static void setup(void)
{
	arena_init(&arena, 0);
	strbuf_init(&out);
}

static void teardown(void)
{
	arena_free(&arena);
	strbuf_free(&out);
}

TestSuite(value, .init = setup, .fini = teardown);

static const char *to_json(const struct mx_value *v)
{
	strbuf_reset(&out);
	val_write_json(&out, v);
	cr_assert(!out.failed, "serialising failed");
	return out.data;
}

Test(value, object_in_insertion_order)
{
	struct mx_value *o = val_object(&arena);
	struct mx_value *a;

	val_put_int(&arena, o, "size", 5368709220LL);
	val_put_cstring(&arena, o, "name", "x");
	a = val_put_array(&arena, o, "list");
	val_push(&arena, a, val_bool(&arena, true));
	val_push(&arena, a, val_null(&arena));
	cr_assert_str_eq(to_json(o),
			 "{\"size\":5368709220,\"name\":\"x\","
			 "\"list\":[true,null]}");
}

Test(value, json_pointer_lookup)
{
	struct mx_value *o = val_object(&arena);
	struct mx_value *streams = val_put_array(&arena, o, "streams");
	struct mx_value *s0 = val_object(&arena);
	const struct mx_value *v;

	val_push(&arena, streams, s0);
	val_put_cstring(&arena, s0, "codec_name", "h264");
	val_put_int(&arena, o, "a/b", 1);
	val_put_int(&arena, o, "m~n", 2);

	v = mx_value_get(o, "/streams/0/codec_name");
	cr_assert_str_eq(mx_value_string(v, NULL), "h264");
	cr_assert_eq(mx_value_int(mx_value_get(o, "/a~1b")), 1);
	cr_assert_eq(mx_value_int(mx_value_get(o, "/m~0n")), 2);
	cr_assert_eq(mx_value_get(o, ""), o, "empty pointer is the root");
	cr_assert_null(mx_value_get(o, "/streams/1"), "index past the end");
	cr_assert_null(mx_value_get(o, "/streams/01"), "leading zero index");
	cr_assert_null(mx_value_get(o, "/missing"));
	cr_assert_null(mx_value_get(o, "streams"), "pointer without '/'");
}

Test(value, escapes_control_and_quote)
{
	struct mx_value *s = val_string(&arena, "a\"b\\c\n\x01", 7);

	cr_assert_str_eq(to_json(s), "\"a\\\"b\\\\c\\n\\u0001\"");
}

Test(value, keeps_valid_utf8)
{
	const char *text = "Gen\xc3\xa8re \xe2\x82\xac \xf0\x9f\x8e\xb5";
	struct mx_value *s = val_cstring(&arena, text);

	cr_assert_str_eq(to_json(s), "\"Gen\xc3\xa8re \xe2\x82\xac "
			 "\xf0\x9f\x8e\xb5\"");
}

Test(value, replaces_invalid_utf8)
{
	static const struct {
		const char *in;
		size_t len;
		const char *json;
	} cases[] = {
		{ "caf\xe9", 4, "\"caf\xef\xbf\xbd\"" },
		/* Overlong encoding of '/'. */
		{ "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
		/* UTF-16 surrogate U+D800 encoded as UTF-8. */
		{ "\xed\xa0\x80", 3,
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		/* Sequence cut short at the end. */
		{ "ab\xe2\x82", 4, "\"ab\xef\xbf\xbd\xef\xbf\xbd\"" },
		/* Above U+10FFFF. */
		{ "\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xef\xbf\xbd\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mx_value *s = val_string(&arena, cases[i].in,
						cases[i].len);

		cr_assert_str_eq(to_json(s), cases[i].json, "case %zu", i);
		cr_assert_not(utf8_valid(cases[i].in, cases[i].len),
			      "case %zu must be invalid", i);
	}
}

Test(value, doubles_shortest_round_trip)
{
	cr_assert_str_eq(to_json(val_double(&arena, 4.966667)), "4.966667");
	cr_assert_str_eq(to_json(val_double(&arena, 0.1)), "0.1");
	cr_assert_str_eq(to_json(val_double(&arena, 2.0)), "2.0");
	cr_assert_str_eq(to_json(val_double(&arena, 1.0 / 3.0)),
			 "0.3333333333333333");
	cr_assert_str_eq(to_json(val_double(&arena, 0.0 / 0.0)), "null");
}

Test(value, nul_bytes_in_strings)
{
	struct mx_value *s = val_string(&arena, "a\0b", 3);

	cr_assert_str_eq(to_json(s), "\"a\\u0000b\"");
}

Test(value, arena_limit_sets_failed)
{
	struct arena small;
	struct mx_value *o;
	int i;

	arena_init(&small, 8192);
	o = val_object(&small);
	for (i = 0; i < 10000; i++)
		val_put_int(&small, o, "key", i);
	cr_assert(small.failed, "an arena over its limit must fail");
	cr_assert_leq(small.total, 8192);
	arena_free(&small);
}

Test(value, integers_at_the_limits)
{
	cr_assert_str_eq(to_json(val_int(&arena, 0)), "0");
	cr_assert_str_eq(to_json(val_int(&arena, -1)), "-1");
	cr_assert_str_eq(to_json(val_int(&arena, INT64_MAX)),
			 "9223372036854775807");
	cr_assert_str_eq(to_json(val_int(&arena, INT64_MIN)),
			 "-9223372036854775808");
}

/* The mtime member of a record made from a statx with the given time. */
static const char *mtime_of(int64_t sec, uint32_t nsec)
{
	struct mx_record *rec = record_new("f");
	struct statx stx = { .stx_mode = S_IFREG | 0640 };
	const struct mx_value *v;
	static char copy[64];

	cr_assert_not_null(rec);
	stx.stx_mtime.tv_sec = sec;
	stx.stx_mtime.tv_nsec = nsec;
	record_put_identity(rec, &stx);
	v = mx_value_get(mx_record_root(rec), "/mtime");
	cr_assert_not_null(v, "no mtime for %lld", (long long)sec);
	snprintf(copy, sizeof(copy), "%s", mx_value_string(v, NULL));
	cr_assert_str_eq(mx_value_string(mx_value_get(mx_record_root(rec), "/mode"), NULL),
			 "0640");
	mx_record_free(rec);
	return copy;
}

Test(value, record_timestamps)
{
	cr_assert_str_eq(mtime_of(0, 0), "1970-01-01T00:00:00.000000000Z");
	cr_assert_str_eq(mtime_of(-1, 999999999),
			 "1969-12-31T23:59:59.999999999Z");
	cr_assert_str_eq(mtime_of(1796425687, 485173002),
			 "2026-12-04T23:08:07.485173002Z");
	/* Past year 9999, the digits go on. */
	cr_assert_str_eq(mtime_of(253402300800LL, 5),
			 "10000-01-01T00:00:00.000000005Z");
}
