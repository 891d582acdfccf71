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

struct task {
	char *path;		/* owned by the task */
	bool follow;		/* open through a final symbolic link */
};

struct task_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct task *items;
	size_t cap;
	size_t head;
	size_t count;
	bool closed;		/* no more pushes; pops drain what is left */
};

int queue_init(struct task_queue *q, size_t cap);
void queue_destroy(struct task_queue *q);

/* Blocks while full. Returns 0, or -EPIPE after queue_close(). */
int queue_push(struct task_queue *q, struct task t);

/* Takes a task without waiting; false when the queue is empty. */
bool queue_try_pop(struct task_queue *q, struct task *t);

/* Waits for a task; false once the queue is closed and empty. */
bool queue_pop_wait(struct task_queue *q, struct task *t);

void queue_close(struct task_queue *q);

#endif
