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
 * chunk; -EAGAIN and -EINTR are retried up to 16 times, after pauses
 * that double from 1 ms, with jitter.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "alloc.h"
#include "cachestate.h"
#include "deque.h"
#include "fault.h"
#include "log.h"
#include "loop.h"

static void drop_consumed(struct file *f);

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
	if (f->task.large)
		l->large_in_flight--;
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
	if (f->sparse || f->hole_bytes)
		val_put_int(a, o, "hole_bytes", (int64_t)f->hole_bytes);
	val_put_int(a, o, "parser_bytes", (int64_t)f->parser_bytes);
	val_put_int(a, o, "parser_reads", f->parser_reads);
	val_put_int(a, o, "attempts", f->max_attempts);
	if (direct_requested(f) || f->auto_direct)
		val_put_bool(a, o, "direct", f->direct);
	if (f->auto_direct)
		val_put_bool(a, o, "direct_chosen", true);
	val_put_double(a, o, "seconds", seconds);
	/*
	 * In whole bytes a second: the fractions were noise, and a value
	 * of 15 digits or fewer is formatted once instead of up to three
	 * times (printf and strtod were a tenth of the CPU time over small
	 * files).
	 */
	if (seconds > 0)
		val_put_double(a, o, "bytes_per_second",
			       (double)(uint64_t)((double)(f->content_bytes +
							   f->parser_bytes) /
						  seconds + 0.5));
}

