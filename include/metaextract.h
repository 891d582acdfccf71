/*
 * metaextract: one pass over each file yields its identity, type, digests
 * and format metadata as a record.
 *
 * Conventions of this API:
 * - Functions that can fail return 0 (or a count) on success and a negative
 *   errno value on failure. They never print and never exit.
 * - Records are trees of struct mx_value, read with mx_value_get() and a
 *   JSON pointer (RFC 6901), or serialised with mx_record_json().
 * - The library is thread-safe: batches run their own worker threads, and
 *   separate batches may run at once.
 */
#ifndef METAEXTRACT_H
#define METAEXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MX_BUILDING_LIBRARY)
#define MX_API __attribute__((visibility("default")))
#else
#define MX_API
#endif

#define MX_VERSION "0.1.0"

/* Version of the record layout documented in README.md. */
#define MX_SCHEMA_VERSION 1

/* Digest algorithms, combined as a bit mask in struct mx_config.digests. */
enum mx_digest {
	MX_DIGEST_XXH3 = 1u << 0,	/* XXH3 64-bit, seed 0 */
	MX_DIGEST_XXH128 = 1u << 1,	/* XXH3 128-bit, seed 0 */
	MX_DIGEST_XXH64 = 1u << 2,	/* XXH64, seed 0 */
	MX_DIGEST_MD5 = 1u << 3,
	MX_DIGEST_SHA1 = 1u << 4,
	MX_DIGEST_SHA256 = 1u << 5,
	MX_DIGEST_SHA512 = 1u << 6,
};

#define MX_DIGEST_ALL 0x7fu

/*
 * xxh128 runs at memory speed, so a default run stays bound by the storage.
 * Fixity workflows add sha256 with --digest.
 */
#define MX_DIGEST_DEFAULT MX_DIGEST_XXH128

/*
 * Parses a comma-separated list of digest names ("sha256,xxh128", "none")
 * into *mask. Returns 0, or -EINVAL for an unknown or empty name.
 */
MX_API int mx_digest_parse(const char *list, unsigned *mask);

/* Returns the name of one digest bit ("sha256"), or NULL for any other value. */
MX_API const char *mx_digest_name(unsigned digest);

/* I/O backend of the worker loops. */
enum mx_io {
	MX_IO_AUTO,	/* io_uring, else the portable backend */
	MX_IO_URING,	/* io_uring only: fail where it cannot be set up */
	MX_IO_POOL,	/* pread and friends on a thread pool per loop */
};

/* Order in which the loops start the files waiting for them. */
enum mx_order {
	MX_ORDER_WALK,		/* as the walker found them */
	MX_ORDER_SIZE_DESC,	/* largest first */
	MX_ORDER_SIZE_ASC,	/* smallest first */
	MX_ORDER_PATH,		/* by path, byte order */
};

/* Settings of a batch. Fill with mx_config_init(), then change fields. */
struct mx_config {
	unsigned threads;		/* worker loops; 0: one per usable core */
	uint32_t chunk_size;		/* bytes per read, a multiple of 4096 */
	unsigned buffers;		/* chunk buffers per worker loop */
	unsigned queue_depth;		/* reads in flight per file */
	unsigned large_queue_depth;	/* for a file of 64 MiB or more, which
					   a loop reads one at a time; 0: the
					   larger of queue_depth and 3/4 of
					   buffers */
	unsigned files_in_flight;	/* open files per worker loop */
	unsigned digests;		/* mask of enum mx_digest; 0 for none */
	bool content;			/* read every byte; false reads only what
					   type identification and parsers need */
	bool identify;			/* MIME type and description (libmagic) */
	bool parse;			/* format parsers (media, HDF5) */
	bool follow_symlinks;		/* follow symbolic links while walking */
	bool one_file_system;		/* do not cross mount points */
	unsigned max_objects;		/* HDF5 objects listed per file */
	unsigned max_tags;		/* media tags kept per dictionary */
	unsigned max_depth;		/* HDF5 group nesting listed, 1 to 64 */
	uint64_t probe_size;		/* bytes libavformat may read to
					   analyse streams */
	double analyze_duration;	/* seconds of media it may analyse */
	uint64_t max_rate;		/* bytes per second over all loops
					   together; 0 for no limit */
	bool direct;			/* O_DIRECT where the file system
					   takes it, else buffered */
	bool auto_direct;		/* without direct: O_DIRECT for files
					   of 64 MiB or more that are mostly
					   not in the page cache */
	enum mx_io io;
	enum mx_order order;		/* among the up to 4,096 files the
					   walker has queued */
	bool drop_cache;		/* drop pages from the page cache once
					   they are consumed */

