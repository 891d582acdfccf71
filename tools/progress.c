#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* Bar redraws per second: often enough to look live, cheap to draw. */
#define BAR_PERIOD 0.25

/* Samples kept; past this, every other one goes and the period doubles. */
#define TIMELINE_MAX 2048

struct sample {
	double t;
	unsigned long long files;
	unsigned long long bytes;
};

struct progress {
	struct mx_batch *batch;
	enum progress_mode mode;
	double interval;
	bool timeline;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	bool bar_drawn;
	struct sample *samples;
	size_t count;
	double sample_period;
	double last_plain;
};

static void format_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB",
					      "TiB", "PiB" };
	unsigned u = 0;

	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void format_eta(char *buf, size_t len, const struct mx_progress *s)
{
	double rate = s->seconds > 0 ? (double)s->bytes_read / s->seconds : 0;
	double left;
	unsigned long secs;

	if (!s->walk_done || rate <= 0 || s->bytes_found <= s->bytes_read) {
		snprintf(buf, len, "%s", s->walk_done ? "" : ", walking");
		return;
	}
	/* An estimate: parser reads and changing rates make it drift. */
	left = (double)(s->bytes_found - s->bytes_read) / rate;
	secs = (unsigned long)left;
	snprintf(buf, len, ", ETA %lu:%02lu:%02lu", secs / 3600,
		 secs / 60 % 60, secs % 60);
}

static void format_line(char *buf, size_t len, const struct mx_progress *s)
{
	char done[32], found[32], rate[32], eta[40];
	double per_s = s->seconds > 0 ? (double)s->bytes_read / s->seconds : 0;

	format_bytes(done, sizeof(done), (double)s->bytes_read);
	format_bytes(found, sizeof(found), (double)s->bytes_found);
	format_bytes(rate, sizeof(rate), per_s);
	format_eta(eta, sizeof(eta), s);
	snprintf(buf, len, "metaextract: %llu/%llu files, %s of %s, %s/s, "
		 "%.0f files/s, %llu failed%s",
		 (unsigned long long)s->files_done,
		 (unsigned long long)s->files_found, done, found, rate,
		 s->seconds > 0 ? (double)s->files_done / s->seconds : 0.0,
		 (unsigned long long)s->files_failed, eta);
}

static size_t terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

static void draw(struct progress *p, const struct mx_progress *s)
{
	char line[256];
	size_t width;

	format_line(line, sizeof(line), s);
	if (p->mode == PROGRESS_PLAIN) {
		if (s->seconds - p->last_plain < p->interval)
			return;
		p->last_plain = s->seconds;
		fprintf(stderr, "%s\n", line);
		return;
	}
	/* A line longer than the terminal would wrap, and \r would then
	   redraw only its last row. */
	width = terminal_width() - 1;
	if (strlen(line) > width)
		line[width] = '\0';
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->bar_drawn = true;
}

static void add_sample(struct progress *p, const struct mx_progress *s)
{
	size_t i;

	if (p->count && s->seconds - p->samples[p->count - 1].t <
	    p->sample_period)
		return;
	if (p->count == TIMELINE_MAX) {
		for (i = 0; i < TIMELINE_MAX / 2; i++)
			p->samples[i] = p->samples[2 * i + 1];
		p->count = TIMELINE_MAX / 2;
		p->sample_period *= 2;
	}
	p->samples[p->count].t = s->seconds;
	p->samples[p->count].files = s->files_done;
	p->samples[p->count].bytes = s->bytes_read;
	p->count++;
}

static double tick_seconds(const struct progress *p)
{
	double tick = p->mode == PROGRESS_BAR ? BAR_PERIOD : p->interval;

	if (p->timeline && p->sample_period < tick)
		tick = p->sample_period;
	return tick;
}

static void *run(void *arg)
{
	struct progress *p = arg;
	struct mx_progress s;
	struct timespec until;
	double tick = tick_seconds(p);

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)tick;
		until.tv_nsec += (long)((tick - (double)(time_t)tick) * 1e9);
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
		if (p->stop)
			break;
		mx_batch_progress(p->batch, &s);
		if (p->timeline)
			add_sample(p, &s);
		if (p->mode != PROGRESS_NONE)
			draw(p, &s);
		tick = tick_seconds(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct progress *progress_start(struct mx_batch *b, enum progress_mode mode,
				double interval, bool timeline)
{
	struct progress *p;

	if (mode == PROGRESS_NONE && !timeline)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->batch = b;
	p->mode = mode;
	p->interval = interval > 0 ? interval : 10;
	p->timeline = timeline;
	p->sample_period = 0.5;
	p->last_plain = 0;
	if (timeline) {
		p->samples = calloc(TIMELINE_MAX, sizeof(*p->samples));
		if (!p->samples) {
			free(p);
			return NULL;
		}
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		progress_free(p);
		return NULL;
	}
	return p;
}

void progress_stop(struct progress *p)
{
	struct mx_progress s;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (p->timeline) {
		/* The last sample is the end of the run. */
		mx_batch_progress(p->batch, &s);
		p->sample_period = 0;
		add_sample(p, &s);
	}
	if (p->bar_drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

void progress_write_timeline(const struct progress *p, FILE *out)
{
	size_t i;

	fputc('[', out);
	for (i = 0; p && i < p->count; i++)
		fprintf(out, "%s{\"t\":%.3f,\"files\":%llu,\"bytes\":%llu}",
			i ? "," : "", p->samples[i].t, p->samples[i].files,
			p->samples[i].bytes);
	fputc(']', out);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->samples);
	free(p);
}
