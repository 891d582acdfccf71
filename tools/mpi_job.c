/*
 * metaextract --mpi: the ranks of an MPI job share the walk and the reads.
 *
 * Each rank keeps a pool of work items: PATHs of the command line,
 * directories still to list, and regular files still to read. A rank
 * lists directories itself, through the library's walk hook, so the
 * walk rules (links, -x, -L loops, special files, unreadable
 * directories) are the library's own. It hands its engine a bounded
 * number of files at a time and keeps the rest in the pool, where other
 * ranks can steal them.
 *
 * Work stealing: a rank with an empty pool sends a steal request to a
 * random other rank, which replies with about half of its pool, or with
 * nothing. Only replies that carry items are basic messages in the sense
 * of termination detection. Requests and empty replies are control
 * messages.
 *
 * Termination: Safra's token algorithm. Each rank counts basic messages
 * sent minus received and turns black when it receives one. A token goes
 * around the ring 0, 1, ..., N-1, 0, and only a rank whose pool is empty
 * passes it on. The token sums the counters and turns black at a black
 * rank.
 * Rank 0 concludes that the walk is over when the token comes back white
 * to a white rank 0 with a sum of zero, and sends DONE to every rank.
 * Files still in an engine do not create items, so a rank whose engine
 * is busy counts as passive.
 *
 * Every message is sent with MPI_Issend, so a completed send has been
 * received. A rank leaves only after its own steal request has its reply
 * and its sends complete. It then enters a non-blocking barrier and
 * replies to requests until the barrier completes, so no message is left
 * unreceived.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "index.h"
#include "mpi_job.h"
#include "stop.h"

enum tag {
	TAG_REQUEST = 1,	/* a steal request; no payload */
	TAG_WORK,		/* the reply: serialised items, maybe none */
	TAG_TOKEN,		/* Safra's token: sum of counters, colour */
	TAG_DONE,		/* from rank 0: the walk is over */
	TAG_STOP,		/* a stop signal reached some rank */
};

enum item_kind {
	ITEM_ROOT,		/* a PATH of the command line */
	ITEM_DIR,		/* a directory taken by the walk hook */
	ITEM_FILE,		/* a regular file taken by the walk hook */
};

struct item {
	enum item_kind kind;
	char *path;
	bool follow;			/* ITEM_FILE */
	struct mx_file_id id;		/* ITEM_FILE; id.path unused */
	uint64_t root_dev;		/* ITEM_DIR */
	uint64_t *ancestors;		/* ITEM_DIR: depth pairs */
	size_t depth;
};

/* A double-ended queue: the rank takes from the back, thieves the front. */
struct pool {
	struct item *items;
	size_t head;
	size_t count;
	size_t cap;
};

struct pending_send {
	MPI_Request request;
	void *data;
};

/* Per-rank figures, gathered by rank 0. */
enum counter {
	C_FILES,
	C_FILES_OK,
	C_FILES_FAILED,
	C_FILES_SKIPPED,
	C_FILES_UNCHANGED,
	C_BYTES_READ,
	C_DIRS_LISTED,
	C_REQUESTS_SENT,
	C_REQUESTS_RECEIVED,
	C_REQUESTS_ANSWERED,	/* replied to with at least one item */
	C_ITEMS_SENT,
	C_ITEMS_RECEIVED,
	C_CANCELLED,
	C_COUNT,
};

enum timer {
	T_SECONDS,		/* from the start of the walk to the drain */
	T_IDLE,			/* with an empty pool and an idle engine */
	T_COUNT,
};

/* Files of this size or more go to an engine only while it has room. */
#define LARGE_FILE_BYTES (64ull << 20)

/* Maximum files handed to the engine per loop, counting those it reads. */
#define FEED_PER_LOOP 32

/* Maximum items per reply, and their bytes, to keep messages small. */
#define STEAL_ITEMS_MAX 4096
#define STEAL_BYTES_MAX (4u << 20)

/* Wait after an empty reply, doubling from the first to the last. */
#define STEAL_BACKOFF_MIN 0.0005
#define STEAL_BACKOFF_MAX 0.01

/* Pause of an iteration that found nothing to do, in nanoseconds. */
#define IDLE_NAP_NS 100000

struct mpi_job {
	int rank;
	int size;
	struct mx_batch *b;
	unsigned feed_limit;		/* files in the engine at most */
	unsigned loops;
	struct pool roots, dirs, large, small;

	struct pending_send *sends;
	size_t nsends, sends_cap;

	bool request_out;		/* a steal request awaits its reply */
	double next_request;		/* no request before this time */
	unsigned empty_answers;		/* in a row */
	unsigned seed;

	/* Safra's algorithm. */
	int64_t counter;		/* basic messages sent - received */
	bool black;
	bool have_token;
	int64_t token_count;
	bool token_black;
	bool round_started;		/* rank 0: a token is out or back */
	double next_round;		/* rank 0 */

