/* The public batch API: configuration, loop start-up, records, summary. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <time.h>

#include <openssl/crypto.h>
#include <xxhash.h>

#include "alloc.h"
#include "deque.h"
#include "engine.h"
#include "fmt.h"
#include "isolate.h"
#include "log.h"
#include "loop.h"
#include "sniff.h"
#include "stats.h"
#include "strbuf.h"

/* Paths queued between the walker and the loops. */
#define QUEUE_SLOTS 4096
#define LARGE_QUEUE_SLOTS 256

void mx_config_init(struct mx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->threads = 0;
	cfg->chunk_size = 256 * 1024;
	cfg->buffers = 16;
	cfg->queue_depth = 4;
	cfg->files_in_flight = 32;
	cfg->digests = MX_DIGEST_DEFAULT;
	cfg->content = true;
	cfg->identify = true;
	cfg->parse = true;
	cfg->max_objects = 10000;
	cfg->max_tags = 256;
	cfg->max_depth = 32;
	cfg->probe_size = 5000000;	/* FFmpeg's own defaults */
	cfg->analyze_duration = 5;
	cfg->auto_direct = true;
	cfg->isolate_parsers = true;
	cfg->parse_timeout = 300;
	cfg->parse_stall_timeout = 60;
	cfg->parser_memory = 2ull << 30;
	cfg->parser_recycle = 1000;
}

static int check_config(const struct mx_config *cfg)
{
	if (cfg->chunk_size < 4096 || cfg->chunk_size % 4096 ||
	    cfg->chunk_size > (1u << 30))
		return -EINVAL;
	if (cfg->buffers < 1 || cfg->buffers > 4096)
		return -EINVAL;
	if (cfg->queue_depth < 1 || cfg->queue_depth > cfg->buffers ||
	    cfg->large_queue_depth > cfg->buffers)
		return -EINVAL;
	if (cfg->files_in_flight < 1 || cfg->files_in_flight > 1024)
		return -EINVAL;
	if (cfg->threads > 1024 || (cfg->digests & ~MX_DIGEST_ALL))
		return -EINVAL;
	if (cfg->io != MX_IO_AUTO && cfg->io != MX_IO_URING &&
	    cfg->io != MX_IO_POOL)
		return -EINVAL;
	if (cfg->order > MX_ORDER_PATH)
		return -EINVAL;
	if (!(cfg->parse_timeout >= 0) || !(cfg->parse_stall_timeout >= 0) ||
	    cfg->parser_recycle < 1 ||
	    (cfg->parser_memory && cfg->parser_memory < (128ull << 20)))
		return -EINVAL;
	if (cfg->max_depth < 1 || cfg->max_depth > 64 ||
	    cfg->probe_size < 32 || cfg->probe_size > INT32_MAX ||
	    !(cfg->analyze_duration >= 0 && cfg->analyze_duration <= 86400))
		return -EINVAL;
	return 0;
}

/*
 * Rejects chunk buffers that would take more than half of the physical
 * memory: registering them pins every page, and the kernel would kill
 * the process rather than fail the allocation.
 */
static bool buffers_fit_memory(const struct mx_config *cfg, unsigned loops)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGESIZE);
	double need = (double)loops * cfg->buffers * cfg->chunk_size;
	double have = (double)pages * (double)page_size;

	if (pages <= 0 || page_size <= 0 || need <= have / 2)
		return true;
	mx_log(MX_LOG_ERROR, "batch", "%u loops x %u buffers x %u KiB need "
	       "%.1f GiB, more than half of the %.1f GiB of memory; use a "
	       "smaller --chunk-size, fewer --buffers or fewer threads",
	       loops, cfg->buffers, cfg->chunk_size >> 10, need / (1 << 30),
	       have / (1 << 30));
	return false;
}

/* CPUs of a cgroup v2 quota ("200000 100000" is 2), or 0 for none. */
static unsigned cgroup_cpus(void)
{
	FILE *f = fopen("/sys/fs/cgroup/cpu.max", "re");
	char quota[32];
	unsigned long long period;
	unsigned cpus = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%31s %llu", quota, &period) == 2 &&
	    strcmp(quota, "max") != 0 && period > 0) {
		unsigned long long q = strtoull(quota, NULL, 10);

		cpus = (unsigned)((q + period - 1) / period);
	}
	fclose(f);
	return cpus;
}

