/*
 * The work-stealing deque: LIFO pop and FIFO steal on one thread, growth
 * and its limit, then an owner and 1 to 7 thieves on shared deques,
 * checking that every item is taken exactly once.
 *
 * Items in the threaded tests point into an array whose index field the
 * owner writes just before the push, and a thief checks that field after
 * its steal. Under ThreadSanitizer a missing happens-before edge from push
 * to steal shows up as a data race on that field.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "deque.h"

#if defined(__SANITIZE_THREAD__)
#define SLOW_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLOW_BUILD 1
#endif
#endif

/* ThreadSanitizer builds run fewer items, because every atomic is slower. */
#ifdef SLOW_BUILD
#define CONTENTION_ITEMS (1u << 20)
#define LAST_ITEM_ROUNDS 10000u
#define GROWTH_ROUNDS 100u
#else
#define CONTENTION_ITEMS (3u << 20)
#define LAST_ITEM_ROUNDS 20000u
#define GROWTH_ROUNDS 500u
#endif

#define MAX_THIEVES 7

TestSuite(deque, .timeout = 120);

static void *int_item(uintptr_t value)
{
	return (void *)value;
}

static struct deque *create(size_t capacity, size_t max_capacity)
{
	struct deque *d;
	int err = 0;

	d = deque_create(capacity, max_capacity, &err);
	cr_assert_not_null(d, "deque_create(%zu, %zu) failed with %d",
			   capacity, max_capacity, err);
	return d;
}

static void push_ok(struct deque *d, uintptr_t value)
{
	int ret = deque_push(d, int_item(value));

	cr_assert_eq(ret, 0, "deque_push(%ju): expected 0, got %d",
		     (uintmax_t)value, ret);
}

static void expect_pop(struct deque *d, uintptr_t expected)
{
	void *item = NULL;

	cr_assert(deque_pop(d, &item), "deque_pop: expected %ju, got empty",
		  (uintmax_t)expected);
	cr_assert_eq((uintptr_t)item, expected,
		     "deque_pop: expected %ju, got %ju", (uintmax_t)expected,
		     (uintmax_t)(uintptr_t)item);
}

static void expect_steal(struct deque *d, uintptr_t expected)
{
	enum deque_steal_result ret;
	void *item = NULL;

	ret = deque_steal(d, &item);
	cr_assert_eq(ret, DEQUE_STEAL_SUCCESS,
		     "deque_steal: expected success with %ju, got result %d",
		     (uintmax_t)expected, (int)ret);
	cr_assert_eq((uintptr_t)item, expected,
		     "deque_steal: expected %ju, got %ju", (uintmax_t)expected,
		     (uintmax_t)(uintptr_t)item);
}

static void expect_empty(struct deque *d)
{
	enum deque_steal_result ret;
	void *item = NULL;
	size_t count = deque_count(d);

	cr_assert_eq(count, 0, "deque_count: expected 0, got %zu", count);
	ret = deque_steal(d, &item);
	cr_assert_eq(ret, DEQUE_STEAL_EMPTY,
		     "deque_steal on empty: expected DEQUE_STEAL_EMPTY, got %d",
		     (int)ret);
	cr_assert_not(deque_pop(d, &item),
		      "deque_pop on empty: expected false, got item %p", item);
}

/* ------------------------------------------------------------------ */
/* One thread */