	bool final;			/* DONE or a stop: leaving the walk */
	bool stopped;

	uint64_t counters[C_COUNT];
	double timers[T_COUNT];
	double t_start;

	/* The output and its shards, which the walk leaves out. */
	char *output_name;		/* the last component of -o FILE */
	struct stat output_dir;		/* its directory; st_ino 0: unknown */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void)
{
	struct timespec ts = { 0, IDLE_NAP_NS };

	nanosleep(&ts, NULL);
}

/* ---- Pools ---- */

static int pool_push(struct pool *p, struct item it)
{
	if (p->count == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64, i;
		struct item *grown = malloc(cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		for (i = 0; i < p->count; i++)
			grown[i] = p->items[(p->head + i) % p->cap];
		free(p->items);
		p->items = grown;
		p->head = 0;
		p->cap = cap;
	}
	p->items[(p->head + p->count) % p->cap] = it;
	p->count++;
	return 0;
}

static struct item pool_pop_back(struct pool *p)
{
	p->count--;
	return p->items[(p->head + p->count) % p->cap];
}

static struct item pool_pop_front(struct pool *p)
{
	struct item it = p->items[p->head];

	p->head = (p->head + 1) % p->cap;
	p->count--;
	return it;
}

static void item_free(struct item *it)
{
	free(it->path);
	free(it->ancestors);
}

static void pool_clear(struct pool *p)
{
	while (p->count) {
		struct item it = pool_pop_back(p);

		item_free(&it);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static size_t pooled(const struct mpi_job *j)
{
	return j->roots.count + j->dirs.count + j->large.count +
	       j->small.count;
}

/* The pool a file goes to: large files are handed out one by one. */
static struct pool *file_pool(struct mpi_job *j, const struct item *it)
{
	return it->id.size >= LARGE_FILE_BYTES ? &j->large : &j->small;
}

static int push_item(struct mpi_job *j, struct item it)
{
	struct pool *p = it.kind == ITEM_ROOT ? &j->roots :
			 it.kind == ITEM_DIR ? &j->dirs : file_pool(j, &it);

	return pool_push(p, it);
}

/* ---- The walk hook ---- */

static bool is_shard_name(const char *name, const char *base);

/*
 * Whether path names the job's output or a shard of it (FILE, FILE.rank-R,
 * and their -wal, -shm or -journal files) in the output's directory. Every
 * rank writes a shard, and the single-run check of the index's own files
 * covers only this rank's, so it is not enough inside the tree.
 */
static bool is_output_file(const struct mpi_job *j, const char *path)
{
	static const char *const suffixes[] = { "-wal", "-shm", "-journal" };
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char copy[4096], *dir;
	struct stat st;
	size_t len, i;

	if (!j->output_name || !j->output_dir.st_ino ||
	    strncmp(name, j->output_name, strlen(j->output_name)) != 0)
		return false;
	len = strlen(name);
	snprintf(copy, sizeof(copy), "%s", name);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i]);

		if (len > n && strcmp(copy + len - n, suffixes[i]) == 0) {
			copy[len - n] = '\0';
			break;
		}
	}
	if (strcmp(copy, j->output_name) != 0 &&
	    !is_shard_name(copy, j->output_name))
		return false;
	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	return stat(dir, &st) == 0 && st.st_dev == j->output_dir.st_dev &&
	       st.st_ino == j->output_dir.st_ino;
}

/*
 * Takes directories and regular files into the pool. Records without a
 * read stay with the walker, so the rank that lists a directory emits
 * them. When memory runs out, the walker keeps the entry.
 */
static bool take_entry(const struct mx_walk_entry *e, void *arg)
{
	struct mpi_job *j = arg;
	struct item it = { .path = NULL };

	/* Taken and dropped: no rank reads the job's own output. */
	if (e->kind == MX_WALK_FILE && is_output_file(j, e->path))
		return false;
	it.path = strdup(e->path);
	if (!it.path || e->kind == MX_WALK_RECORD)
		goto keep;
	if (e->kind == MX_WALK_FILE) {
		it.kind = ITEM_FILE;
		it.follow = e->follow;
		it.id = *e->file;
		it.id.path = NULL;
	} else {
		it.kind = ITEM_DIR;
		it.root_dev = e->dir->root_dev;
		it.depth = e->dir->depth;
		it.ancestors = malloc(it.depth * 2 * sizeof(uint64_t));
		if (!it.ancestors)
			goto keep;
		memcpy(it.ancestors, e->dir->ancestors,
		       it.depth * 2 * sizeof(uint64_t));
	}
	if (push_item(j, it) == 0)
		return false;
keep:
	item_free(&it);
	return true;
}

