/*
 * Shared body of the libFuzzer targets of the format backends. Each input
 * goes through the steps a parser worker (src/worker.c) takes for a file,
 * and the worker's response then goes through the parent's decoding and
 * JSON output.
 *
 * This file replaces src/alloc.c with libc malloc, as wire_fuzz.c does, so
 * that AddressSanitizer and LeakSanitizer see every arena block. The
 * fuzz targets link it ahead of the library archive, so the archive's
 * alloc.o (mimalloc) is never pulled in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"
#include "parse_harness.h"
#include "record.h"
#include "strbuf.h"
#include "value.h"
#include "wire.h"

/* No extension, so libavformat's prober gains no hint from the name. */
#define INPUT_PATH "fuzz-input"

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

static void die(const char *message)
{
	fprintf(stderr, "fuzz: %s\n", message);
	abort();
}

void harness_init(void)
{
	char message[256];

	if (fmt_init_all(message, sizeof(message)) < 0)
		die(message);
}

/* Returns a memfd that contains the input, as the worker gets a file. */
static int input_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create(INPUT_PATH, MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		die("memfd_create failed");
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("writing the input to the memfd failed");
		done += (size_t)n;
	}
	return fd;
}

/* Checks the contract of parse() in fmt.h. */
static void check_result(int ret, const struct parse_ctx *ctx)
{
	if (!memchr(ctx->message, '\0', sizeof(ctx->message)))
		die("parse() left ctx->message without a NUL");
	if (ret > 0)
		die("parse() returned a positive value");
	if (ret < 0 && !ctx->message[0]) {
		fprintf(stderr, "fuzz: parse() returned %d (%s) with an empty "
			"ctx->message\n", ret, strerror(-ret));
		abort();
	}
}

/*
 * Decodes the worker's response as the parent does, encodes it again and
 * writes it as JSON. The encoding is canonical, so the second encoding
 * must equal the first.
 */
static void check_response(const struct strbuf *sent)
{
	const char *error = NULL;
	struct strbuf again;
	struct mx_value *v;
	struct arena a;
	char *json;
	size_t len;

	arena_init(&a, RECORD_MAX_BYTES);
	v = wire_decode(&a, sent->data, sent->len, &error);
	if (!v && !a.failed) {
		fprintf(stderr, "fuzz: decoding the worker's response failed: "
			"%s\n", error ? error : "no message");
		abort();
	}
	if (!v)
		goto free_arena;

	strbuf_init(&again);
	if (wire_encode(v, &again) == 0 && !again.failed &&
	    (again.len != sent->len ||
	     memcmp(again.data, sent->data, sent->len) != 0))
		die("the decoded response encodes to other bytes");
	strbuf_free(&again);

	if (mx_value_json(v, &json, &len) == 0)
		mx_free(json);
free_arena:
	arena_free(&a);
}

/*
 * Encodes the results as send_response() in src/worker.c does, and checks
 * the encoding with check_response().
 */
static void encode_response(struct parse_ctx *ctx)
{
	struct arena *a = ctx->arena;
	struct mx_value *all = val_array(a);
	struct strbuf sb;
	int ret;

	val_push(a, all, ctx->out);
	val_push(a, all, ctx->warnings);
	val_push(a, all, val_cstring(a, ctx->message));
	if (a->failed)
		return;	/* the worker sends a fixed response instead */

	strbuf_init(&sb);
	ret = wire_encode(all, &sb);
	/*
	 * -EINVAL (nesting past WIRE_MAX_DEPTH) and -EOVERFLOW would make the
	 * worker report a size limit that the record did not reach.
	 */
	if (ret == -EINVAL || ret == -EOVERFLOW) {
		fprintf(stderr, "fuzz: wire_encode() of the results failed: "
			"%s\n", strerror(-ret));
		abort();
	}
	if (ret == 0 && !sb.failed)
		check_response(&sb);
	strbuf_free(&sb);
}

void harness_parse(const struct fmt_ops *ops, const uint8_t *data,
		   size_t size)
{
	unsigned char *cache = alloc_malloc(PARSER_CACHE);
	int fd = input_fd(data, size);
	struct mx_config cfg;
	struct arena arena;
	size_t head_len;
	int ret;

	if (!cache)
		die("allocating the parser cache failed");
	mx_config_init(&cfg);

	/*
	 * The engine hands probe() the first chunk of the file. parse() runs
	 * whatever probe() decides, because the engine also parses files
	 * whose libmagic MIME type names the format (fmt_av.c accepts any
	 * video/ or audio/ type), so parse() meets bytes that probe() alone
	 * would reject.
	 */
	head_len = size < cfg.chunk_size ? size : cfg.chunk_size;
	(void)ops->probe(data, head_len, size, NULL);

	arena_init(&arena, RECORD_MAX_BYTES);
	struct source src = {
		.fd = fd,
		.size = size,
		.path = INPUT_PATH,
		.cache = cache,
	};
	struct parse_ctx ctx = {
		.src = &src,
		.cfg = &cfg,
		.arena = &arena,
		.out = val_object(&arena),
		.warnings = val_array(&arena),
	};
	ret = ops->parse(&ctx);
	close(fd);
	check_result(ret, &ctx);
	encode_response(&ctx);

	arena_free(&arena);
	alloc_free(cache);
}