/* Closes the descriptor (when open), emits the record, frees the slot. */
static void file_end(struct loop *l, struct file *f)
{
	/*
	 * Whatever the outcome, drop the whole file: parsers read anywhere,
	 * and readahead runs past a read cut short.
	 */
	if (f->fd >= 0 && l->batch->cfg.drop_cache && !f->direct)
		posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
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

/* Adds how an isolated parse ended to the record's error object. */
static void put_outcome(struct file *f, const struct parse_result *res,
			int ret)
{
	static const char *const names[] = {
		[PARSE_CRASHED] = "crash",
		[PARSE_TIMED_OUT] = "timeout",
		[PARSE_UNAVAILABLE] = "unavailable",
		[PARSE_CANCELLED] = NULL,
	};
	struct arena *a = &f->rec->arena;
	struct mx_value *e = val_find(f->rec->root, "error");

	if (!e)
		return;
	if (res->outcome == PARSE_RETURNED) {
		if (ret == -ENOMEM)
			val_put_cstring(a, e, "parser_outcome", "memory");
		return;
	}
	if (names[res->outcome])
		val_put_cstring(a, e, "parser_outcome", names[res->outcome]);
	if (res->signal)
		val_put(a, e, "signal", val_cstring(a, arena_printf(a, "SIG%s",
			sigabbrev_np(res->signal))));
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
	struct parse_result res = { .outcome = PARSE_RETURNED };
	const char *reason;
	int ret;

	if (l->batch->isolate) {
		ret = isolate_parse(l, f, &ctx, &res);
	} else {
		parsing_path = f->task.path;
		ret = f->fmt->parse(&ctx);
		parsing_path = NULL;
	}
	reason = res.detail[0] ? res.detail :
		 ctx.message[0] ? ctx.message : strerror(-ret);

	if (mx_value_count(ctx.out) || ret == 0)
		val_put(a, f->rec->root, f->fmt->name, ctx.out);
	/*
	 * The probe may pick a parser on weak evidence, such as libmagic
	 * calling random bytes "audio/x-syx". A parser that then finds no
	 * format it handles leaves a warning, not a failed file.
	 */
	if (ret == -EOPNOTSUPP) {
		val_push(a, ctx.warnings, val_cstring(a, arena_printf(a,
			 "%s parser: %s", f->fmt->name, reason)));
	} else if (ret < 0) {
		record_fail(f->rec, STAGE_PARSE, ret == -ECHILD ? 0 : ret,
			    "%s parser: %s", f->fmt->name, reason);
		put_outcome(f, &res, ret);
	}
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
 * digests of a file written to meanwhile may match neither its old nor its
 * new content, so such a file fails. Size and mtime show writes; ctime
 * alone changes with a rename, chmod or unlink, which leave the bytes be.
 */
static void on_restat(struct loop *l, struct file *f, int res)
{
	const struct statx *before = &f->stx, *after = &f->stx_end;

	if (res < 0) {
		record_fail(f->rec, STAGE_STAT, res,
			    "statx after the read failed: %s", strerror(-res));
	} else if (before->stx_size != after->stx_size ||
		   !same_time(&before->stx_mtime, &after->stx_mtime)) {
		val_put_bool(&f->rec->arena, f->rec->root,
			     "changed_during_read", true);
		record_fail(f->rec, STAGE_READ, EAGAIN,
			    "the file was written while it was read (size "
			    "%llu then %llu bytes, mtime %lld.%09u then "
			    "%lld.%09u); read it again when it is quiet",
			    (unsigned long long)before->stx_size,
			    (unsigned long long)after->stx_size,
			    (long long)before->stx_mtime.tv_sec,
			    before->stx_mtime.tv_nsec,
			    (long long)after->stx_mtime.tv_sec,
			    after->stx_mtime.tv_nsec);
	}
	put_read_stats(f);
	file_end(l, f);
}

/*
 * Whether fd is on one of the local file systems listed, where statx of
 * an open file reads memory instead of asking a server.
 */
static bool fs_is_local(int fd)
{
	static const long local[] = {
		EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, BTRFS_SUPER_MAGIC,
		TMPFS_MAGIC, RAMFS_MAGIC, F2FS_SUPER_MAGIC, MSDOS_SUPER_MAGIC,
		0x2fc12fc1,	/* ZFS */
		0xca451a4e,	/* bcachefs */
	};
	struct statfs sfs;
	size_t i;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (sfs.f_type == local[i])
			return true;
	return false;
}

/*
 * Whether statx runs in the loop rather than through the ring. io_uring
 * hands every statx to an io-wq worker thread, and those thread switches
 * cost a quarter of the CPU time over 100,000 small files. On a local file
 * system statx of an open file reads memory, so it runs in the loop. On
 * others (NFS, Lustre, FUSE, unknown) it may wait for a server and stays
 * on the ring. Each loop calls fstatfs once per device, for up to 8.
 */
static bool statx_inline(struct loop *l, struct file *f)
{
	struct fs_kind *k;
	unsigned i;

	if (l->ring.pool || !f->task.dev)
		return false;
	for (i = 0; i < l->fs_kinds_used; i++)
		if (l->fs_kinds[i].dev == f->task.dev)
			return l->fs_kinds[i].local;
	if (l->fs_kinds_used == sizeof(l->fs_kinds) / sizeof(l->fs_kinds[0]))
		return false;
	k = &l->fs_kinds[l->fs_kinds_used++];
	k->dev = f->task.dev;
	k->local = fs_is_local(f->fd);
	return k->local;
}

/* statx of the open file, in the loop; 0 or a negative errno. */
static int statx_now(struct file *f, struct statx *stx)
{
	return statx(f->fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
		     STATX_BASIC_STATS | STATX_BTIME, stx) < 0 ? -errno : 0;
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
		if (statx_inline(l, f)) {
			on_restat(l, f, statx_now(f, &f->stx_end));
			return;
		}
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
	 * O_DIRECT wants whole blocks: the tail chunk requests a multiple of
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

/*
 * Arms the loop's one timer to wake it after ns nanoseconds, unless it is
 * armed already: a refill or a retry then waits at most until that timer
 * fires, and the loop arms it again for what is still waiting.
 */
static void arm_timer(struct loop *l, uint64_t ns)
{
	if (l->timer_pending)
		return;
	l->timer.tv_sec = (long long)(ns / 1000000000u);
	l->timer.tv_nsec = (long long)(ns % 1000000000u);
	if (ring_timeout(&l->ring, &l->timer, TAG_TIMER) == 0) {
		l->timer_pending = true;
		l->ops_inflight++;
	}
}

/*
 * Reads that fail with EAGAIN or EINTR are tried again after a pause that
 * doubles from 1 ms up to 1 s. Half of each pause is random, so loops hit
 * by the same hiccup of the storage do not all come back at once.
 */
#define RETRY_BASE_NS 1000000ull
#define RETRY_MAX_NS 1000000000ull

static uint64_t retry_delay_ns(struct loop *l, unsigned attempt)
{
	uint64_t delay = RETRY_BASE_NS << (attempt < 11 ? attempt - 1 : 10);
	uint64_t x = l->random_state ? l->random_state :
		     now_ns() ^ ((uint64_t)l->id << 32) ^ 0x9e3779b97f4a7c15u;

	if (delay > RETRY_MAX_NS)
		delay = RETRY_MAX_NS;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	l->random_state = x;
	return delay / 2 + x % (delay / 2 + 1);
}

static void schedule_retry(struct loop *l, struct chunk *c)
{
	uint64_t delay = retry_delay_ns(l, c->attempts);

	c->retry_at_ns = now_ns() + delay;
	c->next_free = l->retries;
	l->retries = c;
	arm_timer(l, delay);
}

static void drain(struct loop *l, struct file *f);
static int submit_chunk(struct loop *l, struct chunk *c);
static void chunk_failed(struct file *f, struct chunk *c, int err);

/* Resubmits the reads whose pause is over, and rearms the timer. */
static void run_retries(struct loop *l)
{
	struct chunk **link = &l->retries, *c;
	uint64_t now = now_ns(), next = 0;

	while ((c = *link) != NULL) {
		struct file *f = c->file;
		int ret = 0;

		if (c->retry_at_ns > now) {
			if (!next || c->retry_at_ns < next)
				next = c->retry_at_ns;
			link = &c->next_free;
			continue;
		}
		*link = c->next_free;
		c->next_free = NULL;
		if (!f->failed && (ret = submit_chunk(l, c)) == 0)
			continue;
		if (ret < 0)
			chunk_failed(f, c, ret);
		c->done = true;
		f->inflight--;
		drain(l, f);
	}
	if (next)
		arm_timer(l, next - now);
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
	uint64_t now;
	double wait = 0;

	pthread_mutex_lock(&rl->lock);
	/* Read under the lock: another loop may have refilled just now. */
	now = now_ns();
	if (now > rl->refilled_ns)
		rl->tokens += rl->rate * (double)(now - rl->refilled_ns) / 1e9;
	if (rl->tokens > rl->capacity)
		rl->tokens = rl->capacity;
	if (now > rl->refilled_ns)
		rl->refilled_ns = now;
	if (rl->tokens >= (double)bytes)
		rl->tokens -= (double)bytes;
	else
		wait = ((double)bytes - rl->tokens) / rl->rate;
	pthread_mutex_unlock(&rl->lock);
	if (wait == 0)
		return true;
	arm_timer(l, (uint64_t)(wait * 1e9) + 1);
	return false;
}

static void drain(struct loop *l, struct file *f);

/* Largest hole taken as one window entry; digests get it in pieces. */
#define HOLE_CHUNK_MAX (1u << 30)

/*
 * Returns the length of the hole at f->next_read (0 inside data), found
 * with SEEK_DATA and SEEK_HOLE, and sets f->data_end to the end of the
 * data run that follows. These lseek calls are the one blocking call a
 * loop makes, once per run of data or hole; they read only metadata.
 */
static uint64_t hole_at(struct file *f)
{
	off_t data, hole;

	if (f->next_read < f->data_end)
		return 0;
	data = lseek(f->fd, (off_t)f->next_read, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		data = (off_t)f->read_end;	/* only a hole is left */
	if (data < 0) {
		f->sparse = false;	/* no SEEK_DATA here: read it all */
		return 0;
	}
	if ((uint64_t)data > f->next_read)
		return ((uint64_t)data < f->read_end ? (uint64_t)data :
			f->read_end) - f->next_read;
	hole = lseek(f->fd, data, SEEK_HOLE);
	f->data_end = hole > data ? (uint64_t)hole : f->read_end;
	return 0;
}

static void window_push(struct loop *l, struct file *f, struct chunk *c)
{
	f->window[(f->win_head + f->win_count) % l->batch->cfg.buffers] = c;
	f->win_count++;
	f->next_read += c->len;
}

static void take_chunk(struct loop *l, struct file *f, struct chunk *c,
		       uint64_t len)
{
	l->free_chunks = c->next_free;
	c->file = f;
	c->offset = f->next_read;
	c->len = (uint32_t)len;
	c->filled = 0;
	c->attempts = 0;
	c->done = false;
}

/*
 * Queues reads of the file's next chunks while fewer than its depth are in
 * flight and buffers are free. The window contains the reads in flight
 * and the chunks done but not yet consumed, in file order. It is bounded
 * at twice the depth, so that a slow first read cannot take every buffer
 * of the loop from the other files. Returns the number of reads queued.
 */
static unsigned refill(struct loop *l, struct file *f)
{
	const struct mx_config *cfg = &l->batch->cfg;
	unsigned queued = 0;

	while (!f->failed && f->inflight < f->depth &&
	       f->win_count < 2 * f->depth &&
	       f->next_read < f->read_end && l->free_chunks) {
		struct chunk *c = l->free_chunks;
		uint64_t len = f->read_end - f->next_read;
		uint64_t hole = f->sparse ? hole_at(f) : 0;

		if (hole) {
			/* Zeros in order, with no read and no buffer use. */
			take_chunk(l, f, c, hole < HOLE_CHUNK_MAX ? hole :
					    HOLE_CHUNK_MAX);
			c->hole = true;
			c->filled = c->len;
			c->done = true;
			window_push(l, f, c);
			continue;
		}
		if (f->sparse && f->data_end - f->next_read < len)
			len = f->data_end - f->next_read;
		if (len > cfg->chunk_size)
			len = cfg->chunk_size;
		if (cfg->max_rate && !take_tokens(l, len))
			break;
		take_chunk(l, f, c, len);
		if (submit_chunk(l, c) < 0) {
			release_chunk(l, c);
			break;
		}
		window_push(l, f, c);
		f->inflight++;
		queued++;
	}
	return queued;
}

static void issue_reads(struct loop *l, struct file *f)
{
	refill(l, f);
	/* Holes are done at once: nothing else would consume them. */
	if (f->win_count && f->window[f->win_head]->done)
		drain(l, f);
}

static const unsigned char zeros[65536];

/* Feeds the zeros of a hole to the digests, in pieces of 64 KiB. */
static void consume_hole(struct loop *l, struct file *f, struct chunk *c)
{
	uint64_t left = c->len;

	if (c->offset == 0)
		identify(l, f, zeros, left < sizeof(zeros) ? left :
				       sizeof(zeros));
	while (f->digests && left) {
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);

		digest_update(f->digests, zeros, n);
		left -= n;
	}
	f->hole_bytes += c->len;
}

/* --drop-cache drops consumed pages in steps of this many bytes. */
#define DROP_STEP (8u << 20)

/*
 * Drops the consumed part of a buffered file from the page cache, so
 * that a long scan leaves a shared node's cache to its other users. A
 * direct posix_fadvise call: for clean pages it only unmaps them.
 */
static void drop_consumed(struct file *f)
{
	uint64_t upto = f->next_consume;

	if (f->direct || upto <= f->dropped || upto - f->dropped < DROP_STEP)
		return;
	posix_fadvise(f->fd, (off_t)f->dropped, (off_t)(upto - f->dropped),
		      POSIX_FADV_DONTNEED);
	f->dropped = upto;
}

static void consume(struct loop *l, struct file *f, struct chunk *c)
{
	l->chunks_consumed++;
	if (c->hole)
		consume_hole(l, f, c);
	else if (c->offset == 0)
		identify(l, f, c->buf, c->filled);
	if (!c->hole && f->digests && l->batch->cfg.content)
		digest_update(f->digests, c->buf, c->filled);
	f->next_consume += c->filled;
	if (l->batch->cfg.drop_cache)
		drop_consumed(f);
}

/* Consumes done chunks at the head of the window; ends the file when done. */
static void drain(struct loop *l, struct file *f)
{
	while (f->win_count) {
		struct chunk *c = f->window[f->win_head];

		if (!c->done)
			break;
		if (!f->failed)
			consume(l, f, c);
		release_chunk(l, c);
		f->win_head = (f->win_head + 1) % l->batch->cfg.buffers;
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
		schedule_retry(l, c);
		return true;
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

	res = fault_read(res);
	l->reads_inflight--;
	l->report.reads++;
	f->content_reads++;
	if (c->attempts + 1 > f->max_attempts)
		f->max_attempts = c->attempts + 1;
	histogram_add(&l->report.latency, l->now_ns > c->submitted_ns ?
					  l->now_ns - c->submitted_ns : 0);
	if (res > 0)
		atomic_fetch_add_explicit(&l->batch->bytes_done, (uint64_t)res,
					  memory_order_relaxed);

	/* Once the file has failed, its remaining reads only drain. */
	if (!f->failed && read_continues(l, c, res))
		return;
	c->done = true;
	f->inflight--;
	/*
	 * Submits the next reads before consuming this chunk, so that the
	 * device works while the digests run. Completions can arrive in
	 * bursts, and hashing a burst first left the device idle: 2.6 s
	 * against 2.1 s without digests on an 8 GiB O_DIRECT read.
	 */
	if (f->state == FILE_READING && refill(l, f))
		ring_flush(&l->ring);
	drain(l, f);
}

/* Open and stat. */

/*
 * O_DIRECT for large files that are mostly not cached: reading around the
 * page cache is faster on fast devices (no copy, no reclaim) and leaves
 * the cache to what is already in it. A cached file stays buffered, since
 * its pages are served without the device.
 */
#define AUTO_DIRECT_MIN_BYTES (64ull << 20)

static void choose_direct(struct loop *l, struct file *f)
{
	const struct mx_config *cfg = &l->batch->cfg;
	int flags;

	if (f->direct || !cfg->auto_direct || !cfg->content || f->sparse ||
	    f->read_end < AUTO_DIRECT_MIN_BYTES)
		return;
	if (cached_fraction(f->fd, f->size) > 0.25)
		return;
	flags = fcntl(f->fd, F_GETFL);
	/* File systems without O_DIRECT (tmpfs, some FUSE) refuse it here. */
	if (flags < 0 || fcntl(f->fd, F_SETFL, flags | O_DIRECT) < 0)
		return;
	f->direct = true;
	f->auto_direct = true;
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

static void on_statx(struct loop *l, struct file *f, int res)
{
	const struct mx_config *cfg = &l->batch->cfg;

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
	 * then fail reads that must wait for the device with -EAGAIN, so
	 * blocking mode comes back before the first read.
	 */
	fcntl(f->fd, F_SETFL, open_flags(f) & ~O_NONBLOCK);
	f->size = f->stx.stx_size;
	f->read_end = f->size;
	f->sparse = cfg->content &&
		    (uint64_t)f->stx.stx_blocks * 512 < f->size;
	f->data_end = 0;
	if (!cfg->content && f->read_end > cfg->chunk_size)
		f->read_end = cfg->chunk_size;
	choose_direct(l, f);
	/*
	 * Buffered reads of a large file: ask for the doubled readahead
	 * window of sequential access (as fio does). Nothing waits for it.
	 */
	if (!f->direct && f->read_end > 4ull * cfg->chunk_size &&
	    ring_fadvise(&l->ring, f->fd, POSIX_FADV_SEQUENTIAL,
			 TAG_IGNORE) == 0)
		l->ops_inflight++;
	f->state = FILE_READING;
	if (cancelled(l) && f->read_end > 0) {
		record_fail(f->rec, STAGE_READ, ECANCELED,
			    "the run was cancelled before the file was read");
		f->failed = true;
	}
	if (f->read_end == 0 || f->failed)
		file_finish(l, f);
}

/* Adds the identity from statx by path to a file that could not be opened. */
static void on_stat_path(struct loop *l, struct file *f, int res)
{
	if (res == 0)
		record_put_identity(f->rec, &f->stx);
	file_end(l, f);
}

static void on_open(struct loop *l, struct file *f, int res)
{
	/* File systems without O_DIRECT (tmpfs, some FUSE) return EINVAL. */
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
	if (statx_inline(l, f)) {
		on_statx(l, f, statx_now(f, &f->stx));
		return;
	}
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
	f->depth = l->batch->cfg.queue_depth;
	if (t.large) {
		l->large_in_flight++;
		l->report.large_files++;
		/*
		 * A loop reads one large file at a time, so that file gets
		 * three quarters of the buffers and small files the rest.
		 * With O_DIRECT here, 4 reads of 256 KiB in flight gave
		 * 3.6 GB/s and 16 gave 4.2 GB/s.
		 */
		if (l->batch->cfg.large_queue_depth)
			f->depth = l->batch->cfg.large_queue_depth;
		else if (f->depth < l->batch->cfg.buffers * 3 / 4)
			f->depth = l->batch->cfg.buffers * 3 / 4;
	}
	f->fd = -1;
	f->size = f->read_end = f->next_read = f->next_consume = 0;
	f->inflight = f->win_head = f->win_count = 0;
	f->failed = f->identified = false;
	f->fmt = NULL;
	f->content_bytes = f->parser_bytes = 0;
	f->parser_reads = f->content_reads = f->max_attempts = 0;
	f->hole_bytes = 0;
	f->dropped = 0;
	f->sparse = false;
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
	f->auto_direct = false;
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

/*
 * Scheduling. The walker feeds one shared queue. Each loop takes tasks
 * from it in batches of REFILL_TASKS into its own work-stealing deque and
 * starts them as file slots free up. An idle loop steals the oldest tasks
 * from another loop's deque, so tasks queued behind a huge file still run
 * elsewhere, and the shared lock is taken once per batch.
 */
#define REFILL_TASKS 16

/* Moves a task out of a deque slot. */
static void unbox(struct task *t, struct task *boxed)
{
	*t = *boxed;
	alloc_free(boxed);
}

static bool steal_task(struct loop *l, struct task *t)
{
	struct mx_batch *b = l->batch;
	unsigned k, attempt;
	void *item;

	for (k = 1; k < b->nloops; k++) {
		struct deque *victim = b->deques[(l->id + k) % b->nloops];

		for (attempt = 0; attempt < 8; attempt++) {
			enum deque_steal_result r = deque_steal(victim, &item);

			if (r == DEQUE_STEAL_SUCCESS) {
				unbox(t, item);
				l->report.steals++;
				return true;
			}
			if (r == DEQUE_STEAL_EMPTY)
				break;
		}
	}
	return false;
}

/*
 * Takes the next task: a large file when the loop reads none, else one
 * from the loop's deque, else a batch from the walker's queue, else a
 * steal. A loop reads one large file at a time: taking a second while
 * the others were busy left one loop with three of four 1 GiB files to
 * hash with SHA-256 and the other idle. Returns false when none is at hand.
 */
static bool next_task(struct loop *l, struct task *t)
{
	struct deque *mine = l->batch->deques[l->id];
	struct task_queue *large = &l->batch->large_queue;
	struct task batch[REFILL_TASKS];
	void *item;
	size_t n, i;

	if (!l->large_in_flight && queue_try_pop(large, t))
		return true;
	if (deque_pop(mine, &item)) {
		unbox(t, item);
		return true;
	}
	n = queue_try_pop_many(&l->batch->queue, batch, REFILL_TASKS);
	if (n == 0)
		return steal_task(l, t);
	l->report.refills++;
	*t = batch[0];
	/* Pushed last to first, so the loop itself takes them in walk
	   order and thieves take the last ones. */
	for (i = n - 1; i >= 1; i--) {
		struct task *boxed = alloc_malloc(sizeof(*boxed));

		if (boxed) {
			*boxed = batch[i];
			if (deque_push(mine, boxed) == 0)
				continue;
			alloc_free(boxed);
		}
		/* No room: the task fails rather than vanishing. */
		batch_fail_task(l->batch, batch[i].path, ENOMEM);
	}
	return true;
}

/* True when no deque contains a task that is not started. */
static bool deques_empty(const struct mx_batch *b)
{
	unsigned i;

	for (i = 0; i < b->nloops; i++)
		if (deque_count(b->deques[i]))
			return false;
	return true;
}

/* Frees the tasks left in the loop's deque after a cancel. */
static void drop_tasks(struct loop *l)
{
	void *item;

	while (deque_pop(l->batch->deques[l->id], &item)) {
		struct task *boxed = item;

		alloc_free(boxed->path);
		alloc_free(boxed);
	}
}

/*
 * Waits for work while the loop has none: on the walker's queue, for a
 * short while so that tasks left in other loops' deques get stolen.
 * Returns 1 with *t set, 0 to look again, or -1 when the batch has no
 * work left for this loop.
 */
static int wait_for_task(struct loop *l, struct task *t)
{
	const struct timespec pause = { 0, 1000000 };
	uint64_t wait_ns = now_ns();
	int ret = queue_pop_timed(&l->batch->queue, t, 2);

	if (ret < 0 && (!queue_drained(&l->batch->large_queue) ||
			!deques_empty(l->batch))) {
		/* Work is left elsewhere; next_task() looks for it. */
		nanosleep(&pause, NULL);
		ret = 0;
	}
	l->now_ns = now_ns();
	l->waited_ns += l->now_ns - wait_ns;
	return ret;
}

void loop_run(struct loop *l)
{
	struct ring_completion done[64];
	struct task t;
	uint64_t wait_ns, consumed;
	unsigned i, n;
	int ret;

	for (;;) {
		while (!cancelled(l) && l->free_files && next_task(l, &t))
			start_file(l, t);
		/* A pending --max-rate timer alone does not keep a loop busy. */
		if (l->ops_inflight == (l->timer_pending ? 1u : 0u) &&
		    l->files_used == 0) {
			if (cancelled(l))
				break;
			ret = wait_for_task(l, &t);
			if (ret < 0)
				break;
			if (ret > 0)
				start_file(l, t);
			continue;
		}
		if (cancelled(l))
			cancel_files(l);
		consumed = l->chunks_consumed;
		for (i = 0; i < l->batch->cfg.files_in_flight; i++)
			if (l->files[i].state == FILE_READING)
				issue_reads(l, &l->files[i]);
		if (l->ops_inflight == 0) {
			/* Holes move a file on with nothing to wait for. */
			if (l->chunks_consumed == consumed)
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
			/*
			 * Reads submitted while the last batch was handled
			 * can be in this one: the clock must be newer than
			 * their submission, or the latency wraps around.
			 */
			l->now_ns = now_ns();
			n = ring_reap(&l->ring, done, 64);
			for (i = 0; i < n; i++)
				handle(l, &done[i]);
		} while (n == 64);
		if (l->retries && !l->timer_pending)
			run_retries(l);
	}
	drop_tasks(l);
}
