/*
 * The portable backend: a small pool of threads carries out the
 * operations of ring.h with plain system calls (openat, statx, pread,
 * close). It serves where io_uring cannot be set up (an old kernel,
 * kernel.io_uring_disabled, a seccomp profile), or on request.
 */
#ifndef MX_POOL_H
#define MX_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/time_types.h>

struct statx;
struct ring_completion;
struct pool;

/* Starts threads workers; returns NULL when out of memory or threads. */
struct pool *pool_new(unsigned threads);
void pool_free(struct pool *p);

int pool_openat(struct pool *p, const char *path, int flags, uint64_t user);
int pool_statx(struct pool *p, int fd, const char *path, bool follow,
	       struct statx *stx, uint64_t user);
int pool_read(struct pool *p, int fd, void *buf, unsigned len,
	      uint64_t offset, uint64_t user);
int pool_close(struct pool *p, int fd, uint64_t user);
int pool_fadvise(struct pool *p, int fd, int advice, uint64_t user);
int pool_timeout(struct pool *p, const struct __kernel_timespec *ts,
		 uint64_t user);

/* Waits until at least wait_nr completions are ready. */
void pool_wait(struct pool *p, unsigned wait_nr);
unsigned pool_reap(struct pool *p, struct ring_completion *out,
		   unsigned max);

#endif
