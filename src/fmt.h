/*
 * Format backends. Each one is a const ops table in its own fmt_*.c file;
 * the engine picks the first whose probe accepts the file's first bytes.
 * Backends never include each other, and the core never includes their
 * libraries' headers.
 */
#ifndef MX_FMT_H
#define MX_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metaextract.h"
#include "arena.h"
#include "source.h"
#include "value.h"

/* Input of a parser, and the object it fills with its results. */
struct parse_ctx {
	struct source *src;
	const struct mx_config *cfg;
	struct arena *arena;		/* allocate record values here */
	struct mx_value *out;		/* object to fill, e.g. "media" */
	struct mx_value *warnings;	/* array: val_push() short strings */
	char message[256];		/* detail when parse() fails */
};

struct fmt_ops {
	const char *name;		/* record key of the results: "media" */

	/* Once per process, before any probe; returns 0 or -errno. */
	int (*init)(void);

	/*
	 * Decides from the first bytes of the file (head, head_len: all of
	 * the first chunk, or the whole file when shorter) and the libmagic
	 * MIME type (NULL when identification is off) whether parse() is
	 * worth calling.
	 */
	bool (*probe)(const unsigned char *head, size_t head_len,
		      uint64_t file_size, const char *mime);

	/*
	 * Fills ctx->out. Returns 0, or a negative errno with a sentence in
	 * ctx->message: -EBADMSG for malformed data, -ENODATA for a file cut
	 * short (ctx->out keeps what was read), -EIO for a failed read,
	 * -ENOMEM, or -EOPNOTSUPP when the file is not in a format the
	 * backend handles after all (the engine records a warning, not a
	 * failure). Must be safe to call from several threads at once.
	 */
	int (*parse)(struct parse_ctx *ctx);

	/* Writes the library and its version, e.g. "libhdf5 1.10.8". */
	void (*version)(char *buf, size_t len);
};

extern const struct fmt_ops fmt_hdf5_ops;
extern const struct fmt_ops fmt_av_ops;
extern const struct fmt_ops fmt_test_ops;

/* The backends built in, in probe order, ending with NULL. */
extern const struct fmt_ops *const fmt_backends[];

/* Runs every backend's init() once per process; returns the first error. */
int fmt_init_all(char *msg, size_t msg_len);

#endif
