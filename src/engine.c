/*
 * Worker loops. A file moves through open, statx, reads and parsing, each
 * step a completion on the loop's ring:
 *
 *   openat -> statx -> read_fixed x N (in flight up to queue_depth) ->
 *   consumers in file order (type, digests) -> parser -> close -> record
 *
 * Reads complete in any order. Each file keeps its chunks in a window in
 * offset order and consumes the head of the window only, so digests see
 * the bytes in order. A short read is resubmitted for the rest of its
 * chunk; -EAGAIN and -EINTR are retried a bounded number of times.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "digest.h"
#include "engine.h"
#include "fmt.h"
#include "log.h"
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
	uint64_t submitted_ns;		/* for the latency histogram */
	struct chunk *next_free;
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
	struct chunk **window;		/* queue_depth entries, offset order */
	unsigned win_head;
	unsigned win_count;
	bool failed;
	bool identified;
	bool direct;			/* opened with O_DIRECT */
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

struct source {
	struct loop *loop;
	struct file *file;
	uint64_t cache_offset;
	uint32_t cache_len;		/* valid bytes in loop->parser_cache */
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
	struct file *files;
	struct file *free_files;
	unsigned files_used;
	unsigned ops_inflight;		/* submitted, completion not reaped */
	struct sniff *sniff;

	/* Statistics. */
	struct loop_report report;
	uint64_t now_ns;		/* after the last wait for completions */
	uint64_t started_ns;
	uint64_t waited_ns;
	unsigned reads_inflight;

	/* --max-rate: wakes the loop when the shared bucket refills. */
	bool timer_pending;
	struct __kernel_timespec timer;
};