int mpi_job_add_root(void *job, const char *path)
{
	struct mpi_job *j = job;
	struct item it = { .kind = ITEM_ROOT, .path = strdup(path) };

	if (!it.path || push_item(j, it) < 0) {
		free(it.path);
		return -ENOMEM;
	}
	return 0;
}

/* ---- Serialised items ---- */

struct wire {
	unsigned char *data;
	size_t len, cap;
	bool failed;
};

static void wire_put(struct wire *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		unsigned char *grown;

		while (cap < w->len + n)
			cap *= 2;
		grown = realloc(w->data, cap);
		if (!grown) {
			w->failed = true;
			return;
		}
		w->data = grown;
		w->cap = cap;
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static void wire_u64(struct wire *w, uint64_t v)
{
	wire_put(w, &v, sizeof(v));
}

/*
 * An item as kind, follow, path length and path, then the file's
 * identity or the directory's device and ancestors. Integers are in the
 * byte order of the host: the ranks of a job are assumed to share it.
 */
static void put_item(struct wire *w, const struct item *it)
{
	size_t i;

	wire_u64(w, (uint64_t)it->kind | (it->follow ? 0x100 : 0));
	wire_u64(w, strlen(it->path));
	wire_put(w, it->path, strlen(it->path));
	if (it->kind == ITEM_FILE) {
		wire_u64(w, it->id.dev);
		wire_u64(w, it->id.inode);
		wire_u64(w, it->id.size);
		wire_u64(w, (uint64_t)it->id.mtime_ns);
	} else if (it->kind == ITEM_DIR) {
		wire_u64(w, it->root_dev);
		wire_u64(w, it->depth);
		for (i = 0; i < 2 * it->depth; i++)
			wire_u64(w, it->ancestors[i]);
	}
}

static bool get_u64(const unsigned char **p, const unsigned char *end,
		    uint64_t *v)
{
	if ((size_t)(end - *p) < sizeof(*v))
		return false;
	memcpy(v, *p, sizeof(*v));
	*p += sizeof(*v);
	return true;
}

/* Decodes one item; false for a truncated message or no memory. */
static bool get_item(const unsigned char **p, const unsigned char *end,
		     struct item *it)
{
	uint64_t head, len, v, i;

	memset(it, 0, sizeof(*it));
	if (!get_u64(p, end, &head) || !get_u64(p, end, &len) ||
	    (uint64_t)(end - *p) < len || (head & 0xff) > ITEM_FILE)
		return false;
	it->kind = (enum item_kind)(head & 0xff);
	it->follow = head & 0x100;
	it->path = strndup((const char *)*p, len);
	*p += len;
	if (!it->path)
		return false;
	if (it->kind == ITEM_FILE) {
		if (!get_u64(p, end, &it->id.dev) ||
		    !get_u64(p, end, &it->id.inode) ||
		    !get_u64(p, end, &it->id.size) || !get_u64(p, end, &v))
			goto fail;
		it->id.mtime_ns = (int64_t)v;
	} else if (it->kind == ITEM_DIR) {
		if (!get_u64(p, end, &it->root_dev) ||
		    !get_u64(p, end, &v) || v == 0 ||
		    v > (uint64_t)(end - *p) / 16)
			goto fail;
		it->depth = (size_t)v;
		it->ancestors = malloc(it->depth * 2 * sizeof(uint64_t));
		if (!it->ancestors)
			goto fail;
		for (i = 0; i < 2 * v; i++)
			get_u64(p, end, &it->ancestors[i]);
	}
	return true;
fail:
	item_free(it);
	return false;
}

/* ---- Messages ---- */

static void send_message(struct mpi_job *j, int to, enum tag tag,
			 void *data, size_t len)
{
	struct pending_send *s;

	if (j->nsends == j->sends_cap) {
		size_t cap = j->sends_cap ? 2 * j->sends_cap : 16;
		struct pending_send *grown = realloc(j->sends,
						     cap * sizeof(*grown));

		if (!grown) {
			/* Without memory to track it, send and wait here. */
			MPI_Ssend(data, (int)len, MPI_BYTE, to, tag,
				  MPI_COMM_WORLD);
			free(data);
			return;
		}
		j->sends = grown;
		j->sends_cap = cap;
	}
	s = &j->sends[j->nsends++];
	s->data = data;
	MPI_Issend(data, (int)len, MPI_BYTE, to, tag, MPI_COMM_WORLD,
		   &s->request);
}

/* Frees the sends that completed. */
static void reap_sends(struct mpi_job *j)
{
	size_t i = 0;

	while (i < j->nsends) {
		int done = 0;

		MPI_Test(&j->sends[i].request, &done, MPI_STATUS_IGNORE);
		if (!done) {
			i++;
			continue;
		}
		free(j->sends[i].data);
		j->sends[i] = j->sends[--j->nsends];
	}
}

/* Moves up to want items from the front of p into the reply. */
static size_t give(struct wire *w, struct pool *p, size_t want)
{
	size_t n = 0;

	while (n < want && p->count && n < STEAL_ITEMS_MAX &&
	       w->len < STEAL_BYTES_MAX) {
		struct item it = pool_pop_front(p);

		put_item(w, &it);
		item_free(&it);
		n++;
	}
	return n;
}

static uint64_t engine_backlog(struct mpi_job *j)
{
	struct mx_progress p;

	mx_batch_progress(j->b, &p);
	return p.files_found - p.files_done;
}

/*
 * Replies to a steal request with about half of the pool: half of each
 * kind, rounded up where this rank has other work to go on with.
 */
static void answer_request(struct mpi_job *j, int thief)
{
	struct wire w = { 0 };
	uint64_t count = 0;
	bool busy;

	j->counters[C_REQUESTS_RECEIVED]++;
	wire_u64(&w, 0);	/* the count, filled in below */
	if (!j->final) {
		busy = engine_backlog(j) > 0 || j->small.count > 0;
		count += give(&w, &j->roots, (j->roots.count + busy) / 2);
		count += give(&w, &j->dirs, (j->dirs.count + busy) / 2);
		count += give(&w, &j->large, (j->large.count + busy) / 2);
		count += give(&w, &j->small, j->small.count / 2);
	}
	if (w.failed) {
		/* The items taken from the pool cannot be put back in order. */
		fprintf(stderr, "metaextract: rank %d: no memory for the "
			"reply to a steal request; stopping the job\n",
			j->rank);
		MPI_Abort(MPI_COMM_WORLD, 2);
		return;
	}
	memcpy(w.data, &count, sizeof(count));
	if (count) {
		j->counter++;
		j->counters[C_REQUESTS_ANSWERED]++;
		j->counters[C_ITEMS_SENT] += count;
	}
	send_message(j, thief, TAG_WORK, w.data, w.len);
}

static void receive_work(struct mpi_job *j, const unsigned char *data,
			 size_t len)
{
	const unsigned char *p = data, *end = data + len;
	uint64_t count = 0, i;
	struct item it;

	j->request_out = false;
	get_u64(&p, end, &count);
	if (count == 0) {
		double wait = STEAL_BACKOFF_MIN * (double)(1u << j->empty_answers);

		if (wait < STEAL_BACKOFF_MAX)
			j->empty_answers++;
		else
			wait = STEAL_BACKOFF_MAX;
		j->next_request = now_seconds() + wait;
		return;
	}
	j->empty_answers = 0;
	j->counter--;
	j->black = true;
	j->counters[C_ITEMS_RECEIVED] += count;
	for (i = 0; i < count; i++) {
		if (!get_item(&p, end, &it)) {
			fprintf(stderr, "metaextract: rank %d: invalid or "
				"unaffordable work message; %" PRIu64 " items "
				"lost\n", j->rank, count - i);
			break;
		}
		/* After a stop the work is not done, as on any rank. */
		if (j->stopped || push_item(j, it) < 0)
			item_free(&it);
	}
}

static void begin_stop(struct mpi_job *j, bool tell_others)
{
	int r;

	if (j->stopped)
		return;
	j->stopped = true;
	j->final = true;
	mx_batch_cancel(j->b);
	if (!tell_others)
		return;
	for (r = 0; r < j->size; r++)
		if (r != j->rank)
			send_message(j, r, TAG_STOP, NULL, 0);
}

static void handle(struct mpi_job *j, const MPI_Status *st,
		   const unsigned char *data, size_t len)
{
	int64_t token[2];

	switch (st->MPI_TAG) {
	case TAG_REQUEST:
		answer_request(j, st->MPI_SOURCE);
		break;
	case TAG_WORK:
		receive_work(j, data, len);
		break;
	case TAG_TOKEN:
		if (len != sizeof(token) || j->final)
			break;
		memcpy(token, data, sizeof(token));
		j->have_token = true;
		j->token_count = token[0];
		j->token_black = token[1] != 0;
		break;
	case TAG_DONE:
		j->final = true;
		break;
	case TAG_STOP:
		begin_stop(j, false);
		break;
	}
}

/* Receives every message waiting, and frees completed sends. */
static void poll_messages(struct mpi_job *j)
{
	for (;;) {
		MPI_Status st;
		unsigned char *data;
		int flag = 0, len = 0;

		MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag,
			   &st);
		if (!flag)
			break;
		MPI_Get_count(&st, MPI_BYTE, &len);
		data = malloc(len > 0 ? (size_t)len : 1);
		if (!data) {
			fprintf(stderr, "metaextract: rank %d: no memory for "
				"a message of %d bytes\n", j->rank, len);
			MPI_Abort(MPI_COMM_WORLD, 2);
			return;
		}
		MPI_Recv(data, len, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG,
			 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		handle(j, &st, data, (size_t)len);
		free(data);
	}
	reap_sends(j);
}

/* ---- Termination ---- */

static void send_token(struct mpi_job *j)
{
	int64_t *token = malloc(2 * sizeof(*token));

	if (!token) {
		MPI_Abort(MPI_COMM_WORLD, 2);
		return;
	}
	token[0] = j->token_count;
	token[1] = j->token_black;
	j->have_token = false;
	send_message(j, (j->rank + 1) % j->size, TAG_TOKEN, token,
		     2 * sizeof(*token));
}

/* Passes the token on, or on rank 0 ends a round; with an empty pool. */
static void advance_token(struct mpi_job *j)
{
	int r;

	if (!j->have_token)
		return;
	if (j->rank != 0) {
		j->token_count += j->counter;
		j->token_black = j->token_black || j->black;
		j->black = false;
		send_token(j);
		return;
	}
	if (j->round_started && !j->token_black && !j->black &&
	    j->token_count + j->counter == 0) {
		for (r = 1; r < j->size; r++)
			send_message(j, r, TAG_DONE, NULL, 0);
		j->final = true;
		return;
	}
	/* A new round, at most one per millisecond. */
	if (now_seconds() < j->next_round)
		return;
	j->next_round = now_seconds() + 0.001;
	j->round_started = true;
	j->black = false;
	j->token_count = 0;
	j->token_black = false;
	send_token(j);
}

static void request_work(struct mpi_job *j)
{
	int victim;

	if (j->request_out || now_seconds() < j->next_request)
		return;
	victim = (int)(rand_r(&j->seed) % (unsigned)(j->size - 1));
	if (victim >= j->rank)
		victim++;
	j->request_out = true;
	j->counters[C_REQUESTS_SENT]++;
	send_message(j, victim, TAG_REQUEST, NULL, 0);
}

/* ---- Local work ---- */

/* Hands files to the engine while it has fewer than feed_limit. */
static bool feed_engine(struct mpi_job *j)
{
	uint64_t backlog = engine_backlog(j);
	bool fed = false;

	while (backlog < j->feed_limit) {
		struct pool *p = &j->small;
		struct item it;

		/* A large file only while a loop may be free for it. */
		if (j->large.count && backlog < j->loops)
			p = &j->large;
		if (p->count == 0)
			break;
		it = pool_pop_back(p);
		if (mx_batch_add_file(j->b, it.path, &it.id, it.follow) < 0) {
			item_free(&it);
			break;
		}
		item_free(&it);
		backlog++;
		fed = true;
	}
	return fed;
}

/* Lists one directory or PATH, whose entries go to the pool. */
static bool list_one(struct mpi_job *j)
{
	struct item it;
	int ret;

	if (j->dirs.count) {
		struct mx_walk_dir d;

		it = pool_pop_back(&j->dirs);
		d = (struct mx_walk_dir){ .path = it.path,
					  .root_dev = it.root_dev,
					  .ancestors = it.ancestors,
					  .depth = it.depth };
		ret = mx_batch_walk_dir(j->b, &d);
	} else if (j->roots.count) {
		it = pool_pop_back(&j->roots);
		ret = mx_batch_add(j->b, it.path);
	} else {
		return false;
	}
	j->counters[C_DIRS_LISTED]++;
	if (ret < 0 && ret != -ECANCELED)
		fprintf(stderr, "metaextract: rank %d: cannot walk '%s': %s\n",
			j->rank, it.path, strerror(-ret));
	item_free(&it);
	return true;
}

/* Leaves the walk: see the protocol at the top of this file. */
static void leave_walk(struct mpi_job *j)
{
	MPI_Request barrier;
	bool entered = false;
	int done = 0;

	pool_clear(&j->roots);
	pool_clear(&j->dirs);
	pool_clear(&j->large);
	pool_clear(&j->small);
	for (;;) {
		poll_messages(j);
		if (!entered && !j->request_out && j->nsends == 0) {
			MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
			entered = true;
		}
		if (entered && !done)
			MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
		if (done && j->nsends == 0)
			break;
		nap();
	}
}

/*
 * Waits, still receiving messages, until every rank's engine has read the
 * files it was handed, so that a stop signal on one rank in this phase
 * still reaches the others. Before, a rank past the walk waited in
 * mx_batch_finish() and read to the end. A rank enters a second barrier
 * once its sends are received and its engine is idle or it has stopped.
 * A stopped rank does not wait for its engine: a cancelled batch drops
 * the files it has not started, so the backlog never reaches zero. After
 * entering, a rank sends no STOP, since the others may have left.
 */
static void drain_engines(struct mpi_job *j)
{
	MPI_Request barrier;
	bool entered = false;
	int done = 0;

	while (!done) {
		poll_messages(j);
		if (!entered && stop_signal())
			begin_stop(j, true);
		if (!entered && j->nsends == 0 &&
		    (j->stopped || engine_backlog(j) == 0)) {
			MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
			entered = true;
		}
		if (entered)
			MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
		if (!done)
			nap();
	}
}

int mpi_job_walk(struct mpi_job *j, struct mx_batch *b, unsigned threads,
		 int error)
{
	double last, t;
	bool idle = false, worked;

	j->b = b;
	j->loops = threads ? threads :
		   (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (j->loops < 1)
		j->loops = 1;
	j->feed_limit = j->loops * FEED_PER_LOOP;
	j->have_token = j->rank == 0;
	j->seed = (unsigned)j->rank * 2654435761u + (unsigned)time(NULL);
	mx_batch_set_walk_hook(b, take_entry, j);
	MPI_Barrier(MPI_COMM_WORLD);
	j->t_start = last = now_seconds();
	if (error < 0)
		begin_stop(j, true);
	while (!j->final) {
		t = now_seconds();
		if (idle)
			j->timers[T_IDLE] += t - last;
		last = t;
		poll_messages(j);
		if (stop_signal())
			begin_stop(j, true);
		if (j->final)
			break;
		worked = feed_engine(j);
		worked = list_one(j) || worked;
		if (pooled(j) == 0) {
			if (j->size == 1) {
				j->final = true;
				break;
			}
			advance_token(j);
			request_work(j);
		}
		idle = pooled(j) == 0 && engine_backlog(j) == 0;
		if (!worked)
			nap();
	}
	leave_walk(j);
	drain_engines(j);
	if (error < 0)
		return error;
	return j->stopped ? -ECANCELED : 0;
}

/* ---- Start, summary and output ---- */

int mpi_job_start(int *argc, char ***argv, struct mpi_job **out)
{
	struct mpi_job *j;
	int provided = 0;

	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) !=
	    MPI_SUCCESS) {
		fprintf(stderr, "metaextract: --mpi: MPI_Init_thread failed\n");
		return -EIO;
	}
	if (provided < MPI_THREAD_FUNNELED) {
		fprintf(stderr, "metaextract: --mpi: the MPI library does not "
			"support MPI_THREAD_FUNNELED, which the engine's "
			"threads need\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		MPI_Abort(MPI_COMM_WORLD, 2);
		return -ENOMEM;
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &j->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &j->size);
	*out = j;
	return 0;
}

int mpi_job_rank(const struct mpi_job *j)
{
	return j->rank;
}

void mpi_job_abort(struct mpi_job *j, int status)
{
	(void)j;
	MPI_Abort(MPI_COMM_WORLD, status);
}

char *mpi_job_shard_path(const struct mpi_job *j, const char *output)
{
	size_t len = strlen(output) + 32;
	char *path = malloc(len);

	if (path)
		snprintf(path, len, "%s.rank-%d", output, j->rank);
	return path;
}

/* True when name is base followed by ".rank-" and a number. */
static bool is_shard_name(const char *name, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(name, base, n) != 0 || strncmp(name + n, ".rank-", 6))
		return false;
	name += n + 6;
	return *name && strspn(name, "0123456789") == strlen(name);
}

