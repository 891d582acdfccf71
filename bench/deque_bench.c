/*
 * Throughput of the work-stealing deque (src/deque.c) against the shared
 * mutex queue (src/queue.c) that hands files to the loops today, in the
 * same session.
 *
 * Built with the project; run from the build directory:
 *
 *   build/bench/deque_bench [-n ITEMS] [-r RUNS] [-t THIEVES,...]
 *
 * It first times the owner alone: a push then a pop, and a push then a
 * steal. Then, for each thief count, an owner pushes ITEMS items in bursts
 * of 64 and pops up to half of each burst back, as a loop runs its own
 * files, while the thieves take the rest. The same pattern runs on the
 * mutex queue, where the owner's pops and the consumers' pops go through
 * the same lock. Each figure is the median of RUNS runs, and the table
 * ends with the deque's throughput over the queue's.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deque.h"
#include "queue.h"

#define BURST 64
#define MAX_THIEVES 64
#define MAX_RUNS 99

struct options {
	size_t items;
	unsigned runs;
	unsigned thief_counts[16];
	unsigned thief_count_count;
};

/* State shared by the owner and the thieves of one run. */
struct run {
	struct deque *deque;
	struct task_queue queue;
	atomic_bool done;
	atomic_uint_fast64_t stolen;
	atomic_uint_fast64_t retries;
};

