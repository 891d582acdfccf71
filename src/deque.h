/*
 * Work-stealing deque of pointers: one owner thread pushes and pops at the
 * bottom (LIFO), and any number of thieves steal from the top (FIFO),
 * without locks.
 *
 * The algorithm is the Chase-Lev deque (D. Chase and Y. Lev, "Dynamic
 * Circular Work-Stealing Deque", SPAA 2005) with the C11 memory orderings
 * of N. M. Lê, A. Pop, A. Cohen and F. Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models", PPoPP 2013.
 *
 * The circular array grows by doubling when a push finds it full, up to a
 * maximum capacity fixed at creation. Past that, deque_push() returns
 * -ENOSPC and the caller keeps the item. Growth lets most loops hold a few
 * slots while a loop that splits a large file into many segments gets room
 * for them. The maximum keeps the memory bounded, as the rest of the
 * engine's memory is, so a full deque becomes back-pressure instead of
 * growth. Thieves may still read an array that growth replaced, so
 * replaced arrays stay allocated until deque_destroy(). Together they have
 * fewer slots than the current array, so a deque never allocates more
 * than 2 x max_capacity slots.
 *
 * Thread rules: deque_push() and deque_pop() are for the owner thread
 * only. deque_steal() and deque_count() may run on any thread at any time.
 * deque_create() and deque_destroy() must not overlap any other call.
 */
#ifndef MX_DEQUE_H
#define MX_DEQUE_H

#include <stdbool.h>
#include <stddef.h>

struct deque;

enum deque_steal_result {
	DEQUE_STEAL_SUCCESS,	/* *item is the oldest item */
	DEQUE_STEAL_EMPTY,	/* the deque was empty */
	DEQUE_STEAL_RETRY,	/* another thread took that item first */
};

/*
 * Allocates an empty deque with room for capacity items that can grow to
 * max_capacity. Both must be powers of two, with capacity at least 1 and
 * at most max_capacity. Returns the deque, which the caller frees with
 * deque_destroy(), or NULL with *err set to -EINVAL for invalid
 * capacities or -ENOMEM.
 */
struct deque *deque_create(size_t capacity, size_t max_capacity, int *err);

/*
 * Frees the deque and every array it used. Items still in it are not
 * freed, so the owner pops them first. No thief may be running.
 */
void deque_destroy(struct deque *d);

/*
 * Pushes item at the bottom, doubling the array when it is full. Owner
 * only. Returns 0, -ENOSPC when the deque contains max_capacity items (or
 * appears to, while a thief is finishing a steal), or -ENOMEM when
 * growth fails. On error the deque is unchanged.
 */
int deque_push(struct deque *d, void *item);

/*
 * Pops the newest item from the bottom into *item. Owner only. Returns
 * false when the deque is empty, including when a thief took the last
 * item first.
 */
bool deque_pop(struct deque *d, void **item);

/*
 * Steals the oldest item from the top into *item. Any thread. Returns
 * DEQUE_STEAL_RETRY when another thief or the owner took that item during
 * the attempt. The deque may still hold other items then, so the caller
 * tries again or moves on to another deque.
 */
enum deque_steal_result deque_steal(struct deque *d, void **item);

/*
 * Returns the number of items at the moment of the call, for picking a
 * deque to steal from. Any thread. From a thief the value may be stale by
 * the time it returns.
 */
size_t deque_count(struct deque *d);

#endif
