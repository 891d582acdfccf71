/*
 * The SQLite index.
 *
 * Durability: WAL mode with synchronous=NORMAL. A transaction is atomic
 * whatever happens, and once committed it survives a crash of the
 * process. A power loss may roll back the last transactions but never
 * tears one. Resume relies only on what is committed: the walker asks
 * the index, through a connection of its own, whether a file's row is
 * current, and leaves the file unread only when it is. So a rerun reads
 * again exactly the files whose rows were lost.
 *
 * One row per path: the files table has a unique index on the path
 * bytes, and every write is an upsert that replaces the row's children.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "index.h"
#include "shard.h"
#include "stop.h"
#include "text.h"

/* PRAGMA application_id of an index: "mxix". */
#define INDEX_APPLICATION_ID 0x6d786978

/* Records and touches waiting for the writer. */
#define QUEUE_SLOTS 4096

/* Items written per transaction at most. */
#define BATCH_ITEMS 2048

/* Maximum wait for a full batch before committing what is queued. */
#define COMMIT_DELAY_NS 100000000

/*
 * Lookups per read transaction of the walker's connection. One snapshot
 * for many lookups saves the WAL locks of each, and keeps the page cache,
 * which a new snapshot drops when the writer has committed meanwhile. It
 * is renewed so that the WAL can still be checkpointed.
 */
#define LOOKUPS_PER_SNAPSHOT 4096

static const char schema_sql[] =
"CREATE TABLE runs ("
"  id INTEGER PRIMARY KEY,"
"  uuid TEXT NOT NULL UNIQUE,"
"  status TEXT NOT NULL,"
"  started_at TEXT NOT NULL,"
"  ended_at TEXT,"
"  host TEXT, cwd TEXT, argv TEXT, options TEXT,"
"  version TEXT, libraries TEXT,"
"  files INTEGER, files_ok INTEGER, files_failed INTEGER,"
"  files_skipped INTEGER, files_unchanged INTEGER, files_missing INTEGER,"
"  bytes_read INTEGER, seconds REAL);"
"CREATE TABLE files ("
"  id INTEGER PRIMARY KEY,"
"  path TEXT NOT NULL,"
"  path_raw BLOB,"
"  status TEXT NOT NULL,"
"  kind TEXT, size INTEGER, allocated INTEGER,"
"  mtime_ns INTEGER, mtime TEXT, ctime TEXT,"
"  inode INTEGER, dev INTEGER, mode TEXT, uid INTEGER, gid INTEGER,"
"  nlink INTEGER,"
"  mime TEXT, description TEXT,"
"  xxh3 TEXT, xxh128 TEXT, xxh64 TEXT, md5 TEXT, sha1 TEXT,"
"  sha256 TEXT, sha512 TEXT,"
"  format TEXT, duration REAL, bit_rate INTEGER,"
"  error_stage TEXT, error_errno TEXT, error_message TEXT, skipped TEXT,"
"  read_bytes INTEGER, read_seconds REAL, attempts INTEGER,"
"  extract_mask INTEGER NOT NULL,"
"  run_id INTEGER NOT NULL REFERENCES runs(id),"
"  seen_run INTEGER NOT NULL,"
"  missing INTEGER NOT NULL DEFAULT 0,"
"  indexed_at REAL NOT NULL);"
"CREATE UNIQUE INDEX files_path ON files(coalesce(path_raw, path));"
"CREATE TABLE streams ("
"  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
"  stream_index INTEGER, codec_type TEXT, codec_name TEXT, profile TEXT,"
"  width INTEGER, height INTEGER, pix_fmt TEXT, avg_frame_rate TEXT,"
"  sample_rate INTEGER, channels INTEGER, channel_layout TEXT,"
"  duration REAL, bit_rate INTEGER, nb_frames INTEGER, language TEXT);"
"CREATE INDEX streams_file ON streams(file_id);"
"CREATE TABLE hdf5_objects ("
"  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
"  path TEXT, kind TEXT, class TEXT, dtype TEXT, shape TEXT,"
"  max_shape TEXT, layout TEXT, chunk_shape TEXT, filters TEXT,"
"  storage_size INTEGER, target TEXT, target_file TEXT);"
"CREATE INDEX hdf5_objects_file ON hdf5_objects(file_id);"
"CREATE VIEW datasets AS SELECT * FROM hdf5_objects WHERE kind = 'dataset';"
"CREATE TABLE tags ("
"  file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
"  scope TEXT NOT NULL, stream_index INTEGER, object_path TEXT,"
"  name TEXT NOT NULL, value TEXT);"
"CREATE INDEX tags_file ON tags(file_id);"
"CREATE TABLE records ("
"  file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,"
"  json TEXT NOT NULL);";

/* Columns of files written from a record, in bind order. */
static const char *const file_columns[] = {
	"path", "path_raw", "status", "kind", "size", "allocated", "mtime_ns",
	"mtime", "ctime", "inode", "dev", "mode", "uid", "gid", "nlink",
	"mime", "description", "xxh3", "xxh128", "xxh64", "md5", "sha1",
	"sha256", "sha512", "format", "duration", "bit_rate", "error_stage",
	"error_errno", "error_message", "skipped", "read_bytes",
	"read_seconds", "attempts", "extract_mask", "run_id", "seen_run",
	"missing", "indexed_at", NULL,
};

enum file_column {
	COL_PATH = 1, COL_PATH_RAW, COL_STATUS, COL_KIND, COL_SIZE,
	COL_ALLOCATED, COL_MTIME_NS, COL_MTIME, COL_CTIME, COL_INODE, COL_DEV,
	COL_MODE, COL_UID, COL_GID, COL_NLINK, COL_MIME, COL_DESCRIPTION,
	COL_XXH3, COL_XXH128, COL_XXH64, COL_MD5, COL_SHA1, COL_SHA256,
	COL_SHA512, COL_FORMAT, COL_DURATION, COL_BIT_RATE, COL_ERROR_STAGE,
	COL_ERROR_ERRNO, COL_ERROR_MESSAGE, COL_SKIPPED, COL_READ_BYTES,
	COL_READ_SECONDS, COL_ATTEMPTS, COL_EXTRACT_MASK, COL_RUN_ID,
	COL_SEEN_RUN, COL_MISSING, COL_INDEXED_AT,
};

/* Stream fields copied from the record, named as in the record. */
static const char *const stream_columns[] = {
	"stream_index", "codec_type", "codec_name", "profile", "width",
	"height", "pix_fmt", "avg_frame_rate", "sample_rate", "channels",
	"channel_layout", "duration", "bit_rate", "nb_frames", "language",
	NULL,
};

static const char *const object_columns[] = {
	"path", "kind", "class", "dtype", "shape", "max_shape", "layout",
	"chunk_shape", "filters", "storage_size", "target", "target_file",
	NULL,
};

static const char *const tag_columns[] = {
	"scope", "stream_index", "object_path", "name", "value", NULL,
};

static const char *const record_columns[] = { "json", NULL };

struct item {
	struct mx_record *rec;		/* NULL: touch file_id */
	int64_t file_id;
};

struct index {
	struct index_options opt;
	sqlite3 *db;			/* the writer's connection */
	sqlite3 *reader;		/* the walker's, for index_filter */
	sqlite3_stmt *lookup;
	unsigned lookups;		/* in the current read transaction */
	bool had_files;			/* rows of files before this run */
	struct {
		uint64_t dev, inode;
	} own[3];			/* the index and its WAL files */
	int lock_fd;
	int64_t run_id;
	struct mx_batch *batch;

	/* Statements of the writer. */
	sqlite3_stmt *upsert;
	sqlite3_stmt *touch;
	sqlite3_stmt *found_again;
	sqlite3_stmt *del_streams, *del_objects, *del_tags;
	sqlite3_stmt *ins_stream, *ins_object, *ins_tag;
	sqlite3_stmt *put_record;
	sqlite3_stmt *keep;

