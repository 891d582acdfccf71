/* Building one file's record. */
#ifndef MX_RECORD_H
#define MX_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "metaextract.h"
#include "arena.h"
#include "value.h"

struct statx;

/* A record may not grow past this; a larger one becomes an error record. */
#define RECORD_MAX_BYTES (64u << 20)

struct mx_record {
	struct arena arena;
	struct mx_value *root;
	struct mx_value *status;	/* string member, set by record_close */
	enum mx_status state;
	const char *path;		/* copy in the arena */
};

/*
 * Set by mx_record_keep() on the thread that runs a record callback. A
 * thread-local flag rather than a field, because the new owner may free
 * the record before the callback returns.
 */
extern _Thread_local bool record_kept;

/* Pipeline stage at which a file failed. */
enum record_stage {
	STAGE_WALK,
	STAGE_OPEN,
	STAGE_STAT,
	STAGE_READ,
	STAGE_PARSE,
	STAGE_RECORD,
};

/*
 * Starts a record for path: "path", "path_b64" when the path is not valid
 * UTF-8, and "status". Returns NULL when out of memory.
 */
struct mx_record *record_new(const char *path);

/* Adds the identity fields: kind, size, allocated, mode, owner, times. */
void record_put_identity(struct mx_record *rec, const struct statx *stx);

/* Kind of a file from its mode bits: "file", "directory", "symlink", ... */
const char *record_kind_name(unsigned mode);

/*
 * Marks the record failed with an "error" object. err is a negative or
 * positive errno; the message names what failed and on which value.
 */
void record_fail(struct mx_record *rec, enum record_stage stage, int err,
		 const char *fmt, ...)
	__attribute__((format(printf, 4, 5), nonnull(1, 4)));

void record_skip(struct mx_record *rec, const char *reason);

/*
 * Sets the final status and returns rec. When the arena ran out (a record
 * over RECORD_MAX_BYTES, or no memory), it frees rec and returns a short
 * error record in its place.
 */
struct mx_record *record_close(struct mx_record *rec);

#endif