static unsigned usable_cpus(void)
{
	cpu_set_t set;
	unsigned n = 1, quota;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = (unsigned)CPU_COUNT(&set);
	quota = cgroup_cpus();
	if (quota && quota < n)
		n = quota;
	return n ? n : 1;
}

static void fmt_mib(char *buf, size_t len, unsigned long long bytes)
{
	if (bytes == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else if (bytes < (1u << 20))
		snprintf(buf, len, "%llu KiB", bytes >> 10);
	else
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
}

/* True when the effective capabilities include CAP_IPC_LOCK. */
static bool has_ipc_lock(void)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &head, data) < 0)
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}

/*
 * Registered buffers count against RLIMIT_MEMLOCK unless the process has
 * CAP_IPC_LOCK. Raise the soft limit where allowed; otherwise use fewer
 * buffers per loop, and below two per loop, plain unregistered reads.
 */
static void fit_buffers(struct mx_batch *b)
{
	struct mx_config *cfg = &b->cfg;
	struct mx_summary *s = &b->sum;
	unsigned long long per_loop, need, fit, huge_fit;
	struct rlimit rl;
	char have[32], want[32];

	b->huge_buffers = true;
	if (cfg->io == MX_IO_POOL) {
		/* The portable backend registers nothing. */
		b->register_buffers = false;
		return;
	}
	if (has_ipc_lock()) {
		b->register_buffers = true;
		snprintf(s->buffer_note, sizeof(s->buffer_note),
			 "%u x %u KiB registered per loop (CAP_IPC_LOCK: no "
			 "RLIMIT_MEMLOCK bound)", cfg->buffers,
			 cfg->chunk_size >> 10);
		return;
	}
	per_loop = alloc_buffers_length((size_t)cfg->buffers *
					cfg->chunk_size) + PARSER_CACHE;
	need = per_loop * b->nloops;
	b->register_buffers = true;
	fmt_mib(want, sizeof(want), need);
	snprintf(s->buffer_note, sizeof(s->buffer_note),
		 "%u x %u KiB registered per loop", cfg->buffers,
		 cfg->chunk_size >> 10);
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	fmt_mib(have, sizeof(have), rl.rlim_cur);
	rl.rlim_cur = need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		mx_log(MX_LOG_INFO, "engine", "raised RLIMIT_MEMLOCK from %s "
		       "to %s for registered buffers", have, want);
		return;
	}
	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		getrlimit(RLIMIT_MEMLOCK, &rl);
	}
	fmt_mib(have, sizeof(have), rl.rlim_cur);
	per_loop = rl.rlim_cur / b->nloops;
	per_loop = per_loop > PARSER_CACHE ? per_loop - PARSER_CACHE : 0;
	fit = per_loop / cfg->chunk_size;
	/*
	 * Huge pages are charged whole, so they fit fewer buffers. Keep
	 * them unless that loses more than a quarter of the buffers: at
	 * Debian's 8 MiB limit with two loops, 8 buffers of 256 KiB in
	 * huge pages against 15 in small ones.
	 */
	huge_fit = (per_loop - per_loop % alloc_buffers_length(1)) /
		   cfg->chunk_size;
	if (huge_fit >= 2 && huge_fit * 4 >= fit * 3)
		fit = huge_fit;
	else
		b->huge_buffers = false;
	if (fit >= 2) {
		cfg->buffers = (unsigned)fit;
		if (cfg->queue_depth > cfg->buffers)
			cfg->queue_depth = cfg->buffers;
		if (cfg->large_queue_depth > cfg->buffers)
			cfg->large_queue_depth = cfg->buffers;
		snprintf(s->buffer_note, sizeof(s->buffer_note),
			 "%u x %u KiB registered per loop, fewer to fit "
			 "RLIMIT_MEMLOCK %s", cfg->buffers,
			 cfg->chunk_size >> 10, have);
	} else {
		b->register_buffers = false;
		snprintf(s->buffer_note, sizeof(s->buffer_note),
			 "unregistered: RLIMIT_MEMLOCK %s is below the %s "
			 "that registered buffers need", have, want);
	}
	mx_log(MX_LOG_INFO, "engine", "%s", s->buffer_note);
}

/*
 * Raises the soft RLIMIT_NOFILE to the hard one, because directory walks
 * and many files in flight need descriptors. Where even that is short of
 * what the loops would hold open (their files, rings, parser workers, and
 * some for the walk and the caller), opens fewer files at once per loop.
 */