	pthread_t writer;
	bool writer_started;
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct item *items;
	size_t head, count;
	bool closed;

	/* Written by the writer only, read after the join. */
	int error;			/* positive errno of the first failure */
	char message[256];
	uint64_t rows_written;
	uint64_t rows_touched;
	uint64_t rows_missing;
	_Atomic uint64_t unchanged_failed;	/* by the walker's filter */

	/* Directories that failed in other shards' walks; see below. */
	char **shard_walk_errors;
	size_t shard_walk_error_count;
};

static void utc_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned index_extract_mask(const struct mx_config *cfg)
{
	unsigned mask = cfg->content ? cfg->digests & MX_DIGEST_ALL : 0;

	if (cfg->identify)
		mask |= INDEX_EXTRACT_TYPE;
	if (cfg->parse)
		mask |= INDEX_EXTRACT_PARSE;
	if (cfg->content)
		mask |= INDEX_EXTRACT_CONTENT;
	return mask;
}

/* Notes the first failure of the writer and stops the batch. */
static void fail(struct index *ix, sqlite3 *db, const char *what)
{
	if (ix->error)
		return;
	ix->error = sqlite3_errcode(db) == SQLITE_FULL ? ENOSPC : EIO;
	snprintf(ix->message, sizeof(ix->message), "%s: %s", what,
		 sqlite3_errmsg(db));
	if (ix->batch)
		mx_batch_cancel(ix->batch);
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Builds "INSERT ... ON CONFLICT ... DO UPDATE SET c = excluded.c, ...". */
static char *upsert_sql(const char *source, const char *update_where)
{
	char *sql = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);
	size_t i;

	if (!f)
		return NULL;
	fputs("INSERT INTO files (", f);
	for (i = 0; file_columns[i]; i++)
		fprintf(f, "%s%s", i ? ", " : "", file_columns[i]);
	fprintf(f, ") %s ON CONFLICT (coalesce(path_raw, path)) DO UPDATE "
		"SET ", source);
	for (i = 0; file_columns[i]; i++)
		fprintf(f, "%s%s = excluded.%s", i ? ", " : "",
			file_columns[i], file_columns[i]);
	fputs(update_where, f);
	return text_memstream_finish(f, &sql);
}

/* "INSERT INTO table (file_id, c1, ...) VALUES (?, ?, ...)". */
static char *child_insert_sql(const char *table, const char *const *cols)
{
	char *sql = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	fprintf(f, "INSERT INTO %s (file_id", table);
	for (i = 0; cols[i]; i++)
		fprintf(f, ", %s", cols[i]);
	fputs(") VALUES (?", f);
	for (i = 0; cols[i]; i++)
		fputs(", ?", f);
	fputc(')', f);
	return text_memstream_finish(f, &sql);
}

static int prepare_owned(sqlite3 *db, char *sql, sqlite3_stmt **stmt)
{
	int rc;

	if (!sql)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt,
				NULL);
	free(sql);
	return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt,
				  NULL);
}

static int prepare_writer(struct index *ix)
{
	sqlite3 *db = ix->db;
	char *values = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&values, &len);
	int rc;

	if (!f)
		return SQLITE_NOMEM;
	fputs("VALUES (", f);
	for (i = 0; file_columns[i]; i++)
		fprintf(f, "%s?", i ? ", " : "");
	fputc(')', f);
	if (!text_memstream_finish(f, &values))
		return SQLITE_NOMEM;
	rc = prepare_owned(db, upsert_sql(values, " RETURNING id"),
			   &ix->upsert);
	free(values);
	/*
	 * Unchanged files are noted in a temporary table rather than in
	 * their rows: updating every row would rewrite the whole table on
	 * each run. Only a row that was flagged missing changes.
	 */
	if (rc == SQLITE_OK)
		rc = exec(db, "CREATE TEMP TABLE IF NOT EXISTS seen "
			  "(id INTEGER PRIMARY KEY)");
	if (rc == SQLITE_OK)
		rc = prepare(db, "INSERT OR IGNORE INTO temp.seen (id) "
			     "VALUES (?)", &ix->touch);
	if (rc == SQLITE_OK)
		rc = prepare(db, "UPDATE files SET seen_run = ?, missing = 0, "
			     "indexed_at = ? WHERE id = ? AND missing = 1",
			     &ix->found_again);
	if (rc == SQLITE_OK)
		rc = prepare(db, "DELETE FROM streams WHERE file_id = ?",
			     &ix->del_streams);
	if (rc == SQLITE_OK)
		rc = prepare(db, "DELETE FROM hdf5_objects WHERE file_id = ?",
			     &ix->del_objects);
	if (rc == SQLITE_OK)
		rc = prepare(db, "DELETE FROM tags WHERE file_id = ?",
			     &ix->del_tags);
	if (rc == SQLITE_OK)
		rc = prepare_owned(db, child_insert_sql("streams",
							stream_columns),
				   &ix->ins_stream);
	if (rc == SQLITE_OK)
		rc = prepare_owned(db, child_insert_sql("hdf5_objects",
							object_columns),
				   &ix->ins_object);
	if (rc == SQLITE_OK)
		rc = prepare_owned(db, child_insert_sql("tags", tag_columns),
				   &ix->ins_tag);
	if (rc == SQLITE_OK)
		rc = prepare(db, "INSERT OR REPLACE INTO records (file_id, json) "
			     "VALUES (?, ?)", &ix->put_record);
	if (rc == SQLITE_OK)
		rc = prepare(db, "UPDATE files SET seen_run = ?1, missing = 0 "
			     "WHERE coalesce(path_raw, path) = ?2", &ix->keep);
	return rc;
}

/* Binds a string as UTF-8 text, repairing invalid bytes as records do. */
static int bind_utf8(sqlite3_stmt *st, int i, const char *s, size_t len)
{
	char *fixed = NULL;
	size_t fixed_len = 0;
	FILE *f;

	if (text_utf8_valid(s, len))
		return sqlite3_bind_text(st, i, s, (int)len, SQLITE_TRANSIENT);
	f = open_memstream(&fixed, &fixed_len);
	if (!f)
		return SQLITE_NOMEM;
	text_put_utf8(f, s, len);
	if (!text_memstream_finish(f, &fixed))
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, i, fixed, (int)fixed_len, free);
}

/*
 * Binds v by its type: strings as text, numbers as numbers, booleans as
 * 0 or 1, arrays and objects as JSON text, a missing value as NULL.
 */
static int bind_value(sqlite3_stmt *st, int i, const struct mx_value *v)
{
	const char *s;
	char *json;
	size_t len;

	switch (v ? mx_value_type(v) : MX_NULL) {
	case MX_BOOL:
		return sqlite3_bind_int(st, i, mx_value_bool(v));
	case MX_INT:
		return sqlite3_bind_int64(st, i, mx_value_int(v));
	case MX_DOUBLE:
		return sqlite3_bind_double(st, i, mx_value_double(v));
	case MX_STRING:
		s = mx_value_string(v, &len);
		return bind_utf8(st, i, s, len);
	case MX_ARRAY:
	case MX_OBJECT:
		if (mx_value_json(v, &json, &len) < 0)
			return SQLITE_NOMEM;
		return sqlite3_bind_text(st, i, json, (int)len, mx_free);
	default:
		return sqlite3_bind_null(st, i);
	}
}

static int bind_at(sqlite3_stmt *st, int i, const struct mx_value *root,
		   const char *pointer)
{
	return bind_value(st, i, mx_value_get(root, pointer));
}

