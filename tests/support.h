/*
 * Helpers shared by the Criterion tests: extracting the fixtures under
 * MX_TEST_DATA and checking record values by JSON pointer.
 *
 * Every failing check names the current context (the fixture, or the part
 * of it under test), the JSON pointer, the expected and the actual value.
 * extract_fixture() and extract_fixture_config() set the context to the
 * fixture name, and support_set_context() narrows it.
 */
#ifndef MX_TESTS_SUPPORT_H
#define MX_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaextract.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Sets the context that failure messages start with, printf-style. */
void support_set_context(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Returns the current context, "" before the first fixture. */
const char *support_context(void);

/* Returns the name of the fixture extracted last, "" before the first. */
const char *support_fixture(void);

/* Returns the name of an mx_type for messages ("null", "int", ...). */
const char *type_name(enum mx_type type);

/*
 * Extracts path with cfg and asserts that mx_extract_file returned 0 and a
 * record. The caller frees the record with mx_record_free().
 */
struct mx_record *extract(const struct mx_config *cfg, const char *path);

/*
 * Extracts tests/data/NAME, found through MX_TEST_DATA, with cfg, and sets
 * the fixture and the context to name.
 */
struct mx_record *extract_fixture_config(const struct mx_config *cfg,
					 const char *name);

/*
 * Extracts tests/data/NAME with one thread, identification and parsing on
 * and digests off.
 */
struct mx_record *extract_fixture(const char *name);

/* Asserts that pointer below v exists with type type, and returns it. */
const struct mx_value *get_typed(const struct mx_value *v,
				 const char *pointer, enum mx_type type);

/* Asserts that pointer below v is the string expected. */
void expect_string(const struct mx_value *v, const char *pointer,
		   const char *expected);

/* Asserts that pointer below v is the int expected. */
void expect_int(const struct mx_value *v, const char *pointer,
		int64_t expected);

/* Asserts that pointer below v is the bool expected. */
void expect_bool(const struct mx_value *v, const char *pointer,
		 bool expected);

/* Asserts that pointer below v has type type and exactly expected entries. */
void expect_count(const struct mx_value *v, const char *pointer,
		  enum mx_type type, size_t expected);

/* Asserts that nothing exists at pointer below v. */
void expect_absent(const struct mx_value *v, const char *pointer);

/* Asserts the status of rec. */
void expect_status(const struct mx_record *rec, enum mx_status expected);

#endif