	/*
	 * Parser isolation: with isolate_parsers, each loop runs format
	 * parsers in a sandboxed worker process (the metaextract-parser
	 * program), so a crash, hang or memory blow-up costs one file.
	 * parser_helper is its path; NULL takes $MX_PARSER_HELPER, else the
	 * installed one. Where it cannot run, parsers run in the loops.
	 */
	bool isolate_parsers;
	const char *parser_helper;
	double parse_timeout;		/* seconds per parse; 0: none */
	double parse_stall_timeout;	/* seconds without a parser read;
					   0: none */
	uint64_t parser_memory;		/* bytes of data per worker
					   (RLIMIT_DATA); 0: no limit */
	unsigned parser_recycle;	/* files per worker before a new one */
};

/* Fills *cfg with the documented defaults. */
MX_API void mx_config_init(struct mx_config *cfg);

/* Record values. */
enum mx_type {
	MX_NULL,
	MX_BOOL,
	MX_INT,
	MX_DOUBLE,
	MX_STRING,
	MX_ARRAY,
	MX_OBJECT,
};

struct mx_value;

MX_API enum mx_type mx_value_type(const struct mx_value *v);

/*
 * Looks up a JSON pointer ("/media/streams/0/codec_name") below v.
 * Returns NULL when any step is missing or v is NULL.
 */
MX_API const struct mx_value *mx_value_get(const struct mx_value *v,
					   const char *pointer);

/* Scalar accessors return 0, false or NULL when v has another type. */
MX_API bool mx_value_bool(const struct mx_value *v);
MX_API int64_t mx_value_int(const struct mx_value *v);
MX_API double mx_value_double(const struct mx_value *v);	/* ints too */
MX_API const char *mx_value_string(const struct mx_value *v, size_t *len);

/* Number of array elements or object members; 0 for scalars. */
MX_API size_t mx_value_count(const struct mx_value *v);

/*
 * Returns element i of an array or object, storing an object member's key
 * in *key when key is not NULL.
 */
MX_API const struct mx_value *mx_value_item(const struct mx_value *v,
					    size_t i, const char **key);

enum mx_status {
	MX_STATUS_OK,		/* everything asked for was extracted */
	MX_STATUS_ERROR,	/* the record carries an "error" object */
	MX_STATUS_SKIPPED,	/* not a regular file, by the walk rules */
};

struct mx_record;

MX_API const struct mx_value *mx_record_root(const struct mx_record *rec);
MX_API enum mx_status mx_record_status(const struct mx_record *rec);

/*
 * Serialises rec as one line of JSON (valid UTF-8, no trailing newline).
 * On success *json is a NUL-terminated string owned by the caller, freed
 * with mx_free(). Returns 0 or -ENOMEM.
 */
MX_API int mx_record_json(const struct mx_record *rec, char **json,
			  size_t *len);

/*
 * Serialises one value of a record (an object, array or scalar) as JSON,
 * like mx_record_json(). Returns 0, -EINVAL for a NULL v, or -ENOMEM.
 */
MX_API int mx_value_json(const struct mx_value *v, char **json, size_t *len);

MX_API void mx_record_free(struct mx_record *rec);

/*
 * Takes ownership of rec inside a record callback (mx_record_fn): the
 * batch then leaves it alone, and the caller frees it with
 * mx_record_free() later, from any thread. Lets a callback hand records
 * to a writer thread without copying them.
 */
MX_API struct mx_record *mx_record_keep(const struct mx_record *rec);
MX_API void mx_free(void *p);

/*
 * Extracts one file with a private single-threaded engine and stores the
 * record in *rec, which the caller frees with mx_record_free(). Returns 0
 * when a record was made, including a record of a failed file, or a
 * negative errno when the engine could not be set up. Each call sets up a
 * ring and loads the magic database, so use a batch for many files.
 */
MX_API int mx_extract_file(const struct mx_config *cfg, const char *path,
			   struct mx_record **rec);

/*
 * Called once per record from a worker thread. Calls are serialised by the
 * batch, so the function needs no lock of its own. rec is valid only until
 * the function returns.
 */
typedef void (*mx_record_fn)(const struct mx_record *rec, void *arg);

