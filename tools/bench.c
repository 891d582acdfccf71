/*
 * metaextract bench: the engine with digests, type identification and
 * parsers off, timed over a sweep of chunk sizes and queue depths, so that
 * people can measure their storage on their own files and compare with
 * fio on the same files.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bench.h"
#include "text.h"
#include "metaextract.h"
#include "stop.h"

#define MAX_SETTINGS 16
#define MAX_RUNS 99

static const char bench_usage[] =
"Usage: metaextract bench [OPTION]... PATH...\n"
"Read every regular file under each PATH with digests, type identification\n"
"and parsers off, once per setting of a sweep, and report throughput, reads\n"
"per second and read latency percentiles for each setting.\n"
"\n"
"  --chunk-sizes=LIST   comma-separated read sizes, multiples of 4 KiB, with\n"
"                       K or M suffixes (default: 64K,256K,1M)\n"
"  --queue-depths=LIST  comma-separated reads in flight per file\n"
"                       (default: 1,4,16)\n"
"  --direct             open with O_DIRECT, bypassing the page cache, where\n"
"                       the file system allows it (else buffered)\n"
"  --cold               before each run, drop the files' pages from the page\n"
"                       cache (posix_fadvise DONTNEED; dirty or mapped pages\n"
"                       stay)\n"
"  --runs=N             runs per setting; the run with the median time is\n"
"                       reported (default: 3)\n"
"  -j, --threads=N      worker loops (default: usable CPUs)\n"
"  --json               print JSON instead of a table\n"
"  -h, --help           print this help\n"
"\n"
"Latency is measured from the submission of a read to the moment its loop\n"
"reaps the completion. Exit status: 0, 1 when some file could not be read,\n"
"2 for invalid options or a failed setup.\n";

struct bench {
	uint32_t chunks[MAX_SETTINGS];
	unsigned nchunks;
	unsigned depths[MAX_SETTINGS];
	unsigned ndepths;
	bool direct;
	bool cold;
	bool json;
	unsigned runs;
	unsigned threads;
	char **paths;
	int npaths;
};

struct run {
	double seconds;
	uint64_t bytes;
	uint64_t reads;
	uint64_t files;
	uint64_t failed;
	unsigned queue_depth;		/* after fitting RLIMIT_MEMLOCK */
	unsigned max_in_flight;		/* reads at once in any one loop */
	double mean, p50, p90, p99, p999, max;
};

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("metaextract bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'metaextract bench --help' for more information.\n",
	      stderr);
	return 2;
}

/* Parses "64K,1M" into sizes; returns the count, or -1 when invalid. */
static int parse_sizes(const char *list, uint32_t *out)
{
	const char *p = list;
	int n = 0;

	while (*p && n < MAX_SETTINGS) {
		char *end;

		if (args_chunk_size(p, &end, &out[n]) < 0 ||
		    (*end && *end != ',') || (*end == ',' && !end[1]))
			return -1;
		n++;
		p = *end ? end + 1 : end;
	}
	return *p || n == 0 ? -1 : n;
}

static int parse_depths(const char *list, unsigned *out)
{
	const char *p = list;
	int n = 0;

	while (*p && n < MAX_SETTINGS) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v < 1 || v > 1024 || (*end && *end != ',') ||
		    (*end == ',' && !end[1]))
			return -1;
		out[n++] = (unsigned)v;
		p = *end ? end + 1 : end;
	}
	return *p || n == 0 ? -1 : n;
}

enum { OPT_CHUNKS = 256, OPT_DEPTHS, OPT_DIRECT, OPT_COLD, OPT_RUNS,
       OPT_JSON };

static const struct option bench_options[] = {
	{ "chunk-sizes", required_argument, NULL, OPT_CHUNKS },
	{ "queue-depths", required_argument, NULL, OPT_DEPTHS },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "cold", no_argument, NULL, OPT_COLD },
	{ "runs", required_argument, NULL, OPT_RUNS },
	{ "threads", required_argument, NULL, 'j' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to go on, or the exit status to stop with. */
static int parse_bench_options(struct bench *bn, int argc, char **argv)
{
	char *end;
	int c, n;

	while ((c = getopt_long(argc, argv, "j:h", bench_options, NULL)) != -1) {
		switch (c) {
		case OPT_CHUNKS:
			n = parse_sizes(optarg, bn->chunks);
			if (n < 0)
				return usage_error("invalid --chunk-sizes '%s': "
						   "expected up to 16 multiples "
						   "of 4K up to 1024M", optarg);
			bn->nchunks = (unsigned)n;
			break;
		case OPT_DEPTHS:
			n = parse_depths(optarg, bn->depths);
			if (n < 0)
				return usage_error("invalid --queue-depths '%s': "
						   "expected up to 16 numbers "
						   "from 1 to 1024", optarg);
			bn->ndepths = (unsigned)n;
			break;
		case OPT_DIRECT: bn->direct = true; break;
		case OPT_COLD: bn->cold = true; break;
		case OPT_JSON: bn->json = true; break;
		case OPT_RUNS:
			bn->runs = (unsigned)strtoul(optarg, &end, 10);
			if (*end || bn->runs < 1 || bn->runs > MAX_RUNS)
				return usage_error("invalid --runs '%s': "
						   "expected 1 to 99", optarg);
			break;
		case 'j':
			bn->threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || bn->threads < 1 || bn->threads > 1024)
				return usage_error("invalid --threads '%s': "
						   "expected 1 to 1024", optarg);
			break;
		case 'h':
			fputs(bench_usage, stdout);
			return 0;
		default:
			return usage_error("invalid option");
		}
	}
	if (optind == argc)
		return usage_error("no PATH given");
	bn->paths = argv + optind;
	bn->npaths = argc - optind;
	return -1;
}