/* The shards of output left in its directory, as a list of paths. */
static char **find_shards(const char *output, size_t *count)
{
	char *dir_copy = strdup(output), *base_copy = strdup(output);
	char **list = NULL, **grown;
	const char *dir_name, *base;
	struct dirent *de;
	DIR *dir = NULL;

	*count = 0;
	if (!dir_copy || !base_copy)
		goto out;
	dir_name = dirname(dir_copy);
	base = basename(base_copy);
	dir = opendir(dir_name);
	while (dir && (de = readdir(dir)) != NULL) {
		size_t len;

		if (!is_shard_name(de->d_name, base))
			continue;
		grown = realloc(list, (*count + 1) * sizeof(*list));
		if (!grown)
			break;
		list = grown;
		len = strlen(dir_name) + strlen(de->d_name) + 2;
		list[*count] = malloc(len);
		if (!list[*count])
			break;
		snprintf(list[*count], len, "%s/%s", dir_name, de->d_name);
		(*count)++;
	}
out:
	if (dir)
		closedir(dir);
	free(dir_copy);
	free(base_copy);
	return list;
}

static void free_list(char **list, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

/* Deletes an SQLite shard with its WAL, shared-memory and journal files. */
static void remove_shard(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm",
						"-journal" };
	size_t i, len = strlen(path) + 16;
	char *name = malloc(len);

	for (i = 0; name && i < 4; i++) {
		snprintf(name, len, "%s%s", path, suffixes[i]);
		unlink(name);
	}
	free(name);
}

