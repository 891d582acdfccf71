/*
 * metaextract: the command-line client of libmetaextract. It parses the
 * options, feeds paths to a batch, and writes one JSON line per record.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metaextract.h"
#include "args.h"
#include "bench.h"
#include "csv.h"
#include "index.h"
#include "progress.h"
#include "shard.h"
#include "stop.h"
#include "text.h"
#ifdef MX_HAVE_MPI
#include "mpi_job.h"
#endif

#define EXIT_SOME_FAILED 1
#define EXIT_USAGE 2

enum format {
	FORMAT_AUTO,		/* from the -o suffix, else JSON Lines */
	FORMAT_JSONL,
	FORMAT_CSV,
	FORMAT_SQLITE,
};

struct output {
	enum format format;
	int fd;
	const char *name;
	struct index *index;	/* FORMAT_SQLITE */
	struct csv_writer *csv;	/* FORMAT_CSV */
	int error;		/* errno of the first failed write */
	struct mx_batch *batch;	/* cancelled when a write fails */
};

/* Takes one input path: a PATH or an entry of a --files-from list. */
typedef int (*add_path_fn)(void *ctx, const char *path);


static const char usage_text[] =
"Usage: metaextract [OPTION]... PATH...\n"
"       metaextract bench [OPTION]... PATH...   (see metaextract bench --help)\n"
"       metaextract merge OUT.db IN.db...       (see metaextract merge --help)\n"
"Read every regular file under each PATH once and write one JSON record per\n"
"file: identity, MIME type, digests, and media or HDF5 metadata.\n"
"\n"
"Input:\n"
"      --files-from=FILE    also read paths from FILE, one per line ('-' is\n"
"                           standard input)\n"
"  -0, --null               paths in --files-from end with NUL, not newline\n"
"  -L, --follow             follow symbolic links found inside directories\n"
"                           (links named as PATH are always followed)\n"
"  -x, --one-file-system    do not enter directories on other file systems\n"
"      --shard=K/N          handle only the files of job K of N (K from 1,\n"
"                           N at most 1000000):\n"
"                           every job walks the whole input, and job K\n"
"                           takes the entries whose path, as walked, hashes\n"
"                           (XXH64) to K; files left to other jobs are not\n"
"                           counted, and an index flags missing only rows\n"
"                           of its own shard\n"
"      --mpi                run as one rank of an MPI job (mpirun, srun):\n"
"                           the ranks walk and read the input together,\n"
"                           stealing work from each other; needs -o FILE,\n"
"                           each rank writes FILE.rank-R, and rank 0 merges\n"
"                           them into FILE at the end (only in builds with\n"
"                           -Dmpi=enabled)\n"
"\n"
"What to extract:\n"
"  -d, --digest=LIST        comma-separated digests: xxh3 (alias xxh3-64),\n"
"                           xxh128, xxh64, md5, sha1, sha256, sha512, 'all'\n"
"                           or 'none' (default: xxh128)\n"
"      --no-content         read only what type identification and parsers\n"
"                           need; no digests\n"
"      --no-type            skip MIME type identification (libmagic)\n"
"      --no-parse           skip the media and HDF5 parsers\n"
"      --max-objects=N      HDF5 objects listed per file (default: 10000)\n"
"      --max-tags=N         media tags kept per dictionary (default: 256)\n"
"      --max-depth=N        HDF5 group nesting listed, 1 to 64 (default: 32)\n"
"      --probe-size=SIZE    bytes libavformat may read to analyse streams,\n"
"                           K, M or G suffix (default: 5000000)\n"
"      --analyze-duration=SECONDS  media time libavformat may analyse\n"
"                           (default: 5)\n"
"\n"
"Parser isolation:\n"
"      --parser-isolation=MODE  'process' (the default: parsers run in a\n"
"                           sandboxed worker process per loop, so a crash or\n"
"                           hang costs one file) or 'none' (in the loops)\n"
"      (the timeouts and the memory limit apply to worker processes only)\n"
"      --parse-timeout=SECONDS  longest parse of one file, then the worker\n"
"                           is killed and the file fails with 'timeout'\n"
"                           (default: 300; 0: no limit)\n"
"      --parse-stall-timeout=SECONDS  longest time a parser may go without\n"
"                           reading (default: 60; 0: no limit)\n"
"      --parser-memory=SIZE data memory of a worker (RLIMIT_DATA), K, M or G\n"
"                           suffix, at least 128M (default: 2G; 0: no\n"
"                           limit)\n"
"      --parser-recycle=N   files a worker parses before a fresh one takes\n"
"                           over (default: 1000)\n"
"\n"
"Engine:\n"
"  -j, --threads=N          worker loops, one thread and io_uring each\n"
"                           (default: usable CPUs, after affinity and cgroup\n"
"                           quota)\n"
"      --chunk-size=SIZE    bytes per read, a multiple of 4 KiB; K and M\n"
"                           suffixes (default: 256K)\n"
"      --buffers=N          chunk buffers per loop (default: 16)\n"
"      --queue-depth=N      reads in flight per file, at most --buffers\n"
"                           (default: 4); a file of 64 MiB or more, which a\n"
"                           loop reads one at a time, keeps at least 3/4\n"
"                           of --buffers in flight\n"
"      --files-in-flight=N  files open at once per loop (default: 32)\n"
"      --order=ORDER        which queued file starts next: 'walk' (as found,\n"
"                           the default), 'size-desc', 'size-asc' or 'path';\n"
"                           it orders the up to 4096 files the walker has\n"
"                           queued ahead of the loops, not the whole tree\n"
"      --drop-cache         drop each file's pages from the page cache once\n"
"                           read, so a long scan leaves the cache to others\n"
"      --io=BACKEND         'uring' (io_uring only), 'pool' (pread on a\n"
"                           thread pool per loop, the portable backend), or\n"
"                           'auto' (the default: io_uring, else the pool)\n"
"      --direct[=MODE]      O_DIRECT reads, bypassing the page cache, where\n"
"                           the file system allows them: 'always' (the\n"
"                           mode of a bare --direct), 'never', or 'auto'\n"
"                           (the default: for files of 64 MiB or more that\n"
"                           are mostly not cached); read.direct in each\n"
"                           record says what was used\n"
"      --max-rate=RATE      read at most RATE bytes per second over all\n"
"                           loops together, with K, M or G suffixes (powers\n"
"                           of 1024) (default: no limit)\n"
"\n"
"Output:\n"
"  -o, --output=FILE        write records to FILE instead of standard output\n"
"      --format=FORMAT      'jsonl' (one JSON object per line), 'csv' (one\n"
"                           row per file, main fields only) or 'sqlite' (an\n"
"                           index that later runs resume and update; needs\n"
"                           -o); default: 'sqlite' when FILE ends in .db,\n"
"                           .sqlite or .sqlite3, 'csv' for .csv, else 'jsonl'\n"
"      --rescan             with an index: read every file again, even those\n"
"                           whose row is current\n"
"      --retry-failed       with an index: read again unchanged files whose\n"
"                           parser failed (failed opens and reads are always\n"
"                           retried)\n"
"      --prune-missing      with an index: delete the rows of files no longer\n"
"                           found under a PATH directory, instead of setting\n"
"                           their 'missing' flag\n"
"      --progress=MODE      progress on standard error: 'bar' (one line\n"
"                           redrawn), 'plain' (a line every interval, for\n"
"                           batch logs), 'none', or 'auto' (the default: bar\n"
"                           when standard error is a terminal, else none)\n"
"      --progress-interval=SECONDS\n"
"                           seconds between plain progress lines (default 10)\n"
"      --stats=FILE         write the run's statistics as JSON to FILE:\n"
"                           counts, errors by kind, per-loop figures, read\n"
"                           latency percentiles and histogram, timeline\n"
"  -q, --quiet              no progress and no summary on standard error\n"
"  -v, --verbose            log engine decisions (twice: debug messages)\n"
"      --version            print the versions of metaextract and its\n"
"                           libraries as JSON\n"
"  -h, --help               print this help\n"
"\n"
"Exit status: 0 when every file succeeded, 1 when some files failed (their\n"
"records say why), 2 for invalid options, setup or output failures, and\n"
"128 plus the signal number after SIGINT, SIGTERM, SIGHUP or SIGUSR1 (what\n"
"batch schedulers send before a time limit). The first such\n"
"signal stops the run cleanly: files in flight get their records (an\n"
"ECANCELED error for unfinished reads), then the summary. A second one\n"
"ends the process at once.\n";