static void fit_nofile(struct mx_batch *b)
{
	struct mx_config *cfg = &b->cfg;
	unsigned long long need, per_loop;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	need = (unsigned long long)b->nloops * (cfg->files_in_flight + 8) + 64;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	per_loop = rl.rlim_cur > 64 + 9ull * b->nloops ?
		   (rl.rlim_cur - 64) / b->nloops - 8 : 1;
	mx_log(MX_LOG_WARN, "engine", "RLIMIT_NOFILE %llu is too low for %u "
	       "loops x %u files in flight; opening %llu files at once per "
	       "loop (raise the limit with ulimit -n, or use fewer --threads)",
	       (unsigned long long)rl.rlim_cur, b->nloops,
	       cfg->files_in_flight, per_loop);
	cfg->files_in_flight = (unsigned)per_loop;
}

/* Counts a failed record under "stage:errno"; the caller holds emit_lock. */
static void count_error(struct mx_batch *b, const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	const char *stage = mx_value_string(mx_value_get(root, "/error/stage"),
					    NULL);
	const char *err = mx_value_string(mx_value_get(root, "/error/errno"),
					  NULL);
	char kind[48];
	unsigned i;

	snprintf(kind, sizeof(kind), "%s:%s", stage ? stage : "unknown",
		 err ? err : "none");
	for (i = 0; i < b->error_kinds; i++) {
		if (strcmp(b->errors[i].kind, kind) == 0) {
			b->errors[i].count++;
			return;
		}
	}
	if (b->error_kinds == ERROR_KINDS_MAX) {
		b->errors_other++;
		return;
	}
	snprintf(b->errors[i].kind, sizeof(b->errors[i].kind), "%s", kind);
	b->errors[i].count = 1;
	b->error_kinds++;
}

void batch_emit(struct mx_batch *b, struct mx_record *rec)
{
	struct mx_summary *s = &b->sum;

	rec = record_close(rec);
	pthread_mutex_lock(&b->emit_lock);
	s->files++;
	atomic_fetch_add(&b->files_done, 1);
	if (!rec) {
		mx_log(MX_LOG_ERROR, "batch", "no memory for a record");
		s->files_failed++;
		atomic_fetch_add(&b->files_failed, 1);
		pthread_mutex_unlock(&b->emit_lock);
		return;
	}
	if (rec->state == MX_STATUS_OK) {
		s->files_ok++;
	} else if (rec->state == MX_STATUS_SKIPPED) {
		s->files_skipped++;
	} else {
		s->files_failed++;
		atomic_fetch_add(&b->files_failed, 1);
		count_error(b, rec);
	}
	if (b->keep && !*b->keep) {
		*b->keep = rec;
		rec = NULL;
	} else if (b->async) {
		async_push(b, rec);
		rec = NULL;
	} else if (b->fn) {
		record_kept = false;
		b->fn(rec, b->arg);
		if (record_kept)
			rec = NULL;
	}
	pthread_mutex_unlock(&b->emit_lock);
	mx_record_free(rec);
}

void batch_file_id(const char *path, const struct stat *st,
		   struct mx_file_id *id)
{
	id->path = path;
	id->dev = (uint64_t)st->st_dev;
	id->inode = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;

	/* Saturates past the year 2262, where nanoseconds overflow. */
	if (__builtin_mul_overflow((int64_t)st->st_mtim.tv_sec, 1000000000,
				   &id->mtime_ns) ||
	    __builtin_add_overflow(id->mtime_ns, st->st_mtim.tv_nsec,
				   &id->mtime_ns))
		id->mtime_ns = st->st_mtim.tv_sec < 0 ? INT64_MIN : INT64_MAX;
}

/* Asks the filter whether the file the walker found is to be read. */
static bool filter_accepts(struct mx_batch *b, const char *path,
			   const struct stat *st)
{
	struct mx_file_id id;

	batch_file_id(path, st, &id);
	return b->filter(&id, b->filter_arg);
}

void batch_fail_task(struct mx_batch *b, char *path, int err)
{
	struct mx_record *rec = record_new(path);

	if (rec) {
		record_fail(rec, STAGE_WALK, err, "cannot queue the file: %s",
			    strerror(err));
		batch_emit(b, rec);
	}
	alloc_free(path);
}

