/*
 * The SQLite index: records written by one writer thread in batched
 * transactions, resumable after a kill and incremental across runs.
 * Schema in README.md ("The SQLite index").
 */
#ifndef MX_TOOLS_INDEX_H
#define MX_TOOLS_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "metaextract.h"
#include "shard.h"

/* Version of the tables; PRAGMA user_version of every index. */
#define INDEX_SCHEMA_VERSION 1

struct index;

struct index_options {
	const char *path;
	unsigned extract_mask;		/* index_extract_mask() of the run */
	bool retry_failed;		/* re-read unchanged files that failed */
	bool rescan;			/* re-read every file */
	bool prune_missing;		/* delete rows of files gone, not flag */
	const char *options_json;	/* for the run manifest; read only */
	const char *argv_json;		/* by index_open() */
	/*
	 * Index whose rows decide which files are current, instead of this
	 * one; NULL for this one. An MPI rank writes its own index and looks
	 * files up in the merged one. Files found current there are not
	 * marked seen anywhere.
	 */
	const char *lookup_path;
	struct shard shard;		/* --shard: flag missing only rows of
					   this job's shard */
};

/*
 * What a run extracts, as stored with each file: digest bits 0 to 6, then
 * type identification, parsers and the content pass. A file is left
 * unread only when its row covers every bit of the new run.
 */
unsigned index_extract_mask(const struct mx_config *cfg);

#define INDEX_EXTRACT_TYPE (1u << 8)
#define INDEX_EXTRACT_PARSE (1u << 9)
#define INDEX_EXTRACT_CONTENT (1u << 10)

/*
 * Opens or creates the index at o->path, locks it against other runs,
 * records the start of a run and starts the writer thread. Prints its
 * errors. Returns 0 or a negative errno.
 */
int index_open(const struct index_options *o, struct index **out);

/* The batch to cancel when writing fails. */
void index_set_batch(struct index *ix, struct mx_batch *b);

/* mx_filter_fn: false for a file whose row is current (see README). */
bool index_filter(const struct mx_file_id *id, void *arg);

/* mx_record_fn: takes the record and queues it for the writer. */
void index_record(const struct mx_record *rec, void *arg);

/*
 * Writes what is queued, then, when complete is true (the walk ended
 * without a stop), flags or deletes the rows of files under the
 * directories in roots that this run did not find. Records the end of
 * the run from sum and prints a line about the index unless quiet.
 * Returns 0, or the positive errno of the first failed write.
 */
int index_finish(struct index *ix, const struct mx_summary *sum,
		 bool complete, char *const *roots, size_t nroots,
		 bool quiet);

/*
 * Files left unread because their row is current but records a failure
 * (a parser error on an unchanged file). The run's exit status counts
 * them as failed.
 */
uint64_t index_unchanged_failed(const struct index *ix);

/*
 * Notes a directory that failed to open or read but whose error record
 * belongs to another --shard job, so that rows below it are not flagged
 * missing. Returns 0 or -ENOMEM.
 */
int index_note_walk_error(struct index *ix, const char *path);

enum index_merge_flags {
	INDEX_MERGE_QUIET = 1 << 0,		/* no line per input */
	INDEX_MERGE_CLOSE_STALE_RUNS = 1 << 1,	/* runs still marked
						   running, those of killed
						   jobs, become interrupted */
	INDEX_MERGE_AFTER_STOP = 1 << 2,	/* merge every input even
						   after a stop signal */
};

/*
 * Merges the indexes ins into out, as metaextract merge does, with flags
 * of enum index_merge_flags. Returns an exit status of metaextract
 * merge.
 */
int index_merge(const char *out, char *const *ins, size_t nins,
		unsigned flags);

void index_close(struct index *ix);

/*
 * metaextract merge OUT.db IN.db...: copies every file of the inputs into
 * OUT (created when missing), one row per path, keeping the most recently
 * indexed row where paths meet. Returns an exit status.
 */
int index_merge_main(int argc, char **argv);

#endif
