#include <errno.h>
#include <time.h>

#include "alloc.h"
#include "queue.h"

int queue_init(struct task_queue *q, size_t cap, task_order_fn before)
{
	q->before = before;
	q->items = alloc_calloc(cap, sizeof(*q->items));
	if (!q->items)
		return -ENOMEM;
	q->cap = cap;
	q->head = 0;
	q->count = 0;
	q->closed = false;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return 0;
}

void queue_destroy(struct task_queue *q)
{
	struct task t;

	while (queue_try_pop(q, &t))
		alloc_free(t.path);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	alloc_free(q->items);
	q->items = NULL;
}

/* Adds t at the tail, or into the heap; the caller checked for room. */
static void put(struct task_queue *q, struct task t)
{
	size_t i, parent;

	if (!q->before) {
		q->items[(q->head + q->count) % q->cap] = t;
		q->count++;
		return;
	}
	for (i = q->count++; i > 0; i = parent) {
		parent = (i - 1) / 2;
		if (!q->before(&t, &q->items[parent]))
			break;
		q->items[i] = q->items[parent];
	}
	q->items[i] = t;
}

/* Removes the first task of the heap into *t. */
static void take_first(struct task_queue *q, struct task *t)
{
	struct task last;
	size_t i = 0, child;

	*t = q->items[0];
	last = q->items[--q->count];
	for (;;) {
		child = 2 * i + 1;
		if (child >= q->count)
			break;
		if (child + 1 < q->count &&
		    q->before(&q->items[child + 1], &q->items[child]))
			child++;
		if (!q->before(&q->items[child], &last))
			break;
		q->items[i] = q->items[child];
		i = child;
	}
	if (q->count)
		q->items[i] = last;
}

int queue_push(struct task_queue *q, struct task t)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == q->cap && !q->closed)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return -EPIPE;
	}
	put(q, t);
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int queue_try_push(struct task_queue *q, struct task t)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		ret = -EPIPE;
	} else if (q->count == q->cap) {
		ret = -EAGAIN;
	} else {
		put(q, t);
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void take(struct task_queue *q, struct task *t)
{
	if (q->before) {
		take_first(q, t);
	} else {
		*t = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	pthread_cond_signal(&q->not_full);
}

bool queue_try_pop(struct task_queue *q, struct task *t)
{
	bool found = false;

	pthread_mutex_lock(&q->lock);
	if (q->count) {
		take(q, t);
		found = true;
	}
	pthread_mutex_unlock(&q->lock);
	return found;
}

bool queue_pop_wait(struct task_queue *q, struct task *t)
{
	bool found = false;

	pthread_mutex_lock(&q->lock);
	while (!q->count && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->lock);
	if (q->count) {
		take(q, t);
		found = true;
	}
	pthread_mutex_unlock(&q->lock);
	return found;
}

size_t queue_try_pop_many(struct task_queue *q, struct task *out,
			  size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	while (q->count && n < max)
		take(q, &out[n++]);
	pthread_mutex_unlock(&q->lock);
	return n;
}

int queue_pop_timed(struct task_queue *q, struct task *t,
		    unsigned timeout_ms)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += (long)timeout_ms * 1000000;
	deadline.tv_sec += deadline.tv_nsec / 1000000000;
	deadline.tv_nsec %= 1000000000;
	pthread_mutex_lock(&q->lock);
	while (!q->count && !q->closed &&
	       pthread_cond_timedwait(&q->not_empty, &q->lock,
				      &deadline) == 0)
		;
	if (q->count) {
		take(q, t);
		ret = 1;
	} else if (q->closed) {
		ret = -1;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

bool queue_drained(struct task_queue *q)
{
	bool drained;

	pthread_mutex_lock(&q->lock);
	drained = q->closed && q->count == 0;
	pthread_mutex_unlock(&q->lock);
	return drained;
}

void queue_close(struct task_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}
