/*
 * Asynchronous batches: paths go in through mx_batch_submit(), which never
 * blocks, and records come out through mx_batch_poll(), with an eventfd
 * that a caller's own event loop (epoll, poll, io_uring) can wait on. A
 * walker thread of the batch walks the submitted paths, so a directory
 * of a million files does not stall the caller.
 *
 * Wake-ups: a loop queues a record, then adds to the eventfd; the caller
 * clears the eventfd, then takes records. Any record queued after the
 * clear adds to it again, so none is left waiting with the descriptor
 * quiet.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "engine.h"

/* Paths submitted and not yet walked. */
#define SUBMIT_SLOTS 1024

static void notify(struct mx_batch *b)
{
	uint64_t one = 1;

	/* Fails only when the counter would overflow: it is readable then. */
	if (write(b->event_fd, &one, sizeof(one)) < 0)
		return;
}

int async_init(struct mx_batch *b)
{
	b->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->event_fd < 0)
		return -errno;
	b->records = alloc_calloc(ASYNC_RECORD_SLOTS, sizeof(*b->records));
	if (!b->records || queue_init(&b->submitted, SUBMIT_SLOTS, NULL) < 0)
		return -ENOMEM;
	pthread_mutex_init(&b->records_lock, NULL);
	pthread_cond_init(&b->records_not_full, NULL);
	atomic_store(&b->loops_running, b->nloops);
	b->async = true;
	return 0;
}

static void *walker_main(void *arg)
{
	struct mx_batch *b = arg;
	struct task t;

	while (queue_pop_wait(&b->submitted, &t)) {
		walk_path(b, t.path);
		alloc_free(t.path);
	}
	atomic_store(&b->adding_done, true);
	/* The loops end once they have read what the walk queued. */
	queue_close(&b->queue);
	queue_close(&b->large_queue);
	atomic_store(&b->walk_finished, true);
	notify(b);
	return NULL;
}

int async_start(struct mx_batch *b)
{
	int ret = pthread_create(&b->walker, NULL, walker_main, b);

	b->walker_started = ret == 0;
	return -ret;
}

void async_push(struct mx_batch *b, struct mx_record *rec)
{
	pthread_mutex_lock(&b->records_lock);
	while (b->records_count == ASYNC_RECORD_SLOTS && !b->discard)
		pthread_cond_wait(&b->records_not_full, &b->records_lock);
	if (b->discard) {
		pthread_mutex_unlock(&b->records_lock);
		mx_record_free(rec);
		return;
	}
	b->records[(b->records_head + b->records_count) %
		   ASYNC_RECORD_SLOTS] = rec;
	b->records_count++;
	pthread_mutex_unlock(&b->records_lock);
	notify(b);
}

void async_loop_ended(struct mx_batch *b)
{
	if (atomic_fetch_sub(&b->loops_running, 1) == 1)
		notify(b);
}

void async_finish(struct mx_batch *b)
{
	queue_close(&b->submitted);
	if (b->walker_started) {
		pthread_join(b->walker, NULL);
		b->walker_started = false;
	}
	pthread_mutex_lock(&b->records_lock);
	b->discard = true;
	pthread_cond_broadcast(&b->records_not_full);
	pthread_mutex_unlock(&b->records_lock);
}

void async_free(struct mx_batch *b)
{
	if (!b->async)
		return;
	while (b->records_count) {
		mx_record_free(b->records[b->records_head]);
		b->records_head = (b->records_head + 1) % ASYNC_RECORD_SLOTS;
		b->records_count--;
	}
	alloc_free(b->records);
	queue_destroy(&b->submitted);
	pthread_mutex_destroy(&b->records_lock);
	pthread_cond_destroy(&b->records_not_full);
	close(b->event_fd);
}

int mx_batch_submit(struct mx_batch *b, const char *path)
{
	struct task t = { .follow = true };
	int ret;

	if (!b->async)
		return -EINVAL;
	if (atomic_load(&b->cancelled))
		return -ECANCELED;
	t.path = alloc_strdup(path);
	if (!t.path)
		return -ENOMEM;
	ret = queue_try_push(&b->submitted, t);
	if (ret < 0)
		alloc_free(t.path);
	return ret;
}

void mx_batch_close_input(struct mx_batch *b)
{
	if (b->async)
		queue_close(&b->submitted);
}

int mx_batch_eventfd(const struct mx_batch *b)
{
	return b->async ? b->event_fd : -EINVAL;
}

int mx_batch_poll(struct mx_batch *b, struct mx_record **rec)
{
	uint64_t count;
	bool done;

	*rec = NULL;
	if (!b->async)
		return -EINVAL;
	/* Cleared before the check, so a later record sets it again. */
	if (read(b->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&b->records_lock);
	if (b->records_count) {
		bool more;

		*rec = b->records[b->records_head];
		b->records_head = (b->records_head + 1) % ASYNC_RECORD_SLOTS;
		b->records_count--;
		more = b->records_count > 0;
		pthread_cond_signal(&b->records_not_full);
		pthread_mutex_unlock(&b->records_lock);
		/* More may wait: keep the descriptor readable for them. */
		if (more)
			notify(b);
		return 1;
	}
	done = atomic_load(&b->walk_finished) &&
	       atomic_load(&b->loops_running) == 0;
	pthread_mutex_unlock(&b->records_lock);
	if (done)
		notify(b);
	return done ? -ENODATA : 0;
}
