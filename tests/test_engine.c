/*
 * The engine through the public API: reads, digests across chunk
 * boundaries, files past 4 GiB, walk rules, failures as records, and
 * running as an unprivileged user.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metaextract.h"
#include "support.h"

/* The unprivileged account of Debian ("nobody"). */
#define NOBODY 65534

static char dir[64];
static char cmd_buf[160];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mx-engine-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	chmod(dir, 0755);
}

static void remove_dir(void)
{
	char *cmd = cmd_buf;

	/* Tests that drop root leave files only their owner may open. */
	snprintf(cmd, sizeof(cmd_buf), "chmod -R u+rwX '%s'; rm -rf '%s'", dir,
		 dir);
	cr_assert_eq(system(cmd), 0, "cleanup of %s failed", dir);
}

TestSuite(engine, .init = make_dir, .fini = remove_dir, .timeout = 120);

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s", path);
	close(fd);
}

/* 1 MiB + 123 bytes of (i * 7) % 251, which no chunk size divides. */
static void write_pattern(const char *path)
{
	const size_t len = 1048576 + 123;
	unsigned char *data = malloc(len);
	size_t i;

	cr_assert_not_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 % 251);
	write_file(path, data, len);
	free(data);
}

static const char *str_at(const struct mx_record *rec, const char *ptr)
{
	const char *s = mx_value_string(mx_value_get(mx_record_root(rec), ptr),
					NULL);

	return s ? s : "(missing)";
}

static int64_t int_at(const struct mx_record *rec, const char *ptr)
{
	const struct mx_value *v = mx_value_get(mx_record_root(rec), ptr);

	cr_assert_eq(mx_value_type(v), MX_INT, "%s is not an integer", ptr);
	return mx_value_int(v);
}

Test(engine, empty_file)
{
	struct mx_config cfg;
	struct mx_record *rec;

	mx_config_init(&cfg);
	cfg.digests = MX_DIGEST_SHA256 | MX_DIGEST_MD5;
	write_file(path_in("empty"), "", 0);
	rec = extract(&cfg, path_in("empty"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK);
	cr_assert_str_eq(str_at(rec, "/status"), "ok");
	cr_assert_eq(int_at(rec, "/size"), 0);
	cr_assert_str_eq(str_at(rec, "/digests/sha256"),
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	cr_assert_str_eq(str_at(rec, "/digests/md5"),
			 "d41d8cd98f00b204e9800998ecf8427e");
	cr_assert_str_eq(str_at(rec, "/type/mime"), "application/x-empty");
	cr_assert_eq(int_at(rec, "/read/content_bytes"), 0);
	mx_record_free(rec);
}

/* Expected values from sha256sum, md5sum and xxhsum -H2 on the pattern. */
static void check_pattern_digests(struct mx_record *rec)
{
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK, "status %s: %s",
		     str_at(rec, "/status"), str_at(rec, "/error/message"));
	cr_assert_str_eq(str_at(rec, "/digests/sha256"),
			 "9a102fe2cd0735a052ec43cf131570a2f34ccf16b48bf49006f7b574e17d5af1");
	cr_assert_str_eq(str_at(rec, "/digests/md5"),
			 "feebc63a372c9a5a4cabdc329534ce77");
	cr_assert_str_eq(str_at(rec, "/digests/xxh128"),
			 "ec1dc120bad83f771b63a4bd37b7bfe4");
	cr_assert_eq(int_at(rec, "/read/content_bytes"), 1048576 + 123);
}

Test(engine, digests_across_chunks)
{
	static const struct {
		uint32_t chunk;
		unsigned buffers;
		unsigned depth;
	} shapes[] = {
		{ 4096, 1, 1 },		/* one read at a time */
		{ 4096, 64, 32 },	/* many small reads in flight */
		{ 65536, 4, 3 },
		{ 2u << 20, 2, 2 },	/* one chunk larger than the file */
	};
	/* io_uring, then the portable backend, on every shape. */
	static const enum mx_io backends[] = { MX_IO_URING, MX_IO_POOL };
	struct mx_config cfg;
	size_t i, k;

	write_pattern(path_in("pattern"));
	for (k = 0; k < ARRAY_SIZE(backends); k++) {
		for (i = 0; i < ARRAY_SIZE(shapes); i++) {
			struct mx_record *rec;

			mx_config_init(&cfg);
			cfg.io = backends[k];
			cfg.digests = MX_DIGEST_SHA256 | MX_DIGEST_MD5 |
				      MX_DIGEST_XXH128;
			cfg.chunk_size = shapes[i].chunk;
			cfg.buffers = shapes[i].buffers;
			cfg.queue_depth = shapes[i].depth;
			rec = extract(&cfg, path_in("pattern"));
			check_pattern_digests(rec);
			mx_record_free(rec);
		}
	}
}

/*
 * Evicts the file from the page cache, then caches every other 64 KiB
 * chunk, so reads of the cached chunks finish before reads of the chunks
 * in front of them.
 */
static void cache_odd_chunks(const char *path)
{
	unsigned char buf[65536];
	off_t off;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fdatasync(fd), 0);
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	for (off = 65536; pread(fd, buf, sizeof(buf), off) > 0; off += 131072)
		;
	close(fd);
}