static bool cancelled(const struct loop *l)
{
	return atomic_load_explicit(&l->batch->cancelled,
				    memory_order_relaxed);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static uint64_t tag(void *p, unsigned t)
{
	return (uint64_t)(uintptr_t)p | t;
}

/* Parser reads. */

static int parser_read_once(struct loop *l, int fd, void *buf, unsigned len,
			    uint64_t offset, int index)
{
	struct ring_completion c;
	unsigned attempt;
	int ret;

	for (attempt = 0; attempt < READ_ATTEMPTS_MAX; attempt++) {
		ret = ring_read(&l->parser_ring, fd, buf, len, offset, index,
				0);
		if (ret < 0)
			return ret;
		ret = ring_submit_wait(&l->parser_ring, 1);
		if (ret < 0)
			return ret;
		if (ring_reap(&l->parser_ring, &c, 1) != 1)
			return -EIO;
		if (c.res != -EAGAIN && c.res != -EINTR)
			return c.res;
	}
	return -EAGAIN;
}

ssize_t source_read(struct source *src, void *buf, size_t len,
		    uint64_t offset)
{
	struct file *f = src->file;
	struct loop *l = src->loop;
	unsigned char *out = buf;
	size_t done = 0;

	while (done < len && offset < f->size) {
		uint64_t want = len - done;
		int ret;

		if (offset >= src->cache_offset &&
		    offset < src->cache_offset + src->cache_len) {
			uint64_t skip = offset - src->cache_offset;
			uint64_t n = src->cache_len - skip;

			if (n > want)
				n = want;
			memcpy(out + done, l->parser_cache + skip, n);
			done += n;
			offset += n;
			continue;
		}
		if (want > f->size - offset)
			want = f->size - offset;
		if (want >= PARSER_CACHE && !f->direct) {
			/*
			 * Large reads bypass the cache, straight into buf;
			 * with O_DIRECT buf may be unaligned, so they may not.
			 */
			if (want > 1u << 30)
				want = 1u << 30;
			ret = parser_read_once(l, f->fd, out + done,
					       (unsigned)want, offset, -1);
		} else {
			src->cache_offset = offset & ~(uint64_t)4095;
			src->cache_len = 0;
			ret = parser_read_once(l, f->fd, l->parser_cache,
					       PARSER_CACHE, src->cache_offset,
					       0);
			if (ret > 0)
				src->cache_len = (uint32_t)ret;
		}
		if (ret < 0)
			return done ? (ssize_t)done : ret;
		f->parser_bytes += (uint64_t)ret;
		f->parser_reads++;
		atomic_fetch_add_explicit(&l->batch->bytes_done, (uint64_t)ret,
					  memory_order_relaxed);
		if (want >= PARSER_CACHE && !f->direct) {
			done += (size_t)ret;
			offset += (uint64_t)ret;
		} else if (offset >= src->cache_offset + src->cache_len) {
			break;	/* the file ended before offset: it shrank */
		}
		if (ret == 0)
			break;
	}
	return (ssize_t)done;
}

uint64_t source_size(const struct source *src)
{
	return src->file->size;
}

const char *source_path(const struct source *src)
{
	return src->file->task.path;
}

/* File slots. */

static struct file *file_get(struct loop *l)
{
	struct file *f = l->free_files;

	if (!f)
		return NULL;
	l->free_files = f->next_free;
	l->files_used++;
	return f;
}

static void file_put(struct loop *l, struct file *f)
{
	alloc_free(f->task.path);
	f->task.path = NULL;
	f->rec = NULL;
	f->state = FILE_FREE;
	f->next_free = l->free_files;
	l->free_files = f;
	l->files_used--;
}

static bool direct_requested(const struct file *f)
{
	return f->loop->batch->cfg.direct;
}

static void put_read_stats(struct file *f)
{
	struct arena *a = &f->rec->arena;
	struct mx_value *o = val_put_object(a, f->rec->root, "read");

	double seconds = elapsed(&f->t_start);

	val_put_int(a, o, "content_bytes", (int64_t)f->content_bytes);
	val_put_int(a, o, "content_reads", f->content_reads);
	val_put_int(a, o, "parser_bytes", (int64_t)f->parser_bytes);
	val_put_int(a, o, "parser_reads", f->parser_reads);
	val_put_int(a, o, "attempts", f->max_attempts);
	if (direct_requested(f))
		val_put_bool(a, o, "direct", f->direct);
	val_put_double(a, o, "seconds", seconds);
	if (seconds > 0)
		val_put_double(a, o, "bytes_per_second",
			       (double)(f->content_bytes + f->parser_bytes) /
			       seconds);
}

/* Closes the descriptor (when open), emits the record, frees the slot. */
static void file_end(struct loop *l, struct file *f)
{
	if (f->fd >= 0) {
		if (ring_close(&l->ring, f->fd, TAG_CLOSE) == 0)
			l->ops_inflight++;
		else
			close(f->fd);
		f->fd = -1;
	}
	l->report.files++;
	l->report.content_bytes += f->content_bytes;
	l->report.parser_bytes += f->parser_bytes;
	batch_emit(l->batch, f->rec);
	file_put(l, f);
}

static void identify(struct loop *l, struct file *f, const unsigned char *head,
		     size_t len)
{
	const struct mx_config *cfg = &l->batch->cfg;
	struct arena *a = &f->rec->arena;
	const char *mime = NULL;
	size_t i;

	f->identified = true;
	if (cfg->identify)
		mime = sniff_buffer(l->sniff, head, len, a,
				    val_put_object(a, f->rec->root, "type"));
	if (!cfg->parse)
		return;
	for (i = 0; fmt_backends[i]; i++) {
		if (fmt_backends[i]->probe(head, len, f->size, mime)) {
			f->fmt = fmt_backends[i];
			return;
		}
	}
}

/* Path whose parser runs on this thread, for crash reports. */
static _Thread_local const char *parsing_path;

const char *mx_parsing_path(void)
{
	return parsing_path;
}

static void run_parser(struct loop *l, struct file *f)
{
	struct arena *a = &f->rec->arena;
	struct source src = { .loop = l, .file = f };
	struct parse_ctx ctx = {
		.src = &src,
		.cfg = &l->batch->cfg,
		.arena = a,
		.out = val_object(a),
		.warnings = val_array(a),
	};
	const char *why;
	int ret;

	parsing_path = f->task.path;
	ret = f->fmt->parse(&ctx);
	parsing_path = NULL;
	why = ctx.message[0] ? ctx.message : strerror(-ret);

	if (mx_value_count(ctx.out) || ret == 0)
		val_put(a, f->rec->root, f->fmt->name, ctx.out);
	/*
	 * The probe may pick a parser on weak evidence, such as libmagic
	 * calling random bytes "audio/x-syx". A parser that then finds no
	 * format it handles leaves a warning, not a failed file.
	 */
	if (ret == -EOPNOTSUPP)
		val_push(a, ctx.warnings, val_cstring(a, arena_printf(a,
			 "%s parser: %s", f->fmt->name, why)));
	else if (ret < 0)
		record_fail(f->rec, STAGE_PARSE, ret, "%s parser: %s",
			    f->fmt->name, why);
	if (mx_value_count(ctx.warnings))
		val_put(a, f->rec->root, "warnings", ctx.warnings);
}

static bool same_time(const struct statx_timestamp *a,
		      const struct statx_timestamp *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Compares the statx taken after the last read with the one taken at open:
 * digests of a file written to meanwhile match neither its old nor its new
 * content, so such a file fails.
 */
static void on_restat(struct loop *l, struct file *f, int res)
{
	const struct statx *before = &f->stx, *after = &f->stx_end;

	if (res < 0) {
		record_fail(f->rec, STAGE_STAT, res,
			    "statx after the read failed: %s", strerror(-res));
	} else if (before->stx_size != after->stx_size ||
		   !same_time(&before->stx_mtime, &after->stx_mtime) ||
		   !same_time(&before->stx_ctime, &after->stx_ctime)) {
		val_put_bool(&f->rec->arena, f->rec->root,
			     "changed_during_read", true);
		record_fail(f->rec, STAGE_READ, EAGAIN,
			    "the file changed while it was read (size %llu, "
			    "then %llu bytes); read it again when it is "
			    "quiet", (unsigned long long)before->stx_size,
			    (unsigned long long)after->stx_size);
	}
	put_read_stats(f);
	file_end(l, f);
}

static void file_finish(struct loop *l, struct file *f)
{
	const struct mx_config *cfg = &l->batch->cfg;
	struct arena *a = &f->rec->arena;

	if (!f->failed) {
		if (!f->identified)
			identify(l, f, (const unsigned char *)"", 0);
		if (f->digests && cfg->content)
			digest_finish(f->digests, a,
				      val_put_object(a, f->rec->root,
						     "digests"));
		if (f->fmt)
			run_parser(l, f);
		if (ring_statx(&l->ring, f->fd, &f->stx_end,
			       tag(f, TAG_RESTAT)) == 0) {
			f->state = FILE_RESTATTING;
			l->ops_inflight++;
			return;
		}
	}
	put_read_stats(f);
	file_end(l, f);
}

/* Content reads. */

static int submit_chunk(struct loop *l, struct chunk *c)
{
	struct file *f = c->file;
	int ret;

	uint32_t len = c->len - c->filled;

	/*
	 * O_DIRECT wants whole blocks: the tail chunk asks for a multiple of
	 * 4 KiB (the buffer has room) and gets the bytes up to the end.
	 */
	if (f->direct)
		len = (len + 4095) & ~4095u;
	ret = ring_read(&l->ring, f->fd, c->buf + c->filled, len,
			c->offset + c->filled, c->index, tag(c, TAG_READ));
	if (ret < 0)
		return ret;
	l->ops_inflight++;
	c->submitted_ns = now_ns();
	if (++l->reads_inflight > l->report.max_reads_in_flight)
		l->report.max_reads_in_flight = l->reads_inflight;
	return 0;
}

static void release_chunk(struct loop *l, struct chunk *c)
{
	c->file = NULL;
	c->next_free = l->free_chunks;
	l->free_chunks = c;
}

/*
 * Takes bytes from the batch's --max-rate bucket, shared by the loops so
 * that one loop reading one file may use the whole rate. When the bucket
 * is short, arms a ring timeout for when it will hold enough and returns
 * false.
 */
static bool take_tokens(struct loop *l, uint64_t bytes)
{
	struct rate_limit *rl = &l->batch->rate;
	const uint64_t now = now_ns();
	double wait = 0;

	pthread_mutex_lock(&rl->lock);
	rl->tokens += rl->rate * (double)(now - rl->refilled_ns) / 1e9;
	if (rl->tokens > rl->capacity)
		rl->tokens = rl->capacity;
	rl->refilled_ns = now;
	if (rl->tokens >= (double)bytes)
		rl->tokens -= (double)bytes;
	else
		wait = ((double)bytes - rl->tokens) / rl->rate;
	pthread_mutex_unlock(&rl->lock);
	if (wait == 0)
		return true;
	if (!l->timer_pending) {
		l->timer.tv_sec = (long long)wait;
		l->timer.tv_nsec = (long long)((wait - (double)l->timer.tv_sec) *
					       1e9) + 1;
		if (ring_timeout(&l->ring, &l->timer, TAG_TIMER) == 0) {
			l->timer_pending = true;
			l->ops_inflight++;
		}
	}
	return false;
}

static void issue_reads(struct loop *l, struct file *f)
{
	const struct mx_config *cfg = &l->batch->cfg;

	/*
	 * The window holds chunks in flight and chunks done but waiting for
	 * an earlier one, so its fill (not the reads in flight) is the bound.
	 */
	while (!f->failed && f->win_count < cfg->queue_depth &&
	       f->next_read < f->read_end && l->free_chunks) {
		struct chunk *c = l->free_chunks;
		uint64_t left = f->read_end - f->next_read;

		if (cfg->max_rate && !take_tokens(l, left < cfg->chunk_size ?
						    left : cfg->chunk_size))
			return;

		l->free_chunks = c->next_free;
		c->file = f;
		c->offset = f->next_read;
		c->len = left < cfg->chunk_size ? (uint32_t)left :
						   cfg->chunk_size;
		c->filled = 0;
		c->attempts = 0;
		c->done = false;
		if (submit_chunk(l, c) < 0) {
			release_chunk(l, c);
			return;
		}
		f->window[(f->win_head + f->win_count) % cfg->queue_depth] = c;
		f->win_count++;
		f->next_read += c->len;
		f->inflight++;
	}
}

static void consume(struct loop *l, struct file *f, struct chunk *c)
{
	if (c->offset == 0)
		identify(l, f, c->buf, c->filled);
	if (f->digests && l->batch->cfg.content)
		digest_update(f->digests, c->buf, c->filled);
	f->next_consume += c->filled;
}

/* Consumes done chunks at the head of the window; ends the file when done. */
static void drain(struct loop *l, struct file *f)
{
	const unsigned depth = l->batch->cfg.queue_depth;

	while (f->win_count) {
		struct chunk *c = f->window[f->win_head];

		if (!c->done)
			break;
		if (!f->failed)
			consume(l, f, c);
		release_chunk(l, c);
		f->win_head = (f->win_head + 1) % depth;
		f->win_count--;
	}
	if (f->inflight)
		return;
	if (f->failed || f->next_consume == f->read_end)
		file_finish(l, f);
}

static void chunk_failed(struct file *f, struct chunk *c, int err)
{
	uint64_t at = c->offset + c->filled;

	if (err == 0)
		record_fail(f->rec, STAGE_READ, ENODATA,
			    "the file ended at byte %llu but had %llu bytes "
			    "when opened", (unsigned long long)at,
			    (unsigned long long)f->size);
	else
		record_fail(f->rec, STAGE_READ, err,
			    "read of %u bytes at offset %llu failed: %s",
			    c->len - c->filled, (unsigned long long)at,
			    strerror(-err));
	f->failed = true;
}

/*
 * Accounts one completion of chunk c. Returns true when a read for the
 * rest of the chunk is in flight again (a retry or a short read).
 */
static bool read_continues(struct loop *l, struct chunk *c, int res)
{
	struct file *f = c->file;
	int ret;

	if ((res == -EAGAIN || res == -EINTR) &&
	    ++c->attempts < READ_ATTEMPTS_MAX) {
		ret = submit_chunk(l, c);
		if (ret == 0)
			return true;
		res = ret;
	}
	if (res <= 0) {
		chunk_failed(f, c, res);
		return false;
	}
	/* A rounded-up O_DIRECT tail read may not return more than asked. */
	if ((uint32_t)res > c->len - c->filled)
		res = (int)(c->len - c->filled);
	c->filled += (uint32_t)res;
	f->content_bytes += (uint64_t)res;
	if (c->filled == c->len)
		return false;
	ret = submit_chunk(l, c);
	if (ret == 0)
		return true;
	chunk_failed(f, c, ret);
	return false;
}

static void on_read(struct loop *l, struct chunk *c, int res)
{
	struct file *f = c->file;

	l->reads_inflight--;
	l->report.reads++;
	f->content_reads++;
	if (c->attempts + 1 > f->max_attempts)
		f->max_attempts = c->attempts + 1;
	histogram_add(&l->report.latency, l->now_ns - c->submitted_ns);
	if (res > 0)
		atomic_fetch_add_explicit(&l->batch->bytes_done, (uint64_t)res,
					  memory_order_relaxed);

	/* Once the file has failed, its remaining reads only drain. */
	if (!f->failed && read_continues(l, c, res))
		return;
	c->done = true;
	f->inflight--;
	drain(l, f);
}

/* Open and stat. */

static void on_statx(struct loop *l, struct file *f, int res)
{
	const struct mx_config *cfg = &l->batch->cfg;
	int flags;

	if (res < 0) {
		record_fail(f->rec, STAGE_STAT, res, "statx failed: %s",
			    strerror(-res));
		file_end(l, f);
		return;
	}
	record_put_identity(f->rec, &f->stx);
	if (!S_ISREG(f->stx.stx_mode)) {
		record_skip(f->rec, "not a regular file");
		file_end(l, f);
		return;
	}
	/*
	 * The file was opened non-blocking so that a FIFO swapped in after
	 * the walk cannot hang the open. On a regular file, io_uring would
	 * then answer reads that must wait for the device with -EAGAIN, so
	 * blocking mode comes back before the first read.
	 */
	flags = fcntl(f->fd, F_GETFL);
	if (flags >= 0)
		fcntl(f->fd, F_SETFL, flags & ~O_NONBLOCK);
	f->size = f->stx.stx_size;
	f->read_end = f->size;
	if (!cfg->content && f->read_end > cfg->chunk_size)
		f->read_end = cfg->chunk_size;
	/*
	 * Buffered reads of a large file: ask for the doubled readahead
	 * window of sequential access (as fio does). Nothing waits for it.
	 */
	if (!f->direct && f->read_end > 4ull * cfg->chunk_size &&
	    ring_fadvise(&l->ring, f->fd, POSIX_FADV_SEQUENTIAL,
			 TAG_IGNORE) == 0)
		l->ops_inflight++;
	f->state = FILE_READING;
	if (cancelled(l)) {
		record_fail(f->rec, STAGE_READ, ECANCELED,
			    "the run was cancelled before the file was read");
		f->failed = true;
	}
	if (f->read_end == 0 || f->failed)
		file_finish(l, f);
}

/* Adds what statx by path tells of a file that could not be opened. */
static void on_stat_path(struct loop *l, struct file *f, int res)
{
	if (res == 0)
		record_put_identity(f->rec, &f->stx);
	file_end(l, f);
}

static int open_flags(const struct file *f)
{
	int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;

	if (!f->task.follow)
		flags |= O_NOFOLLOW;
	if (f->direct)
		flags |= O_DIRECT;
	return flags;
}

static void on_open(struct loop *l, struct file *f, int res)
{
	/* File systems without O_DIRECT (tmpfs, some FUSE) say EINVAL. */
	if (res == -EINVAL && f->direct) {
		f->direct = false;
		if (ring_openat(&l->ring, f->task.path, open_flags(f),
				tag(f, TAG_OPEN)) == 0) {
			l->ops_inflight++;
			return;
		}
	}
	if (res < 0) {
		record_fail(f->rec, STAGE_OPEN, res, "open failed: %s",
			    strerror(-res));
		/* A file that exists but may not be read still has an identity. */
		if (res != -ENOENT &&
		    ring_statx_path(&l->ring, f->task.path, f->task.follow,
				    &f->stx, tag(f, TAG_STAT_PATH)) == 0) {
			l->ops_inflight++;
			return;
		}
		file_end(l, f);
		return;
	}
	f->fd = res;
	f->state = FILE_STATTING;
	if (ring_statx(&l->ring, f->fd, &f->stx, tag(f, TAG_STATX)) < 0) {
		record_fail(f->rec, STAGE_STAT, EBUSY,
			    "no room in the submission queue");
		file_end(l, f);
		return;
	}
	l->ops_inflight++;
}

static void start_file(struct loop *l, struct task t)
{
	struct file *f = file_get(l);

	/* Callers take a task only when a slot is free. */
	if (!f) {
		mx_log(MX_LOG_ERROR, "engine", "%s: no free file slot",
		       t.path);
		alloc_free(t.path);
		return;
	}
	memset(&f->stx, 0, sizeof(f->stx));
	f->task = t;
	f->fd = -1;
	f->size = f->read_end = f->next_read = f->next_consume = 0;
	f->inflight = f->win_head = f->win_count = 0;
	f->failed = f->identified = false;
	f->fmt = NULL;
	f->content_bytes = f->parser_bytes = 0;
	f->parser_reads = f->content_reads = f->max_attempts = 0;
	clock_gettime(CLOCK_MONOTONIC, &f->t_start);
	if (f->digests)
		digest_reset(f->digests);
	f->rec = record_new(t.path);
	if (!f->rec) {
		mx_log(MX_LOG_ERROR, "engine", "%s: no memory for a record",
		       t.path);
		file_put(l, f);
		return;
	}
	f->direct = l->batch->cfg.direct;
	f->state = FILE_OPENING;
	if (ring_openat(&l->ring, t.path, open_flags(f), tag(f, TAG_OPEN)) < 0) {
		record_fail(f->rec, STAGE_OPEN, EBUSY,
			    "no room in the submission queue");
		file_end(l, f);
		return;
	}
	l->ops_inflight++;
}

static void handle(struct loop *l, const struct ring_completion *c)
{
	void *p = (void *)(uintptr_t)(c->user & ~(uint64_t)TAG_MASK);

	l->ops_inflight--;
	switch (c->user & TAG_MASK) {
	case TAG_OPEN:
		on_open(l, p, c->res);
		break;
	case TAG_STATX:
		on_statx(l, p, c->res);
		break;
	case TAG_READ:
		on_read(l, p, c->res);
		break;
	case TAG_RESTAT:
		on_restat(l, p, c->res);
		break;
	case TAG_STAT_PATH:
		on_stat_path(l, p, c->res);
		break;
	case TAG_TIMER:
		l->timer_pending = false;
		break;
	default:
		break;	/* close and fadvise: nothing left to do */
	}
}

/*
 * Ends the files that wait for reads the ring would not take, so that a
 * submission failure costs those files, never a hang.
 */
static void fail_stalled(struct loop *l)
{
	unsigned i;

	for (i = 0; i < l->batch->cfg.files_in_flight; i++) {
		struct file *f = &l->files[i];

		if (f->state != FILE_READING || f->inflight)
			continue;
		record_fail(f->rec, STAGE_READ, EBUSY,
			    "the ring did not accept the read at offset %llu",
			    (unsigned long long)f->next_read);
		f->failed = true;
		drain(l, f);
	}
}

/* Ends the reads of every file in flight after mx_batch_cancel(). */
static void cancel_files(struct loop *l)
{
	unsigned i;

	for (i = 0; i < l->batch->cfg.files_in_flight; i++) {
		struct file *f = &l->files[i];

		if (f->state != FILE_READING || f->failed)
			continue;
		record_fail(f->rec, STAGE_READ, ECANCELED,
			    "the run was cancelled after %llu of %llu bytes",
			    (unsigned long long)f->next_consume,
			    (unsigned long long)f->read_end);
		f->failed = true;
		drain(l, f);
	}
}

static void run(struct loop *l)
{
	struct task_queue *q = &l->batch->queue;
	struct ring_completion done[64];
	struct task t;
	uint64_t wait_ns;
	unsigned i, n;
	int ret;

	for (;;) {
		while (!cancelled(l) && l->free_files && queue_try_pop(q, &t))
			start_file(l, t);
		if (l->ops_inflight == 0 && l->files_used == 0) {
			bool more;

			if (cancelled(l))
				break;
			wait_ns = now_ns();
			more = queue_pop_wait(q, &t);
			l->now_ns = now_ns();
			l->waited_ns += l->now_ns - wait_ns;
			if (!more)
				break;
			start_file(l, t);
			continue;
		}
		if (cancelled(l))
			cancel_files(l);
		for (i = 0; i < l->batch->cfg.files_in_flight; i++)
			if (l->files[i].state == FILE_READING)
				issue_reads(l, &l->files[i]);
		if (l->ops_inflight == 0) {
			fail_stalled(l);
			continue;
		}
		wait_ns = now_ns();
		ret = ring_submit_wait(&l->ring, 1);
		l->now_ns = now_ns();
		l->waited_ns += l->now_ns - wait_ns;
		if (ret < 0)
			mx_log(MX_LOG_WARN, "engine",
			       "loop %u: io_uring_enter failed: %s", l->id,
			       strerror(-ret));
		do {
			n = ring_reap(&l->ring, done, 64);
			for (i = 0; i < n; i++)
				handle(l, &done[i]);
		} while (n == 64);
	}
}

/* Setup and teardown, on the loop's own thread. */

static int setup_buffers(struct loop *l)
{
	const struct mx_config *cfg = &l->batch->cfg;
	struct iovec *iov;
	unsigned i;
	int ret = 0;

	l->arena = alloc_aligned(4096, (size_t)cfg->buffers * cfg->chunk_size);
	l->chunks = alloc_calloc(cfg->buffers, sizeof(*l->chunks));
	iov = alloc_calloc(cfg->buffers, sizeof(*iov));
	if (!l->arena || !l->chunks || !iov) {
		alloc_free(iov);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->buffers; i++) {
		struct chunk *c = &l->chunks[i];

		c->buf = l->arena + (size_t)i * cfg->chunk_size;
		c->index = (int)i;
		iov[i].iov_base = c->buf;
		iov[i].iov_len = cfg->chunk_size;
		release_chunk(l, c);
	}
	if (l->batch->register_buffers) {
		ret = ring_register_buffers(&l->ring, iov, cfg->buffers);
		l->register_error = ret;
		if (ret < 0)
			mx_log(MX_LOG_WARN, "engine",
			       "loop %u: registering %u buffers failed (%s); "
			       "reading into unregistered buffers", l->id,
			       cfg->buffers, strerror(-ret));
	}
	alloc_free(iov);
	return 0;
}

static int setup_parser_ring(struct loop *l)
{
	struct iovec iov;
	int ret;

	l->parser_cache = alloc_aligned(4096, PARSER_CACHE);
	if (!l->parser_cache)
		return -ENOMEM;
	ret = ring_init(&l->parser_ring, 4);
	if (ret < 0)
		return ret;
	l->parser_ring_ready = true;
	iov.iov_base = l->parser_cache;
	iov.iov_len = PARSER_CACHE;
	if (l->batch->register_buffers)
		ring_register_buffers(&l->parser_ring, &iov, 1);
	return 0;
}

static int setup_files(struct loop *l)
{
	const struct mx_config *cfg = &l->batch->cfg;
	unsigned i;

	l->files = alloc_calloc(cfg->files_in_flight, sizeof(*l->files));
	if (!l->files)
		return -ENOMEM;
	for (i = cfg->files_in_flight; i-- > 0;) {
		struct file *f = &l->files[i];

		f->loop = l;
		f->fd = -1;
		f->window = alloc_calloc(cfg->queue_depth, sizeof(*f->window));
		if (!f->window)
			return -ENOMEM;
		if (cfg->digests && cfg->content) {
			f->digests = digest_new(cfg->digests);
			if (!f->digests)
				return -ENOMEM;
		}
		f->next_free = l->free_files;
		l->free_files = f;
	}
	return 0;
}

static int setup(struct loop *l, char *msg, size_t msg_len)
{
	const struct mx_config *cfg = &l->batch->cfg;
	unsigned entries = cfg->buffers + 2 * cfg->files_in_flight + 1;
	int ret;

	l->report.id = l->id;
	histogram_init(&l->report.latency);
	l->started_ns = l->now_ns = now_ns();

	ret = ring_init(&l->ring, entries < 4096 ? entries : 4096);
	if (ret == -ENOMEM) {
		snprintf(msg, msg_len, "io_uring setup failed: %s; rings "
			 "count against RLIMIT_MEMLOCK, so raise it (ulimit -l)",
			 strerror(-ret));
		return ret;
	}
	if (ret < 0) {
		snprintf(msg, msg_len, "io_uring setup failed: %s",
			 strerror(-ret));
		return ret;
	}
	l->ring_ready = true;
	ret = setup_buffers(l);
	if (ret == 0)
		ret = setup_parser_ring(l);
	if (ret == 0)
		ret = setup_files(l);
	if (ret < 0) {
		snprintf(msg, msg_len, "loop setup failed: %s",
			 strerror(-ret));
		return ret;
	}
	if (cfg->identify)
		ret = sniff_new(&l->sniff, msg, msg_len);
	if (ret == 0)
		mx_log(MX_LOG_DEBUG, "engine", "loop %u: ring flags %s, %s "
		       "buffers", l->id, ring_flags_name(l->ring.setup_flags),
		       l->ring.fixed_buffers ? "registered" : "plain");
	return ret;
}

static void teardown(struct loop *l)
{
	const struct mx_config *cfg = &l->batch->cfg;
	unsigned i;

	if (l->files) {
		for (i = 0; i < cfg->files_in_flight; i++) {
			alloc_free(l->files[i].window);
			digest_free(l->files[i].digests);
		}
	}
	alloc_free(l->files);
	sniff_free(l->sniff);
	if (l->parser_ring_ready)
		ring_exit(&l->parser_ring);
	if (l->ring_ready)
		ring_exit(&l->ring);
	alloc_free(l->parser_cache);
	alloc_free(l->chunks);
	alloc_free(l->arena);
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct mx_batch *b = l->batch;
	char msg[256] = "";
	int ret = setup(l, msg, sizeof(msg));

	pthread_mutex_lock(&b->start_lock);
	if (ret < 0 && b->setup_error == 0) {
		b->setup_error = ret;
		snprintf(b->setup_message, sizeof(b->setup_message), "%s",
			 msg);
	}
	if (ret == 0 && b->register_buffers && !l->ring.fixed_buffers) {
		const char *err = strerrorname_np(-l->register_error);

		b->sum.registered_buffers = false;
		snprintf(b->sum.buffer_note, sizeof(b->sum.buffer_note),
			 "plain: registering %u x %u KiB failed with %s "
			 "(locked memory of this user's other processes "
			 "counts too)", b->cfg.buffers,
			 b->cfg.chunk_size >> 10, err ? err : "an error");
	}
	b->loops_ready++;
	pthread_cond_broadcast(&b->started);
	pthread_mutex_unlock(&b->start_lock);
	if (ret == 0)
		run(l);
	return NULL;
}

int loop_start(struct mx_batch *b, unsigned id, struct loop **out)
{
	struct loop *l = alloc_calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->batch = b;
	l->id = id;
	ret = pthread_create(&l->thread, NULL, loop_main, l);
	if (ret) {
		alloc_free(l);
		return -ret;
	}
	*out = l;
	return 0;
}

void loop_join(struct loop *l, struct loop_report *report)
{
	uint64_t life;

	pthread_join(l->thread, NULL);
	life = now_ns() - l->started_ns;
	l->report.busy_fraction = life ? 1.0 - (double)l->waited_ns /
					 (double)life : 0.0;
	l->report.fixed_buffers = l->ring.fixed_buffers;
	snprintf(l->report.ring_flags, sizeof(l->report.ring_flags), "%s",
		 l->ring_ready ? ring_flags_name(l->ring.setup_flags) : "none");
	*report = l->report;
	teardown(l);
	alloc_free(l);
}