enum long_only {
	OPT_FILES_FROM = 256,
	OPT_NO_CONTENT,
	OPT_NO_TYPE,
	OPT_NO_PARSE,
	OPT_MAX_OBJECTS,
	OPT_MAX_TAGS,
	OPT_CHUNK_SIZE,
	OPT_BUFFERS,
	OPT_QUEUE_DEPTH,
	OPT_FILES_IN_FLIGHT,
	OPT_MAX_RATE,
	OPT_IO,
	OPT_DROP_CACHE,
	OPT_DIRECT,
	OPT_PROGRESS,
	OPT_PROGRESS_INTERVAL,
	OPT_STATS,
	OPT_VERSION,
	OPT_FORMAT,
	OPT_RESCAN,
	OPT_RETRY_FAILED,
	OPT_PRUNE_MISSING,
	OPT_PARSER_ISOLATION,
	OPT_PARSE_TIMEOUT,
	OPT_PARSE_STALL_TIMEOUT,
	OPT_PARSER_MEMORY,
	OPT_PARSER_RECYCLE,
	OPT_MAX_DEPTH,
	OPT_PROBE_SIZE,
	OPT_ANALYZE_DURATION,
	OPT_ORDER,
	OPT_SHARD,
	OPT_MPI,
};

static const struct option long_options[] = {
	{ "files-from", required_argument, NULL, OPT_FILES_FROM },
	{ "null", no_argument, NULL, '0' },
	{ "follow", no_argument, NULL, 'L' },
	{ "one-file-system", no_argument, NULL, 'x' },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "mpi", no_argument, NULL, OPT_MPI },
	{ "digest", required_argument, NULL, 'd' },
	{ "no-content", no_argument, NULL, OPT_NO_CONTENT },
	{ "no-type", no_argument, NULL, OPT_NO_TYPE },
	{ "no-parse", no_argument, NULL, OPT_NO_PARSE },
	{ "max-objects", required_argument, NULL, OPT_MAX_OBJECTS },
	{ "max-tags", required_argument, NULL, OPT_MAX_TAGS },
	{ "threads", required_argument, NULL, 'j' },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
	{ "buffers", required_argument, NULL, OPT_BUFFERS },
	{ "queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH },
	{ "files-in-flight", required_argument, NULL, OPT_FILES_IN_FLIGHT },
	{ "max-rate", required_argument, NULL, OPT_MAX_RATE },
	{ "direct", optional_argument, NULL, OPT_DIRECT },
	{ "io", required_argument, NULL, OPT_IO },
	{ "drop-cache", no_argument, NULL, OPT_DROP_CACHE },
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "rescan", no_argument, NULL, OPT_RESCAN },
	{ "retry-failed", no_argument, NULL, OPT_RETRY_FAILED },
	{ "prune-missing", no_argument, NULL, OPT_PRUNE_MISSING },
	{ "parser-isolation", required_argument, NULL, OPT_PARSER_ISOLATION },
	{ "parse-timeout", required_argument, NULL, OPT_PARSE_TIMEOUT },
	{ "parse-stall-timeout", required_argument, NULL,
	  OPT_PARSE_STALL_TIMEOUT },
	{ "parser-memory", required_argument, NULL, OPT_PARSER_MEMORY },
	{ "parser-recycle", required_argument, NULL, OPT_PARSER_RECYCLE },
	{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
	{ "probe-size", required_argument, NULL, OPT_PROBE_SIZE },
	{ "analyze-duration", required_argument, NULL, OPT_ANALYZE_DURATION },
	{ "order", required_argument, NULL, OPT_ORDER },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * Returns the value of the first of the n environment variables names
 * that is set and not empty, storing its name in *name, or NULL.
 */
static const char *first_env(const char *const *names, size_t n,
			     const char **name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = getenv(names[i]);

		if (v && *v) {
			*name = names[i];
			return v;
		}
	}
	return NULL;
}