/* Merges SQLite shards into output, deleting them once merged. */
static int merge_shards(const char *output, char **shards, size_t n,
			unsigned flags, bool quiet)
{
	size_t i;
	int status;

	if (n == 0)
		return 0;
	status = index_merge(output, shards, n, flags | INDEX_MERGE_QUIET);
	if (status != 0) {
		fprintf(stderr, "metaextract: merging the rank shards into "
			"'%s' failed; they are kept, and the same command "
			"merges them when run again\n", output);
		return status;
	}
	for (i = 0; i < n; i++)
		remove_shard(shards[i]);
	if (!quiet)
		fprintf(stderr, "metaextract: merged %zu rank shards into "
			"'%s'\n", n, output);
	return 0;
}

int mpi_job_prepare_output(struct mpi_job *j, const char *output,
			   bool sqlite, bool quiet)
{
	int status = 0;
	char copy[4096];

	snprintf(copy, sizeof(copy), "%s", output);
	j->output_name = strdup(basename(copy));
	snprintf(copy, sizeof(copy), "%s", output);
	if (stat(dirname(copy), &j->output_dir) != 0)
		j->output_dir.st_ino = 0;
	if (j->rank == 0 && sqlite) {
		size_t n;
		char **shards = find_shards(output, &n);

		if (n && !quiet)
			fprintf(stderr, "metaextract: %zu rank shards of an "
				"earlier run found; merging them into '%s' "
				"first\n", n, output);
		status = merge_shards(output, shards, n,
				      INDEX_MERGE_CLOSE_STALE_RUNS, quiet);
		free_list(shards, n);
	}
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	return status ? -EIO : 0;
}