/* Nanoseconds since the epoch of an RFC 3339 UTC time, or -1. */
static int64_t parse_time_ns(const char *s)
{
	struct tm tm = { 0 };
	unsigned long nsec = 0;
	const char *frac;
	int64_t secs, ns;
	int n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
			 &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &n) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	frac = s + n;
	if (*frac == '.') {
		unsigned digits = 0;

		for (frac++; *frac >= '0' && *frac <= '9'; frac++, digits++)
			if (digits < 9)
				nsec = nsec * 10 + (unsigned long)(*frac - '0');
		for (; digits < 9; digits++)
			nsec *= 10;
	}
	/* Saturates as the walker does (mx_file_id), past the year 2262. */
	secs = (int64_t)timegm(&tm);
	if (__builtin_mul_overflow(secs, 1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)nsec, &ns))
		ns = secs < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

static int bind_path(sqlite3_stmt *st, int text_col, int raw_col,
		     const char *path, size_t len)
{
	int rc = bind_utf8(st, text_col, path, len);

	if (rc != SQLITE_OK)
		return rc;
	if (text_utf8_valid(path, len))
		return sqlite3_bind_null(st, raw_col);
	return sqlite3_bind_blob(st, raw_col, path, (int)len,
				 SQLITE_TRANSIENT);
}

static int bind_file_row(struct index *ix, const struct mx_record *rec)
{
	static const char *const digests[] = {
		"/digests/xxh3", "/digests/xxh128", "/digests/xxh64",
		"/digests/md5", "/digests/sha1", "/digests/sha256",
		"/digests/sha512",
	};
	sqlite3_stmt *st = ix->upsert;
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *read = mx_value_get(root, "/read");
	const char *path;
	size_t len, i;
	int rc = SQLITE_OK;

	path = mx_value_string(mx_value_get(root, "/path"), &len);
	if (!path)
		return SQLITE_MISUSE;
	rc |= bind_path(st, COL_PATH, COL_PATH_RAW, path, len);
	rc |= bind_at(st, COL_STATUS, root, "/status");
	rc |= bind_at(st, COL_KIND, root, "/kind");
	rc |= bind_at(st, COL_SIZE, root, "/size");
	rc |= bind_at(st, COL_ALLOCATED, root, "/allocated");
	if (mx_value_get(root, "/mtime"))
		rc |= sqlite3_bind_int64(st, COL_MTIME_NS, parse_time_ns(
			mx_value_string(mx_value_get(root, "/mtime"), NULL)));
	else
		rc |= sqlite3_bind_null(st, COL_MTIME_NS);
	rc |= bind_at(st, COL_MTIME, root, "/mtime");
	rc |= bind_at(st, COL_CTIME, root, "/ctime");
	rc |= bind_at(st, COL_INODE, root, "/inode");
	rc |= bind_at(st, COL_DEV, root, "/dev");
	rc |= bind_at(st, COL_MODE, root, "/mode");
	rc |= bind_at(st, COL_UID, root, "/uid");
	rc |= bind_at(st, COL_GID, root, "/gid");
	rc |= bind_at(st, COL_NLINK, root, "/nlink");
	rc |= bind_at(st, COL_MIME, root, "/type/mime");
	rc |= bind_at(st, COL_DESCRIPTION, root, "/type/description");
	for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
		rc |= bind_at(st, COL_XXH3 + (int)i, root, digests[i]);
	if (mx_value_get(root, "/hdf5"))
		rc |= sqlite3_bind_text(st, COL_FORMAT, "hdf5", -1,
					SQLITE_STATIC);
	else
		rc |= bind_at(st, COL_FORMAT, root, "/media/format_name");
	rc |= bind_at(st, COL_DURATION, root, "/media/duration");
	rc |= bind_at(st, COL_BIT_RATE, root, "/media/bit_rate");
	rc |= bind_at(st, COL_ERROR_STAGE, root, "/error/stage");
	rc |= bind_at(st, COL_ERROR_ERRNO, root, "/error/errno");
	rc |= bind_at(st, COL_ERROR_MESSAGE, root, "/error/message");
	rc |= bind_at(st, COL_SKIPPED, root, "/skipped");
	if (read)
		rc |= sqlite3_bind_int64(st, COL_READ_BYTES,
			mx_value_int(mx_value_get(read, "/content_bytes")) +
			mx_value_int(mx_value_get(read, "/parser_bytes")));
	else
		rc |= sqlite3_bind_null(st, COL_READ_BYTES);
	rc |= bind_at(st, COL_READ_SECONDS, root, "/read/seconds");
	rc |= bind_at(st, COL_ATTEMPTS, root, "/read/attempts");
	rc |= sqlite3_bind_int64(st, COL_EXTRACT_MASK, ix->opt.extract_mask);
	rc |= sqlite3_bind_int64(st, COL_RUN_ID, ix->run_id);
	rc |= sqlite3_bind_int64(st, COL_SEEN_RUN, ix->run_id);
	rc |= sqlite3_bind_int(st, COL_MISSING, 0);
	rc |= sqlite3_bind_double(st, COL_INDEXED_AT, unix_now());
	return rc ? SQLITE_ERROR : SQLITE_OK;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int insert_tags(struct index *ix, int64_t file_id, const char *scope,
		       const struct mx_value *stream_index,
		       const struct mx_value *object_path,
		       const struct mx_value *tags, bool name_member)
{
	sqlite3_stmt *st = ix->ins_tag;
	size_t i, n = mx_value_count(tags);
	int rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		const char *key = NULL;
		const struct mx_value *v = mx_value_item(tags, i, &key);

		/* HDF5 attributes are objects with name and value members. */
		if (name_member) {
			key = mx_value_string(mx_value_get(v, "/name"), NULL);
			v = mx_value_get(v, "/value");
		}
		if (!key)
			continue;
		sqlite3_bind_int64(st, 1, file_id);
		sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
		bind_value(st, 3, stream_index);
		bind_value(st, 4, object_path);
		bind_utf8(st, 5, key, strlen(key));
		rc = bind_value(st, 6, v);
		if (rc == SQLITE_OK)
			rc = step_done(ix->ins_tag);
	}
	return rc;
}

static int insert_streams(struct index *ix, int64_t file_id,
			  const struct mx_value *media)
{
	const struct mx_value *streams = mx_value_get(media, "/streams");
	size_t i, j, n = mx_value_count(streams);
	int rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct mx_value *s = mx_value_item(streams, i, NULL);
		sqlite3_stmt *st = ix->ins_stream;

		sqlite3_bind_int64(st, 1, file_id);
		bind_value(st, 2, mx_value_get(s, "/index"));
		for (j = 1; stream_columns[j]; j++) {
			char pointer[64];

			snprintf(pointer, sizeof(pointer), "/%s",
				 stream_columns[j]);
			bind_value(st, (int)j + 2, mx_value_get(s, pointer));
		}
		rc = step_done(st);
		if (rc == SQLITE_OK)
			rc = insert_tags(ix, file_id, "stream",
					 mx_value_get(s, "/index"), NULL,
					 mx_value_get(s, "/tags"), false);
	}
	if (rc == SQLITE_OK)
		rc = insert_tags(ix, file_id, "format", NULL, NULL,
				 mx_value_get(media, "/tags"), false);
	return rc;
}

/* Binds the filter names of an HDF5 dataset as a JSON array. */
static int bind_filter_names(sqlite3_stmt *st, int i,
			     const struct mx_value *filters)
{
	char *json = NULL;
	size_t len = 0, k, n = mx_value_count(filters);
	FILE *f;

	if (!filters)
		return sqlite3_bind_null(st, i);
	f = open_memstream(&json, &len);
	if (!f)
		return SQLITE_NOMEM;
	fputc('[', f);
	for (k = 0; k < n; k++) {
		const char *name = mx_value_string(
			mx_value_get(mx_value_item(filters, k, NULL), "/name"),
			NULL);

		fputs(k ? "," : "", f);
		if (name)
			text_put_json_string(f, name);
		else
			fputs("null", f);
	}
	fputc(']', f);
	if (!text_memstream_finish(f, &json))
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, i, json, (int)len, free);
}