/*
 * The rank an MPI launcher or srun gave this process, or -1 without one.
 * Every rank parses the same options, so only rank 0 reports their
 * errors.
 */
static int launcher_rank(void)
{
	static const char *const ranks[] = { "OMPI_COMM_WORLD_RANK",
					     "PMI_RANK", "PMIX_RANK",
					     "SLURM_PROCID" };
	const char *name, *v = first_env(ranks, 4, &name);

	return v ? atoi(v) : -1;
}

static void fail_usage(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/*
	 * A launcher ends the job when the first rank exits, so the others
	 * wait a moment: once in four tries, rank 0 was killed before it
	 * printed the message.
	 */
	if (launcher_rank() > 0) {
		usleep(300000);
		exit(EXIT_USAGE);
	}
	/* One write, so that the ranks of an MPI job do not interleave. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "metaextract: %s\nTry 'metaextract --help' for more "
		"information.\n", msg);
	exit(EXIT_USAGE);
}

/* Parses a count in [min, max]. */
static unsigned parse_count(const char *opt, const char *s, unsigned min,
			    unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		fail_usage("invalid value '%s' for --%s: expected a whole "
			   "number from %u to %u", s, opt, min, max);
	return (unsigned)v;
}

/* Parses a size with an optional K or M suffix (powers of 1024). */
static uint32_t parse_size(const char *opt, const char *s)
{
	char *end;
	uint32_t v;

	if (args_chunk_size(s, &end, &v) < 0 || *end)
		fail_usage("invalid value '%s' for --%s: expected a multiple "
			   "of 4096 bytes from 4K to 1024M", s, opt);
	return v;
}

/*
 * Parses a byte count with an optional K, M or G suffix (powers of 1024);
 * zero is taken only when allow_zero is set.
 */
static uint64_t parse_bytes(const char *opt, const char *s, bool allow_zero)
{
	static const char suffixes[] = "KMG";
	const char *unit;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end && (unit = strchr(suffixes, *end & ~0x20)) != NULL) {
		unsigned shift = 10 * (unsigned)(unit - suffixes + 1);

		if (v > (UINT64_MAX >> shift))
			errno = ERANGE;
		v <<= shift;
		end++;
	}
	if (errno || end == s || *end || s[0] == '-' || (v == 0 && !allow_zero))
		fail_usage("invalid value '%s' for --%s: expected bytes%s, "
			   "with an optional K, M or G suffix", s, opt,
			   allow_zero ? "" : " above 0");
	return v;
}

/* Parses seconds from 0 (no limit) to a day. */
static double parse_timeout(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || strspn(s, "0123456789.") != strlen(s) ||
	    !(v == 0 || (v >= 0.001 && v <= 86400)))
		fail_usage("invalid value '%s' for --%s: expected 0 (no "
			   "limit) or seconds from 0.001 to 86400", s, opt);
	return v;
}