struct result {
	double seconds;
	uint64_t popped;
	uint64_t stolen;
	uint64_t retries;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t round_up_power_of_two(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static void *steal_from_deque(void *arg)
{
	struct run *r = arg;
	uint64_t stolen = 0, retries = 0;
	void *item;

	for (;;) {
		enum deque_steal_result ret = deque_steal(r->deque, &item);

		if (ret == DEQUE_STEAL_SUCCESS) {
			stolen++;
		} else if (ret == DEQUE_STEAL_RETRY) {
			retries++;
		} else if (atomic_load(&r->done)) {
			break;
		} else {
			sched_yield();
		}
	}
	atomic_fetch_add(&r->stolen, stolen);
	atomic_fetch_add(&r->retries, retries);
	return NULL;
}

static void *pop_from_queue(void *arg)
{
	struct run *r = arg;
	uint64_t stolen = 0;
	struct task t;

	for (;;) {
		if (queue_try_pop(&r->queue, &t))
			stolen++;
		else if (atomic_load(&r->done))
			break;
		else
			sched_yield();
	}
	atomic_fetch_add(&r->stolen, stolen);
	return NULL;
}

/* Runs the owner's side of a deque run and returns the items it popped. */
static uint64_t own_deque(struct run *r, size_t items)
{
	uint64_t popped = 0;
	size_t next = 0, i;
	void *item;

	while (next < items) {
		for (i = 0; i < BURST && next < items; i++, next++) {
			while (deque_push(r->deque, (void *)(uintptr_t)next) ==
			       -ENOSPC) {
				if (deque_pop(r->deque, &item))
					popped++;
			}
		}
		for (i = 0; i < BURST / 2 && deque_pop(r->deque, &item); i++)
			popped++;
	}
	while (deque_pop(r->deque, &item))
		popped++;
	return popped;
}

/* Runs the owner's side of a queue run in the pattern of own_deque(). */
static uint64_t own_queue(struct run *r, size_t items)
{
	uint64_t popped = 0;
	size_t next = 0, i;
	struct task t = {0};

	while (next < items) {
		for (i = 0; i < BURST && next < items; i++, next++)
			queue_push(&r->queue, t);
		for (i = 0; i < BURST / 2 && queue_try_pop(&r->queue, &t); i++)
			popped++;
	}
	while (queue_try_pop(&r->queue, &t))
		popped++;
	return popped;
}

static int run_once(bool use_deque, unsigned thieves, size_t items,
		    struct result *res)
{
	pthread_t threads[MAX_THIEVES];
	size_t capacity = round_up_power_of_two(items);
	struct run r;
	double start;
	unsigned i;
	int err = 0;

	memset(&r, 0, sizeof(r));
	if (use_deque)
		r.deque = deque_create(1024, capacity, &err);
	else
		err = queue_init(&r.queue, capacity, NULL);
	if (err)
		return err;

	for (i = 0; i < thieves; i++) {
		err = pthread_create(&threads[i], NULL, use_deque ?
				     steal_from_deque : pop_from_queue, &r);
		if (err) {
			fprintf(stderr, "deque_bench: pthread_create failed: "
				"%s\n", strerror(err));
			exit(1);
		}
	}
	start = now();
	res->popped = use_deque ? own_deque(&r, items) : own_queue(&r, items);
	atomic_store(&r.done, true);
	for (i = 0; i < thieves; i++)
		pthread_join(threads[i], NULL);
	res->seconds = now() - start;
	res->stolen = atomic_load(&r.stolen);
	res->retries = atomic_load(&r.retries);

	if (use_deque)
		deque_destroy(r.deque);
	else
		queue_destroy(&r.queue);
	if (res->popped + res->stolen != items) {
		fprintf(stderr, "deque_bench: %s with %u thieves took %ju of "
			"%zu items\n", use_deque ? "deque" : "queue", thieves,
			(uintmax_t)(res->popped + res->stolen), items);
		return -EIO;
	}
	return 0;
}

static int compare_seconds(const void *a, const void *b)
{
	double x = ((const struct result *)a)->seconds;
	double y = ((const struct result *)b)->seconds;

	return (x > y) - (x < y);
}

/* Runs one setting opts->runs times and stores the run of median time. */
static int run_median(bool use_deque, unsigned thieves,
		      const struct options *opts, struct result *median)
{
	struct result results[MAX_RUNS];
	unsigned i;
	int ret;

	for (i = 0; i < opts->runs; i++) {
		ret = run_once(use_deque, thieves, opts->items, &results[i]);
		if (ret)
			return ret;
	}
	qsort(results, opts->runs, sizeof(results[0]), compare_seconds);
	*median = results[opts->runs / 2];
	printf("  %-5s %u thieves: %.3f s, %.1f M items/s\n",
	       use_deque ? "deque" : "queue", thieves, median->seconds,
	       (double)opts->items / median->seconds / 1e6);
	fflush(stdout);
	return 0;
}

/* Times pairs of operations by the owner alone, in ns per pair. */
static int time_owner_alone(size_t items)
{
	struct deque *d;
	double start, pop_ns, steal_ns;
	void *item;
	size_t i;
	int err = 0;

	d = deque_create(1024, 1024, &err);
	if (!d)
		return err;
	start = now();
	for (i = 0; i < items; i++) {
		deque_push(d, (void *)(uintptr_t)i);
		deque_pop(d, &item);
	}
	pop_ns = (now() - start) * 1e9 / (double)items;
	start = now();
	for (i = 0; i < items; i++) {
		deque_push(d, (void *)(uintptr_t)i);
		deque_steal(d, &item);
	}
	steal_ns = (now() - start) * 1e9 / (double)items;
	deque_destroy(d);

	printf("owner alone: push + pop %.1f ns, push + steal %.1f ns\n",
	       pop_ns, steal_ns);
	return 0;
}

static int parse_thief_counts(const char *list, struct options *opts)
{
	char *copy = strdup(list), *token, *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	opts->thief_count_count = 0;
	for (token = strtok_r(copy, ",", &save); token;
	     token = strtok_r(NULL, ",", &save)) {
		unsigned long n = strtoul(token, NULL, 10);

		if (n < 1 || n > MAX_THIEVES ||
		    opts->thief_count_count == 16) {
			ret = -EINVAL;
			break;
		}
		opts->thief_counts[opts->thief_count_count++] = (unsigned)n;
	}
	free(copy);
	return opts->thief_count_count ? ret : -EINVAL;
}

static int parse_options(int argc, char **argv, struct options *opts)
{
	int c;

	*opts = (struct options){
		.items = 2000000,
		.runs = 5,
		.thief_counts = {1, 3, 7},
		.thief_count_count = 3,
	};
	while ((c = getopt(argc, argv, "n:r:t:")) != -1) {
		switch (c) {
		case 'n':
			opts->items = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			opts->runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			if (parse_thief_counts(optarg, opts)) {
				fprintf(stderr, "deque_bench: invalid thief "
					"counts '%s': expected a comma-separated "
					"list of 1 to %d\n", optarg,
					MAX_THIEVES);
				return -EINVAL;
			}
			break;
		default:
			return -EINVAL;
		}
	}
	if (opts->items < BURST || opts->runs < 1 || opts->runs > MAX_RUNS) {
		fprintf(stderr, "deque_bench: invalid -n or -r: expected at "
			"least %d items and 1 to %d runs\n", BURST, MAX_RUNS);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct result deque_res[16], queue_res[16];
	struct options opts;
	unsigned i, t;

	if (parse_options(argc, argv, &opts)) {
		fprintf(stderr, "usage: %s [-n ITEMS] [-r RUNS] "
			"[-t THIEVES,...]\n", argv[0]);
		return 2;
	}
	printf("%ld CPUs online, %zu items, median of %u runs\n",
	       sysconf(_SC_NPROCESSORS_ONLN), opts.items, opts.runs);
	if (time_owner_alone(opts.items))
		return 1;

	for (i = 0; i < opts.thief_count_count; i++) {
		t = opts.thief_counts[i];
		if (run_median(true, t, &opts, &deque_res[i]) ||
		    run_median(false, t, &opts, &queue_res[i]))
			return 1;
	}

	printf("\n%7s %14s %14s %12s %12s %10s\n", "thieves",
	       "deque M/s", "queue M/s", "stolen %", "retries", "ratio");
	for (i = 0; i < opts.thief_count_count; i++) {
		double deque_rate = (double)opts.items / deque_res[i].seconds;
		double queue_rate = (double)opts.items / queue_res[i].seconds;

		printf("%7u %14.1f %14.1f %12.1f %12ju %10.2f\n",
		       opts.thief_counts[i], deque_rate / 1e6,
		       queue_rate / 1e6,
		       100.0 * (double)deque_res[i].stolen /
		       (double)opts.items,
		       (uintmax_t)deque_res[i].retries,
		       deque_rate / queue_rate);
	}
	return 0;
}
