#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "pool.h"
#include "ring.h"

enum pool_kind {
	OP_OPENAT,
	OP_STATX,
	OP_READ,
	OP_CLOSE,
	OP_FADVISE,
	OP_TIMEOUT,
};

struct pool_op {
	enum pool_kind kind;
	int fd;
	int flags;		/* open flags, statx flags or advice */
	const char *path;	/* owned by the caller until completion */
	struct statx *stx;
	void *buf;
	unsigned len;
	uint64_t offset;
	struct timespec ts;
	uint64_t user;
	int32_t res;
	struct pool_op *next;
};

/* A singly linked FIFO of operations. */
struct op_list {
	struct pool_op *head;
	struct pool_op *tail;
	unsigned count;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* signalled when todo grows or on stop */
	pthread_cond_t done;	/* signalled when finished grows */
	struct op_list todo;
	struct op_list finished;
	bool stop;
	unsigned nthreads;
	pthread_t threads[];
};

static void list_push(struct op_list *l, struct pool_op *op)
{
	op->next = NULL;
	if (l->tail)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
	l->count++;
}

static struct pool_op *list_pop(struct op_list *l)
{
	struct pool_op *op = l->head;

	if (!op)
		return NULL;
	l->head = op->next;
	if (!l->head)
		l->tail = NULL;
	l->count--;
	return op;
}

static int32_t run_op(struct pool_op *op)
{
	ssize_t n;

	switch (op->kind) {
	case OP_OPENAT:
		n = openat(AT_FDCWD, op->path, op->flags);
		break;
	case OP_STATX:
		n = statx(op->fd, op->path, op->flags,
			  STATX_BASIC_STATS | STATX_BTIME, op->stx);
		break;
	case OP_READ:
		n = pread(op->fd, op->buf, op->len, (off_t)op->offset);
		break;
	case OP_CLOSE:
		n = close(op->fd);
		break;
	case OP_FADVISE:
		/* posix_fadvise returns the error instead of setting errno. */
		return -posix_fadvise(op->fd, 0, 0, op->flags);
	case OP_TIMEOUT:
		while (nanosleep(&op->ts, &op->ts) < 0 && errno == EINTR)
			;
		return -ETIME;
	default:
		return -EINVAL;
	}
	return n < 0 ? -errno : (int32_t)n;
}

static void *work(void *arg)
{
	struct pool *p = arg;
	struct pool_op *op;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo.head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		op = list_pop(&p->todo);
		pthread_mutex_unlock(&p->lock);
		op->res = run_op(op);
		pthread_mutex_lock(&p->lock);
		list_push(&p->finished, op);
		pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct pool *pool_new(unsigned threads)
{
	struct pool *p = alloc_calloc(1, sizeof(*p) +
				      threads * sizeof(p->threads[0]));
	unsigned i;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, work, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		pool_free(p);
		return NULL;
	}
	return p;
}

static void free_list(struct op_list *l)
{
	struct pool_op *op;

	while ((op = list_pop(l)))
		alloc_free(op);
}

void pool_free(struct pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free_list(&p->todo);
	free_list(&p->finished);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	alloc_free(p);
}

static struct pool_op *new_op(enum pool_kind kind, uint64_t user)
{
	struct pool_op *op = alloc_calloc(1, sizeof(*op));

	if (op) {
		op->kind = kind;
		op->user = user;
	}
	return op;
}

static int submit(struct pool *p, struct pool_op *op)
{
	if (!op)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	list_push(&p->todo, op);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int pool_openat(struct pool *p, const char *path, int flags, uint64_t user)
{
	struct pool_op *op = new_op(OP_OPENAT, user);

	if (op) {
		op->path = path;
		op->flags = flags;
	}
	return submit(p, op);
}

int pool_statx(struct pool *p, int fd, const char *path, bool follow,
	       struct statx *stx, uint64_t user)
{
	struct pool_op *op = new_op(OP_STATX, user);

	if (op) {
		op->fd = path ? AT_FDCWD : fd;
		op->path = path ? path : "";
		op->flags = AT_STATX_SYNC_AS_STAT | (path ? 0 : AT_EMPTY_PATH) |
			    (path && !follow ? AT_SYMLINK_NOFOLLOW : 0);
		op->stx = stx;
	}
	return submit(p, op);
}

int pool_read(struct pool *p, int fd, void *buf, unsigned len,
	      uint64_t offset, uint64_t user)
{
	struct pool_op *op = new_op(OP_READ, user);

	if (op) {
		op->fd = fd;
		op->buf = buf;
		op->len = len;
		op->offset = offset;
	}
	return submit(p, op);
}

int pool_close(struct pool *p, int fd, uint64_t user)
{
	struct pool_op *op = new_op(OP_CLOSE, user);

	if (op)
		op->fd = fd;
	return submit(p, op);
}

int pool_fadvise(struct pool *p, int fd, int advice, uint64_t user)
{
	struct pool_op *op = new_op(OP_FADVISE, user);

	if (op) {
		op->fd = fd;
		op->flags = advice;
	}
	return submit(p, op);
}

int pool_timeout(struct pool *p, const struct __kernel_timespec *ts,
		 uint64_t user)
{
	struct pool_op *op = new_op(OP_TIMEOUT, user);

	if (op) {
		op->ts.tv_sec = (time_t)ts->tv_sec;
		op->ts.tv_nsec = (long)ts->tv_nsec;
	}
	return submit(p, op);
}

void pool_wait(struct pool *p, unsigned wait_nr)
{
	pthread_mutex_lock(&p->lock);
	while (p->finished.count < wait_nr)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

unsigned pool_reap(struct pool *p, struct ring_completion *out, unsigned max)
{
	struct pool_op *op;
	unsigned n = 0;

	pthread_mutex_lock(&p->lock);
	while (n < max && (op = list_pop(&p->finished))) {
		out[n].user = op->user;
		out[n].res = op->res;
		n++;
		alloc_free(op);
	}
	pthread_mutex_unlock(&p->lock);
	return n;
}