static int insert_objects(struct index *ix, int64_t file_id,
			  const struct mx_value *hdf5)
{
	const struct mx_value *objects = mx_value_get(hdf5, "/objects");
	size_t i, n = mx_value_count(objects);
	int rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		const struct mx_value *o = mx_value_item(objects, i, NULL);
		sqlite3_stmt *st = ix->ins_object;

		sqlite3_bind_int64(st, 1, file_id);
		bind_at(st, 2, o, "/path");
		bind_at(st, 3, o, "/kind");
		bind_at(st, 4, o, "/type/class");
		bind_at(st, 5, o, "/type/dtype");
		bind_at(st, 6, o, "/shape");
		bind_at(st, 7, o, "/max_shape");
		bind_at(st, 8, o, "/layout");
		bind_at(st, 9, o, "/chunk_shape");
		bind_filter_names(st, 10, mx_value_get(o, "/filters"));
		bind_at(st, 11, o, "/storage_size");
		bind_at(st, 12, o, "/target");
		bind_at(st, 13, o, "/file");
		rc = step_done(st);
		if (rc == SQLITE_OK)
			rc = insert_tags(ix, file_id, "attribute", NULL,
					 mx_value_get(o, "/path"),
					 mx_value_get(o, "/attributes"), true);
	}
	return rc;
}

static int delete_children(struct index *ix, int64_t file_id)
{
	sqlite3_stmt *const stmts[] = { ix->del_streams, ix->del_objects,
					ix->del_tags };
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < 3 && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(stmts[i], 1, file_id);
		rc = step_done(stmts[i]);
	}
	return rc;
}

/*
 * Stores the whole record as JSON, in a table of its own so that the
 * rows of files stay small for scans and lookups.
 */
static int put_record(struct index *ix, int64_t file_id,
		      const struct mx_record *rec)
{
	char *json;
	size_t len;

	if (mx_record_json(rec, &json, &len) < 0)
		return SQLITE_NOMEM;
	sqlite3_bind_int64(ix->put_record, 1, file_id);
	sqlite3_bind_text(ix->put_record, 2, json, (int)len, mx_free);
	return step_done(ix->put_record);
}

/*
 * Keeps the row of a file whose read a stop cut short, when it has one:
 * the old row is still the best one known, and the next run reads the
 * file again if the row is not current. Returns true when a row was
 * kept, so the cancelled record is not written.
 */