Test(engine, digests_with_reads_out_of_order)
{
	struct mx_config cfg;
	int round;

	write_pattern(path_in("pattern"));
	mx_config_init(&cfg);
	cfg.digests = MX_DIGEST_SHA256 | MX_DIGEST_MD5 | MX_DIGEST_XXH128;
	cfg.chunk_size = 65536;
	cfg.buffers = 8;
	cfg.queue_depth = 4;
	for (round = 0; round < 5; round++) {
		struct mx_record *rec;

		cache_odd_chunks(path_in("pattern"));
		rec = extract(&cfg, path_in("pattern"));
		check_pattern_digests(rec);
		cr_assert_str_eq(str_at(rec, "/type/mime"),
				 "application/octet-stream",
				 "the first chunk is identified, round %d",
				 round);
		mx_record_free(rec);
	}
}

Test(engine, digests_with_o_direct)
{
	struct mx_config cfg;
	struct mx_record *rec;
	const struct mx_value *direct;

	write_pattern(path_in("pattern"));
	mx_config_init(&cfg);
	cfg.digests = MX_DIGEST_SHA256 | MX_DIGEST_MD5 | MX_DIGEST_XXH128;
	cfg.direct = true;
	cfg.chunk_size = 65536;
	rec = extract(&cfg, path_in("pattern"));
	check_pattern_digests(rec);
	/* tmpfs refuses O_DIRECT and is read buffered; ext4 and xfs take it. */
	direct = mx_value_get(mx_record_root(rec), "/read/direct");
	cr_assert_eq(mx_value_type(direct), MX_BOOL, "/read/direct is a bool");
	mx_record_free(rec);
}

/*
 * Makes io_uring_setup fail with ENOSYS in this test's process, as a
 * kernel without io_uring or a container's seccomp profile would.
 */
static void forbid_io_uring(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0,
		     "seccomp: %s", strerror(errno));
}

/* Bytes of path in the page cache, from mincore. */
static uint64_t cached_bytes(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *vec;
	uint64_t cached = 0;
	size_t pages, i;
	void *map;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	pages = ((size_t)st.st_size + 4095) / 4096;
	vec = calloc(pages, 1);
	cr_assert_eq(mincore(map, (size_t)st.st_size, vec), 0);
	for (i = 0; i < pages; i++)
		cached += (vec[i] & 1) * 4096u;
	free(vec);
	munmap(map, (size_t)st.st_size);
	close(fd);
	return cached;
}

