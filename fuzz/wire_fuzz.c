/*
 * libFuzzer target for wire_decode(). Whatever decodes must encode back to
 * the same bytes, because the encoding is canonical. Its arena must stay
 * within the bound that wire.h states, and it must write as JSON.
 *
 * This file replaces src/alloc.c with libc malloc, so AddressSanitizer and
 * libFuzzer's -malloc_limit_mb see every arena block (mimalloc's own pages
 * are invisible to both). Build and run from the repository root:
 *
 *   clang-14 -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=undefined -Iinclude -Isrc \
 *     fuzz/wire_fuzz.c src/wire.c src/value.c src/arena.c src/strbuf.c \
 *     -lm -o /tmp/wire_fuzz
 *
 * Seeds are encodings of real records, written by the Criterion test in a
 * meson build directory BUILD:
 *
 *   mkdir -p /tmp/wire-seeds /tmp/wire-corpus
 *   MX_WIRE_SEED_DIR=/tmp/wire-seeds MX_TEST_DATA=tests/data \
 *     BUILD/tests/test_wire --filter 'wire/real_records_round_trip'
 *   /tmp/wire_fuzz -max_total_time=300 /tmp/wire-corpus /tmp/wire-seeds
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "strbuf.h"
#include "value.h"
#include "wire.h"

/* The record arena's limit, RECORD_MAX_BYTES in src/record.h. */
#define FUZZ_ARENA_LIMIT (64u << 20)

/*
 * The decoder requests at most 48 arena bytes per input byte. Each new
 * arena block is at least as large as all blocks before it. The tail it
 * leaves unused in the previous block is smaller than the request that
 * opened it. So the total stays below 4 times the requests plus 4096.
 */
#define FUZZ_BYTES_PER_INPUT_BYTE (4 * 48)
#define FUZZ_FIXED_BYTES 4096

void *alloc_malloc(size_t size)
{
	return malloc(size);
}

void *alloc_calloc(size_t count, size_t size)
{
	return calloc(count, size);
}

void *alloc_realloc(void *p, size_t size)
{
	return realloc(p, size);
}

void *alloc_aligned(size_t alignment, size_t size)
{
	return aligned_alloc(alignment, (size + alignment - 1) / alignment *
					 alignment);
}

char *alloc_strdup(const char *s)
{
	return strdup(s);
}

void alloc_free(void *p)
{
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks the properties of a tree that decoded from data. */
static void check_decoded(const struct mx_value *v, const struct arena *a,
			  const uint8_t *data, size_t size)
{
	struct strbuf sb;
	int ret;

	if (a->total > FUZZ_BYTES_PER_INPUT_BYTE * size + FUZZ_FIXED_BYTES)
		abort();

	strbuf_init(&sb);
	ret = wire_encode(v, &sb);
	if (ret == -ENOMEM) {
		strbuf_free(&sb);
		return;
	}
	if (ret != 0 || sb.len != size || memcmp(sb.data, data, size) != 0)
		abort();

	strbuf_reset(&sb);
	val_write_json(&sb, v);
	strbuf_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	const char *error = NULL;
	struct mx_value *v;

	arena_init(&a, FUZZ_ARENA_LIMIT);
	v = wire_decode(&a, data, size, &error);
	if (v)
		check_decoded(v, &a, data, size);
	else if (!error)
		abort();
	arena_free(&a);
	return 0;
}