Test(deque, empty_deque_yields_nothing)
{
	struct deque *d = create(4, 4);

	expect_empty(d);
	/* A failed pop must leave the deque usable. */
	push_ok(d, 7);
	expect_pop(d, 7);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, pop_is_lifo)
{
	struct deque *d = create(16, 16);
	uintptr_t i;

	for (i = 1; i <= 10; i++)
		push_ok(d, i);
	for (i = 10; i >= 1; i--)
		expect_pop(d, i);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, steal_is_fifo)
{
	struct deque *d = create(16, 16);
	uintptr_t i;

	for (i = 1; i <= 10; i++)
		push_ok(d, i);
	for (i = 1; i <= 10; i++)
		expect_steal(d, i);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, pop_and_steal_take_opposite_ends)
{
	struct deque *d = create(8, 8);

	push_ok(d, 1);
	push_ok(d, 2);
	push_ok(d, 3);
	expect_steal(d, 1);
	expect_pop(d, 3);
	push_ok(d, 4);
	expect_steal(d, 2);
	expect_steal(d, 4);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, null_item_is_an_item)
{
	struct deque *d = create(2, 2);

	push_ok(d, 0);
	expect_pop(d, 0);
	push_ok(d, 0);
	expect_steal(d, 0);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, count_follows_push_pop_steal)
{
	struct deque *d = create(4, 4);
	void *item;
	size_t count;

	push_ok(d, 1);
	push_ok(d, 2);
	push_ok(d, 3);
	count = deque_count(d);
	cr_assert_eq(count, 3, "count after 3 pushes: expected 3, got %zu",
		     count);
	deque_steal(d, &item);
	count = deque_count(d);
	cr_assert_eq(count, 2, "count after a steal: expected 2, got %zu",
		     count);
	deque_pop(d, &item);
	count = deque_count(d);
	cr_assert_eq(count, 1, "count after a pop: expected 1, got %zu",
		     count);
	deque_destroy(d);
}

Test(deque, grows_past_initial_capacity)
{
	struct deque *d = create(4, 1024);
	size_t count;
	uintptr_t i;

	for (i = 0; i < 1000; i++)
		push_ok(d, i);
	count = deque_count(d);
	cr_assert_eq(count, 1000, "count after 1000 pushes: expected 1000, "
		     "got %zu", count);
	for (i = 0; i < 500; i++)
		expect_steal(d, i);
	for (i = 999; i >= 500; i--)
		expect_pop(d, i);
	expect_empty(d);
	deque_destroy(d);
}

/*
 * Growth copies items by index, so it must keep them in order when they
 * wrap around the end of the old array, for every position of top.
 */
Test(deque, grows_with_wrapped_indices)
{
	uintptr_t offset, i;

	for (offset = 0; offset < 16; offset++) {
		struct deque *d = create(8, 64);

		for (i = 0; i < offset; i++)
			push_ok(d, 1000 + i);
		for (i = 0; i < offset; i++)
			expect_steal(d, 1000 + i);
		for (i = 0; i < 20; i++)
			push_ok(d, i);
		for (i = 0; i < 10; i++)
			expect_steal(d, i);
		for (i = 19; i >= 10; i--)
			expect_pop(d, i);
		expect_empty(d);
		deque_destroy(d);
	}
}

Test(deque, push_past_max_capacity_fails)
{
	struct deque *d = create(2, 8);
	uintptr_t i;
	int ret;

	for (i = 0; i < 8; i++)
		push_ok(d, i);
	ret = deque_push(d, int_item(8));
	cr_assert_eq(ret, -ENOSPC, "deque_push on a full deque: expected "
		     "-ENOSPC, got %d", ret);

	/* The failed push changed nothing, and a pop makes room again. */
	expect_pop(d, 7);
	push_ok(d, 9);
	expect_pop(d, 9);
	for (i = 0; i < 7; i++)
		expect_steal(d, i);
	expect_empty(d);
	deque_destroy(d);
}

Test(deque, create_rejects_invalid_capacities)
{
	static const size_t cases[][2] = {
		{0, 8},			/* no room */
		{3, 8},			/* not a power of two */
		{4, 12},		/* maximum not a power of two */
		{8, 4},			/* initial above maximum */
		{4, (size_t)1 << 63},	/* maximum past the index range */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct deque *d;
		int err = 0;

		d = deque_create(cases[i][0], cases[i][1], &err);
		cr_assert_null(d, "deque_create(%zu, %zu): expected NULL",
			       cases[i][0], cases[i][1]);
		cr_assert_eq(err, -EINVAL, "deque_create(%zu, %zu): expected "
			     "-EINVAL, got %d", cases[i][0], cases[i][1], err);
	}
}

/* ------------------------------------------------------------------ */
/* An owner and thieves */

struct item {
	size_t index;		/* written by the owner before the push */
};

/* The items of a threaded test and how often each was taken. */
struct ledger {
	struct item *items;
	atomic_uint *take_counts;
	size_t count;
	atomic_size_t foreign;	/* pointers outside items */
	atomic_size_t corrupt;	/* items whose index field was wrong */
};