Test(engine, drop_cache_leaves_no_pages)
{
	struct mx_config cfg;
	struct mx_record *rec;
	struct statfs fs;
	char *data = malloc(16 << 20);
	size_t i;

	cr_assert_not_null(data);
	for (i = 0; i < (16u << 20); i++)
		data[i] = (char)(i * 13);
	write_file(path_in("cached"), data, 16 << 20);
	free(data);
	/* Dirty pages stay whatever the advice: write them back first. */
	sync();
	cr_assert_eq(statfs(dir, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC)
		cr_skip_test("tmpfs keeps its pages whatever the advice");
	mx_config_init(&cfg);
	rec = extract(&cfg, path_in("cached"));
	mx_record_free(rec);
	cr_assert_eq(cached_bytes(path_in("cached")), 16u << 20,
		     "without --drop-cache the file stays cached");
	cfg.drop_cache = true;
	rec = extract(&cfg, path_in("cached"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK);
	mx_record_free(rec);
	cr_assert_eq(cached_bytes(path_in("cached")), 0,
		     "--drop-cache leaves none of it cached");
}

Test(engine, sparse_file_past_4_gib)
{
	const char tail[] = "tail data near the end";
	const off_t size = 5LL << 30;
	struct mx_config cfg;
	struct mx_record *rec;
	int fd;

	fd = open(path_in("sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, size), 0, "ftruncate: %s", strerror(errno));
	cr_assert_eq(pwrite(fd, tail, sizeof(tail) - 1, size - 100),
		     (ssize_t)sizeof(tail) - 1);
	close(fd);

	mx_config_init(&cfg);
	cfg.digests = MX_DIGEST_XXH128;
	cfg.chunk_size = 1u << 20;
	rec = extract(&cfg, path_in("sparse"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK, "%s",
		     str_at(rec, "/error/message"));
	cr_assert_eq(int_at(rec, "/size"), 5LL << 30);
	/* Only the data block at the end is read; the hole is not. */
	cr_assert_leq(int_at(rec, "/read/content_bytes"), 1 << 20);
	cr_assert_eq(int_at(rec, "/read/content_bytes") +
		     int_at(rec, "/read/hole_bytes"), 5LL << 30,
		     "read and hole bytes cover the file");
	cr_assert_lt(int_at(rec, "/allocated"), 1 << 20,
		     "a sparse file allocates little");
	/* xxhsum -H2 of the same file. */
	cr_assert_str_eq(str_at(rec, "/digests/xxh128"),
			 "a6329b230dbb5655d617b64904fea010");
	mx_record_free(rec);
}

struct appender {
	const char *path;
	atomic_bool stop;
};

/* Appends a byte at a time until app->stop is set. */
static void *append_until_stopped(void *arg)
{
	struct appender *app = arg;
	int fd = open(app->path, O_WRONLY | O_APPEND);

	if (fd < 0)
		return NULL;
	while (!atomic_load(&app->stop))
		if (write(fd, "+", 1) != 1)
			break;
	close(fd);
	return NULL;
}

Test(engine, file_growing_during_read)
{
	struct appender app = { .path = path_in("growing") };
	struct mx_config cfg;
	struct mx_record *rec;
	pthread_t writer;
	char *data = calloc(1, 16 << 20);

	cr_assert_not_null(data);
	write_file(app.path, data, 16 << 20);
	free(data);
	mx_config_init(&cfg);
	/* 16 MiB at 32 MiB/s: the read lasts half a second at least. */
	cfg.max_rate = 32 << 20;
	cr_assert_eq(pthread_create(&writer, NULL, append_until_stopped, &app),
		     0);
	rec = extract(&cfg, app.path);
	atomic_store(&app.stop, true);
	pthread_join(writer, NULL);

	cr_assert_eq(mx_record_status(rec), MX_STATUS_ERROR,
		     "a file appended to during the read must fail");
	cr_assert_str_eq(str_at(rec, "/error/stage"), "read");
	cr_assert_str_eq(str_at(rec, "/error/errno"), "EAGAIN");
	cr_assert(mx_value_bool(mx_value_get(mx_record_root(rec),
					     "/changed_during_read")),
		  "changed_during_read is true");
	mx_record_free(rec);
}

/*
 * Writes the same bytes twice: as a sparse file with data islands at the
 * start, in the middle (across a chunk boundary) and at the end, and as a
 * dense file with every zero written out.
 */
static void write_islands(const char *sparse, const char *dense)
{
	static const struct {
		off_t at;
		const char *text;
	} islands[] = {
		{ 0, "start" },
		{ (3 << 20) - 2, "across the boundary" },
		{ (8 << 20) - 4, "end" },
	};
	const off_t size = 8 << 20;
	char *zeros = calloc(1, (size_t)size);
	int fs = open(sparse, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int fd = open(dense, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t i;

	cr_assert(zeros && fs >= 0 && fd >= 0, "set-up of %s", sparse);
	cr_assert_eq(ftruncate(fs, size), 0);
	cr_assert_eq(write(fd, zeros, (size_t)size), size);
	for (i = 0; i < sizeof(islands) / sizeof(islands[0]); i++) {
		size_t n = strlen(islands[i].text);

		cr_assert_eq(pwrite(fs, islands[i].text, n, islands[i].at),
			     (ssize_t)n);
		cr_assert_eq(pwrite(fd, islands[i].text, n, islands[i].at),
			     (ssize_t)n);
	}
	close(fs);
	close(fd);
	free(zeros);
}

Test(engine, sparse_digests_equal_dense)
{
	struct mx_config cfg;
	struct mx_record *sparse, *dense;
	const char *names[] = { "/digests/sha256", "/digests/xxh128",
				"/digests/md5" };
	size_t i;

	write_islands(path_in("sparse"), path_in("dense"));
	mx_config_init(&cfg);
	cfg.digests = MX_DIGEST_SHA256 | MX_DIGEST_XXH128 | MX_DIGEST_MD5;
	cfg.chunk_size = 1 << 20;
	sparse = extract(&cfg, path_in("sparse"));
	dense = extract(&cfg, path_in("dense"));
	cr_assert_eq(mx_record_status(sparse), MX_STATUS_OK, "%s",
		     str_at(sparse, "/error/message"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_str_eq(str_at(sparse, names[i]),
				 str_at(dense, names[i]), "%s", names[i]);
	cr_assert_str_eq(str_at(sparse, "/type/mime"),
			 str_at(dense, "/type/mime"));
	cr_assert_gt(int_at(sparse, "/read/hole_bytes"), 0,
		     "the holes are skipped");
	cr_assert_eq(int_at(sparse, "/read/content_bytes") +
		     int_at(sparse, "/read/hole_bytes"), 8 << 20);
	mx_record_free(sparse);
	mx_record_free(dense);
}

Test(engine, no_content_reads_first_chunk)
{
	struct mx_config cfg;
	struct mx_record *rec;

	write_pattern(path_in("pattern"));
	mx_config_init(&cfg);
	cfg.content = false;
	cfg.chunk_size = 65536;
	rec = extract(&cfg, path_in("pattern"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK);
	cr_assert_eq(int_at(rec, "/read/content_bytes"), 65536);
	cr_assert_null(mx_value_get(mx_record_root(rec), "/digests"),
		       "no digests without the content");
	cr_assert_eq(int_at(rec, "/size"), 1048576 + 123);
	mx_record_free(rec);
}

Test(engine, missing_file_is_error_record)
{
	struct mx_config cfg;
	struct mx_record *rec;

	mx_config_init(&cfg);
	rec = extract(&cfg, path_in("does-not-exist"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_ERROR);
	cr_assert_str_eq(str_at(rec, "/status"), "error");
	cr_assert_str_eq(str_at(rec, "/error/stage"), "open");
	cr_assert_str_eq(str_at(rec, "/error/errno"), "ENOENT");
	mx_record_free(rec);
}

Test(engine, fifo_is_skipped_not_opened)
{
	struct mx_config cfg;
	struct mx_record *rec;

	cr_assert_eq(mkfifo(path_in("fifo"), 0644), 0);
	mx_config_init(&cfg);
	/* No process writes to the FIFO, so a blocking open would hang. */
	rec = extract(&cfg, path_in("fifo"));
	cr_assert_eq(mx_record_status(rec), MX_STATUS_SKIPPED);
	cr_assert_str_eq(str_at(rec, "/kind"), "fifo");
	mx_record_free(rec);
}

static size_t base64_decode(const char *in, unsigned char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned bits = 0, nbits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		const char *p = strchr(tab, *in);

		cr_assert_not_null(p, "invalid base64 character '%c'", *in);
		bits = bits << 6 | (unsigned)(p - tab);
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[n++] = (unsigned char)(bits >> nbits);
		}
	}
	return n;
}

Test(engine, non_utf8_name_kept_in_base64)
{
	struct mx_config cfg;
	struct mx_record *rec;
	const char *path = path_in("caf\xe9.txt");
	unsigned char raw[512];
	size_t raw_len;
	char *json;
	size_t len;

	write_file(path, "hello\n", 6);
	mx_config_init(&cfg);
	rec = extract(&cfg, path);
	cr_assert_eq(mx_record_status(rec), MX_STATUS_OK);
	raw_len = base64_decode(str_at(rec, "/path_b64"), raw);
	cr_assert_eq(raw_len, strlen(path), "decoded path_b64 length");
	cr_assert_eq(memcmp(raw, path, raw_len), 0,
		     "path_b64 decodes to the exact bytes of the name");
	cr_assert_eq(mx_record_json(rec, &json, &len), 0);
	cr_assert(strstr(json, "caf\xef\xbf\xbd.txt") != NULL,
		  "the JSON path shows U+FFFD for the invalid byte: %s", json);
	mx_free(json);
	mx_record_free(rec);
}

/* A batch that keeps, per record, its path, status and error fields. */
struct seen {
	char path[16][512];
	char status[16][16];
	char errno_name[16][16];
	char stage[16][16];
	char kind[16][16];
	int count;
};

static void copy_field(char *out, size_t len, const struct mx_record *rec,
		       const char *ptr)
{
	const char *s = mx_value_string(mx_value_get(mx_record_root(rec), ptr),
					NULL);

	snprintf(out, len, "%s", s ? s : "");
}

static void collect(const struct mx_record *rec, void *arg)
{
	struct seen *seen = arg;
	int i = seen->count++;

	cr_assert_lt(i, 16, "too many records");
	copy_field(seen->path[i], sizeof(seen->path[i]), rec, "/path");
	copy_field(seen->status[i], sizeof(seen->status[i]), rec, "/status");
	copy_field(seen->errno_name[i], sizeof(seen->errno_name[i]), rec,
		   "/error/errno");
	copy_field(seen->stage[i], sizeof(seen->stage[i]), rec,
		   "/error/stage");
	copy_field(seen->kind[i], sizeof(seen->kind[i]), rec, "/kind");
}

static int find_seen(const struct seen *seen, const char *path)
{
	int i;

	for (i = 0; i < seen->count; i++)
		if (strcmp(seen->path[i], path) == 0)
			return i;
	cr_assert_fail("no record for %s", path);
	return -1;
}

/* Checks that the record of dir/name failed at stage with errno_name. */
static void expect_seen_error(const struct seen *seen, const char *name,
			      const char *stage, const char *errno_name)
{
	int i = find_seen(seen, path_in(name));

	cr_assert_str_eq(seen->stage[i], stage,
			 "%s: /error/stage: expected \"%s\", got \"%s\"", name,
			 stage, seen->stage[i]);
	cr_assert_str_eq(seen->errno_name[i], errno_name,
			 "%s: /error/errno: expected \"%s\", got \"%s\"", name,
			 errno_name, seen->errno_name[i]);
}

static void run_batch(struct mx_config *cfg, struct seen *seen,
		      struct mx_summary *sum)
{
	struct mx_batch *b;
	int ret;

	memset(seen, 0, sizeof(*seen));
	ret = mx_batch_new(cfg, collect, seen, &b);
	cr_assert_eq(ret, 0, "mx_batch_new: %s", strerror(-ret));
	cr_assert_eq(mx_batch_add(b, dir), 0);
	cr_assert_eq(mx_batch_finish(b, sum), 0);
	mx_batch_free(b);
	sum->stats_json = NULL;		/* freed with the batch */
}

Test(engine, walk_rules_for_links_and_special_files)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct seen seen;
	int i;

	write_file(path_in("a.txt"), "a\n", 2);
	cr_assert_eq(mkfifo(path_in("fifo"), 0644), 0);
	cr_assert_eq(symlink("a.txt", path_in("link")), 0);
	cr_assert_eq(symlink("nowhere", path_in("dangling")), 0);
	cr_assert_eq(symlink("loop2", path_in("loop1")), 0);
	cr_assert_eq(symlink("loop1", path_in("loop2")), 0);

	mx_config_init(&cfg);
	cfg.threads = 2;
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 6);
	cr_assert_eq(sum.files, 6);
	cr_assert_eq(sum.files_ok, 1);
	cr_assert_eq(sum.files_skipped, 5, "links and the FIFO are skipped");
	cr_assert_eq(sum.files_failed, 0);
	i = find_seen(&seen, path_in("fifo"));
	cr_assert_str_eq(seen.kind[i], "fifo");
	i = find_seen(&seen, path_in("loop1"));
	cr_assert_str_eq(seen.kind[i], "symlink");
	cr_assert_str_eq(seen.status[i], "skipped");

	/* With -L the link is read, and broken links become errors. */
	cfg.follow_symlinks = true;
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 6);
	cr_assert_eq(sum.files_ok, 2, "a.txt, and again through link");
	cr_assert_eq(sum.files_failed, 3);
	expect_seen_error(&seen, "loop1", "stat", "ELOOP");
	i = find_seen(&seen, path_in("dangling"));
	cr_assert_str_eq(seen.errno_name[i], "ENOENT");
	i = find_seen(&seen, path_in("link"));
	cr_assert_str_eq(seen.status[i], "ok");
}

Test(engine, directory_loop_with_follow)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct seen seen;

	cr_assert_eq(mkdir(path_in("sub"), 0755), 0);
	write_file(path_in("sub/f"), "x", 1);
	cr_assert_eq(symlink("..", path_in("sub/up")), 0);
	mx_config_init(&cfg);
	cfg.follow_symlinks = true;
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 2, "sub/f once, and the loop");
	expect_seen_error(&seen, "sub/up", "walk", "ELOOP");
	cr_assert_eq(sum.files_failed, 1);
}

/*
 * Mounts a tmpfs at dir/mnt in a mount namespace of this test's own, so
 * the mount ends with the process. Skips without CAP_SYS_ADMIN.
 */
static void mount_tmpfs(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "making mounts private: %s", strerror(errno));
	cr_assert_eq(mkdir(path_in("mnt"), 0755), 0);
	cr_assert_eq(mount("none", path_in("mnt"), "tmpfs", 0, NULL), 0,
		     "mount tmpfs: %s", strerror(errno));
}

Test(engine, one_file_system_stays_on_device)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct seen seen;

	mount_tmpfs();
	write_file(path_in("here"), "h", 1);
	write_file(path_in("mnt/there"), "t", 1);
	mx_config_init(&cfg);
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 2, "without -x both files are read");
	find_seen(&seen, path_in("mnt/there"));

	cfg.one_file_system = true;
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 1, "with -x only the file on dir's device");
	cr_assert_str_eq(seen.path[0], path_in("here"));
	cr_assert_eq(umount2(path_in("mnt"), MNT_DETACH), 0);
}

