/*
 * The batch and its worker loops. Each loop is one thread with its own
 * io_uring, its own arena of chunk buffers registered with that ring, and
 * a fixed number of file slots, so memory does not grow with file size
 * or file count.
 */
#ifndef MX_ENGINE_H
#define MX_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "metaextract.h"
#include "histogram.h"
#include "queue.h"
#include "record.h"

struct loop;

/* Figures of one loop, collected when it is joined. */
struct loop_report {
	unsigned id;
	uint64_t files;			/* records it made */
	uint64_t content_bytes;
	uint64_t parser_bytes;
	uint64_t reads;			/* content read completions */
	unsigned max_reads_in_flight;
	uint64_t steals;		/* tasks taken from other loops */
	uint64_t refills;		/* batches taken from the walker */
	uint64_t large_files;		/* of LARGE_FILE_BYTES or more */
	double busy_fraction;		/* share of its life not waiting */
	bool fixed_buffers;
	char ring_flags[40];
	struct histogram latency;	/* content reads, submit to completion */
};

/* "stage:errno" of failed records and how many there were. */
struct error_count {
	char kind[48];
	uint64_t count;
};

#define ERROR_KINDS_MAX 32

/* Token bucket of --max-rate, in bytes, shared by the loops. */
struct rate_limit {
	pthread_mutex_t lock;
	double rate;			/* bytes per second */
	double capacity;		/* largest burst */
	double tokens;
	uint64_t refilled_ns;		/* CLOCK_MONOTONIC */
};

struct mx_batch {
	struct mx_config cfg;
	mx_record_fn fn;
	void *arg;
	struct mx_record **keep;	/* set by mx_extract_file: keep the
					   record instead of calling fn */
	mx_filter_fn filter;
	void *filter_arg;
	mx_walk_fn walk_hook;		/* see mx_batch_set_walk_hook() */
	void *walk_hook_arg;
	bool isolate;			/* parsers run in worker processes */
	char parser_helper[4096];	/* their program */
	struct task_queue queue;
	struct task_queue large_queue;	/* files of LARGE_FILE_BYTES or more */
	struct rate_limit rate;
	atomic_bool cancelled;		/* set by mx_batch_cancel() */

	/* Progress, read without locks by mx_batch_progress(). */
	atomic_uint_least64_t files_found;
	atomic_uint_least64_t bytes_found;
	atomic_uint_least64_t files_done;
	atomic_uint_least64_t files_failed;
	atomic_uint_least64_t files_unchanged;
	atomic_uint_least64_t bytes_done;
	atomic_bool adding_done;

	pthread_mutex_t emit_lock;	/* serialises fn and the counters */
	struct mx_summary sum;
	struct error_count errors[ERROR_KINDS_MAX];
	unsigned error_kinds;
	uint64_t errors_other;		/* kinds past ERROR_KINDS_MAX */
	struct loop_report *reports;	/* one per loop, after the join */
	bool finished;

	unsigned nloops;
	struct loop **loops;
	struct deque **deques;		/* one per loop, for work stealing */
	bool register_buffers;		/* false: plain reads for every loop */
	bool huge_buffers;		/* chunk buffers in 2 MiB pages */

	pthread_mutex_t start_lock;	/* loops report their setup here */
	pthread_cond_t started;
	unsigned loops_ready;
	int setup_error;		/* first loop setup error */
	char setup_message[256];

	struct timespec t_start;

	/* Asynchronous batches (async.c). */
	bool async;
	int event_fd;			/* readable while records wait */
	struct task_queue submitted;	/* paths from mx_batch_submit() */
	pthread_t walker;
	bool walker_started;
	pthread_mutex_t records_lock;
	pthread_cond_t records_not_full;
	struct mx_record **records;	/* ring of ASYNC_RECORD_SLOTS */
	size_t records_head;
	size_t records_count;
	bool discard;			/* finishing: free records instead */
	atomic_uint loops_running;
	atomic_bool walk_finished;
};

/* Records an asynchronous batch keeps for mx_batch_poll() at most. */
#define ASYNC_RECORD_SLOTS 1024

/* Sets up the asynchronous parts before the loops start. */
int async_init(struct mx_batch *b);

/* Starts the thread that walks submitted paths, after the loops. */
int async_start(struct mx_batch *b);

/* Queues a finished record for mx_batch_poll(); blocks while full. */
void async_push(struct mx_batch *b, struct mx_record *rec);

/* Called by each loop as it ends. */
void async_loop_ended(struct mx_batch *b);

/* Stops taking paths, waits for the walker, and drops waiting records. */
void async_finish(struct mx_batch *b);

void async_free(struct mx_batch *b);

/* Makes an error record for a queued path that could not be started. */
void batch_fail_task(struct mx_batch *b, char *path, int err);

/* Hands a finished record to the caller and frees it. */
void batch_emit(struct mx_batch *b, struct mx_record *rec);

/*
 * Queues a regular file for the loops unless the batch's filter declines
 * it; takes ownership of path. st is the walker's stat of the file, or
 * NULL to skip the filter.
 */
int batch_enqueue(struct mx_batch *b, char *path, bool follow,
		  const struct stat *st);

/*
 * Starts loop number id as a thread. Setup (ring, buffers, magic) happens
 * on that thread, because a single-issuer ring belongs to the thread that
 * created it; the result arrives through b->started.
 */
int loop_start(struct mx_batch *b, unsigned id, struct loop **out);

/* Joins the thread, fills *report and frees the loop. */
void loop_join(struct loop *l, struct loop_report *report);

/* Walks path (a file or a tree) into the batch. */
int walk_path(struct mx_batch *b, const char *path);

/* Lists a directory the walk hook took earlier; see mx_batch_walk_dir(). */
int walk_taken_dir(struct mx_batch *b, const struct mx_walk_dir *d);

/* The identity the filter and the walk hook see of a walked file. */
void batch_file_id(const char *path, const struct stat *st,
		   struct mx_file_id *id);

#endif
