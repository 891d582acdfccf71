/*
 * The I/O backend: the only module that talks to liburing. Callers queue
 * operations tagged with a 64-bit user value, submit, and reap
 * completions as (user value, result) pairs. A ring set up with
 * ring_init_pool() carries the same operations out on a thread pool
 * (pool.c) where io_uring is not available.
 */
#ifndef MX_RING_H
#define MX_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

struct statx;

struct pool;

struct ring {
	struct io_uring uring;
	struct pool *pool;		/* portable backend; NULL: io_uring */
	unsigned setup_flags;		/* IORING_SETUP_* that the kernel took */
	unsigned queued;		/* prepared, not yet submitted */
	bool fixed_buffers;		/* buffers registered */
};

struct ring_completion {
	uint64_t user;
	int32_t res;			/* result or negative errno */
};

/*
 * Sets up a ring with room for entries operations. Tries single-issuer
 * with deferred task running first (Linux 6.1), then cooperative task
 * running (5.19), then no flags. The caller must use the ring from the
 * calling thread only. Returns 0 or a negative errno.
 */
int ring_init(struct ring *r, unsigned entries);

/* Sets up the portable backend with threads workers instead. */
int ring_init_pool(struct ring *r, unsigned threads);
void ring_exit(struct ring *r);

/* "io_uring" or "pool". */
const char *ring_backend_name(const struct ring *r);

/* Registers n buffers; read_fixed() then takes their indexes. */
int ring_register_buffers(struct ring *r, const struct iovec *iov,
			  unsigned n);

/* Describes the setup flags in use, e.g. "single-issuer,defer-taskrun". */
const char *ring_flags_name(unsigned setup_flags);

/*
 * Queue one operation each. They return 0, or -EBUSY when the submission
 * queue is full even after submitting what it holds.
 */
int ring_openat(struct ring *r, const char *path, int flags, uint64_t user);
int ring_statx(struct ring *r, int fd, struct statx *stx, uint64_t user);
int ring_statx_path(struct ring *r, const char *path, bool follow,
		    struct statx *stx, uint64_t user);
int ring_read(struct ring *r, int fd, void *buf, unsigned len,
	      uint64_t offset, int buf_index, uint64_t user);
int ring_close(struct ring *r, int fd, uint64_t user);
int ring_fadvise(struct ring *r, int fd, int advice, uint64_t user);

/* Completes with -ETIME after *ts, which must stay valid until then. */
int ring_timeout(struct ring *r, struct __kernel_timespec *ts,
		 uint64_t user);

/*
 * Submits what is queued and waits until at least wait_nr completions are
 * ready. Returns 0 or a negative errno; -EINTR is retried inside.
 */
int ring_submit_wait(struct ring *r, unsigned wait_nr);

/* Submits what is queued without waiting; 0 or a negative errno. */
int ring_flush(struct ring *r);

/* Moves up to max ready completions into out; returns how many. */
unsigned ring_reap(struct ring *r, struct ring_completion *out, unsigned max);

#endif