struct mx_summary {
	uint64_t files;			/* records made */
	uint64_t files_ok;
	uint64_t files_failed;
	uint64_t files_skipped;
	uint64_t files_unchanged;	/* declined by the filter: no read
					   and no record */
	uint64_t bytes_read;		/* content and parser reads */
	uint64_t content_bytes;
	uint64_t parser_bytes;
	uint64_t reads;			/* content reads completed */
	uint64_t steals;		/* files one loop took from another's
					   queue */
	double seconds;			/* wall time of the batch */
	double cpu_user_seconds;	/* of the whole process */
	double cpu_system_seconds;
	/* Content read latency, submission to completion, microseconds. */
	double latency_mean_us;
	double latency_p50_us;
	double latency_p90_us;
	double latency_p99_us;
	double latency_p999_us;
	double latency_max_us;
	/*
	 * All of the above, plus per-loop figures, the latency histogram and
	 * failed records counted by stage and errno, as one JSON object
	 * (schema in README.md). Owned by the batch: valid until
	 * mx_batch_free(); NULL when out of memory.
	 */
	const char *stats_json;
	unsigned threads;
	uint32_t chunk_size;
	unsigned buffers;		/* per loop, after fitting the limits */
	unsigned queue_depth;		/* likewise */
	unsigned max_reads_in_flight;	/* most at once in any one loop */
	bool registered_buffers;	/* false: plain reads, see buffer_note */
	bool cancelled;			/* mx_batch_cancel() was called */
	char backend[16];		/* "io_uring", or "pool" when any loop
					   runs on the portable backend */
	unsigned pool_loops;		/* loops on the portable backend */
	char buffer_note[160];		/* why buffers are as they are */
};

struct mx_batch;

/*
 * Starts the worker loops of a batch. Returns 0 and stores the batch in
 * *out, or -EINVAL for an invalid setting, -ENOMEM, or the error of the
 * io_uring setup (-ENOSYS, -EPERM where io_uring is disabled).
 */
MX_API int mx_batch_new(const struct mx_config *cfg, mx_record_fn fn,
			void *arg, struct mx_batch **out);

/* Identity of a regular file found by the walker, from its stat. */
struct mx_file_id {
	const char *path;	/* as the record will name it */
	uint64_t dev;
	uint64_t inode;
	uint64_t size;
	int64_t mtime_ns;	/* nanoseconds since the epoch, saturated at
				   the limits of int64_t */
};

/*
 * Decides whether a regular file is read: returns true to queue it, false
 * to leave it out (no read and no record; counted as unchanged). Used for
 * incremental runs, where an index already contains the file's record.
 */
typedef bool (*mx_filter_fn)(const struct mx_file_id *id, void *arg);

/*
 * Sets the filter of a batch. Call before the first mx_batch_add(). The
 * filter runs on the thread that calls mx_batch_add(), once per regular
 * file the walker finds; special files and walk errors always get their
 * records.
 */
MX_API void mx_batch_set_filter(struct mx_batch *b, mx_filter_fn fn,
				void *arg);

/*
 * A directory found by the walker, with what listing it later needs: the
 * device of the PATH it was found under (for one_file_system) and the
 * directories from that PATH down to this one (for loop detection with
 * follow_symlinks).
 */
struct mx_walk_dir {
	const char *path;		/* as records will name its entries */
	uint64_t root_dev;
	const uint64_t *ancestors;	/* depth (dev, inode) pairs: the PATH
					   first, this directory last */
	size_t depth;
};

/* The step the walker is about to take with an entry it found. */
enum mx_walk_kind {
	MX_WALK_DIRECTORY,	/* list a directory below an added PATH */
	MX_WALK_FILE,		/* queue a regular file for reading */
	MX_WALK_RECORD,		/* emit a record without a read: a special
				   file, a symbolic link not followed, or
				   an error */
};

struct mx_walk_entry {
	enum mx_walk_kind kind;
	const char *path;
	const struct mx_walk_dir *dir;	/* MX_WALK_DIRECTORY */
	const struct mx_file_id *file;	/* MX_WALK_FILE */
	bool follow;			/* MX_WALK_FILE: open through a final
					   symbolic link */
	int error;			/* MX_WALK_RECORD: the errno of an
					   error record, 0 for a skipped one */
};

/*
 * Called for each entry before the walker acts on it. Returns true to let
 * the walker go on as usual, or false when the caller takes the entry
 * over: the walker then neither lists the directory, queues the file,
 * nor emits the record, and counts nothing. The caller may hand the entry
 * back later with mx_batch_walk_dir() or mx_batch_add_file(), in this
 * process or another one, or leave it to another process (a static split
 * of the input among jobs). Pointers in e are valid only during the call.
 */
typedef bool (*mx_walk_fn)(const struct mx_walk_entry *e, void *arg);

/*
 * Sets the walk hook of a batch. Call before the first mx_batch_add(); it
 * runs on the thread that adds paths. Not for asynchronous batches.
 */
MX_API void mx_batch_set_walk_hook(struct mx_batch *b, mx_walk_fn fn,
				   void *arg);

/*
 * Lists a directory that the walk hook took, by the rules of cfg, as the
 * walker would have; subdirectories go to the hook again. The directory
 * may come from another process with the same view of the file system.
 * Returns 0, or a negative errno when the batch can take no more paths
 * (-ECANCELED after mx_batch_cancel()); problems with entries become
 * records.
 */
MX_API int mx_batch_walk_dir(struct mx_batch *b, const struct mx_walk_dir *d);

/*
 * Queues a regular file that the walk hook took, with the identity the
 * walker found, through the batch's filter. Blocks while the queue to the
 * loops is full. Returns 0, -ENOMEM, or -ECANCELED after
 * mx_batch_cancel().
 */
