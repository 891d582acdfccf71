/*
 * Private structures of the worker loops, shared by engine.c (the file
 * state machine), loop.c (set-up and tear-down) and source.c (parser
 * reads).
 */
#ifndef MX_LOOP_H
#define MX_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "digest.h"
#include "engine.h"
#include "fmt.h"
#include "isolate.h"
#include "ring.h"
#include "sniff.h"

#define TAG_OPEN 1u
#define TAG_STATX 2u
#define TAG_READ 3u
#define TAG_CLOSE 4u
#define TAG_RESTAT 5u
#define TAG_STAT_PATH 6u
#define TAG_TIMER 7u
#define TAG_IGNORE 0u		/* completions with nothing left to do */
#define TAG_MASK 7u

/* Attempts of one read that keeps failing with -EAGAIN or -EINTR. */
#define READ_ATTEMPTS_MAX 16

/* Parser reads go through a one-block cache of this size. */
#define PARSER_CACHE 65536u

enum file_state {
	FILE_FREE,
	FILE_OPENING,
	FILE_STATTING,
	FILE_READING,
	FILE_RESTATTING,	/* all read; waiting for the final statx */
};

struct file;

struct chunk {
	struct file *file;
	unsigned char *buf;
	int index;			/* registered buffer index */
	uint64_t offset;
	uint32_t len;
	uint32_t filled;
	unsigned attempts;
	bool done;
	bool hole;			/* zeros of a sparse file, not read */
	uint64_t submitted_ns;		/* for the latency histogram */
	uint64_t retry_at_ns;		/* on the retry list: when to resubmit */
	struct chunk *next_free;	/* also links the retry list */
};

struct file {
	struct loop *loop;
	enum file_state state;
	struct task task;
	struct mx_record *rec;
	int fd;
	struct statx stx;		/* at open */
	struct statx stx_end;		/* after the last read */
	uint64_t size;			/* from statx at open */
	uint64_t read_end;		/* size, or the first chunk only */
	uint64_t next_read;
	uint64_t next_consume;
	unsigned inflight;		/* chunks not yet done */
	struct chunk **window;		/* depth entries, offset order */
	unsigned depth;			/* reads kept in flight */
	unsigned win_head;
	unsigned win_count;
	bool failed;
	bool identified;
	bool direct;			/* read with O_DIRECT */
	bool auto_direct;		/* O_DIRECT chosen from the cache state */
	bool sparse;			/* fewer blocks than its size needs */
	uint64_t data_end;		/* end of the data run at next_read */
	uint64_t hole_bytes;		/* zeros fed to digests unread */
	uint64_t dropped;		/* --drop-cache: pages dropped below */
	const struct fmt_ops *fmt;	/* parser chosen from the first chunk */
	struct digest_set *digests;
	uint64_t content_bytes;
	uint64_t parser_bytes;
	unsigned parser_reads;
	unsigned content_reads;
	unsigned max_attempts;		/* of any one read of this file */
	struct timespec t_start;
	struct file *next_free;
};

/*
 * What a parser reads from: a file of a loop, read through the loop's
 * parser ring, or, in a parser worker (loop NULL), a descriptor read with
 * pread.
 */
struct source {
	struct loop *loop;
	struct file *file;
	uint64_t cache_offset;
	uint32_t cache_len;		/* valid bytes in the cache */

	/* Parser worker only. */
	int fd;
	uint64_t size;
	const char *path;
	unsigned char *cache;		/* PARSER_CACHE bytes */
	uint64_t bytes;
	unsigned reads;
	struct worker_shared *shared;	/* counters the loop watches */
};

struct loop {
	struct mx_batch *batch;
	unsigned id;
	pthread_t thread;
	struct ring ring;		/* opens, stats and content reads */
	struct ring parser_ring;	/* synchronous reads of parsers */
	bool ring_ready;
	bool parser_ring_ready;
	int register_error;		/* of io_uring_register_buffers */
	unsigned char *arena;		/* nbuf chunk buffers */
	struct chunk *chunks;
	struct chunk *free_chunks;
	unsigned char *parser_cache;
	struct fs_kind {		/* whether a device's file system is */
		uint64_t dev;		/* local, for statx_inline() */
		bool local;
	} fs_kinds[8];
	unsigned fs_kinds_used;
	struct file *files;
	struct file *free_files;
	unsigned files_used;
	unsigned large_in_flight;	/* files of LARGE_FILE_BYTES or more */
	unsigned ops_inflight;		/* submitted, completion not reaped */
	struct sniff *sniff;
	struct parser_worker worker;	/* when the batch isolates parsers */

	/* Statistics. */
	struct loop_report report;
	uint64_t now_ns;		/* after the last wait for completions */
	uint64_t started_ns;
	uint64_t waited_ns;
	unsigned reads_inflight;
	uint64_t chunks_consumed;	/* shows progress without reads */

	/* Wakes the loop for --max-rate refills and read retries. */
	bool timer_pending;
	struct __kernel_timespec timer;
	struct chunk *retries;		/* reads waiting to be tried again */
	uint64_t random_state;		/* xorshift64, for retry jitter */
};

static inline bool cancelled(const struct loop *l)
{
	return atomic_load_explicit(&l->batch->cancelled,
				    memory_order_relaxed);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static inline uint64_t tag(void *p, unsigned t)
{
	return (uint64_t)(uintptr_t)p | t;
}

/* Runs the loop until its queue is closed and drained (engine.c). */
void loop_run(struct loop *l);

/* Puts a chunk back on the loop's free list. */
static inline void release_chunk(struct loop *l, struct chunk *c)
{
	c->file = NULL;
	c->hole = false;
	c->next_free = l->free_chunks;
	l->free_chunks = c;
}

#endif
