/*
 * Chase-Lev work-stealing deque with the C11 memory orderings of Lê, Pop,
 * Cohen and Zappa Nardelli (PPoPP 2013). Comments name where this code
 * departs from their C11 code and why.
 *
 * Items live at indices top <= i < bottom, in slot i mod capacity of the
 * current array. The indices are 64-bit and signed: they only grow, so
 * they cannot overflow in practice (2^63 pushes at 10^9 per second take
 * 292 years), and pop may set bottom to top - 1, which is -1 at the start.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "alloc.h"
#include "deque.h"

/*
 * Alignment that keeps top, bottom and the rarely written fields on
 * separate cache lines, so a thief's CAS on top does not invalidate the
 * owner's line with bottom. It is 128 rather than 64 bytes because the
 * Intel 64 and IA-32 Architectures Optimization Reference Manual describes
 * an L2 spatial prefetcher (Sandy Bridge and later) that completes each
 * fetched line to its 128-byte aligned pair.
 */
#define DEQUE_ALIGN 128

struct deque_array {
	int64_t capacity;		/* a power of two */
	struct deque_array *replaced;	/* older array, kept for thieves */
	_Atomic(void *) slots[];
};

struct deque {
	alignas(DEQUE_ALIGN) _Atomic int64_t top;	/* written by thieves */
	alignas(DEQUE_ALIGN) _Atomic int64_t bottom;	/* written by owner */
	alignas(DEQUE_ALIGN) _Atomic(struct deque_array *) array;
	int64_t max_capacity;
};

static bool is_power_of_two(size_t n)
{
	return n && !(n & (n - 1));
}

static struct deque_array *array_new(int64_t capacity)
{
	struct deque_array *a;

	a = alloc_malloc(sizeof(*a) + (size_t)capacity * sizeof(a->slots[0]));
	if (!a)
		return NULL;
	a->capacity = capacity;
	a->replaced = NULL;
	return a;
}

static _Atomic(void *) *array_slot(struct deque_array *a, int64_t i)
{
	return &a->slots[i & (a->capacity - 1)];
}

struct deque *deque_create(size_t capacity, size_t max_capacity, int *err)
{
	struct deque *d;
	struct deque_array *a;

	if (!is_power_of_two(capacity) || !is_power_of_two(max_capacity) ||
	    capacity > max_capacity || max_capacity > (size_t)INT64_MAX / 2) {
		*err = -EINVAL;
		return NULL;
	}

	d = alloc_aligned(DEQUE_ALIGN, sizeof(*d));
	a = array_new((int64_t)capacity);
	if (!d || !a) {
		alloc_free(a);
		alloc_free(d);
		*err = -ENOMEM;
		return NULL;
	}

	atomic_init(&d->top, 0);
	atomic_init(&d->bottom, 0);
	atomic_init(&d->array, a);
	d->max_capacity = (int64_t)max_capacity;
	return d;
}

void deque_destroy(struct deque *d)
{
	struct deque_array *a, *older;

	if (!d)
		return;
	for (a = atomic_load_explicit(&d->array, memory_order_relaxed); a;
	     a = older) {
		older = a->replaced;
		alloc_free(a);
	}
	alloc_free(d);
}

/*
 * Replaces the owner's array by one of twice the capacity holding the same
 * items at the same indices. Thieves still reading the old array find the
 * same item at any index they can win, because the owner does not write
 * old slots again. Returns the new array, or NULL with the deque unchanged.
 */
static struct deque_array *grow(struct deque *d, struct deque_array *old,
				int64_t top, int64_t bottom)
{
	struct deque_array *a;
	int64_t i;

	a = array_new(old->capacity * 2);
	if (!a)
		return NULL;

	for (i = top; i < bottom; i++) {
		void *item = atomic_load_explicit(array_slot(old, i),
						  memory_order_relaxed);

		atomic_store_explicit(array_slot(a, i), item,
				      memory_order_relaxed);
	}
	a->replaced = old;

	/*
	 * The release store makes the copied slots visible to a thief that
	 * loads the new array.
	 */
	atomic_store_explicit(&d->array, a, memory_order_release);
	return a;
}

int deque_push(struct deque *d, void *item)
{
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	struct deque_array *a;

	a = atomic_load_explicit(&d->array, memory_order_relaxed);
	if (b - t >= a->capacity) {
		if (a->capacity >= d->max_capacity)
			return -ENOSPC;
		a = grow(d, a, t, b);
		if (!a)
			return -ENOMEM;
	}

	atomic_store_explicit(array_slot(a, b), item, memory_order_relaxed);

	/*
	 * The paper issues a release fence and then stores bottom relaxed.
	 * A release store gives a thief that reads this bottom, or a later
	 * one, the same happens-before edge to the slot and to the item's
	 * contents. Unlike a fence, ThreadSanitizer models it, so the tests
	 * can check the edge.
	 */
	atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
	return 0;
}

bool deque_pop(struct deque *d, void **item)
{
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
	struct deque_array *a;
	void *found;
	int64_t t;
	bool won = true;

	a = atomic_load_explicit(&d->array, memory_order_relaxed);
	atomic_store_explicit(&d->bottom, b, memory_order_relaxed);

	/*
	 * The store to bottom must be visible to thieves before top is read,
	 * or a thief and the owner could both take the last item. Release
	 * and acquire never order a store before a later load, so this needs
	 * a seq_cst fence.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	t = atomic_load_explicit(&d->top, memory_order_relaxed);

	if (t > b) {
		/* The deque was empty, so undo the decrement. */
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
		return false;
	}

	found = atomic_load_explicit(array_slot(a, b), memory_order_relaxed);
	if (t == b) {
		/* This is the last item, so race the thieves for it on top. */
		won = atomic_compare_exchange_strong_explicit(&d->top, &t,
				t + 1, memory_order_seq_cst,
				memory_order_relaxed);
		atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
	}
	if (won)
		*item = found;
	return won;
}

enum deque_steal_result deque_steal(struct deque *d, void **item)
{
	int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
	struct deque_array *a;
	void *found;
	int64_t b;

	/*
	 * Orders the load of top before that of bottom, as the fence in
	 * deque_pop() orders its store of bottom before its load of top.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	b = atomic_load_explicit(&d->bottom, memory_order_acquire);
	if (t >= b)
		return DEQUE_STEAL_EMPTY;

	/*
	 * The paper loads the array with memory_order_consume. GCC and Clang
	 * implement consume as acquire, so this load requests acquire.
	 */
	a = atomic_load_explicit(&d->array, memory_order_acquire);
	found = atomic_load_explicit(array_slot(a, t), memory_order_relaxed);

	/*
	 * The slot may have been overwritten after the load of top, but only
	 * once top has moved past t, so a stale value never wins this CAS.
	 */
	if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return DEQUE_STEAL_RETRY;
	*item = found;
	return DEQUE_STEAL_SUCCESS;
}

size_t deque_count(struct deque *d)
{
	int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);

	/* A pop in progress lowers bottom below top for a moment. */
	return b > t ? (size_t)(b - t) : 0;
}
