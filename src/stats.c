#include <stdio.h>
#include <sys/resource.h>

#include "alloc.h"
#include "histogram.h"
#include "stats.h"
#include "strbuf.h"

static double seconds_of(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void merge_reports(struct mx_batch *b, struct histogram *all)
{
	struct mx_summary *s = &b->sum;
	struct rusage ru;
	unsigned i;

	histogram_init(all);
	s->content_bytes = s->parser_bytes = s->reads = 0;
	for (i = 0; i < b->nloops; i++) {
		const struct loop_report *r = &b->reports[i];

		s->content_bytes += r->content_bytes;
		s->parser_bytes += r->parser_bytes;
		s->reads += r->reads;
		histogram_merge(all, &r->latency);
	}
	s->bytes_read = s->content_bytes + s->parser_bytes;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		s->cpu_user_seconds = seconds_of(&ru.ru_utime);
		s->cpu_system_seconds = seconds_of(&ru.ru_stime);
	}
	s->latency_mean_us = all->count ?
		us((uint64_t)(all->sum / all->count)) : 0.0;
	s->latency_p50_us = us(histogram_quantile(all, 0.5));
	s->latency_p90_us = us(histogram_quantile(all, 0.9));
	s->latency_p99_us = us(histogram_quantile(all, 0.99));
	s->latency_p999_us = us(histogram_quantile(all, 0.999));
	s->latency_max_us = all->count ? us(all->max) : 0.0;
}

static void write_latency(struct strbuf *sb, const struct mx_summary *s,
			  const struct histogram *all)
{
	bool first = true;
	unsigned i;

	strbuf_printf(sb, "\"read_latency_us\":{\"count\":%llu,"
		      "\"min\":%.3f,\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
		      "\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"histogram\":[",
		      (unsigned long long)all->count,
		      all->count ? us(all->min) : 0.0, s->latency_mean_us,
		      s->latency_p50_us, s->latency_p90_us, s->latency_p99_us,
		      s->latency_p999_us, s->latency_max_us);
	/* Each non-empty bucket as [lowest, highest value, count]. */
	for (i = 0; i < HISTOGRAM_BUCKETS; i++) {
		if (!all->counts[i])
			continue;
		strbuf_printf(sb, "%s[%.3f,%.3f,%llu]", first ? "" : ",",
			      i ? us(histogram_bucket_max(i - 1) + 1) : 0.0,
			      us(histogram_bucket_max(i)),
			      (unsigned long long)all->counts[i]);
		first = false;
	}
	strbuf_puts(sb, "]}");
}

static void write_loops(struct strbuf *sb, const struct mx_batch *b)
{
	unsigned i;

	strbuf_puts(sb, "\"loops\":[");
	for (i = 0; i < b->nloops; i++) {
		const struct loop_report *r = &b->reports[i];

		strbuf_printf(sb, "%s{\"id\":%u,\"files\":%llu,\"bytes\":%llu,"
			      "\"reads\":%llu,\"busy_fraction\":%.4f,"
			      "\"max_reads_in_flight\":%u,\"steals\":%llu,"
			      "\"refills\":%llu,\"large_files\":%llu}",
			      i ? "," : "",
			      r->id, (unsigned long long)r->files,
			      (unsigned long long)(r->content_bytes +
						   r->parser_bytes),
			      (unsigned long long)r->reads, r->busy_fraction,
			      r->max_reads_in_flight,
			      (unsigned long long)r->steals,
			      (unsigned long long)r->refills,
			      (unsigned long long)r->large_files);
	}
	strbuf_puts(sb, "]");
}

static void write_errors(struct strbuf *sb, const struct mx_batch *b)
{
	unsigned i;

	strbuf_puts(sb, "\"errors\":{");
	for (i = 0; i < b->error_kinds; i++)
		strbuf_printf(sb, "%s\"%s\":%llu", i ? "," : "",
			      b->errors[i].kind,
			      (unsigned long long)b->errors[i].count);
	if (b->errors_other)
		strbuf_printf(sb, "%s\"other\":%llu", i ? "," : "",
			      (unsigned long long)b->errors_other);
	strbuf_puts(sb, "}");
}

static void write_backend(struct strbuf *sb, const struct mx_batch *b)
{
	const struct mx_summary *s = &b->sum;

	strbuf_printf(sb, "\"backend\":{\"io\":\"%s\",\"pool_loops\":%u,"
		      "\"ring_flags\":\"%s\",\"registered_buffers\":%s,"
		      "\"buffers\":\"%s\",\"buffer_count\":%u,"
		      "\"threads\":%u,\"chunk_size\":%u,\"queue_depth\":%u,"
		      "\"direct\":%s,\"max_rate\":%llu}", s->backend,
		      s->pool_loops,
		      b->nloops ? b->reports[0].ring_flags : "none",
		      s->registered_buffers ? "true" : "false",
		      s->buffer_note, b->cfg.buffers, b->nloops,
		      b->cfg.chunk_size, b->cfg.queue_depth,
		      b->cfg.direct ? "true" : "false",
		      (unsigned long long)b->cfg.max_rate);
}

void stats_finish(struct mx_batch *b)
{
	struct mx_summary *s = &b->sum;
	struct histogram *all = alloc_malloc(sizeof(*all));
	struct strbuf sb;

	s->stats_json = NULL;
	if (!all)
		return;
	merge_reports(b, all);
	strbuf_init(&sb);
	strbuf_printf(&sb, "{\"schema\":1,\"version\":\"%s\",\"files\":%llu,"
		      "\"files_ok\":%llu,\"files_failed\":%llu,"
		      "\"files_skipped\":%llu,\"files_unchanged\":%llu,"
		      "\"steals\":%llu,"
		      "\"bytes_read\":%llu,"
		      "\"content_bytes\":%llu,\"parser_bytes\":%llu,"
		      "\"wall_seconds\":%.6f,\"cpu_user_seconds\":%.6f,"
		      "\"cpu_system_seconds\":%.6f,\"bytes_per_second\":%.1f,"
		      "\"files_per_second\":%.1f,\"cancelled\":%s,",
		      MX_VERSION, (unsigned long long)s->files,
		      (unsigned long long)s->files_ok,
		      (unsigned long long)s->files_failed,
		      (unsigned long long)s->files_skipped,
		      (unsigned long long)s->files_unchanged,
		      (unsigned long long)s->steals,
		      (unsigned long long)s->bytes_read,
		      (unsigned long long)s->content_bytes,
		      (unsigned long long)s->parser_bytes, s->seconds,
		      s->cpu_user_seconds, s->cpu_system_seconds,
		      s->seconds > 0 ? (double)s->bytes_read / s->seconds : 0.0,
		      s->seconds > 0 ? (double)s->files / s->seconds : 0.0,
		      s->cancelled ? "true" : "false");
	write_errors(&sb, b);
	strbuf_putc(&sb, ',');
	write_backend(&sb, b);
	strbuf_putc(&sb, ',');
	write_loops(&sb, b);
	strbuf_putc(&sb, ',');
	write_latency(&sb, s, all);
	strbuf_putc(&sb, '}');
	alloc_free(all);
	if (sb.failed) {
		strbuf_free(&sb);
		return;
	}
	s->stats_json = strbuf_detach(&sb, NULL);
}