/*
 * Becomes "nobody" for the rest of this test's process, as the owner of
 * the test directory so that the cleanup can still remove it.
 */
static void drop_root(void)
{
	if (geteuid() != 0)
		return;
	cr_assert_eq(chown(dir, NOBODY, NOBODY), 0, "chown: %s",
		     strerror(errno));
	cr_assert_eq(setgid(NOBODY), 0, "setgid: %s", strerror(errno));
	cr_assert_eq(setuid(NOBODY), 0, "setuid: %s", strerror(errno));
	/* LeakSanitizer attaches to its own process at exit. */
	prctl(PR_SET_DUMPABLE, 1);
}

Test(engine, unreadable_file_as_unprivileged_user)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct seen seen;
	int i;

	drop_root();
	write_file(path_in("secret"), "s", 1);
	write_file(path_in("public"), "p", 1);
	cr_assert_eq(chmod(path_in("secret"), 0), 0);
	cr_assert_eq(mkdir(path_in("closed"), 0), 0);
	mx_config_init(&cfg);
	run_batch(&cfg, &seen, &sum);
	cr_assert_eq(seen.count, 3);
	expect_seen_error(&seen, "secret", "open", "EACCES");
	i = find_seen(&seen, path_in("secret"));
	cr_assert_str_eq(seen.kind[i], "file",
			 "an unreadable file still gets its identity");
	expect_seen_error(&seen, "closed", "open", "EACCES");
	i = find_seen(&seen, path_in("public"));
	cr_assert_str_eq(seen.status[i], "ok");
	cr_assert_eq(sum.files_failed, 2);
}

