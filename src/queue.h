/*
 * Bounded queue of paths from the walker to the worker loops. A full queue
 * blocks the walker (back-pressure), so memory does not grow with the
 * number of files found.
 */
#ifndef MX_QUEUE_H
#define MX_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct task {
	char *path;		/* owned by the task */
	bool follow;		/* open through a final symbolic link */
	bool large;		/* at least LARGE_FILE_BYTES when walked */
	uint64_t size;		/* when walked */
	uint64_t dev;		/* when walked; 0 when not known */
};

/* True when a is to run before b; NULL keeps the order of arrival. */
typedef bool (*task_order_fn)(const struct task *a, const struct task *b);

/*
 * Files from this size on are queued apart, so that loops take them one
 * at a time each: one loop holding several while another has none would
 * leave a core idle at the end. At 2 GB/s such a file takes 32 ms or
 * more, against tens of microseconds for a small one.
 */
#define LARGE_FILE_BYTES (64ull << 20)

struct task_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct task *items;
	size_t cap;
	size_t head;
	size_t count;
	bool closed;		/* no more pushes; pops drain what is left */
	task_order_fn before;	/* set: items form a binary heap */
};

/*
 * Sets up an empty queue of cap tasks, taken in the order of arrival, or
 * by before() among those waiting when it is not NULL.
 */
int queue_init(struct task_queue *q, size_t cap, task_order_fn before);
void queue_destroy(struct task_queue *q);

/* Blocks while full. Returns 0, or -EPIPE after queue_close(). */
int queue_push(struct task_queue *q, struct task t);

/* Pushes without waiting. Returns 0, -EAGAIN when full, or -EPIPE. */
int queue_try_push(struct task_queue *q, struct task t);

/* Takes a task without waiting; false when the queue is empty. */
bool queue_try_pop(struct task_queue *q, struct task *t);

/* Waits for a task; false once the queue is closed and empty. */
bool queue_pop_wait(struct task_queue *q, struct task *t);

/* Takes up to max tasks without waiting; returns how many. */
size_t queue_try_pop_many(struct task_queue *q, struct task *out,
			  size_t max);

/*
 * Waits at most timeout_ms for a task. Returns 1 with *t set, 0 when the
 * time ran out, or -1 once the queue is closed and empty.
 */
int queue_pop_timed(struct task_queue *q, struct task *t,
		    unsigned timeout_ms);

void queue_close(struct task_queue *q);

/* True once the queue is closed and empty. */
bool queue_drained(struct task_queue *q);

#endif