MX_API int mx_batch_add_file(struct mx_batch *b, const char *path,
			     const struct mx_file_id *id, bool follow);

/*
 * Adds a file, or a directory tree walked by the rules of cfg, from the
 * calling thread. Blocks while the queue to the loops is full. Problems
 * with single entries become records. Returns 0, or a negative errno when
 * the batch can take no more paths (-ECANCELED after mx_batch_cancel()).
 */
MX_API int mx_batch_add(struct mx_batch *b, const char *path);

/*
 * Stops the batch early, from any thread, the record callback included
 * (but not from a signal handler: it takes a lock). Paths not yet started
 * get no record; files being read get an error record with ECANCELED.
 * mx_batch_add() then returns -ECANCELED, and mx_batch_finish() must
 * still be called.
 */
MX_API void mx_batch_cancel(struct mx_batch *b);

/*
 * Waits until every added path has its record, stops the loops and fills
 * *sum (when not NULL). Call once; then only mx_batch_progress() and
 * mx_batch_free() may follow. Returns 0 or a negative errno.
 */
MX_API int mx_batch_finish(struct mx_batch *b, struct mx_summary *sum);

/*
 * Asynchronous batches, for callers with an event loop of their own.
 * Paths go in with mx_batch_submit(), which never blocks, and records come
 * out with mx_batch_poll(). The descriptor of mx_batch_eventfd() is
 * readable while records wait: call mx_batch_poll() until it returns 0,
 * then wait on the descriptor again. Submission and polling are
 * thread-safe. After mx_batch_close_input(), mx_batch_poll() returns
 * -ENODATA once every record is out; then call mx_batch_finish(), which
 * drops records still waiting when called earlier.
 */
MX_API int mx_batch_new_async(const struct mx_config *cfg,
			      struct mx_batch **out);

/*
 * Queues a path (a file, or a tree walked by the batch's own walker
 * thread). Returns 0, -EAGAIN when 1024 paths wait (poll and retry),
 * -EPIPE after mx_batch_close_input(), -ECANCELED, or -EINVAL for a batch
 * made by mx_batch_new().
 */
MX_API int mx_batch_submit(struct mx_batch *b, const char *path);

/* Ends the input: paths submitted so far still get their records. */
MX_API void mx_batch_close_input(struct mx_batch *b);

/* Returns the batch's eventfd, or -EINVAL for a callback batch. */
MX_API int mx_batch_eventfd(const struct mx_batch *b);

/*
 * Takes one record: returns 1 and stores it in *rec (the caller frees it
 * with mx_record_free()), 0 when none waits now, -ENODATA when the input
 * is closed and every record was taken, or another negative errno.
 */
MX_API int mx_batch_poll(struct mx_batch *b, struct mx_record **rec);

/* Frees a batch after mx_batch_finish(), and its summary's stats_json. */
MX_API void mx_batch_free(struct mx_batch *b);

struct mx_progress {
	uint64_t files_found;	/* files queued so far, plus entries that
				   got a record without a read */
	uint64_t bytes_found;	/* sizes of the queued files */
	bool walk_done;		/* all paths added: the found counts are
				   final */
	uint64_t files_done;	/* records made */
	uint64_t files_failed;
	uint64_t files_unchanged;	/* declined by the filter */
	uint64_t bytes_read;	/* content and parser bytes so far */
	double seconds;		/* since mx_batch_new() */
};

/*
 * Fills *p with a snapshot of the batch's progress. Safe from any thread
 * at any time until mx_batch_free(); it takes no lock.
 */
MX_API void mx_batch_progress(struct mx_batch *b, struct mx_progress *p);

enum mx_log_level {
	MX_LOG_ERROR,
	MX_LOG_WARN,
	MX_LOG_INFO,
	MX_LOG_DEBUG,
};

typedef void (*mx_log_fn)(enum mx_log_level level, const char *subsystem,
			  const char *message, void *arg);

/*
 * Sends library messages at or above level to fn. Without a call, the
 * library prints nothing. Not thread-safe: call before starting batches.
 */
MX_API void mx_set_log(mx_log_fn fn, void *arg, enum mx_log_level level);

/*
 * Returns the path of the file whose format parser runs on the calling
 * thread, or NULL. Meant for a crash handler that names the file that
 * crashed a format library: it only reads a thread-local pointer.
 */
MX_API const char *mx_parsing_path(void);

/*
 * Entry point of the metaextract-parser program, which the library starts
 * for parser isolation; not for other callers.
 */
MX_API int mx_parser_worker_main(int argc, char **argv);

/* Versions of the libraries in use, as one JSON object. */
MX_API const char *mx_library_versions(void);

#ifdef __cplusplus
}
#endif

#endif
