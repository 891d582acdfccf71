/*
 * Format parsers in worker processes. Each loop owns at most one worker,
 * started on its first parse and replaced after a crash, a timeout or
 * cfg.parser_recycle files. The loop sends the file's descriptor and
 * waits for the result, so a segfault, an endless loop or a memory
 * blow-up in libavformat or libhdf5 costs one file's parse, not the
 * batch. Workers run in a seccomp sandbox (sandbox.h): they read the
 * descriptors they are given and can open nothing.
 */
#ifndef MX_ISOLATE_H
#define MX_ISOLATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct file;
struct parse_ctx;
struct mx_batch;

/* Counters a worker updates on each read, for the stall timeout. */
struct worker_shared {
	_Atomic uint64_t calls;		/* source_read() calls, cached or not */
	_Atomic uint64_t reads;		/* preads */
	_Atomic uint64_t bytes;
};

struct parser_worker {
	pid_t pid;			/* 0: no worker running */
	int sock;			/* stream socket to the worker */
	struct worker_shared *shared;	/* one shared page */
	unsigned files;			/* parsed by this process */
	unsigned silent_exits;		/* in a row, without an answer */
};

/* Outcome of an isolated parse, besides parse()'s own result. */
enum parse_outcome {
	PARSE_RETURNED,			/* the worker answered */
	PARSE_CRASHED,			/* the worker died; see signal */
	PARSE_TIMED_OUT,		/* killed after a timeout */
	PARSE_UNAVAILABLE,		/* no worker could be started */
	PARSE_CANCELLED,		/* the batch stopped meanwhile */
};

struct parse_result {
	enum parse_outcome outcome;
	int signal;			/* PARSE_CRASHED: the fatal signal */
	char detail[200];		/* a sentence for the record */
};

/*
 * Decides once per batch whether parsers run in workers, and finds the
 * helper executable. Logs why when they cannot, and parsers then run in
 * the loops' own threads.
 */
void isolate_setup(struct mx_batch *b);

/*
 * Runs f's parser in the loop's worker and fills ctx from its response.
 * Returns parse()'s result when the worker responded, or a negative errno
 * with res describing the outcome (-ETIMEDOUT, -ECHILD for a crash).
 */
int isolate_parse(struct loop *l, struct file *f, struct parse_ctx *ctx,
		  struct parse_result *res);

/* Ends the loop's worker, if any. */
void isolate_stop(struct parser_worker *w);

#endif