static int drop_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	int fd;

	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	return 0;
}

static void drop_cache(const struct bench *bn)
{
	int i;

	for (i = 0; i < bn->npaths; i++)
		nftw(bn->paths[i], drop_one, 64, FTW_PHYS);
}

/* Counts the files read; FIFOs, links and the like are not measured. */
static void count_files(const struct mx_record *rec, void *arg)
{
	struct run *r = arg;

	if (mx_record_status(rec) == MX_STATUS_SKIPPED)
		return;
	r->files++;
	if (mx_record_status(rec) == MX_STATUS_ERROR)
		r->failed++;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Chunk buffers per loop: enough for the queue depth, and up to 16 so
 * that several small files are read at once, but no more than 256 MiB,
 * because setting up the arena is not what the run should time.
 */
static unsigned buffers_for(uint32_t chunk, unsigned depth)
{
	unsigned n = (unsigned)((256u << 20) / chunk);

	if (n > 16)
		n = 16;
	return n > depth ? n : depth;
}

static int run_once(const struct bench *bn, uint32_t chunk, unsigned depth,
		    struct run *r)
{
	struct mx_config cfg;
	struct mx_summary sum;
	struct mx_batch *b;
	double start;
	int i, ret;

	mx_config_init(&cfg);
	cfg.threads = bn->threads;
	cfg.digests = 0;
	cfg.identify = false;
	cfg.parse = false;
	cfg.direct = bn->direct;
	cfg.auto_direct = false;	/* bench measures the mode it is given */
	cfg.chunk_size = chunk;
	cfg.queue_depth = depth;
	cfg.large_queue_depth = depth;	/* the depth measured, for any size */
	cfg.buffers = buffers_for(chunk, depth);
	memset(r, 0, sizeof(*r));
	if (bn->cold)
		drop_cache(bn);
	ret = mx_batch_new(&cfg, count_files, r, &b);
	if (ret < 0)
		return ret;
	stop_set_batch(b);
	/* From here on: the loops and their buffers are ready. */
	start = now_seconds();
	for (i = 0; i < bn->npaths && ret == 0; i++)
		ret = mx_batch_add(b, bn->paths[i]);
	mx_batch_finish(b, &sum);
	r->seconds = now_seconds() - start;
	stop_set_batch(NULL);
	r->bytes = sum.content_bytes;
	r->reads = sum.reads;
	r->queue_depth = sum.queue_depth;
	r->max_in_flight = sum.max_reads_in_flight;
	r->mean = sum.latency_mean_us;
	r->p50 = sum.latency_p50_us;
	r->p90 = sum.latency_p90_us;
	r->p99 = sum.latency_p99_us;
	r->p999 = sum.latency_p999_us;
	r->max = sum.latency_max_us;
	mx_batch_free(b);
	return ret == -ECANCELED ? 0 : ret;
}

static int by_seconds(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	return (x->seconds > y->seconds) - (x->seconds < y->seconds);
}

static void print_row(const struct bench *bn, uint32_t chunk,
		      const struct run *r, bool first)
{
	double bps = r->seconds > 0 ? (double)r->bytes / r->seconds : 0;
	double iops = r->seconds > 0 ? (double)r->reads / r->seconds : 0;

	if (bn->json) {
		printf("%s{\"chunk_size\":%u,\"queue_depth\":%u,"
		       "\"max_reads_in_flight\":%u,\"runs\":%u,"
		       "\"seconds\":%.6f,\"bytes\":%llu,\"reads\":%llu,"
		       "\"bytes_per_second\":%.1f,\"iops\":%.1f,"
		       "\"latency_us\":{\"mean\":%.3f,\"p50\":%.3f,"
		       "\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
		       "\"max\":%.3f}}", first ? "" : ",", chunk,
		       r->queue_depth, r->max_in_flight, bn->runs, r->seconds,
		       (unsigned long long)r->bytes,
		       (unsigned long long)r->reads, bps, iops, r->mean,
		       r->p50, r->p90, r->p99, r->p999, r->max);
		return;
	}
	printf("%8u KiB %6u %10.1f %10.0f %9.1f %9.1f %9.1f %9.1f\n",
	       chunk >> 10, r->queue_depth, bps / 1e6, iops, r->p50, r->p90,
	       r->p99, r->p999);
}

static void print_head(const struct bench *bn, const struct run *r)
{
	int i;

	if (bn->json) {
		printf("{\"schema\":1,\"paths\":[");
		for (i = 0; i < bn->npaths; i++) {
			printf("%s", i ? "," : "");
			text_put_json_string(stdout, bn->paths[i]);
		}
		printf("],\"files\":%llu,\"bytes\":%llu,\"direct\":%s,"
		       "\"cold\":%s,\"runs_per_setting\":%u,\"reported_run\":"
		       "\"median time\",\"results\":[",
		       (unsigned long long)r->files,
		       (unsigned long long)r->bytes,
		       bn->direct ? "true" : "false",
		       bn->cold ? "true" : "false", bn->runs);
		return;
	}
	printf("metaextract bench: %llu files, %llu bytes, %s, %s cache, "
	       "median of %u runs per setting\n",
	       (unsigned long long)r->files, (unsigned long long)r->bytes,
	       bn->direct ? "O_DIRECT" : "buffered",
	       bn->cold ? "cold" : "warm", bn->runs);
	printf("%12s %6s %10s %10s %9s %9s %9s %9s\n", "chunk", "depth",
	       "MB/s", "reads/s", "p50 us", "p90 us", "p99 us", "p99.9 us");
}

/* Warns when the locked-memory limit left fewer reads in flight. */
static void warn_depth(unsigned requested, unsigned used)
{
	if (used != requested)
		fprintf(stderr, "metaextract bench: queue depth %u requested, %u "
			"used: RLIMIT_MEMLOCK holds only that many buffers "
			"(raise ulimit -l)\n", requested, used);
}

/* Runs one setting bn->runs times; returns the median run, or NULL. */
static const struct run *run_setting(const struct bench *bn, uint32_t chunk,
				     unsigned depth, struct run *runs,
				     bool *failed)
{
	unsigned k;
	int ret;

	for (k = 0; k < bn->runs; k++) {
		ret = run_once(bn, chunk, depth, &runs[k]);
		if (ret < 0) {
			fprintf(stderr, "metaextract bench: run failed: %s\n",
				strerror(-ret));
			return NULL;
		}
		if (stop_signal())
			return NULL;
		*failed |= runs[k].failed > 0;
	}
	qsort(runs, bn->runs, sizeof(runs[0]), by_seconds);
	warn_depth(depth, runs[bn->runs / 2].queue_depth);
	return &runs[bn->runs / 2];
}

int bench_main(int argc, char **argv)
{
	struct bench bn = {
		.chunks = { 64 << 10, 256 << 10, 1 << 20 }, .nchunks = 3,
		.depths = { 1, 4, 16 }, .ndepths = 3, .runs = 3,
	};
	struct run runs[MAX_RUNS];
	const struct run *median = NULL;
	bool first = true, failed = false;
	unsigned c, d;
	int ret;

	ret = parse_bench_options(&bn, argc, argv);
	if (ret >= 0)
		return ret;
	for (c = 0; c < bn.nchunks; c++) {
		for (d = 0; d < bn.ndepths; d++) {
			median = run_setting(&bn, bn.chunks[c], bn.depths[d],
					     runs, &failed);
			if (!median)
				goto out;
			if (median->files == 0) {
				fprintf(stderr, "metaextract bench: no regular "
					"file to read under the given paths\n");
				return 1;
			}
			if (first)
				print_head(&bn, median);
			print_row(&bn, bn.chunks[c], median, first);
			fflush(stdout);
			first = false;
		}
	}
out:
	/* Close the JSON document even after a stop, so that it parses. */
	if (bn.json && first && stop_signal()) {
		memset(runs, 0, sizeof(runs[0]));
		print_head(&bn, &runs[0]);
		first = false;
	}
	if (bn.json && !first)
		printf("]}\n");
	if (stop_signal())
		return 128 + stop_signal();
	if (!median)
		return 2;
	if (failed)
		fprintf(stderr, "metaextract bench: some files could not be "
			"read; run metaextract on them to see why\n");
	return failed ? 1 : 0;
}