/* RLIMIT_MEMLOCK values and what the engine must make of them. */
Test(engine, buffers_fit_memlock_limit)
{
	struct rlimit rl;
	struct mx_config cfg;
	struct mx_summary sum;
	struct seen seen;

	drop_root();
	write_pattern(path_in("pattern"));
	if (getuid() == 0)
		cr_skip_test("needs an unprivileged user to limit memlock");

	/* 1 MiB: too small for 16 x 256 KiB, enough for 3 per loop. */
	rl.rlim_cur = rl.rlim_max = 1 << 20;
	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	mx_config_init(&cfg);
	cfg.threads = 1;
	run_batch(&cfg, &seen, &sum);
	cr_assert(sum.registered_buffers, "%s", sum.buffer_note);
	cr_assert_lt(sum.buffers, 16, "fewer buffers to fit");
	cr_assert_str_eq(seen.status[0], "ok");

	/* 64 KiB: not even two chunks, so plain unregistered reads. */
	rl.rlim_cur = rl.rlim_max = 64 << 10;
	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	run_batch(&cfg, &seen, &sum);
	cr_assert_not(sum.registered_buffers, "%s", sum.buffer_note);
	cr_assert(strstr(sum.buffer_note, "unregistered") != NULL, "%s",
		  sum.buffer_note);
	cr_assert_str_eq(seen.status[0], "ok");
	cr_assert_eq(sum.files_ok, 1);
}

Test(engine, falls_back_without_io_uring)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct mx_batch *b;
	struct seen seen;

	write_pattern(path_in("pattern"));
	forbid_io_uring();
	mx_config_init(&cfg);
	cfg.io = MX_IO_URING;
	cr_assert_eq(mx_batch_new(&cfg, collect, &seen, &b), -ENOSYS,
		     "io_uring only: setup fails");
	cfg.io = MX_IO_AUTO;
	cfg.threads = 1;
	run_batch(&cfg, &seen, &sum);
	cr_assert_str_eq(sum.backend, "pool");
	cr_assert_not(sum.registered_buffers);
	cr_assert_eq(sum.files_ok, 1, "%s", seen.errno_name[0]);
}