int batch_enqueue(struct mx_batch *b, char *path, bool follow,
		  const struct stat *st)
{
	struct task t = {
		.path = path,
		.follow = follow,
		.large = st && (uint64_t)st->st_size >= LARGE_FILE_BYTES,
		.size = st ? (uint64_t)st->st_size : 0,
		.dev = st ? (uint64_t)st->st_dev : 0,
	};
	uint64_t size = st ? (uint64_t)st->st_size : 0;
	int ret;

	if (st && b->filter && !filter_accepts(b, path, st)) {
		atomic_fetch_add(&b->files_unchanged, 1);
		alloc_free(path);
		return 0;
	}
	ret = queue_push(t.large ? &b->large_queue : &b->queue, t);
	if (ret < 0) {
		alloc_free(path);
		return ret;
	}
	atomic_fetch_add(&b->files_found, 1);
	atomic_fetch_add(&b->bytes_found, size);
	return 0;
}

static void stop_loops(struct mx_batch *b)
{
	unsigned i;

	queue_close(&b->queue);
	queue_close(&b->large_queue);
	for (i = 0; i < b->nloops; i++) {
		if (!b->loops[i])
			continue;
		loop_join(b->loops[i], &b->reports[i]);
		b->loops[i] = NULL;
	}
}

/* Starts an empty bucket with room for 100 ms of reads, or one chunk. */
static void init_rate(struct mx_batch *b)
{
	struct rate_limit *rl = &b->rate;

	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = (double)b->cfg.max_rate;
	rl->capacity = rl->rate / 10;
	if (rl->capacity < (double)b->cfg.chunk_size)
		rl->capacity = (double)b->cfg.chunk_size;
	rl->tokens = 0;
	rl->refilled_ns = (uint64_t)b->t_start.tv_sec * 1000000000u +
			  (uint64_t)b->t_start.tv_nsec;
}

/* Tasks a loop may hold besides the one it starts; see engine.c. */
#define DEQUE_SLOTS 32

static int create_deques(struct mx_batch *b)
{
	unsigned i;
	int err = 0;

	b->deques = alloc_calloc(b->nloops, sizeof(*b->deques));
	if (!b->deques)
		return -ENOMEM;
	for (i = 0; i < b->nloops; i++) {
		b->deques[i] = deque_create(DEQUE_SLOTS, DEQUE_SLOTS, &err);
		if (!b->deques[i])
			return err;
	}
	return 0;
}

static void destroy_deques(struct mx_batch *b)
{
	unsigned i;
	void *item;

	for (i = 0; b->deques && i < b->nloops; i++) {
		if (!b->deques[i])
			continue;
		while (deque_pop(b->deques[i], &item)) {
			struct task *t = item;

			alloc_free(t->path);
			alloc_free(t);
		}
		deque_destroy(b->deques[i]);
	}
	alloc_free(b->deques);
}

static void batch_free(struct mx_batch *b)
{
	async_free(b);
	destroy_deques(b);
	queue_destroy(&b->queue);
	queue_destroy(&b->large_queue);
	pthread_mutex_destroy(&b->emit_lock);
	pthread_mutex_destroy(&b->rate.lock);
	pthread_mutex_destroy(&b->start_lock);
	pthread_cond_destroy(&b->started);
	alloc_free(b->loops);
	alloc_free(b->reports);
	alloc_free((char *)b->sum.stats_json);
	alloc_free(b);
}

static int start_loops(struct mx_batch *b)
{
	unsigned started = 0;
	int ret = 0;

	while (started < b->nloops && ret == 0) {
		ret = loop_start(b, started, &b->loops[started]);
		if (ret == 0)
			started++;
	}
	/* Only the threads that exist report; a failed start has none. */
	pthread_mutex_lock(&b->start_lock);
	while (b->loops_ready < started)
		pthread_cond_wait(&b->started, &b->start_lock);
	if (ret == 0)
		ret = b->setup_error;
	pthread_mutex_unlock(&b->start_lock);
	if (ret < 0)
		mx_log(MX_LOG_ERROR, "engine", "%s", b->setup_message[0] ?
		       b->setup_message : strerror(-ret));
	return ret;
}

static bool larger_first(const struct task *a, const struct task *b)
{
	return a->size > b->size;
}

static bool smaller_first(const struct task *a, const struct task *b)
{
	return a->size < b->size;
}

static bool path_first(const struct task *a, const struct task *b)
{
	return strcmp(a->path, b->path) < 0;
}

/*
 * The order of the walker's queues. It applies to the files waiting in
 * them, up to QUEUE_SLOTS, not to the whole tree: a total order would
 * need the whole walk in memory before the first read.
 */
static task_order_fn order_fn(enum mx_order order)
{
	switch (order) {
	case MX_ORDER_SIZE_DESC: return larger_first;
	case MX_ORDER_SIZE_ASC: return smaller_first;
	case MX_ORDER_PATH: return path_first;
	default: return NULL;
	}
}