static void ledger_init(struct ledger *l, size_t count)
{
	l->items = calloc(count, sizeof(*l->items));
	l->take_counts = calloc(count, sizeof(*l->take_counts));
	cr_assert_not_null(l->items, "calloc of %zu items failed", count);
	cr_assert_not_null(l->take_counts, "calloc of %zu counters failed", count);
	l->count = count;
	atomic_init(&l->foreign, 0);
	atomic_init(&l->corrupt, 0);
}

static void *ledger_prepare(struct ledger *l, size_t index)
{
	l->items[index].index = index;
	return &l->items[index];
}

/* Records one take of item. Safe on any thread, and never asserts. */
static void ledger_take(struct ledger *l, void *item)
{
	struct item *it = item;
	size_t index;

	if (it < l->items || it >= l->items + l->count) {
		atomic_fetch_add_explicit(&l->foreign, 1, memory_order_relaxed);
		return;
	}
	index = (size_t)(it - l->items);
	if (it->index != index)
		atomic_fetch_add_explicit(&l->corrupt, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->take_counts[index], 1, memory_order_relaxed);
}

/* Asserts that every item was taken once and that takes add up to count. */
static void ledger_check(struct ledger *l, uint64_t takes)
{
	size_t foreign = atomic_load(&l->foreign);
	size_t corrupt = atomic_load(&l->corrupt);
	size_t i, wrong = 0, first_wrong = 0;
	unsigned first_value = 1;

	cr_assert_eq(foreign, 0, "takes of unknown pointers: expected 0, got "
		     "%zu", foreign);
	cr_assert_eq(corrupt, 0, "items with a wrong index field: expected 0, "
		     "got %zu", corrupt);
	for (i = 0; i < l->count; i++) {
		unsigned value = atomic_load(&l->take_counts[i]);

		if (value != 1 && wrong++ == 0) {
			first_wrong = i;
			first_value = value;
		}
	}
	cr_assert_eq(wrong, 0, "items not taken exactly once: %zu of %zu, "
		     "the first is item %zu, taken %u times", wrong, l->count,
		     first_wrong, first_value);
	cr_assert_eq(takes, (uint64_t)l->count, "successful pops and steals: "
		     "expected %zu, got %ju", l->count, (uintmax_t)takes);
}

static void ledger_free(struct ledger *l)
{
	free(l->items);
	free(l->take_counts);
}

struct thief {
	pthread_t thread;
	struct shared *shared;
	uint64_t stolen;
	uint64_t retries;
};

/*
 * State of a threaded test. Thieves steal from *deque until done is set.
 * The last-item test drives them in rounds instead, through round and
 * finished.
 */
struct shared {
	struct ledger ledger;
	_Atomic(struct deque *) deque;
	atomic_bool done;
	_Atomic int64_t round;
	atomic_uint finished;
	struct thief thieves[MAX_THIEVES];
	unsigned thief_count;
};