/* Copies the file in into fd, from after the first line with skip_line. */
static int append_file(int fd, const char *in, bool skip_line)
{
	char buf[1 << 16];
	FILE *f = fopen(in, "re");
	int c, ret = 0;
	size_t n;

	if (!f)
		return -errno;
	if (skip_line)
		while ((c = getc(f)) != EOF && c != '\n')
			;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		const char *p = buf;

		while (n && ret == 0) {
			ssize_t w = write(fd, p, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				ret = -errno;
			else {
				p += w;
				n -= (size_t)w;
			}
		}
	}
	if (ferror(f) && ret == 0)
		ret = -EIO;
	fclose(f);
	return ret;
}

/* Concatenates the text shards of ranks 0 to size-1 into output. */
static int concatenate_shards(struct mpi_job *j, const char *output,
			      bool csv, bool quiet)
{
	int fd, r, ret = 0;

	fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "metaextract: cannot create '%s': %s\n",
			output, strerror(errno));
		return 2;
	}
	for (r = 0; r < j->size && ret == 0; r++) {
		char *shard = mpi_job_shard_path(&(struct mpi_job){ .rank = r },
						 output);

		ret = shard ? append_file(fd, shard, csv && r > 0) : -ENOMEM;
		if (ret < 0)
			fprintf(stderr, "metaextract: cannot append rank "
				"shard '%s' to '%s': %s\n", shard, output,
				strerror(-ret));
		free(shard);
	}
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	for (r = 0; r < j->size && ret == 0; r++) {
		char *shard = mpi_job_shard_path(&(struct mpi_job){ .rank = r },
						 output);

		if (shard)
			unlink(shard);
		free(shard);
	}
	if (ret == 0 && !quiet)
		fprintf(stderr, "metaextract: joined %d rank shards into "
			"'%s'\n", j->size, output);
	return ret < 0 ? 2 : 0;
}

