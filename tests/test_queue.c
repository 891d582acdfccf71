/* The walker's task queue: arrival order, and the orders of --order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "queue.h"

static bool larger_first(const struct task *a, const struct task *b)
{
	return a->size > b->size;
}

static bool path_first(const struct task *a, const struct task *b)
{
	return strcmp(a->path, b->path) < 0;
}

/* Pushes sizes in a scrambled order, with paths named after them. */
static void fill(struct task_queue *q, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned size = (i * 7919u) % n;
		char name[32];
		struct task t = { .size = size };

		snprintf(name, sizeof(name), "f%06u", size);
		t.path = alloc_strdup(name);
		cr_assert_eq(queue_push(q, t), 0);
	}
}

Test(queue, arrival_order_without_an_order)
{
	struct task_queue q;
	struct task t;
	unsigned i;

	cr_assert_eq(queue_init(&q, 1000, NULL), 0);
	fill(&q, 1000);
	for (i = 0; i < 1000; i++) {
		cr_assert(queue_try_pop(&q, &t));
		cr_assert_eq(t.size, (i * 7919u) % 1000, "item %u", i);
		alloc_free(t.path);
	}
	cr_assert_not(queue_try_pop(&q, &t));
	queue_destroy(&q);
}

Test(queue, largest_first)
{
	struct task_queue q;
	struct task t;
	unsigned i;

	cr_assert_eq(queue_init(&q, 1000, larger_first), 0);
	fill(&q, 1000);
	for (i = 0; i < 1000; i++) {
		cr_assert(queue_try_pop(&q, &t));
		cr_assert_eq(t.size, 999 - i, "item %u: size %llu", i,
			     (unsigned long long)t.size);
		alloc_free(t.path);
	}
	queue_destroy(&q);
}

Test(queue, path_order_across_batches)
{
	struct task_queue q;
	struct task batch[16];
	char last[32] = "";
	unsigned taken = 0;
	size_t n, i;

	cr_assert_eq(queue_init(&q, 500, path_first), 0);
	fill(&q, 500);
	while ((n = queue_try_pop_many(&q, batch, 16)) > 0) {
		for (i = 0; i < n; i++) {
			cr_assert_gt(strcmp(batch[i].path, last), 0,
				     "%s came after %s", batch[i].path, last);
			snprintf(last, sizeof(last), "%s", batch[i].path);
			alloc_free(batch[i].path);
			taken++;
		}
	}
	cr_assert_eq(taken, 500);
	queue_destroy(&q);
}

Test(queue, try_push_when_full)
{
	struct task_queue q;
	struct task t = { .path = NULL };

	cr_assert_eq(queue_init(&q, 2, larger_first), 0);
	cr_assert_eq(queue_try_push(&q, t), 0);
	cr_assert_eq(queue_try_push(&q, t), 0);
	cr_assert_eq(queue_try_push(&q, t), -EAGAIN);
	queue_close(&q);
	cr_assert_eq(queue_try_push(&q, t), -EPIPE);
	cr_assert_not(queue_drained(&q), "two tasks still wait");
	cr_assert(queue_try_pop(&q, &t));
	cr_assert(queue_try_pop(&q, &t));
	cr_assert(queue_drained(&q));
	queue_destroy(&q);
}