static int batch_new(const struct mx_config *cfg, mx_record_fn fn, void *arg,
		     bool async, struct mx_batch **out)
{
	struct mx_batch *b;
	char msg[160];
	int ret;

	if (check_config(cfg) < 0)
		return -EINVAL;
	ret = fmt_init_all(msg, sizeof(msg));
	if (ret < 0) {
		mx_log(MX_LOG_ERROR, "batch", "%s", msg);
		return ret;
	}
	b = alloc_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->fn = fn;
	b->arg = arg;
	b->nloops = cfg->threads ? cfg->threads : usable_cpus();
	if (!buffers_fit_memory(cfg, b->nloops)) {
		alloc_free(b);
		return -EINVAL;
	}
	b->loops = alloc_calloc(b->nloops, sizeof(*b->loops));
	b->reports = alloc_calloc(b->nloops, sizeof(*b->reports));
	pthread_mutex_init(&b->emit_lock, NULL);
	pthread_mutex_init(&b->start_lock, NULL);
	pthread_cond_init(&b->started, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b->t_start);
	init_rate(b);
	if (!b->loops || !b->reports || create_deques(b) < 0 ||
	    queue_init(&b->queue, QUEUE_SLOTS, order_fn(cfg->order)) < 0 ||
	    queue_init(&b->large_queue, LARGE_QUEUE_SLOTS,
		       order_fn(cfg->order)) < 0) {
		batch_free(b);
		return -ENOMEM;
	}
	b->sum.registered_buffers = true;
	snprintf(b->sum.backend, sizeof(b->sum.backend), "io_uring");
	fit_buffers(b);
	if (!b->register_buffers)
		b->sum.registered_buffers = false;
	fit_nofile(b);
	isolate_setup(b);
	ret = async ? async_init(b) : 0;
	if (ret < 0) {
		batch_free(b);
		return ret;
	}
	ret = start_loops(b);
	if (ret == 0 && async)
		ret = async_start(b);
	if (ret < 0) {
		stop_loops(b);
		batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

static bool is_cancelled(struct mx_batch *b)
{
	return atomic_load(&b->cancelled);
}

int mx_batch_add(struct mx_batch *b, const char *path)
{
	int ret;

	if (is_cancelled(b))
		return -ECANCELED;
	ret = walk_path(b, path);
	return ret < 0 && is_cancelled(b) ? -ECANCELED : ret;
}

int mx_batch_new(const struct mx_config *cfg, mx_record_fn fn, void *arg,
		 struct mx_batch **out)
{
	return batch_new(cfg, fn, arg, false, out);
}

int mx_batch_new_async(const struct mx_config *cfg, struct mx_batch **out)
{
	return batch_new(cfg, NULL, NULL, true, out);
}

void mx_batch_set_filter(struct mx_batch *b, mx_filter_fn fn, void *arg)
{
	b->filter = fn;
	b->filter_arg = arg;
}

void mx_batch_set_walk_hook(struct mx_batch *b, mx_walk_fn fn, void *arg)
{
	b->walk_hook = fn;
	b->walk_hook_arg = arg;
}

int mx_batch_walk_dir(struct mx_batch *b, const struct mx_walk_dir *d)
{
	int ret;

	if (is_cancelled(b))
		return -ECANCELED;
	ret = walk_taken_dir(b, d);
	return ret < 0 && is_cancelled(b) ? -ECANCELED : ret;
}

int mx_batch_add_file(struct mx_batch *b, const char *path,
		      const struct mx_file_id *id, bool follow)
{
	struct stat st;
	char *copy;
	int ret;

	if (is_cancelled(b))
		return -ECANCELED;
	copy = alloc_strdup(path);
	if (!copy)
		return -ENOMEM;
	/* Only the fields that batch_enqueue() and the filter read. */
	memset(&st, 0, sizeof(st));
	st.st_dev = (dev_t)id->dev;
	st.st_ino = (ino_t)id->inode;
	st.st_size = (off_t)id->size;
	st.st_mtim.tv_sec = (time_t)(id->mtime_ns / 1000000000);
	st.st_mtim.tv_nsec = (long)(id->mtime_ns % 1000000000);
	if (st.st_mtim.tv_nsec < 0) {
		st.st_mtim.tv_sec--;
		st.st_mtim.tv_nsec += 1000000000;
	}
	ret = batch_enqueue(b, copy, follow, &st);
	return ret < 0 && is_cancelled(b) ? -ECANCELED : ret;
}

void mx_batch_cancel(struct mx_batch *b)
{
	atomic_store(&b->cancelled, true);
	/* Wakes a walker blocked on a full queue and loops waiting for work. */
	if (b->async)
		queue_close(&b->submitted);
	queue_close(&b->queue);
	queue_close(&b->large_queue);
}

int mx_batch_finish(struct mx_batch *b, struct mx_summary *sum)
{
	struct timespec now;

	if (b->finished)
		return -EINVAL;
	b->finished = true;
	if (b->async)
		async_finish(b);
	atomic_store(&b->adding_done, true);
	stop_loops(b);
	clock_gettime(CLOCK_MONOTONIC, &now);
	b->sum.seconds = (double)(now.tv_sec - b->t_start.tv_sec) +
			 (double)(now.tv_nsec - b->t_start.tv_nsec) / 1e9;
	b->sum.threads = b->nloops;
	b->sum.cancelled = is_cancelled(b);
	b->sum.files_unchanged = atomic_load(&b->files_unchanged);
	for (unsigned i = 0; i < b->nloops; i++) {
		b->sum.steals += b->reports[i].steals;
		if (b->reports[i].max_reads_in_flight >
		    b->sum.max_reads_in_flight)
			b->sum.max_reads_in_flight =
				b->reports[i].max_reads_in_flight;
	}
	b->sum.chunk_size = b->cfg.chunk_size;
	b->sum.buffers = b->cfg.buffers;
	b->sum.queue_depth = b->cfg.queue_depth;
	stats_finish(b);
	if (sum)
		*sum = b->sum;
	return 0;
}

void mx_batch_free(struct mx_batch *b)
{
	if (!b)
		return;
	if (!b->finished)
		mx_batch_finish(b, NULL);
	batch_free(b);
}

void mx_batch_progress(struct mx_batch *b, struct mx_progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	p->files_found = atomic_load(&b->files_found);
	p->bytes_found = atomic_load(&b->bytes_found);
	p->walk_done = atomic_load(&b->adding_done);
	p->files_done = atomic_load(&b->files_done);
	p->files_failed = atomic_load(&b->files_failed);
	p->files_unchanged = atomic_load(&b->files_unchanged);
	p->bytes_read = atomic_load(&b->bytes_done);
	p->seconds = (double)(now.tv_sec - b->t_start.tv_sec) +
		     (double)(now.tv_nsec - b->t_start.tv_nsec) / 1e9;
}

int mx_extract_file(const struct mx_config *cfg, const char *path,
		    struct mx_record **rec)
{
	struct mx_config one = *cfg;
	struct mx_batch *b;
	char *path_copy;
	int ret;

	one.threads = 1;
	*rec = NULL;
	ret = mx_batch_new(&one, NULL, NULL, &b);
	if (ret < 0)
		return ret;
	b->keep = rec;
	/* No walk: a directory or a FIFO gets its own skipped record. */
	path_copy = alloc_strdup(path);
	ret = path_copy ? batch_enqueue(b, path_copy, true, NULL) : -ENOMEM;
	mx_batch_free(b);
	if (ret == 0 && !*rec)
		ret = -ENOMEM;
	return ret;
}

static char versions[1024];

static void fill_versions(void)
{
	struct strbuf sb;
	char lib[128];
	size_t i;
	unsigned xxh = XXH_versionNumber();
	int magic = sniff_version();

	strbuf_init(&sb);
	strbuf_printf(&sb, "{\"metaextract\":\"%s\",\"openssl\":\"%s\","
		      "\"xxhash\":\"%u.%u.%u\",\"libmagic\":\"%d.%02d\"",
		      MX_VERSION, OpenSSL_version(OPENSSL_VERSION),
		      xxh / 10000, xxh / 100 % 100, xxh % 100, magic / 100,
		      magic % 100);
	for (i = 0; fmt_backends[i]; i++) {
		if (!fmt_backends[i]->version)
			continue;
		fmt_backends[i]->version(lib, sizeof(lib));
		strbuf_printf(&sb, ",\"%s\":\"%s\"", fmt_backends[i]->name,
			      lib);
	}
	strbuf_putc(&sb, '}');
	snprintf(versions, sizeof(versions), "%s",
		 sb.failed ? "{}" : sb.data);
	strbuf_free(&sb);
}

const char *mx_library_versions(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fill_versions);
	return versions;
}