static void fill_counters(struct mpi_job *j, const struct mx_summary *sum)
{
	j->counters[C_FILES] = sum->files;
	j->counters[C_FILES_OK] = sum->files_ok;
	j->counters[C_FILES_FAILED] = sum->files_failed;
	j->counters[C_FILES_SKIPPED] = sum->files_skipped;
	j->counters[C_FILES_UNCHANGED] = sum->files_unchanged;
	j->counters[C_BYTES_READ] = sum->bytes_read;
	j->counters[C_CANCELLED] = sum->cancelled || j->stopped;
	j->timers[T_SECONDS] = now_seconds() - j->t_start;
}

/*
 * The share of the job's wall time that rank r spent without work: idle
 * in the walk, and waiting for the other ranks once its engine drained.
 */
static double idle_fraction(const double *timers, int r, double wall)
{
	double idle = timers[r * T_COUNT + T_IDLE] + wall -
		      timers[r * T_COUNT + T_SECONDS];

	return wall > 0 ? idle / wall : 0;
}

static void print_job_summary(const struct mpi_job *j, const uint64_t *c,
			      const double *t, double wall)
{
	uint64_t total[C_COUNT] = { 0 };
	int r, i;

	for (r = 0; r < j->size; r++)
		for (i = 0; i < C_COUNT; i++)
			total[i] += c[r * C_COUNT + i];
	fprintf(stderr, "metaextract: %d ranks: %" PRIu64 " files: %" PRIu64
		" ok, %" PRIu64 " failed, %" PRIu64 " skipped, %" PRIu64
		" unchanged; %.1f MiB read in %.2f s\n", j->size,
		total[C_FILES], total[C_FILES_OK], total[C_FILES_FAILED],
		total[C_FILES_SKIPPED], total[C_FILES_UNCHANGED],
		(double)total[C_BYTES_READ] / (1 << 20), wall);
	for (r = 0; r < j->size; r++) {
		const uint64_t *rc = c + r * C_COUNT;

		fprintf(stderr, "metaextract: rank %d: %" PRIu64 " files, "
			"%.1f MiB, %" PRIu64 " directories listed; steal "
			"requests %" PRIu64 " sent, %" PRIu64 " received, "
			"%" PRIu64 " answered with work; items %" PRIu64
			" received, %" PRIu64 " sent; idle %.0f%% of %.2f s\n",
			r, rc[C_FILES], (double)rc[C_BYTES_READ] / (1 << 20),
			rc[C_DIRS_LISTED], rc[C_REQUESTS_SENT],
			rc[C_REQUESTS_RECEIVED], rc[C_REQUESTS_ANSWERED],
			rc[C_ITEMS_RECEIVED], rc[C_ITEMS_SENT],
			100 * idle_fraction(t, r, wall), wall);
	}
}