static enum format parse_format(const char *s)
{
	if (strcmp(s, "jsonl") == 0 || strcmp(s, "json") == 0)
		return FORMAT_JSONL;
	if (strcmp(s, "csv") == 0)
		return FORMAT_CSV;
	if (strcmp(s, "sqlite") == 0)
		return FORMAT_SQLITE;
	fail_usage("invalid value '%s' for --format: use jsonl, csv or sqlite",
		   s);
	return FORMAT_AUTO;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

/* The format a file name implies: an index for .db, CSV for .csv. */
static enum format format_from_name(const char *name)
{
	if (!name)
		return FORMAT_JSONL;
	if (has_suffix(name, ".db") || has_suffix(name, ".sqlite") ||
	    has_suffix(name, ".sqlite3"))
		return FORMAT_SQLITE;
	if (has_suffix(name, ".csv"))
		return FORMAT_CSV;
	return FORMAT_JSONL;
}

static double parse_seconds(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* Decimal only: strtod would also take "0x10" and "inf". */
	if (errno || end == s || *end || strspn(s, "0123456789.") != strlen(s) ||
	    !(v >= 0.1 && v <= 86400))
		fail_usage("invalid value '%s' for --%s: expected seconds "
			   "from 0.1 to 86400", s, opt);
	return v;
}

static void log_to_stderr(enum mx_log_level level, const char *subsystem,
			  const char *message, void *arg)
{
	static const char *const names[] = { "error", "warning", "info",
					      "debug" };

	fprintf(stderr, "metaextract: %s: %s: %s\n", names[level], subsystem,
		message);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes each record with one write(2), unbuffered, so that records
 * already written survive a crash of a format library later in the run.
 */
static void write_record(const struct mx_record *rec, void *arg)
{
	struct output *out = arg;
	char *json;
	size_t len;

	if (out->error)
		return;
	if (mx_record_json(rec, &json, &len) < 0) {
		out->error = ENOMEM;
	} else {
		json[len] = '\n';
		out->error = write_all(out->fd, json, len + 1);
		mx_free(json);
	}
	if (out->error)
		mx_batch_cancel(out->batch);
}

/* Writes one CSV row, with one write(2) like the JSON lines. */
static void write_csv_record(const struct mx_record *rec, void *arg)
{
	struct output *out = arg;

	if (out->error)
		return;
	out->error = csv_write(out->csv, rec);
	if (out->error)
		mx_batch_cancel(out->batch);
}

/*
 * Reads the next entry of a --files-from list. Returns its length, -1 at
 * the end of the list or on an error (ferror() shows which), or -2 when a
 * stop signal interrupted the read.
 */
static ssize_t read_entry(char **line, size_t *cap, int delim, FILE *f)
{
	for (;;) {
		ssize_t n = getdelim(line, cap, delim, f);

		if (n >= 0 || !ferror(f) || errno != EINTR)
			return n;
		if (stop_signal())
			return -2;
		clearerr(f);
	}
}

/* Adds a path to a batch; the add_path_fn of a single-process run. */
static int add_to_batch(void *batch, const char *path)
{
	return mx_batch_add(batch, path);
}

/* Passes each path listed in name to add; returns 0 or a negative errno. */
static int add_files_from(add_path_fn add, void *ctx, const char *name,
			  int delim)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned long number = 0;
	ssize_t n = 0;
	int ret = 0;

	if (!f) {
		ret = -errno;
		fprintf(stderr, "metaextract: cannot open --files-from "
			"'%s': %s\n", name, strerror(-ret));
		return ret;
	}
	while (ret == 0 && (n = read_entry(&line, &cap, delim, f)) > 0) {
		number++;
		if (line[n - 1] == delim)
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			fprintf(stderr, "metaextract: --files-from '%s': "
				"entry %lu contains a NUL byte; use -0 for "
				"NUL-separated lists\n", name, number);
			ret = -EINVAL;
		} else if (n > 0) {
			ret = add(ctx, line);
		}
	}
	if (ret == 0 && n == -2) {
		ret = -ECANCELED;
	} else if (ret == 0 && ferror(f)) {
		fprintf(stderr, "metaextract: cannot read --files-from "
			"'%s': %s\n", name, strerror(errno));
		ret = -EIO;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return ret;
}

static void print_summary(const struct mx_summary *s)
{
	double mib = (double)s->bytes_read / (1 << 20);
	char backend[64];

	/* Loops fall back one by one, as each meets the limits. */
	if (s->pool_loops && s->pool_loops < s->threads)
		snprintf(backend, sizeof(backend), "io_uring (%u on pool)",
			 s->pool_loops);
	else
		snprintf(backend, sizeof(backend), "%s", s->backend);

	fprintf(stderr,
		"metaextract: %llu files: %llu ok, %llu failed, %llu skipped; "
		"%.1f MiB read in %.2f s (%.1f MiB/s, %.0f files/s); "
		"%u loops on %s, buffers %s%s\n",
		(unsigned long long)s->files,
		(unsigned long long)s->files_ok,
		(unsigned long long)s->files_failed,
		(unsigned long long)s->files_skipped, mib, s->seconds,
		s->seconds > 0 ? mib / s->seconds : 0.0,
		s->seconds > 0 ? (double)s->files / s->seconds : 0.0,
		s->threads, backend, s->buffer_note,
		s->cancelled ? "; cancelled before the end" : "");
	if (s->files_unchanged)
		fprintf(stderr, "metaextract: %llu files unchanged since the "
			"index recorded them, not read\n",
			(unsigned long long)s->files_unchanged);
	if (s->reads)
		fprintf(stderr,
			"metaextract: %llu reads, latency p50 %.0f us, p90 %.0f "
			"us, p99 %.0f us, p99.9 %.0f us, max %.0f us; CPU %.2f s "
			"user, %.2f s system; %llu files stolen between "
			"loops\n", (unsigned long long)s->reads,
			s->latency_p50_us, s->latency_p90_us,
			s->latency_p99_us, s->latency_p999_us,
			s->latency_max_us, s->cpu_user_seconds,
			s->cpu_system_seconds, (unsigned long long)s->steals);
}

/* True when path names the index or one of its WAL files. */
static bool names_index_file(const char *path, const struct stat *st,
			     const char *index)
{
	static const char *const suffixes[] = { "", "-wal", "-shm",
						"-journal" };
	size_t i, len = strlen(index);
	char *name = malloc(len + 9);
	bool same = false;

	for (i = 0; name && i < 4 && !same; i++) {
		struct stat other;

		snprintf(name, len + 9, "%s%s", index, suffixes[i]);
		same = strcmp(path, name) == 0 ||
		       (stat(name, &other) == 0 && other.st_dev == st->st_dev &&
			other.st_ino == st->st_ino);
	}
	free(name);
	return same;
}

/*
 * Opens the --stats file before the run, so that a bad path fails at once
 * instead of after hours of work, and rejects the file records go to. It
 * truncates only after that check, so a mistaken --stats destroys
 * nothing.
 */
static FILE *open_stats(const char *path, const struct output *out)
{
	struct stat st_stats, st_out;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	bool clash = false;
	FILE *f;

	if (fd < 0 || fstat(fd, &st_stats) < 0) {
		fprintf(stderr, "metaextract: cannot create --stats file "
			"'%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (out->index)
		clash = names_index_file(path, &st_stats, out->name);
	else if (out->fd >= 0 && fstat(out->fd, &st_out) == 0)
		clash = S_ISREG(st_stats.st_mode) &&
			st_stats.st_dev == st_out.st_dev &&
			st_stats.st_ino == st_out.st_ino;
	if (clash) {
		fprintf(stderr, "metaextract: --stats '%s' is the file the "
			"records go to; give another path\n", path);
		close(fd);
		return NULL;
	}
	if (S_ISREG(st_stats.st_mode) && ftruncate(fd, 0) < 0) {
		fprintf(stderr, "metaextract: cannot truncate --stats file "
			"'%s': %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

/* Writes the batch's statistics with the progress timeline added. */
static int write_stats(FILE *f, const char *path, const struct mx_summary *s,
		       const struct progress *p, const char *extra)
{
	size_t len;

	if (!s->stats_json) {
		fprintf(stderr, "metaextract: no statistics to write to '%s': "
			"out of memory\n", path);
		fclose(f);
		return -ENOMEM;
	}
	/* Reopen the object to append the timeline before its last brace. */
	len = strlen(s->stats_json);
	fwrite(s->stats_json, 1, len - 1, f);
	fputs(",\"timeline\":", f);
	progress_write_timeline(p, f);
	if (extra)
		fprintf(f, ",%s", extra);
	fputs("}\n", f);
	if (fclose(f) != 0) {
		fprintf(stderr, "metaextract: writing --stats file '%s' "
			"failed: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

struct cli {
	struct mx_config cfg;
	const char **files_from;	/* each --files-from, in order */
	int files_from_count;
	bool digest_given;
	const char *output;
	const char *merged_output;	/* --mpi: FILE; output is a shard */
	enum format format;
	bool rescan;
	bool retry_failed;
	bool prune_missing;
	const char *stats;
	const char *progress;		/* mode name, "auto" by default */
	double progress_interval;
	int delim;
	bool quiet;
	int verbose;
	struct shard shard;		/* --shard; count 0 without */
	bool mpi;
};

static void parse_options(struct cli *cli, int argc, char **argv)
{
	struct mx_config *cfg = &cli->cfg;
	int c;

	opterr = launcher_rank() <= 0;
	while ((c = getopt_long(argc, argv, "0Lxd:j:o:qvh", long_options,
				NULL)) != -1) {
		switch (c) {
		case OPT_FILES_FROM:
			cli->files_from[cli->files_from_count++] = optarg;
			break;
		case '0': cli->delim = '\0'; break;
		case 'L': cfg->follow_symlinks = true; break;
		case 'x': cfg->one_file_system = true; break;
		case OPT_SHARD:
			if (shard_parse(optarg, &cli->shard) < 0)
				fail_usage("invalid value '%s' for --shard: "
					   "expected K/N with 1 <= K <= N <= "
					   "1000000, such as 2/8", optarg);
			break;
		case OPT_MPI:
#ifdef MX_HAVE_MPI
			cli->mpi = true;
#else
			fail_usage("--mpi: this metaextract was built without "
				   "MPI; build it with meson setup "
				   "-Dmpi=enabled");
#endif
			break;
		case 'd':
			cli->digest_given = true;
			if (mx_digest_parse(optarg, &cfg->digests) < 0)
				fail_usage("invalid digest list '%s': use "
					   "names from xxh3, xxh128, xxh64, "
					   "md5, sha1, sha256, sha512, or "
					   "'all' or 'none'", optarg);
			break;
		case OPT_NO_CONTENT: cfg->content = false; break;
		case OPT_NO_TYPE: cfg->identify = false; break;
		case OPT_NO_PARSE: cfg->parse = false; break;
		case OPT_MAX_OBJECTS:
			cfg->max_objects = parse_count("max-objects", optarg,
						       1, 10000000);
			break;
		case OPT_MAX_TAGS:
			cfg->max_tags = parse_count("max-tags", optarg, 0,
						    100000);
			break;
		case 'j':
			cfg->threads = parse_count("threads", optarg, 1, 1024);
			break;
		case OPT_CHUNK_SIZE:
			cfg->chunk_size = parse_size("chunk-size", optarg);
			break;
		case OPT_BUFFERS:
			cfg->buffers = parse_count("buffers", optarg, 1, 4096);
			break;
		case OPT_QUEUE_DEPTH:
			cfg->queue_depth = parse_count("queue-depth", optarg,
						       1, 4096);
			break;
		case OPT_FILES_IN_FLIGHT:
			cfg->files_in_flight = parse_count("files-in-flight",
							   optarg, 1, 1024);
			break;
		case OPT_MAX_RATE:
			cfg->max_rate = parse_bytes("max-rate", optarg, false);
			break;
		case OPT_DIRECT:
			if (!optarg || strcmp(optarg, "always") == 0) {
				cfg->direct = true;
			} else if (strcmp(optarg, "auto") == 0) {
				cfg->direct = false;
				cfg->auto_direct = true;
			} else if (strcmp(optarg, "never") == 0) {
				cfg->direct = false;
				cfg->auto_direct = false;
			} else {
				fail_usage("invalid value '%s' for --direct: use "
					   "auto, always or never", optarg);
			}
			break;
		case OPT_DROP_CACHE: cfg->drop_cache = true; break;
		case OPT_IO:
			if (strcmp(optarg, "auto") == 0)
				cfg->io = MX_IO_AUTO;
			else if (strcmp(optarg, "uring") == 0)
				cfg->io = MX_IO_URING;
			else if (strcmp(optarg, "pool") == 0)
				cfg->io = MX_IO_POOL;
			else
				fail_usage("invalid value '%s' for --io: use "
					   "auto, uring or pool", optarg);
			break;
		case OPT_PROGRESS:
			cli->progress = optarg;
			break;
		case OPT_PROGRESS_INTERVAL:
			cli->progress_interval =
				parse_seconds("progress-interval", optarg);
			break;
		case OPT_STATS: cli->stats = optarg; break;
		case 'o': cli->output = optarg; break;
		case OPT_FORMAT:
			cli->format = parse_format(optarg);
			break;
		case OPT_RESCAN: cli->rescan = true; break;
		case OPT_RETRY_FAILED: cli->retry_failed = true; break;
		case OPT_PRUNE_MISSING: cli->prune_missing = true; break;
		case OPT_PARSER_ISOLATION:
			if (strcmp(optarg, "process") == 0)
				cfg->isolate_parsers = true;
			else if (strcmp(optarg, "none") == 0)
				cfg->isolate_parsers = false;
			else
				fail_usage("invalid value '%s' for "
					   "--parser-isolation: use process or "
					   "none", optarg);
			break;
		case OPT_PARSE_TIMEOUT:
			cfg->parse_timeout = parse_timeout("parse-timeout",
							   optarg);
			break;
		case OPT_PARSE_STALL_TIMEOUT:
			cfg->parse_stall_timeout =
				parse_timeout("parse-stall-timeout", optarg);
			break;
		case OPT_PARSER_MEMORY:
			cfg->parser_memory = parse_bytes("parser-memory", optarg,
							 true);
			/* A worker uses about 64 MiB before any parse. */
			if (cfg->parser_memory &&
			    cfg->parser_memory < (128ull << 20))
				fail_usage("invalid value '%s' for "
					   "--parser-memory: expected 0 (no "
					   "limit) or at least 128M, since a "
					   "worker's libraries take about 64 "
					   "MiB", optarg);
			break;
		case OPT_ORDER:
			if (strcmp(optarg, "walk") == 0)
				cfg->order = MX_ORDER_WALK;
			else if (strcmp(optarg, "size-desc") == 0)
				cfg->order = MX_ORDER_SIZE_DESC;
			else if (strcmp(optarg, "size-asc") == 0)
				cfg->order = MX_ORDER_SIZE_ASC;
			else if (strcmp(optarg, "path") == 0)
				cfg->order = MX_ORDER_PATH;
			else
				fail_usage("invalid value '%s' for --order: use "
					   "walk, size-desc, size-asc or path",
					   optarg);
			break;
		case OPT_MAX_DEPTH:
			cfg->max_depth = parse_count("max-depth", optarg, 1, 64);
			break;
		case OPT_PROBE_SIZE:
			cfg->probe_size = parse_bytes("probe-size", optarg,
						      false);
			if (cfg->probe_size < 32 || cfg->probe_size > INT32_MAX)
				fail_usage("invalid value '%s' for "
					   "--probe-size: expected 32 bytes to "
					   "2G", optarg);
			break;
		case OPT_ANALYZE_DURATION:
			cfg->analyze_duration = parse_timeout("analyze-duration",
							      optarg);
			break;
		case OPT_PARSER_RECYCLE:
			cfg->parser_recycle = parse_count("parser-recycle",
							  optarg, 1, 100000000);
			break;
		case 'q': cli->quiet = true; break;
		case 'v': cli->verbose++; break;
		case OPT_VERSION:
			printf("%s\n", mx_library_versions());
			exit(0);
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fail_usage("invalid option");
		}
	}
	if (strcmp(cli->progress, "auto") != 0 &&
	    strcmp(cli->progress, "bar") != 0 &&
	    strcmp(cli->progress, "plain") != 0 &&
	    strcmp(cli->progress, "none") != 0)
		fail_usage("invalid value '%s' for --progress: use auto, bar, "
			   "plain or none", cli->progress);
	if (optind == argc && !cli->files_from_count)
		fail_usage("no PATH given, and no --files-from");
	if (!cfg->content && cli->digest_given && cfg->digests)
		fail_usage("--no-content reads only part of each file, so it "
			   "cannot compute --digest; use --digest=none");
	if (cfg->queue_depth > cfg->buffers)
		fail_usage("--queue-depth (%u) may not exceed --buffers (%u)",
			   cfg->queue_depth, cfg->buffers);
	if (cli->format == FORMAT_AUTO)
		cli->format = format_from_name(cli->output);
	if (cli->format == FORMAT_SQLITE && !cli->output)
		fail_usage("--format=sqlite needs -o FILE");
	if (cli->mpi && !cli->output)
		fail_usage("--mpi needs -o FILE: each rank writes FILE.rank-R, "
			   "then rank 0 merges them into FILE");
	if (cli->mpi && cli->prune_missing)
		fail_usage("--prune-missing needs the whole walk in one "
			   "process, so it does not work with --mpi; run it "
			   "without --mpi, or with --shard jobs");
	if (cli->mpi && cli->shard.count)
		fail_usage("--mpi and --shard split the input each, and cannot "
			   "be combined");
	if (cli->format != FORMAT_SQLITE &&
	    (cli->rescan || cli->retry_failed || cli->prune_missing))
		fail_usage("--rescan, --retry-failed and --prune-missing apply "
			   "to an SQLite index: give -o FILE.db");
}

static int open_output(struct output *out, const char *path)
{
	if (!path) {
		out->fd = STDOUT_FILENO;
		out->name = "standard output";
		if (fcntl(out->fd, F_GETFD) < 0) {
			fprintf(stderr, "metaextract: standard output is "
				"closed; give -o FILE\n");
			return -EBADF;
		}
		return 0;
	}
	out->name = path;
	out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (out->fd < 0) {
		fprintf(stderr, "metaextract: cannot create '%s': %s\n", path,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static void write_text(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

/*
 * Names the file whose parser crashed, then dies of the same signal. Only
 * async-signal-safe calls: write(2), and strlen and sigabbrev_np on static
 * data.
 */
static void on_crash(int sig)
{
	const char *path = mx_parsing_path();
	const char *name = sigabbrev_np(sig);

	write_text("metaextract: SIG");
	write_text(name ? name : "?");
	if (path) {
		write_text(" in a format library while parsing ");
		write_text(path);
		write_text("; records written so far are complete. Rerun "
			   "without this file, and report the crash.\n");
	} else {
		write_text("; records written so far are complete.\n");
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void report_crashes(void)
{
	static const int signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
				       SIGILL };
	struct sigaction sa = { .sa_handler = on_crash };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

/* Passes every PATH and each path of the --files-from lists to add. */
static int add_inputs(struct cli *cli, add_path_fn add, void *ctx, int argc,
		      char **argv)
{
	int i, ret = 0;

	for (i = optind; i < argc && ret == 0; i++)
		ret = add(ctx, argv[i]);
	for (i = 0; i < cli->files_from_count && ret == 0; i++)
		ret = add_files_from(add, ctx, cli->files_from[i], cli->delim);
	return ret;
}

/* The effective settings of the run as JSON, for the index's manifest. */
static char *options_json(const struct cli *cli)
{
	const struct mx_config *c = &cli->cfg;
	static const char *const io_names[] = { "auto", "uring", "pool" };
	char *json = NULL;
	size_t len = 0;
	unsigned bit;
	FILE *f = open_memstream(&json, &len);

	if (!f)
		return NULL;
	fputs("{\"digests\":[", f);
	for (bit = 1; bit <= MX_DIGEST_ALL; bit <<= 1)
		if (c->digests & bit)
			fprintf(f, "%s\"%s\"", c->digests & (bit - 1) ? "," : "",
				mx_digest_name(bit));
	fprintf(f, "],\"content\":%s,\"type\":%s,\"parse\":%s,"
		"\"follow_symlinks\":%s,\"one_file_system\":%s,"
		"\"max_objects\":%u,\"max_tags\":%u,\"threads\":%u,"
		"\"chunk_size\":%u,\"buffers\":%u,\"queue_depth\":%u,"
		"\"files_in_flight\":%u,\"io\":\"%s\",\"direct\":%s,"
		"\"drop_cache\":%s,\"max_rate\":%llu,\"rescan\":%s,"
		"\"retry_failed\":%s,\"prune_missing\":%s}",
		c->content ? "true" : "false", c->identify ? "true" : "false",
		c->parse ? "true" : "false",
		c->follow_symlinks ? "true" : "false",
		c->one_file_system ? "true" : "false", c->max_objects,
		c->max_tags, c->threads, c->chunk_size, c->buffers,
		c->queue_depth, c->files_in_flight, io_names[c->io],
		c->direct ? "true" : "false", c->drop_cache ? "true" : "false",
		(unsigned long long)c->max_rate, cli->rescan ? "true" : "false",
		cli->retry_failed ? "true" : "false",
		cli->prune_missing ? "true" : "false");
	return text_memstream_finish(f, &json);
}

static char *argv_json(int argc, char **argv)
{
	char *json = NULL;
	size_t len = 0;
	int i;
	FILE *f = open_memstream(&json, &len);

	if (!f)
		return NULL;
	fputc('[', f);
	for (i = 0; i < argc; i++) {
		fputs(i ? "," : "", f);
		text_put_json_string(f, argv[i]);
	}
	fputc(']', f);
	return text_memstream_finish(f, &json);
}

/* Opens the index named by -o, or returns a negative errno. */
static int open_index(struct cli *cli, struct output *out, int argc,
		      char **argv)
{
	char *options = options_json(cli);
	char *args = argv_json(argc, argv);
	struct index_options o = {
		.path = cli->output,
		.extract_mask = index_extract_mask(&cli->cfg),
		.retry_failed = cli->retry_failed,
		.rescan = cli->rescan,
		.prune_missing = cli->prune_missing,
		.options_json = options,
		.argv_json = args,
		.lookup_path = cli->merged_output,
		.shard = cli->shard,
	};
	int ret = options && args ? index_open(&o, &out->index) : -ENOMEM;

	free(options);
	free(args);
	out->name = cli->output;
	return ret;
}

static enum progress_mode choose_progress(const struct cli *cli)
{
	if (cli->quiet || strcmp(cli->progress, "none") == 0)
		return PROGRESS_NONE;
	if (strcmp(cli->progress, "bar") == 0)
		return PROGRESS_BAR;
	if (strcmp(cli->progress, "plain") == 0)
		return PROGRESS_PLAIN;
	return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE;
}

/*
 * Finds metaextract-parser next to this program, as in a build tree or a
 * relocated install; the library falls back to its libexec directory.
 */
static const char *sibling_parser_helper(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;

	if (n <= 0)
		return NULL;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	strcpy(slash + 1, "metaextract-parser");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* The record callback of the output format. */
static mx_record_fn record_writer(const struct output *out)
{
	if (out->format == FORMAT_SQLITE)
		return index_record;
	return out->format == FORMAT_CSV ? write_csv_record : write_record;
}

/* The walk hook of --shard: which entries this job handles. */
struct shard_hook {
	const struct shard *shard;
	struct index *index;		/* NULL without an index */
	uint64_t left;			/* entries left to other jobs */
};

static bool keep_shard_entry(const struct mx_walk_entry *e, void *arg)
{
	struct shard_hook *h = arg;

	/* Every job lists every directory; entries below are split. */
	if (e->kind == MX_WALK_DIRECTORY || shard_owns(h->shard, e->path))
		return true;
	h->left++;
	if (e->kind == MX_WALK_RECORD && e->error && h->index &&
	    index_note_walk_error(h->index, e->path) < 0)
		fprintf(stderr, "metaextract: no memory to note the walk "
			"error of '%s'; files below it may be flagged "
			"missing\n", e->path);
	return false;
}

/*
 * Warns when an MPI launcher started several copies of a run without
 * --mpi, since each would then index the whole input on its own.
 */
static void warn_unused_launcher(void)
{
	static const char *const sizes[] = { "OMPI_COMM_WORLD_SIZE",
					     "PMI_SIZE", "PMIX_SIZE",
					     "MPI_LOCALNRANKS" };
	const char *name, *v = first_env(sizes, 4, &name);

	if (v && atoi(v) > 1)
		fprintf(stderr, "metaextract: warning: started as one of %s "
			"MPI processes (%s) without --mpi, so each process "
			"indexes the whole input on its own; add --mpi\n", v,
			name);
}

#ifdef MX_HAVE_MPI
static struct mpi_job *job;	/* with --mpi */
#endif

/*
 * Returns the exit status of a failed setup. In an MPI job the other
 * ranks would wait for this one for ever, so the whole job ends.
 */
static int setup_failed(void)
{
#ifdef MX_HAVE_MPI
	if (job)
		mpi_job_abort(job, EXIT_USAGE);
#endif
	return EXIT_USAGE;
}

/*
 * With --mpi: joins the job, gives this rank its own output shard, and
 * has rank 0 merge the shards a killed run left behind.
 */
static int start_mpi(struct cli *cli, int *argc, char ***argv)
{
#ifdef MX_HAVE_MPI
	char *shard;

	if (mpi_job_start(argc, argv, &job) < 0)
		return -EIO;
	shard = mpi_job_shard_path(job, cli->output);
	if (!shard || mpi_job_prepare_output(job, cli->output,
					     cli->format == FORMAT_SQLITE,
					     cli->quiet) < 0) {
		free(shard);
		return -EIO;
	}
	cli->merged_output = cli->output;
	cli->output = shard;
	/* Only rank 0 writes --stats, with the figures of every rank. */
	if (mpi_job_rank(job) != 0)
		cli->stats = NULL;
#endif
	return 0;
}

/* Walks and reads the input: across the ranks with --mpi, else here. */
static int run_inputs(struct cli *cli, struct mx_batch *b, int argc,
		      char **argv)
{
#ifdef MX_HAVE_MPI
	int ret = 0;

	if (job) {
		if (mpi_job_rank(job) == 0)
			ret = add_inputs(cli, mpi_job_add_root, job, argc,
					 argv);
		return mpi_job_walk(job, b, cli->cfg.threads, ret);
	}
#endif
	return add_inputs(cli, add_to_batch, b, argc, argv);
}

/*
 * With --mpi: gathers the counters of every rank, prints the job's
 * summary on rank 0 and returns the highest exit status of the ranks.
 * *ranks_json is the "mpi" member for --stats on rank 0.
 */
static int gather_mpi(const struct cli *cli, const struct mx_summary *sum,
		      int status, char **ranks_json)
{
	*ranks_json = NULL;
#ifdef MX_HAVE_MPI
	if (job)
		return mpi_job_gather(job, sum, status, cli->quiet,
				      ranks_json);
#endif
	return status;
}

/* With --mpi: rank 0 merges the shards into the output, then all leave. */
static int end_mpi(const struct cli *cli, int status)
{
#ifdef MX_HAVE_MPI
	if (job) {
		status = mpi_job_finish(job, cli->merged_output,
					cli->format == FORMAT_SQLITE ?
					MPI_OUTPUT_SQLITE :
					cli->format == FORMAT_CSV ?
					MPI_OUTPUT_CSV : MPI_OUTPUT_TEXT,
					status, cli->quiet);
		free((char *)cli->output);
		job = NULL;
	}
#endif
	return status;
}

/* The exit status of a finished run; see the end of --help. */
static int run_status(int ret, const struct output *out, int index_error,
		      const struct mx_summary *sum, uint64_t failed_before)
{
	if (out->error) {
		fprintf(stderr, "metaextract: writing to %s failed: %s\n",
			out->name, strerror(out->error));
		return EXIT_USAGE;
	}
	if (index_error)
		return EXIT_USAGE;
	if (stop_signal())
		return 128 + stop_signal();
	if (ret < 0 && ret != -ECANCELED)
		return EXIT_USAGE;
	return sum->files_failed || failed_before ? EXIT_SOME_FAILED : 0;
}

int main(int argc, char **argv)
{
	/* Static, so that early returns leave nothing LeakSanitizer counts. */
	static struct cli cli = { .delim = '\n', .progress = "auto" };
	struct shard_hook shard_hook = { .shard = &cli.shard };
	struct progress *progress;
	struct output out = { .fd = -1 };
	struct mx_summary sum;
	struct mx_batch *b;
	FILE *stats = NULL;
	char *ranks_json;
	uint64_t failed_before = 0;
	int ret, status, index_error = 0;

	stop_watch();
	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return bench_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return index_merge_main(argc - 1, argv + 1);
	cli.files_from = calloc((size_t)argc, sizeof(*cli.files_from));
	if (!cli.files_from)
		return EXIT_USAGE;
	mx_config_init(&cli.cfg);
	cli.cfg.parser_helper = sibling_parser_helper();
	parse_options(&cli, argc, argv);
	mx_set_log(log_to_stderr, NULL, cli.verbose >= 2 ? MX_LOG_DEBUG :
		   cli.verbose ? MX_LOG_INFO : MX_LOG_WARN);
	if (!cli.mpi)
		warn_unused_launcher();
	if (cli.mpi && start_mpi(&cli, &argc, &argv) < 0)
		return setup_failed();
	out.format = cli.format;
	if (out.format == FORMAT_SQLITE) {
		if (open_index(&cli, &out, argc, argv) < 0)
			return setup_failed();
	} else if (open_output(&out, cli.output) < 0) {
		return setup_failed();
	}
	if (out.format == FORMAT_CSV && (ret = csv_open(out.fd, &out.csv)) < 0) {
		fprintf(stderr, "metaextract: writing the CSV header to %s "
			"failed: %s\n", out.name, strerror(-ret));
		return setup_failed();
	}
	if (cli.stats && !(stats = open_stats(cli.stats, &out))) {
		index_close(out.index);
		return setup_failed();
	}
	report_crashes();
	ret = mx_batch_new(&cli.cfg, record_writer(&out), out.index ?
			   (void *)out.index : (void *)&out, &b);
	if (ret < 0) {
		fprintf(stderr, "metaextract: cannot start: %s\n",
			strerror(-ret));
		index_close(out.index);
		return setup_failed();
	}
	out.batch = b;
	if (out.index) {
		index_set_batch(out.index, b);
		mx_batch_set_filter(b, index_filter, out.index);
	}
	if (cli.shard.count) {
		shard_hook.index = out.index;
		mx_batch_set_walk_hook(b, keep_shard_entry, &shard_hook);
	}
	stop_set_batch(b);
	progress = progress_start(b, choose_progress(&cli),
				  cli.progress_interval, cli.stats != NULL);
	ret = run_inputs(&cli, b, argc, argv);
	mx_batch_finish(b, &sum);
	progress_stop(progress);
	csv_close(out.csv);
	if (out.fd >= 0 && out.fd != STDOUT_FILENO && close(out.fd) != 0 &&
	    !out.error)
		out.error = errno;
	/* An MPI job prints one summary for all ranks, on rank 0. */
	if (!cli.quiet && !cli.mpi)
		print_summary(&sum);
	if (!cli.quiet && cli.shard.count)
		fprintf(stderr, "metaextract: shard %u/%u: %" PRIu64 " entries "
			"left to the other jobs\n", cli.shard.index,
			cli.shard.count, shard_hook.left);
	if (out.index) {
		bool complete = ret == 0 && !sum.cancelled && !stop_signal();

		/*
		 * A rank saw only part of each tree, so it cannot tell which
		 * rows are missing: it passes no roots.
		 */
		index_error = index_finish(out.index, &sum, complete,
					   argv + optind, cli.mpi ? 0 :
					   (size_t)(argc - optind),
					   cli.quiet || cli.mpi);
		failed_before = index_unchanged_failed(out.index);
		index_close(out.index);
	}
	status = run_status(ret, &out, index_error, &sum, failed_before);
	status = gather_mpi(&cli, &sum, status, &ranks_json);
	if (stats && write_stats(stats, cli.stats, &sum, progress,
				 ranks_json) < 0 && status < EXIT_USAGE)
		status = EXIT_USAGE;
	free(ranks_json);
	progress_free(progress);
	stop_set_batch(NULL);
	mx_batch_free(b);
	free(cli.files_from);
	return end_mpi(&cli, status);
}
