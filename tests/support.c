/* Helpers shared by the Criterion tests, declared in support.h. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/*
 * Criterion runs each test in its own process, so these buffers only ever
 * contain the state of one test.
 */
static char fixture[256];
static char context[512];

void support_set_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

const char *support_context(void)
{
	return context;
}

const char *support_fixture(void)
{
	return fixture;
}

const char *type_name(enum mx_type type)
{
	switch (type) {
	case MX_NULL:
		return "null";
	case MX_BOOL:
		return "bool";
	case MX_INT:
		return "int";
	case MX_DOUBLE:
		return "double";
	case MX_STRING:
		return "string";
	case MX_ARRAY:
		return "array";
	case MX_OBJECT:
		return "object";
	}
	return "unknown";
}

/* Returns the record's "status" string for status, for messages. */
static const char *status_name(enum mx_status status)
{
	switch (status) {
	case MX_STATUS_OK:
		return "ok";
	case MX_STATUS_ERROR:
		return "error";
	case MX_STATUS_SKIPPED:
		return "skipped";
	}
	return "unknown";
}

struct mx_record *extract(const struct mx_config *cfg, const char *path)
{
	struct mx_record *rec = NULL;
	int ret = mx_extract_file(cfg, path, &rec);

	cr_assert_eq(ret, 0, "mx_extract_file(%s): expected 0, got %d (%s)",
		     path, ret, strerror(-ret));
	cr_assert_not_null(rec, "mx_extract_file(%s) returned 0 but no record",
			   path);
	return rec;
}

struct mx_record *extract_fixture_config(const struct mx_config *cfg,
					 const char *name)
{
	const char *dir = getenv("MX_TEST_DATA");
	char path[4096];
	int len;

	snprintf(fixture, sizeof(fixture), "%s", name);
	support_set_context("%s", name);
	cr_assert_not_null(dir,
		"MX_TEST_DATA is not set: it must name the tests/data directory");
	len = snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert(len > 0 && (size_t)len < sizeof(path),
		  "path of fixture %s under MX_TEST_DATA is too long", name);

	return extract(cfg, path);
}

struct mx_record *extract_fixture(const char *name)
{
	struct mx_config cfg;

	mx_config_init(&cfg);
	cfg.threads = 1;
	cfg.digests = 0;
	cfg.identify = true;
	cfg.parse = true;

	return extract_fixture_config(&cfg, name);
}

const struct mx_value *get_typed(const struct mx_value *v,
				 const char *pointer, enum mx_type type)
{
	const struct mx_value *found = mx_value_get(v, pointer);

	cr_assert_not_null(found, "%s: %s is missing", context, pointer);
	cr_assert_eq(mx_value_type(found), type,
		     "%s: %s: expected type %s, got %s", context, pointer,
		     type_name(type), type_name(mx_value_type(found)));
	return found;
}

void expect_string(const struct mx_value *v, const char *pointer,
		   const char *expected)
{
	const struct mx_value *found = get_typed(v, pointer, MX_STRING);
	const char *got = mx_value_string(found, NULL);

	cr_assert_str_eq(got, expected, "%s: %s: expected \"%s\", got \"%s\"",
			 context, pointer, expected, got);
}

void expect_int(const struct mx_value *v, const char *pointer,
		int64_t expected)
{
	const struct mx_value *found = get_typed(v, pointer, MX_INT);
	int64_t got = mx_value_int(found);

	cr_assert_eq(got, expected, "%s: %s: expected %lld, got %lld", context,
		     pointer, (long long)expected, (long long)got);
}

void expect_bool(const struct mx_value *v, const char *pointer,
		 bool expected)
{
	const struct mx_value *found = get_typed(v, pointer, MX_BOOL);
	bool got = mx_value_bool(found);

	cr_assert_eq(got, expected, "%s: %s: expected %s, got %s", context,
		     pointer, expected ? "true" : "false",
		     got ? "true" : "false");
}

void expect_count(const struct mx_value *v, const char *pointer,
		  enum mx_type type, size_t expected)
{
	const struct mx_value *found = get_typed(v, pointer, type);
	size_t got = mx_value_count(found);

	cr_assert_eq(got, expected, "%s: %s: expected %zu entries, got %zu",
		     context, pointer, expected, got);
}

void expect_absent(const struct mx_value *v, const char *pointer)
{
	const struct mx_value *found = mx_value_get(v, pointer);

	cr_assert_null(found, "%s: %s: expected no value, got one of type %s",
		       context, pointer,
		       found ? type_name(mx_value_type(found)) : "");
}

void expect_status(const struct mx_record *rec, enum mx_status expected)
{
	enum mx_status got = mx_record_status(rec);

	cr_assert_eq(got, expected, "%s: record status: expected %s, got %s",
		     context, status_name(expected), status_name(got));
}