static bool keep_row_of_cancelled(struct index *ix, const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	const char *err = mx_value_string(mx_value_get(root, "/error/errno"),
					  NULL);
	const char *path;
	size_t len;
	int rc;

	if (!err || strcmp(err, "ECANCELED") != 0)
		return false;
	path = mx_value_string(mx_value_get(root, "/path"), &len);
	if (!path)
		return false;
	if (text_utf8_valid(path, len))
		sqlite3_bind_text(ix->keep, 2, path, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_blob(ix->keep, 2, path, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(ix->keep, 1, ix->run_id);
	rc = step_done(ix->keep);
	return rc == SQLITE_OK && sqlite3_changes(ix->db) > 0;
}

static int write_record(struct index *ix, const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	int64_t file_id;
	int rc;

	if (keep_row_of_cancelled(ix, rec))
		return SQLITE_OK;
	rc = bind_file_row(ix, rec);
	if (rc != SQLITE_OK) {
		sqlite3_reset(ix->upsert);
		sqlite3_clear_bindings(ix->upsert);
		return rc;
	}
	rc = sqlite3_step(ix->upsert);
	file_id = rc == SQLITE_ROW ? sqlite3_column_int64(ix->upsert, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(ix->upsert);
	sqlite3_reset(ix->upsert);
	sqlite3_clear_bindings(ix->upsert);
	if (rc != SQLITE_DONE)
		return rc;
	rc = delete_children(ix, file_id);
	if (rc == SQLITE_OK)
		rc = put_record(ix, file_id, rec);
	if (rc == SQLITE_OK && mx_value_get(root, "/media"))
		rc = insert_streams(ix, file_id, mx_value_get(root, "/media"));
	if (rc == SQLITE_OK && mx_value_get(root, "/hdf5"))
		rc = insert_objects(ix, file_id, mx_value_get(root, "/hdf5"));
	if (rc == SQLITE_OK)
		ix->rows_written++;
	return rc;
}

static int write_item(struct index *ix, struct item *it)
{
	int rc;

	if (it->rec)
		return write_record(ix, it->rec);
	sqlite3_bind_int64(ix->touch, 1, it->file_id);
	rc = step_done(ix->touch);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(ix->found_again, 1, ix->run_id);
		sqlite3_bind_double(ix->found_again, 2, unix_now());
		sqlite3_bind_int64(ix->found_again, 3, it->file_id);
		rc = step_done(ix->found_again);
	}
	if (rc == SQLITE_OK)
		ix->rows_touched++;
	return rc;
}

static void push(struct index *ix, struct item it)
{
	pthread_mutex_lock(&ix->lock);
	while (ix->count == QUEUE_SLOTS && !ix->closed)
		pthread_cond_wait(&ix->not_full, &ix->lock);
	if (ix->closed) {
		pthread_mutex_unlock(&ix->lock);
		mx_record_free(it.rec);
		return;
	}
	ix->items[(ix->head + ix->count) % QUEUE_SLOTS] = it;
	ix->count++;
	/* The writer waits for the first item, then for a full batch. */
	if (ix->count == 1 || ix->count == BATCH_ITEMS)
		pthread_cond_signal(&ix->not_empty);
	pthread_mutex_unlock(&ix->lock);
}

/*
 * Takes up to max items once max are queued or COMMIT_DELAY_NS has passed
 * since the first one, so a trickle of items still commits in batches.
 * Returns 0 once the queue is closed and drained.
 */
static size_t take(struct index *ix, struct item *out, size_t max)
{
	struct timespec deadline;
	size_t n = 0;

	pthread_mutex_lock(&ix->lock);
	while (ix->count == 0 && !ix->closed)
		pthread_cond_wait(&ix->not_empty, &ix->lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += COMMIT_DELAY_NS;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (ix->count < max && !ix->closed &&
	       pthread_cond_timedwait(&ix->not_empty, &ix->lock,
				      &deadline) == 0)
		;
	while (ix->count && n < max) {
		out[n++] = ix->items[ix->head];
		ix->head = (ix->head + 1) % QUEUE_SLOTS;
		ix->count--;
	}
	pthread_cond_broadcast(&ix->not_full);
	pthread_mutex_unlock(&ix->lock);
	return n;
}

/*
 * The writer thread: one transaction per batch, so a busy run commits
 * every BATCH_ITEMS items and a slow one every COMMIT_DELAY_NS.
 */
static void *writer_main(void *arg)
{
	struct index *ix = arg;
	struct item *batch = malloc(BATCH_ITEMS * sizeof(*batch));
	size_t n, i;

	if (!batch) {
		ix->error = ENOMEM;
		snprintf(ix->message, sizeof(ix->message), "out of memory");
		if (ix->batch)
			mx_batch_cancel(ix->batch);
	}
	while (batch && (n = take(ix, batch, BATCH_ITEMS)) > 0) {
		bool ok = !ix->error;

		if (ok && exec(ix->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
			fail(ix, ix->db, "cannot start a transaction");
			ok = false;
		}
		for (i = 0; i < n; i++) {
			if (ok && write_item(ix, &batch[i]) != SQLITE_OK) {
				fail(ix, ix->db, "cannot write a row");
				exec(ix->db, "ROLLBACK");
				ok = false;
			}
			mx_record_free(batch[i].rec);
		}
		if (ok && exec(ix->db, "COMMIT") != SQLITE_OK) {
			fail(ix, ix->db, "cannot commit");
			exec(ix->db, "ROLLBACK");
		}
	}
	free(batch);
	return NULL;
}

void index_record(const struct mx_record *rec, void *arg)
{
	struct index *ix = arg;
	struct item it = { .rec = mx_record_keep(rec) };

	push(ix, it);
}

/*
 * True when a failed row is worth another read of the unchanged file.
 * Failures to walk, open, stat or read may pass (permissions, I/O errors),
 * and so may a stop, a timeout or a lack of memory at any stage. A parser
 * that rejected the file would meet the same bytes again.
 */
static bool retryable(const char *stage, const char *err)
{
	static const char *const passing[] = {
		"ECANCELED", "EINTR", "EAGAIN", "EIO", "ENOMEM", "ETIMEDOUT",
	};
	size_t i;

	if (!stage || strcmp(stage, "parse") != 0 || !err)
		return true;
	for (i = 0; i < sizeof(passing) / sizeof(passing[0]); i++)
		if (strcmp(err, passing[i]) == 0)
			return true;
	return false;
}

bool index_filter(const struct mx_file_id *id, void *arg)
{
	struct index *ix = arg;
	sqlite3_stmt *st = ix->lookup;
	size_t len = strlen(id->path);
	bool current = false, failed = false;
	int64_t file_id = 0;
	int rc;

	for (size_t i = 0; i < 3; i++)
		if (ix->own[i].inode == id->inode && ix->own[i].dev == id->dev)
			return false;
	if (ix->opt.rescan || ix->error || !ix->had_files)
		return true;
	/* Rows this run writes are never looked up, so an older snapshot
	   serves as well as the newest. */
	if (ix->lookups++ % LOOKUPS_PER_SNAPSHOT == 0) {
		exec(ix->reader, "COMMIT");
		exec(ix->reader, "BEGIN");
	}
	if (text_utf8_valid(id->path, len))
		rc = sqlite3_bind_text(st, 1, id->path, (int)len,
				       SQLITE_STATIC);
	else
		rc = sqlite3_bind_blob(st, 1, id->path, (int)len,
				       SQLITE_STATIC);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 5);
		const char *stage = (const char *)sqlite3_column_text(st, 6);
		const char *err = (const char *)sqlite3_column_text(st, 7);
		unsigned mask = (unsigned)sqlite3_column_int64(st, 4);

		file_id = sqlite3_column_int64(st, 0);
		/* A parser's failure matters only to runs that parse. */
		failed = status && strcmp(status, "ok") != 0 &&
			 !(stage && strcmp(stage, "parse") == 0 &&
			   !(ix->opt.extract_mask & INDEX_EXTRACT_PARSE));
		current = (uint64_t)sqlite3_column_int64(st, 1) == id->size &&
			  sqlite3_column_int64(st, 2) == id->mtime_ns &&
			  (uint64_t)sqlite3_column_int64(st, 3) == id->inode &&
			  (mask & ix->opt.extract_mask) ==
				  ix->opt.extract_mask &&
			  status && (strcmp(status, "ok") == 0 ||
				     (strcmp(status, "error") == 0 &&
				      !ix->opt.retry_failed &&
				      !retryable(stage, err)));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!current)
		return true;
	if (failed)
		ix->unchanged_failed++;
	/* A row of the lookup index stays there; this index has none. */
	if (!ix->opt.lookup_path)
		push(ix, (struct item){ .file_id = file_id });
	return false;
}

/*
 * Locks the index file against a second run. SQLite locks only for the
 * length of a transaction, and two runs writing one index would mix
 * their rows and runs.
 */
static int lock_index(struct index *ix)
{
	ix->lock_fd = open(ix->opt.path, O_RDONLY | O_CLOEXEC);
	if (ix->lock_fd < 0)
		return -errno;
	if (flock(ix->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		fprintf(stderr, "metaextract: index '%s' is in use by another "
			"metaextract run; wait for it to end\n",
			ix->opt.path);
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	return 0;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Checks that db is an index of this schema version, or, with create,
 * makes the tables of an empty database. Prints its errors.
 */
static int check_schema(sqlite3 *db, const char *file, bool create)
{
	int64_t app = pragma_int(db, "PRAGMA application_id");
	int64_t version = pragma_int(db, "PRAGMA user_version");
	int64_t tables = pragma_int(db, "SELECT count(*) FROM sqlite_schema");

	if (app < 0 || version < 0 || tables < 0) {
		fprintf(stderr, "metaextract: cannot read '%s' as an SQLite "
			"database: %s\n", file, sqlite3_errmsg(db));
		return -EINVAL;
	}
	if (app == INDEX_APPLICATION_ID && version == INDEX_SCHEMA_VERSION)
		return 0;
	if (app == INDEX_APPLICATION_ID && version > INDEX_SCHEMA_VERSION) {
		fprintf(stderr, "metaextract: index '%s' has schema version "
			"%" PRId64 ", newer than this metaextract's %d; use a "
			"newer metaextract\n", file, version,
			INDEX_SCHEMA_VERSION);
		return -EINVAL;
	}
	if (app != 0 || tables != 0 || !create) {
		fprintf(stderr, "metaextract: '%s' is not a metaextract index; "
			"give a new file name\n", file);
		return -EINVAL;
	}
	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK ||
	    exec(db, schema_sql) != SQLITE_OK ||
	    exec(db, "PRAGMA application_id = 1836607864; "
		 "PRAGMA user_version = 1") != SQLITE_OK ||
	    exec(db, "COMMIT") != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot create the tables of "
			"'%s': %s\n", file, sqlite3_errmsg(db));
		exec(db, "ROLLBACK");
		return -EIO;
	}
	return 0;
}

/* Opens path for writing, creating it when missing. Prints its errors. */
static int open_db(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot open index '%s': %s\n",
			path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	*out = db;
	return 0;
}

/*
 * Switches a checked index to WAL mode for the run, so the walker's
 * lookups read while the writer commits. Prints its errors.
 */
static int use_wal(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	bool wal = false;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			wal = strcmp((const char *)sqlite3_column_text(st, 0),
				     "wal") == 0;
		sqlite3_finalize(st);
	}
	if (!wal) {
		fprintf(stderr, "metaextract: cannot switch index '%s' to WAL "
			"mode: %s; the index needs a local file system and "
			"write access to its directory\n", path,
			sqlite3_errmsg(db));
		return -EINVAL;
	}
	exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
	return 0;
}

static char *hex_uuid(void)
{
	unsigned char raw[16];
	char *s = malloc(33);
	size_t i;

	if (!s)
		return NULL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf((char *)raw, sizeof(raw), "%lx%x", (long)ts.tv_nsec,
			 (unsigned)getpid());
	}
	for (i = 0; i < 16; i++)
		sprintf(s + 2 * i, "%02x", raw[i]);
	return s;
}

static int start_run(struct index *ix)
{
	char started[32], host[256] = "", cwd[4096] = "";
	char *uuid = hex_uuid();
	sqlite3_stmt *st;
	int rc;

	utc_now(started, sizeof(started));
	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	rc = sqlite3_prepare_v2(ix->db, "INSERT INTO runs (uuid, status, "
				"started_at, host, cwd, argv, options, "
				"version, libraries) VALUES (?, 'running', ?, "
				"?, ?, ?, ?, ?, ?)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, started, -1, SQLITE_TRANSIENT);
		bind_utf8(st, 3, host, strlen(host));
		bind_utf8(st, 4, cwd, strlen(cwd));
		sqlite3_bind_text(st, 5, ix->opt.argv_json, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, ix->opt.options_json, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 7, MX_VERSION, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, mx_library_versions(), -1,
				  SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	free(uuid);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot record the run in '%s': "
			"%s\n", ix->opt.path, sqlite3_errmsg(ix->db));
		return -EIO;
	}
	ix->run_id = sqlite3_last_insert_rowid(ix->db);
	return 0;
}

/* metaextract_shard(path, count): the --shard job that handles path. */
static void sql_shard(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *path = sqlite3_value_blob(argv[0]);
	int len = sqlite3_value_bytes(argv[0]);
	sqlite3_int64 count = sqlite3_value_int64(argv[1]);

	(void)argc;
	if (count < 1 || count > UINT32_MAX) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, shard_of(path ? path : "", (size_t)len,
					   (unsigned)count));
}

