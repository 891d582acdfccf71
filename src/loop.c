/* Set-up and tear-down of the worker loops, on each loop's own thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "alloc.h"
#include "log.h"
#include "loop.h"

static int setup_buffers(struct loop *l)
{
	const struct mx_config *cfg = &l->batch->cfg;
	struct iovec *iov;
	unsigned i;
	int ret = 0;

	l->arena = alloc_buffers((size_t)cfg->buffers * cfg->chunk_size,
				 l->batch->huge_buffers);
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
	if (l->batch->register_buffers && !l->ring.pool) {
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
	/* Parser reads wait one at a time: one worker is enough. */
	ret = l->ring.pool ? ring_init_pool(&l->parser_ring, 1) :
			     ring_init(&l->parser_ring, 4);
	/*
	 * The loop's ring fitted RLIMIT_MEMLOCK but this one may not (16
	 * to 32 KiB left): parsers then read through one pool thread.
	 */
	if (ret < 0 && l->batch->cfg.io == MX_IO_AUTO &&
	    (ret == -ENOMEM || ret == -EPERM || ret == -EACCES)) {
		mx_log(MX_LOG_INFO, "engine", "loop %u: parser ring setup "
		       "failed (%s); parsers read through a thread",
		       l->id, strerror(-ret));
		ret = ring_init_pool(&l->parser_ring, 1);
	}
	if (ret < 0)
		return ret;
	l->parser_ring_ready = true;
	iov.iov_base = l->parser_cache;
	iov.iov_len = PARSER_CACHE;
	if (l->batch->register_buffers && !l->parser_ring.pool)
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
		f->window = alloc_calloc(cfg->buffers, sizeof(*f->window));
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

/* Workers of the portable backend per loop: reads and opens in flight. */
#define POOL_THREADS 8

/*
 * Sets up the loop's ring: io_uring, or the portable backend on request
 * or, with MX_IO_AUTO, where io_uring is missing (ENOSYS), forbidden
 * (EPERM, EACCES: kernel.io_uring_disabled, seccomp) or short of locked
 * memory (ENOMEM).
 */
static int init_ring(struct loop *l, unsigned entries)
{
	const enum mx_io io = l->batch->cfg.io;
	int ret = -EOPNOTSUPP;

	if (io != MX_IO_POOL)
		ret = ring_init(&l->ring, entries);
	if (ret == 0 || io == MX_IO_URING)
		return ret;
	if (io == MX_IO_AUTO && ret != -ENOSYS && ret != -EPERM &&
	    ret != -EACCES && ret != -ENOMEM)
		return ret;
	if (io == MX_IO_AUTO)
		mx_log(MX_LOG_INFO, "engine", "loop %u: io_uring setup failed "
		       "(%s); using the portable backend", l->id,
		       strerror(-ret));
	return ring_init_pool(&l->ring, POOL_THREADS);
}

static int setup(struct loop *l, char *msg, size_t msg_len)
{
	const struct mx_config *cfg = &l->batch->cfg;
	unsigned entries = cfg->buffers + 2 * cfg->files_in_flight + 1;
	int ret;

	l->report.id = l->id;
	histogram_init(&l->report.latency);
	l->started_ns = l->now_ns = now_ns();

	ret = init_ring(l, entries < 4096 ? entries : 4096);
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
	isolate_stop(&l->worker);
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
	alloc_buffers_free(l->arena, (size_t)l->batch->cfg.buffers *
			   l->batch->cfg.chunk_size, l->batch->huge_buffers);
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
	if (ret == 0 && l->ring.pool) {
		b->sum.pool_loops++;
		b->sum.registered_buffers = false;
		snprintf(b->sum.backend, sizeof(b->sum.backend), "pool");
		snprintf(b->sum.buffer_note, sizeof(b->sum.buffer_note),
			 "%u x %u KiB plain per loop (portable backend: pread "
			 "on %u threads)", b->cfg.buffers,
			 b->cfg.chunk_size >> 10, POOL_THREADS);
	} else if (ret == 0 && b->register_buffers &&
		   !l->ring.fixed_buffers) {
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
		loop_run(l);
	if (b->async)
		async_loop_ended(b);
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
		 l->ring_ready && !l->ring.pool ?
		 ring_flags_name(l->ring.setup_flags) : "none");
	*report = l->report;
	teardown(l);
	alloc_free(l);
}
