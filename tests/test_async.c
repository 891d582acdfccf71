/*
 * The asynchronous batch API: non-blocking submission from several
 * threads, records taken through the eventfd and mx_batch_poll(), the end
 * signalled by -ENODATA, and early finishes.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metaextract.h"
#include "support.h"

static struct mx_config small_config(void)
{
	struct mx_config cfg;

	mx_config_init(&cfg);
	cfg.threads = 2;
	cfg.digests = MX_DIGEST_XXH128;
	return cfg;
}

/* Regular files directly in dir (the fixtures have no subdirectories). */
static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	cr_assert_not_null(d, "cannot open %s", dir);
	while ((de = readdir(d)))
		if (de->d_type == DT_REG)
			n++;
	closedir(d);
	return n;
}

/*
 * Waits on the eventfd and takes records until -ENODATA; returns how many
 * came, and counts those whose path ends in suffix.
 */
static unsigned drain(struct mx_batch *b, const char *suffix,
		      unsigned *matching)
{
	struct pollfd pfd = { .fd = mx_batch_eventfd(b), .events = POLLIN };
	unsigned n = 0;

	*matching = 0;
	for (;;) {
		struct mx_record *rec;
		int ret;

		cr_assert_eq(poll(&pfd, 1, 30000), 1,
			     "no record or end within 30 s after %u records",
			     n);
		while ((ret = mx_batch_poll(b, &rec)) == 1) {
			const char *path = mx_value_string(
				mx_value_get(mx_record_root(rec), "/path"),
				NULL);
			size_t len = strlen(path), slen = strlen(suffix);

			n++;
			if (len >= slen && strcmp(path + len - slen, suffix) == 0)
				(*matching)++;
			mx_record_free(rec);
		}
		if (ret == -ENODATA)
			return n;
		cr_assert_eq(ret, 0, "mx_batch_poll returned %d", ret);
	}
}

struct submitter {
	struct mx_batch *b;
	const char *path;
	int ret;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;

	s->ret = mx_batch_submit(s->b, s->path);
	return NULL;
}

Test(async, records_from_two_submitting_threads)
{
	struct mx_config cfg = small_config();
	const char *data = getenv("MX_TEST_DATA");
	char wav[4096];
	struct mx_batch *b;
	struct submitter s[2];
	pthread_t t[2];
	unsigned n, wavs, expected;
	int i;

	cr_assert_not_null(data, "MX_TEST_DATA is not set");
	snprintf(wav, sizeof(wav), "%s/gen_tone.wav", data);
	expected = count_files(data) + 1;
	cr_assert_eq(mx_batch_new_async(&cfg, &b), 0);
	cr_assert_geq(mx_batch_eventfd(b), 0);
	s[0] = (struct submitter){ .b = b, .path = data };
	s[1] = (struct submitter){ .b = b, .path = wav };
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, submit_thread, &s[i]);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(s[i].ret, 0, "submit %s returned %d", s[i].path,
			     s[i].ret);
	}
	mx_batch_close_input(b);
	cr_assert_eq(mx_batch_submit(b, wav), -EPIPE,
		     "submit after close_input must fail with -EPIPE");
	n = drain(b, "gen_tone.wav", &wavs);
	cr_assert_eq(n, expected, "records: expected %u, got %u", expected,
		     n);
	cr_assert_eq(wavs, 2, "gen_tone.wav: expected 2 records, got %u",
		     wavs);
	cr_assert_eq(mx_batch_finish(b, NULL), 0);
	mx_batch_free(b);
}

Test(async, full_queue_eagain_and_one_record_each)
{
	struct mx_config cfg = small_config();
	struct mx_batch *b;
	unsigned taken = 0, eagain = 0, errors = 0, i, rest, unused;
	struct mx_record *rec;
	char path[64];
	int ret;

	cfg.threads = 1;
	cr_assert_eq(mx_batch_new_async(&cfg, &b), 0);
	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/nonexistent/mx-async/%u", i);
		while ((ret = mx_batch_submit(b, path)) == -EAGAIN) {
			eagain++;
			/* Make room: take what is ready, then retry. */
			while (mx_batch_poll(b, &rec) == 1) {
				errors += mx_record_status(rec) ==
					  MX_STATUS_ERROR;
				mx_record_free(rec);
				taken++;
			}
		}
		cr_assert_eq(ret, 0, "submit returned %d", ret);
	}
	mx_batch_close_input(b);
	rest = drain(b, "", &unused);
	cr_assert_gt(eagain, 0, "5000 quick submissions never filled the "
		     "queue of 1024 paths");
	cr_assert_eq(taken + rest, 5000, "records: expected 5000, got %u",
		     taken + rest);
	cr_assert_eq(errors, taken, "every missing path gets an error record");
	cr_assert_eq(mx_batch_finish(b, NULL), 0);
	mx_batch_free(b);
}

Test(async, finish_without_polling_drops_records)
{
	struct mx_config cfg = small_config();
	const char *data = getenv("MX_TEST_DATA");
	struct mx_summary sum;
	struct mx_batch *b;

	cr_assert_not_null(data, "MX_TEST_DATA is not set");
	cr_assert_eq(mx_batch_new_async(&cfg, &b), 0);
	cr_assert_eq(mx_batch_submit(b, data), 0);
	cr_assert_eq(mx_batch_finish(b, &sum), 0,
		     "finish with records waiting must not hang");
	mx_batch_free(b);
}

Test(async, callback_batch_rejects_async_calls)
{
	struct mx_config cfg = small_config();
	struct mx_record *rec;
	struct mx_batch *b;

	cr_assert_eq(mx_batch_new(&cfg, NULL, NULL, &b), 0);
	cr_assert_eq(mx_batch_submit(b, "/"), -EINVAL);
	cr_assert_eq(mx_batch_eventfd(b), -EINVAL);
	cr_assert_eq(mx_batch_poll(b, &rec), -EINVAL);
	cr_assert_eq(mx_batch_finish(b, NULL), 0);
	mx_batch_free(b);
}