static int open_reader(struct index *ix)
{
	const char *path = ix->opt.lookup_path ? ix->opt.lookup_path :
			   ix->opt.path;
	int rc;

	if (ix->opt.lookup_path) {
		/* A first run has no merged index yet: every file is read. */
		if (access(path, F_OK) < 0) {
			ix->had_files = false;
			return 0;
		}
	}
	rc = sqlite3_open_v2(path, &ix->reader,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK && ix->opt.lookup_path)
		ix->had_files = pragma_int(ix->reader, "SELECT EXISTS (SELECT "
					   "1 FROM files)") == 1;
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(ix->reader, 10000);
		rc = prepare(ix->reader, "SELECT id, size, mtime_ns, inode, "
			     "extract_mask, status, error_stage, error_errno "
			     "FROM files "
			     "WHERE coalesce(path_raw, path) = ?",
			     &ix->lookup);
	}
	if (rc != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot read index '%s': %s\n",
			path, sqlite3_errmsg(ix->reader));
		return -EIO;
	}
	return 0;
}

/*
 * Marks runs left "running" as "interrupted": the lock shows that no run
 * holds the index, so they were killed. Also notes whether the index has
 * rows of files at all; a new one needs no lookups.
 */
static int close_stale_runs(struct index *ix)
{
	if (exec(ix->db, "UPDATE runs SET status = 'interrupted' WHERE "
		 "status = 'running'") != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot update index '%s': %s\n",
			ix->opt.path, sqlite3_errmsg(ix->db));
		return -EIO;
	}
	ix->had_files = pragma_int(ix->db, "SELECT EXISTS (SELECT 1 FROM "
				   "files)") == 1;
	return 0;
}

/*
 * Notes the index's own files (the database, its WAL and shared memory),
 * so that an index inside the tree it indexes does not read itself.
 */
static void note_own_files(struct index *ix)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	size_t i, len = strlen(ix->opt.path);
	char *name = malloc(len + 5);

	for (i = 0; name && i < 3; i++) {
		struct stat st;

		snprintf(name, len + 5, "%s%s", ix->opt.path, suffixes[i]);
		if (stat(name, &st) == 0) {
			ix->own[i].dev = (uint64_t)st.st_dev;
			ix->own[i].inode = (uint64_t)st.st_ino;
		}
	}
	free(name);
}

int index_open(const struct index_options *o, struct index **out)
{
	struct index *ix;
	int ret;

	/* Memory statistics take a global mutex on every allocation, which
	   the walker's and the writer's connections would contend for. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->opt = *o;
	ix->lock_fd = -1;
	pthread_mutex_init(&ix->lock, NULL);
	pthread_cond_init(&ix->not_empty, NULL);
	pthread_cond_init(&ix->not_full, NULL);
	ix->items = calloc(QUEUE_SLOTS, sizeof(*ix->items));
	ret = ix->items ? open_db(o->path, &ix->db) : -ENOMEM;
	if (ret == 0)
		ret = lock_index(ix);
	if (ret == 0)
		ret = check_schema(ix->db, o->path, true);
	if (ret == 0)
		ret = use_wal(ix->db, o->path);
	if (ret == 0)
		ret = close_stale_runs(ix);
	if (ret == 0 && sqlite3_create_function(ix->db, "metaextract_shard", 2,
			SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_shard,
			NULL, NULL) != SQLITE_OK)
		ret = -ENOMEM;
	if (ret == 0 && prepare_writer(ix) != SQLITE_OK) {
		fprintf(stderr, "metaextract: cannot prepare statements for "
			"'%s': %s\n", o->path, sqlite3_errmsg(ix->db));
		ret = -EIO;
	}
	if (ret == 0)
		ret = start_run(ix);
	if (ret == 0)
		ret = open_reader(ix);
	if (ret == 0)
		note_own_files(ix);
	if (ret == 0) {
		ret = -pthread_create(&ix->writer, NULL, writer_main, ix);
		ix->writer_started = ret == 0;
	}
	if (ret < 0) {
		index_close(ix);
		return ret;
	}
	*out = ix;
	return 0;
}

void index_set_batch(struct index *ix, struct mx_batch *b)
{
	ix->batch = b;
}

static void stop_writer(struct index *ix)
{
	if (!ix->writer_started)
		return;
	pthread_mutex_lock(&ix->lock);
	ix->closed = true;
	pthread_cond_broadcast(&ix->not_empty);
	pthread_mutex_unlock(&ix->lock);
	pthread_join(ix->writer, NULL);
	ix->writer_started = false;
}

/*
 * SQL conditions on a row of files: below the prefix ?3 of ?2 bytes, and
 * below a directory this run failed to read. substr() counts characters
 * in text but bytes in a blob, hence the casts.
 */
#define NOT_SEEN "id NOT IN (SELECT id FROM temp.seen)"
#define UNDER_ROOT "substr(CAST(path AS BLOB), 1, ?2) = CAST(?3 AS BLOB)"
/* The row belongs to the shard ?6 of ?5 shards, or ?5 is 0. */
#define IN_SHARD \
	"(?5 = 0 OR metaextract_shard(coalesce(path_raw, path), ?5) = ?6)"
#define UNDER_WALK_ERROR \
	"EXISTS (SELECT 1 FROM temp.walk_errors e WHERE " \
	"substr(CAST(files.path AS BLOB), 1, length(CAST(e.path AS BLOB)) " \
	"+ 1) = CAST(e.path || '/' AS BLOB))"

/*
 * Flags (or deletes) rows under the directory root that this run did not
 * see. Files below a directory that failed to open or read are kept as
 * they are, since the walk could not look for them.
 */
static int mark_missing(struct index *ix, const char *root)
{
	char *prefix;
	size_t len = strlen(root);
	sqlite3_stmt *st;
	int rc;

	prefix = malloc(len + 2);
	if (!prefix)
		return SQLITE_NOMEM;
	/* Folded as the walker folds the paths it names (walk.c). */
	len = 0;
	for (size_t i = 0; root[i]; i++)
		if (root[i] != '/' || len == 0 || prefix[len - 1] != '/')
			prefix[len++] = root[i];
	if (len == 0 || prefix[len - 1] != '/')
		prefix[len++] = '/';
	prefix[len] = '\0';
	rc = sqlite3_prepare_v2(ix->db, ix->opt.prune_missing ?
		"DELETE FROM files WHERE seen_run < ?1 AND " NOT_SEEN " AND "
		UNDER_ROOT " AND " IN_SHARD
		" AND NOT " UNDER_WALK_ERROR :
		"UPDATE files SET missing = 1, indexed_at = ?4 WHERE "
		"missing = 0 AND seen_run < ?1 AND " NOT_SEEN " AND "
		UNDER_ROOT " AND " IN_SHARD " AND NOT "
		UNDER_WALK_ERROR, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 5, ix->opt.shard.count);
		sqlite3_bind_int64(st, 6, ix->opt.shard.index);
		sqlite3_bind_int64(st, 1, ix->run_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
		sqlite3_bind_text(st, 3, prefix, (int)len, SQLITE_STATIC);
		if (!ix->opt.prune_missing)
			sqlite3_bind_double(st, 4, unix_now());
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		ix->rows_missing += (uint64_t)sqlite3_changes(ix->db);
		sqlite3_finalize(st);
	}
	free(prefix);
	return rc;
}

/*
 * With --shard, a directory that failed to open or read gets its error
 * record in one shard only, but no shard's walk could look below it.
 */
static int insert_shard_walk_errors(struct index *ix)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (!ix->shard_walk_error_count)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(ix->db, "INSERT INTO temp.walk_errors "
				"VALUES (?)", -1, &st, NULL);
	for (i = 0; i < ix->shard_walk_error_count && rc == SQLITE_OK; i++) {
		sqlite3_bind_text(st, 1, ix->shard_walk_errors[i], -1,
				  SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int index_note_walk_error(struct index *ix, const char *path)
{
	char **grown;
	char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	grown = realloc(ix->shard_walk_errors,
			(ix->shard_walk_error_count + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	grown[ix->shard_walk_error_count++] = copy;
	ix->shard_walk_errors = grown;
	return 0;
}

static int mark_all_missing(struct index *ix, char *const *roots,
			    size_t nroots)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	rc = exec(ix->db, "BEGIN IMMEDIATE; "
		  "CREATE TEMP TABLE IF NOT EXISTS walk_errors (path TEXT); "
		  "DELETE FROM temp.walk_errors");
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(ix->db, "INSERT INTO temp.walk_errors "
					"SELECT path FROM files WHERE "
					"seen_run = ? AND status = 'error' AND "
					"error_stage IN ('walk', 'open', "
					"'stat', 'read')", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, ix->run_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	if (rc == SQLITE_OK)
		rc = insert_shard_walk_errors(ix);
	for (i = 0; i < nroots && rc == SQLITE_OK; i++) {
		struct stat sb;

		if (stat(roots[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = mark_missing(ix, roots[i]);
	}
	if (rc == SQLITE_OK)
		rc = exec(ix->db, "COMMIT");
	if (rc != SQLITE_OK)
		exec(ix->db, "ROLLBACK");
	return rc;
}

static int end_run(struct index *ix, const struct mx_summary *sum,
		   const char *status)
{
	char ended[32];
	sqlite3_stmt *st;
	int rc;

	utc_now(ended, sizeof(ended));
	rc = sqlite3_prepare_v2(ix->db, "UPDATE runs SET status = ?, "
				"ended_at = ?, files = ?, files_ok = ?, "
				"files_failed = ?, files_skipped = ?, "
				"files_unchanged = ?, files_missing = ?, "
				"bytes_read = ?, seconds = ? WHERE id = ?", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ended, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)sum->files);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)sum->files_ok);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)sum->files_failed);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)sum->files_skipped);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)sum->files_unchanged);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)ix->rows_missing);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)sum->bytes_read);
	sqlite3_bind_double(st, 10, sum->seconds);
	sqlite3_bind_int64(st, 11, ix->run_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	sqlite3_finalize(st);
	return rc;
}