static uint64_t xorshift(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* Steals until the owner sets done, which it does once the deque is empty. */
static void *steal_until_done(void *arg)
{
	struct thief *t = arg;
	struct shared *s = t->shared;
	void *item;

	for (;;) {
		struct deque *d = atomic_load_explicit(&s->deque,
						       memory_order_acquire);

		switch (deque_steal(d, &item)) {
		case DEQUE_STEAL_SUCCESS:
			ledger_take(&s->ledger, item);
			t->stolen++;
			break;
		case DEQUE_STEAL_RETRY:
			t->retries++;
			break;
		case DEQUE_STEAL_EMPTY:
			if (atomic_load_explicit(&s->done,
						 memory_order_acquire))
				return NULL;
			/* Leave the core to the owner on a 2-core machine. */
			sched_yield();
			break;
		}
	}
}

static void start_thieves(struct shared *s, unsigned count,
			  void *(*run)(void *))
{
	unsigned i;
	int ret;

	s->thief_count = count;
	for (i = 0; i < count; i++) {
		s->thieves[i] = (struct thief){.shared = s};
		ret = pthread_create(&s->thieves[i].thread, NULL, run,
				     &s->thieves[i]);
		cr_assert_eq(ret, 0, "pthread_create of thief %u: %d", i, ret);
	}
}

/* Sets done, joins the thieves and returns the number of items stolen. */
static uint64_t stop_thieves(struct shared *s)
{
	uint64_t stolen = 0;
	unsigned i;

	atomic_store_explicit(&s->done, true, memory_order_release);
	for (i = 0; i < s->thief_count; i++) {
		pthread_join(s->thieves[i].thread, NULL);
		stolen += s->thieves[i].stolen;
	}
	return stolen;
}

static uint64_t count_retries(const struct shared *s)
{
	uint64_t retries = 0;
	unsigned i;

	for (i = 0; i < s->thief_count; i++)
		retries += s->thieves[i].retries;
	return retries;
}

/*
 * Pushes item. When the deque is full the owner pops one item and takes it
 * itself, as a loop would run it, and pushes again. Returns the number of
 * items the owner took that way.
 */
static uint64_t push_or_pop(struct shared *s, struct deque *d, void *item)
{
	uint64_t popped = 0;
	void *other;
	int ret;

	while ((ret = deque_push(d, item)) == -ENOSPC) {
		if (deque_pop(d, &other)) {
			ledger_take(&s->ledger, other);
			popped++;
		}
	}
	cr_assert_eq(ret, 0, "deque_push: expected 0, got %d", ret);
	return popped;
}

static uint64_t pop_all(struct shared *s, struct deque *d)
{
	uint64_t popped = 0;
	void *item;

	while (deque_pop(d, &item)) {
		ledger_take(&s->ledger, item);
		popped++;
	}
	return popped;
}

ParameterizedTestParameters(deque, thieves_take_each_item_once)
{
	static unsigned thief_counts[] = {1, 3, 7};

	return cr_make_param_array(unsigned, thief_counts,
				   sizeof(thief_counts) /
				   sizeof(thief_counts[0]));
}

/*
 * The owner pushes bursts of 1 to 64 items (every 256th burst 1024) and
 * pops a random part of each burst, while thieves steal. The deque starts
 * at 16 slots and may grow to 4096, so growth and a full deque both happen
 * under contention.
 */
ParameterizedTest(unsigned *thief_count, deque, thieves_take_each_item_once)
{
	struct shared s = {0};
	struct deque *d = create(16, 4096);
	uint64_t popped = 0, stolen, rng = 0x9e3779b97f4a7c15u;
	size_t next = 0, burst, pops, i;
	unsigned bursts = 0;
	void *item;

	ledger_init(&s.ledger, CONTENTION_ITEMS);
	atomic_init(&s.deque, d);
	start_thieves(&s, *thief_count, steal_until_done);

	while (next < s.ledger.count) {
		burst = ++bursts % 256 ? 1 + xorshift(&rng) % 64 : 1024;
		pops = xorshift(&rng) % (burst + 1);
		for (i = 0; i < burst && next < s.ledger.count; i++, next++)
			popped += push_or_pop(&s, d,
					      ledger_prepare(&s.ledger, next));
		for (i = 0; i < pops && deque_pop(d, &item); i++) {
			ledger_take(&s.ledger, item);
			popped++;
		}
	}
	popped += pop_all(&s, d);
	stolen = stop_thieves(&s);

	cr_log_info("%u thieves: owner popped %ju, thieves stole %ju, with "
		    "%ju retries", *thief_count, (uintmax_t)popped,
		    (uintmax_t)stolen, (uintmax_t)count_retries(&s));
	ledger_check(&s.ledger, popped + stolen);
	ledger_free(&s.ledger);
	expect_empty(d);
	deque_destroy(d);
}

/*
 * Each round the owner pushes 2048 items onto a fresh deque of 2 slots,
 * which grows 10 times while 3 thieves steal, then pops what is left.
 * Thieves may still read a deque of an earlier round, so all are kept
 * until the end.
 */
Test(deque, growth_while_thieves_steal)
{
	const size_t per_round = 2048;
	struct deque *deques[GROWTH_ROUNDS];
	struct shared s = {0};
	uint64_t popped = 0, stolen;
	unsigned r;
	size_t i;

	ledger_init(&s.ledger, GROWTH_ROUNDS * per_round);
	for (r = 0; r < GROWTH_ROUNDS; r++)
		deques[r] = create(2, 4096);
	atomic_init(&s.deque, deques[0]);
	start_thieves(&s, 3, steal_until_done);

	for (r = 0; r < GROWTH_ROUNDS; r++) {
		atomic_store_explicit(&s.deque, deques[r],
				      memory_order_release);
		for (i = 0; i < per_round; i++)
			popped += push_or_pop(&s, deques[r],
					      ledger_prepare(&s.ledger,
							     r * per_round + i));
		popped += pop_all(&s, deques[r]);
	}
	stolen = stop_thieves(&s);

	cr_log_info("owner popped %ju, thieves stole %ju, with %ju retries",
		    (uintmax_t)popped, (uintmax_t)stolen,
		    (uintmax_t)count_retries(&s));
	ledger_check(&s.ledger, popped + stolen);
	ledger_free(&s.ledger);
	for (r = 0; r < GROWTH_ROUNDS; r++) {
		expect_empty(deques[r]);
		deque_destroy(deques[r]);
	}
}

/*
 * In each round a thief waits for the owner to publish the round, then
 * steals until the deque is empty. A retry is expected, because it means
 * that the owner or another thief took the item.
 */
static void *steal_each_round(void *arg)
{
	struct thief *t = arg;
	struct shared *s = t->shared;
	struct deque *d = atomic_load(&s->deque);
	int64_t seen = -1, round;
	enum deque_steal_result ret;
	void *item;

	for (;;) {
		while ((round = atomic_load_explicit(&s->round,
				memory_order_acquire)) == seen)
			sched_yield();
		if (round < 0)
			return NULL;
		seen = round;

		while ((ret = deque_steal(d, &item)) != DEQUE_STEAL_EMPTY) {
			if (ret == DEQUE_STEAL_RETRY) {
				t->retries++;
				continue;
			}
			ledger_take(&s->ledger, item);
			t->stolen++;
		}
		atomic_fetch_add_explicit(&s->finished, 1,
					  memory_order_release);
	}
}

ParameterizedTestParameters(deque, last_item_goes_to_one_taker)
{
	static unsigned thief_counts[] = {1, 3};

	return cr_make_param_array(unsigned, thief_counts,
				   sizeof(thief_counts) /
				   sizeof(thief_counts[0]));
}

/*
 * Each round the owner pushes one item, lets the thieves go and pops after
 * a random spin of 0 to 2047 iterations, so the pop meets the steals at
 * different points. Exactly one of them must get the item.
 */
ParameterizedTest(unsigned *thief_count, deque, last_item_goes_to_one_taker)
{
	struct shared s = {0};
	struct deque *d = create(2, 2);
	uint64_t popped = 0, stolen, rng = 0x2545f4914f6cdd1du;
	unsigned r, expected_finished;
	volatile unsigned spin;
	size_t count;
	void *item;

	ledger_init(&s.ledger, LAST_ITEM_ROUNDS);
	atomic_init(&s.deque, d);
	atomic_init(&s.round, -1);
	start_thieves(&s, *thief_count, steal_each_round);

	for (r = 0; r < LAST_ITEM_ROUNDS; r++) {
		popped += push_or_pop(&s, d, ledger_prepare(&s.ledger, r));
		atomic_store_explicit(&s.round, r, memory_order_release);
		for (spin = xorshift(&rng) % 2048; spin > 0; spin--)
			;
		if (deque_pop(d, &item)) {
			ledger_take(&s.ledger, item);
			popped++;
		}

		expected_finished = (r + 1) * *thief_count;
		while (atomic_load_explicit(&s.finished, memory_order_acquire) !=
		       expected_finished)
			sched_yield();
		count = deque_count(d);
		cr_assert_eq(count, 0, "round %u: deque_count after the race: "
			     "expected 0, got %zu", r, count);
	}
	atomic_store_explicit(&s.round, -2, memory_order_release);
	stolen = stop_thieves(&s);

	cr_log_info("%u thieves: owner won %ju rounds, thieves %ju, with %ju "
		    "retries", *thief_count, (uintmax_t)popped,
		    (uintmax_t)stolen, (uintmax_t)count_retries(&s));
	ledger_check(&s.ledger, popped + stolen);
	ledger_free(&s.ledger);
	expect_empty(d);
	deque_destroy(d);
}
