#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pool.h"
#include "ring.h"

static const unsigned flag_choices[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_COOP_TASKRUN,
	0,
};

static int try_flags(struct ring *r, unsigned entries)
{
	struct io_uring_params p;
	size_t i;
	int ret = -ENOSYS;

	for (i = 0; i < sizeof(flag_choices) / sizeof(flag_choices[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_choices[i];
		ret = io_uring_queue_init_params(entries, &r->uring, &p);
		if (ret == 0) {
			r->setup_flags = flag_choices[i];
			return 0;
		}
		/* Only an unknown flag is worth another try. */
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

int ring_init(struct ring *r, unsigned entries)
{
	const struct timespec pause = { 0, 20 * 1000 * 1000 };
	int attempt, ret;

	memset(r, 0, sizeof(*r));
	/*
	 * Without CAP_IPC_LOCK, ring memory counts against the user's
	 * RLIMIT_MEMLOCK, and the kernel releases a closed ring's share
	 * from a work queue, a little later. A run that follows another
	 * closely can see -ENOMEM for a moment, so wait briefly and retry.
	 */
	for (attempt = 0; attempt < 10; attempt++) {
		ret = try_flags(r, entries);
		if (ret != -ENOMEM)
			break;
		nanosleep(&pause, NULL);
	}
	return ret;
}

int ring_init_pool(struct ring *r, unsigned threads)
{
	memset(r, 0, sizeof(*r));
	r->pool = pool_new(threads);
	return r->pool ? 0 : -ENOMEM;
}

void ring_exit(struct ring *r)
{
	if (r->pool)
		pool_free(r->pool);
	else
		io_uring_queue_exit(&r->uring);
}

const char *ring_backend_name(const struct ring *r)
{
	return r->pool ? "pool" : "io_uring";
}

int ring_register_buffers(struct ring *r, const struct iovec *iov,
			  unsigned n)
{
	int ret;

	if (r->pool)
		return -EOPNOTSUPP;
	ret = io_uring_register_buffers(&r->uring, iov, n);
	r->fixed_buffers = ret == 0;
	return ret;
}

const char *ring_flags_name(unsigned setup_flags)
{
	if (setup_flags & IORING_SETUP_DEFER_TASKRUN)
		return "single-issuer,defer-taskrun";
	if (setup_flags & IORING_SETUP_COOP_TASKRUN)
		return "coop-taskrun";
	return "none";
}

static struct io_uring_sqe *get_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	if (!sqe) {
		/* Full: hand what is queued to the kernel and try again. */
		if (io_uring_submit(&r->uring) < 0)
			return NULL;
		r->queued = 0;
		sqe = io_uring_get_sqe(&r->uring);
	}
	if (sqe)
		r->queued++;
	return sqe;
}

int ring_openat(struct ring *r, const char *path, int flags, uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_openat(r->pool, path, flags, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_openat(sqe, AT_FDCWD, path, flags, 0);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_statx(struct ring *r, int fd, struct statx *stx, uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_statx(r->pool, fd, NULL, false, stx, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
			    STATX_BASIC_STATS | STATX_BTIME, stx);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_statx_path(struct ring *r, const char *path, bool follow,
		    struct statx *stx, uint64_t user)
{
	struct io_uring_sqe *sqe;
	int flags = AT_STATX_SYNC_AS_STAT | (follow ? 0 : AT_SYMLINK_NOFOLLOW);

	if (r->pool)
		return pool_statx(r->pool, -1, path, follow, stx, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_statx(sqe, AT_FDCWD, path, flags,
			    STATX_BASIC_STATS | STATX_BTIME, stx);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_read(struct ring *r, int fd, void *buf, unsigned len,
	      uint64_t offset, int buf_index, uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_read(r->pool, fd, buf, len, offset, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	if (buf_index >= 0 && r->fixed_buffers)
		io_uring_prep_read_fixed(sqe, fd, buf, len, offset, buf_index);
	else
		io_uring_prep_read(sqe, fd, buf, len, offset);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_close(struct ring *r, int fd, uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_close(r->pool, fd, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_fadvise(struct ring *r, int fd, int advice, uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_fadvise(r->pool, fd, advice, user);
	sqe = get_sqe(r);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fadvise(sqe, fd, 0, 0, advice);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_timeout(struct ring *r, struct __kernel_timespec *ts,
		 uint64_t user)
{
	struct io_uring_sqe *sqe;

	if (r->pool)
		return pool_timeout(r->pool, ts, user);
	sqe = get_sqe(r);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data64(sqe, user);
	return 0;
}

int ring_flush(struct ring *r)
{
	int ret;

	if (r->pool || !r->queued)
		return 0;
	do {
		ret = io_uring_submit(&r->uring);
	} while (ret == -EINTR);
	if (ret >= 0)
		r->queued = 0;
	return ret < 0 ? ret : 0;
}

int ring_submit_wait(struct ring *r, unsigned wait_nr)
{
	int ret;

	if (r->pool) {
		pool_wait(r->pool, wait_nr);
		return 0;
	}

	do {
		ret = io_uring_submit_and_wait(&r->uring, wait_nr);
	} while (ret == -EINTR);
	if (ret >= 0)
		r->queued = 0;
	return ret < 0 ? ret : 0;
}

unsigned ring_reap(struct ring *r, struct ring_completion *out, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	if (r->pool)
		return pool_reap(r->pool, out, max);

	io_uring_for_each_cqe(&r->uring, head, cqe) {
		if (n == max)
			break;
		out[n].user = cqe->user_data;
		out[n].res = cqe->res;
		n++;
	}
	io_uring_cq_advance(&r->uring, n);
	return n;
}