int index_finish(struct index *ix, const struct mx_summary *sum,
		 bool complete, char *const *roots, size_t nroots, bool quiet)
{
	const char *status = complete ? "complete" : "stopped";

	stop_writer(ix);
	if (!ix->error && complete &&
	    mark_all_missing(ix, roots, nroots) != SQLITE_OK)
		fail(ix, ix->db, "cannot flag missing files");
	if (ix->error)
		status = "failed";
	if (end_run(ix, sum, status) != SQLITE_OK)
		fail(ix, ix->db, "cannot record the end of the run");
	if (ix->error) {
		fprintf(stderr, "metaextract: writing index '%s' failed: %s\n",
			ix->opt.path, ix->message);
		return ix->error;
	}
	if (quiet)
		return 0;
	fprintf(stderr, "metaextract: index %s, run %" PRId64 " %s: %" PRIu64
		" rows written, %" PRIu64 " files unchanged (%" PRIu64 " of "
		"them failed before), %" PRIu64 " %s%s\n", ix->opt.path,
		ix->run_id, status, ix->rows_written, ix->rows_touched,
		(uint64_t)ix->unchanged_failed, ix->rows_missing,
		ix->opt.prune_missing ?
		"rows of missing files deleted" : "files flagged missing",
		complete ? "" : ix->opt.rescan ? "; rerun without --rescan to "
		"read only the files whose rows are not current" :
		"; rerun the same command to continue where this run stopped");
	return 0;
}

uint64_t index_unchanged_failed(const struct index *ix)
{
	return ix->unchanged_failed;
}

void index_close(struct index *ix)
{
	size_t i;

	if (!ix)
		return;
	stop_writer(ix);
	if (ix->reader)
		exec(ix->reader, "COMMIT");
	for (i = 0; i < ix->shard_walk_error_count; i++)
		free(ix->shard_walk_errors[i]);
	free(ix->shard_walk_errors);
	sqlite3_stmt *stmts[] = { ix->upsert, ix->touch, ix->found_again,
				  ix->del_streams,
				  ix->del_objects, ix->del_tags,
				  ix->ins_stream, ix->ins_object, ix->ins_tag,
				  ix->put_record, ix->keep, ix->lookup };

	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		sqlite3_finalize(stmts[i]);
	sqlite3_close(ix->reader);
	/*
	 * Back to a rollback journal between runs: one self-contained file
	 * that accounts without write access to its directory can query.
	 */
	if (ix->run_id)
		exec(ix->db, "PRAGMA journal_mode = DELETE");
	sqlite3_close(ix->db);
	if (ix->lock_fd >= 0)
		close(ix->lock_fd);
	pthread_mutex_destroy(&ix->lock);
	pthread_cond_destroy(&ix->not_empty);
	pthread_cond_destroy(&ix->not_full);
	free(ix->items);
	free(ix);
}

/* "c1, c2, ..." with each column name after prefix. */
static void put_columns(FILE *f, const char *prefix, const char *const *cols)
{
	size_t i;

	for (i = 0; cols[i]; i++)
		fprintf(f, "%s%s%s", i ? ", " : "", prefix, cols[i]);
}

/* Replaces the children of the merged rows with those of the input. */
static char *copy_children_sql(const char *table, const char *const *cols)
{
	char *sql = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	fprintf(f, "DELETE FROM main.%s WHERE file_id IN (SELECT mid FROM "
		"temp.idmap); INSERT INTO main.%s (file_id, ", table, table);
	put_columns(f, "", cols);
	fputs(") SELECT i.mid, ", f);
	put_columns(f, "c.", cols);
	fprintf(f, " FROM src.%s c JOIN temp.idmap i ON i.sid = c.file_id;",
		table);
	return text_memstream_finish(f, &sql);
}

/* The SELECT that feeds the upsert of merged files. */
static char *merge_source_sql(void)
{
	char *sql = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&sql, &len);

	if (!f)
		return NULL;
	fputs("SELECT ", f);
	for (i = 0; file_columns[i]; i++) {
		const char *c = file_columns[i];

		fputs(i ? ", " : "", f);
		if (strcmp(c, "run_id") == 0 || strcmp(c, "seen_run") == 0)
			fprintf(f, "(SELECT new_id FROM temp.runmap WHERE "
				"old_id = s.%s)", c);
		else
			fprintf(f, "s.%s", c);
	}
	/* "WHERE true" keeps ON CONFLICT from parsing as a join clause. */
	fputs(" FROM src.files s WHERE true", f);
	return text_memstream_finish(f, &sql);
}

static int exec_owned(sqlite3 *db, char *sql)
{
	int rc = sql ? exec(db, sql) : SQLITE_NOMEM;

	free(sql);
	return rc;
}