/* The "mpi" member of --stats: the job's ranks and their figures. */
static char *ranks_json(const struct mpi_job *j, const uint64_t *c,
			const double *t, double wall)
{
	static const char *const names[C_COUNT] = {
		"files", "files_ok", "files_failed", "files_skipped",
		"files_unchanged", "bytes_read", "directories_listed",
		"steal_requests_sent", "steal_requests_received",
		"steal_requests_answered", "items_sent", "items_received",
		"cancelled",
	};
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	int r, i;

	if (!f)
		return NULL;
	fprintf(f, "\"mpi\":{\"ranks\":%d,\"wall_seconds\":%.6f,"
		"\"per_rank\":[", j->size, wall);
	for (r = 0; r < j->size; r++) {
		fprintf(f, "%s{\"rank\":%d", r ? "," : "", r);
		for (i = 0; i < C_COUNT; i++)
			fprintf(f, ",\"%s\":%" PRIu64, names[i],
				c[r * C_COUNT + i]);
		fprintf(f, ",\"seconds\":%.6f,\"idle_seconds\":%.6f,"
			"\"idle_fraction\":%.4f}", t[r * T_COUNT + T_SECONDS],
			t[r * T_COUNT + T_IDLE] + wall -
			t[r * T_COUNT + T_SECONDS],
			idle_fraction(t, r, wall));
	}
	fputs("]}", f);
	if (fclose(f) != 0) {
		free(json);
		return NULL;
	}
	return json;
}

int mpi_job_gather(struct mpi_job *j, const struct mx_summary *sum,
		   int status, bool quiet, char **json)
{
	uint64_t *c = NULL;
	double *t = NULL, wall = 0;
	int highest = status, r;

	*json = NULL;
	fill_counters(j, sum);
	if (j->rank == 0) {
		c = calloc((size_t)j->size, sizeof(j->counters));
		t = calloc((size_t)j->size, sizeof(j->timers));
		if (!c || !t)
			MPI_Abort(MPI_COMM_WORLD, 2);
	}
	MPI_Gather(j->counters, C_COUNT, MPI_UINT64_T, c, C_COUNT,
		   MPI_UINT64_T, 0, MPI_COMM_WORLD);
	MPI_Gather(j->timers, T_COUNT, MPI_DOUBLE, t, T_COUNT, MPI_DOUBLE, 0,
		   MPI_COMM_WORLD);
	MPI_Allreduce(&status, &highest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (j->rank == 0) {
		for (r = 0; r < j->size; r++)
			if (t[r * T_COUNT + T_SECONDS] > wall)
				wall = t[r * T_COUNT + T_SECONDS];
		if (!quiet)
			print_job_summary(j, c, t, wall);
		*json = ranks_json(j, c, t, wall);
	}
	free(c);
	free(t);
	return highest;
}

int mpi_job_finish(struct mpi_job *j, const char *output,
		   enum mpi_output kind, int status, bool quiet)
{
	int merged = 0;

	/* Every rank has closed its shard. */
	MPI_Barrier(MPI_COMM_WORLD);
	if (j->rank == 0 && kind == MPI_OUTPUT_SQLITE) {
		size_t n;
		char **shards = find_shards(output, &n);

		/*
		 * Also after a stop signal: the merge commits each shard in
		 * one transaction, and a second signal ends it at once.
		 */
		merged = merge_shards(output, shards, n,
				      INDEX_MERGE_AFTER_STOP, quiet);
		free_list(shards, n);
	} else if (j->rank == 0) {
		merged = concatenate_shards(j, output, kind == MPI_OUTPUT_CSV,
					    quiet);
	}
	MPI_Finalize();
	free(j->sends);
	free(j->output_name);
	free(j);
	if (merged > status)
		status = merged;
	return status;
}