/*
 * Copies one input into the open output in one transaction, so a merge
 * that is killed leaves each input either merged or not. Merging the
 * same input twice changes nothing.
 */
static int merge_one(sqlite3 *db, const char *in, uint64_t *copied)
{
	sqlite3_stmt *st;
	char *source = merge_source_sql();
	int rc;

	rc = sqlite3_prepare_v2(db, "ATTACH ? AS src", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, in, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		fprintf(stderr, "metaextract: merge: cannot open '%s' as an "
			"SQLite database: %s\n", in, sqlite3_errmsg(db));
		free(source);
		return rc;
	}
	if (pragma_int(db, "PRAGMA src.application_id") !=
		    INDEX_APPLICATION_ID ||
	    pragma_int(db, "PRAGMA src.user_version") !=
		    INDEX_SCHEMA_VERSION) {
		fprintf(stderr, "metaextract: merge: '%s' is not a metaextract "
			"index of schema version %d\n", in,
			INDEX_SCHEMA_VERSION);
		free(source);
		exec(db, "DETACH src");
		return SQLITE_MISMATCH;
	}
	rc = exec(db, "BEGIN IMMEDIATE; "
		  "INSERT INTO main.runs (uuid, status, started_at, "
		  "ended_at, host, cwd, argv, options, version, libraries, "
		  "files, files_ok, files_failed, files_skipped, "
		  "files_unchanged, files_missing, bytes_read, seconds) "
		  "SELECT uuid, status, started_at, ended_at, host, cwd, argv, "
		  "options, version, libraries, files, files_ok, files_failed, "
		  "files_skipped, files_unchanged, files_missing, bytes_read, "
		  "seconds FROM src.runs WHERE true ON CONFLICT (uuid) DO "
		  "UPDATE SET status = excluded.status, "
		  "ended_at = excluded.ended_at, files = excluded.files, "
		  "files_ok = excluded.files_ok, "
		  "files_failed = excluded.files_failed, "
		  "files_skipped = excluded.files_skipped, "
		  "files_unchanged = excluded.files_unchanged, "
		  "files_missing = excluded.files_missing, "
		  "bytes_read = excluded.bytes_read, "
		  "seconds = excluded.seconds; "
		  "DROP TABLE IF EXISTS temp.runmap; "
		  "CREATE TEMP TABLE runmap AS SELECT s.id AS old_id, "
		  "m.id AS new_id FROM src.runs s JOIN main.runs m "
		  "ON m.uuid = s.uuid");
	if (rc == SQLITE_OK) {
		rc = exec_owned(db, upsert_sql(source, " WHERE "
			"excluded.indexed_at > files.indexed_at"));
		*copied += (uint64_t)sqlite3_changes(db);
	}
	if (rc == SQLITE_OK)
		rc = exec(db, "DROP TABLE IF EXISTS temp.idmap; "
			  "CREATE TEMP TABLE idmap AS SELECT s.id AS sid, "
			  "m.id AS mid FROM src.files s JOIN main.files m ON "
			  "coalesce(m.path_raw, m.path) = "
			  "coalesce(s.path_raw, s.path) WHERE "
			  "m.indexed_at = s.indexed_at AND m.run_id = "
			  "(SELECT new_id FROM temp.runmap WHERE "
			  "old_id = s.run_id)");
	if (rc == SQLITE_OK)
		rc = exec_owned(db, copy_children_sql("streams",
						      stream_columns));
	if (rc == SQLITE_OK)
		rc = exec_owned(db, copy_children_sql("hdf5_objects",
						      object_columns));
	if (rc == SQLITE_OK)
		rc = exec_owned(db, copy_children_sql("tags", tag_columns));
	if (rc == SQLITE_OK)
		rc = exec_owned(db, copy_children_sql("records",
						      record_columns));
	if (rc == SQLITE_OK)
		rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK)
		fprintf(stderr, "metaextract: merge: cannot copy '%s': %s\n",
			in, sqlite3_errmsg(db));
	if (rc != SQLITE_OK)
		exec(db, "ROLLBACK");
	free(source);
	exec(db, "DETACH src");
	return rc;
}

static const char merge_usage[] =
"Usage: metaextract merge OUT.db IN.db...\n"
"Copy the files, streams, HDF5 objects, tags and runs of each IN index\n"
"into OUT, created when missing. OUT keeps one row per path: where two\n"
"indexes hold the same path, the row indexed last wins. Each input is\n"
"merged in one transaction, and merging an input again changes nothing.\n"
"\n"
"Rows deleted from an input with --prune-missing stay in OUT; flag\n"
"missing files instead when indexes are merged later.\n"
"\n"
"Exit status: 0 when every input was merged, 1 when some could not be\n"
"(the others are merged), 2 for invalid arguments or an unusable OUT,\n"
"128 plus the signal number after SIGINT, SIGTERM, SIGHUP or SIGUSR1,\n"
"which stop the merge after the input being merged.\n";

int index_merge_main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(merge_usage, stdout);
			return 0;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "metaextract: merge: invalid option "
				"'%s'; name files that start with '-' as "
				"./%s\nTry 'metaextract merge --help' for more "
				"information.\n", argv[i], argv[i]);
			return 2;
		}
	}
	if (argc < 3) {
		fputs("metaextract: merge needs OUT.db and at least one "
		      "IN.db\nTry 'metaextract merge --help' for more "
		      "information.\n", stderr);
		return 2;
	}
	stop_describe("the input being merged");
	return index_merge(argv[1], argv + 2, (size_t)(argc - 2), 0);
}

int index_merge(const char *out, char *const *ins, size_t nins,
		unsigned flags)
{
	const bool after_stop = flags & INDEX_MERGE_AFTER_STOP;
	struct index ix = { .lock_fd = -1 };
	struct stat out_st;
	uint64_t copied;
	size_t i;
	int failed = 0;

	ix.opt.path = out;
	if (open_db(out, &ix.db) < 0)
		return 2;
	if (lock_index(&ix) < 0 || check_schema(ix.db, out, true) < 0 ||
	    use_wal(ix.db, out) < 0 || fstat(ix.lock_fd, &out_st) < 0) {
		sqlite3_close(ix.db);
		if (ix.lock_fd >= 0)
			close(ix.lock_fd);
		return 2;
	}
	for (i = 0; i < nins && (after_stop || !stop_signal()); i++) {
		struct stat in_st;

		copied = 0;
		if (stat(ins[i], &in_st) < 0) {
			fprintf(stderr, "metaextract: merge: cannot open '%s': "
				"%s\n", ins[i], strerror(errno));
			failed++;
			continue;
		}
		if (in_st.st_dev == out_st.st_dev &&
		    in_st.st_ino == out_st.st_ino) {
			fprintf(stderr, "metaextract: merge: '%s' is the "
				"output index itself; skipped\n", ins[i]);
			failed++;
			continue;
		}
		if (merge_one(ix.db, ins[i], &copied) != SQLITE_OK) {
			failed++;
			continue;
		}
		if (!(flags & INDEX_MERGE_QUIET))
			fprintf(stderr, "metaextract: merged '%s': %" PRIu64
				" rows copied\n", ins[i], copied);
	}
	/* The lock on out shows that no run writes into it now. */
	if ((flags & INDEX_MERGE_CLOSE_STALE_RUNS) &&
	    exec(ix.db, "UPDATE runs SET status = 'interrupted' WHERE "
		 "status = 'running'") != SQLITE_OK)
		failed++;
	exec(ix.db, "PRAGMA journal_mode = DELETE");
	sqlite3_close(ix.db);
	close(ix.lock_fd);
	if (stop_signal() && !after_stop)
		return 128 + stop_signal();
	return failed ? 1 : 0;
}
