#ifdef MX_TESTING
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "log.h"

static unsigned long read_error_at;	/* 0: none */
static unsigned long again_reads;
static bool short_reads;
static unsigned long delay_us;
static atomic_ulong reads_seen;
static pthread_once_t parse_once = PTHREAD_ONCE_INIT;

static void parse_faults(void)
{
	const char *spec = getenv("MX_FAULT");
	char *copy, *item, *save = NULL;

	if (!spec || !*spec || !(copy = strdup(spec)))
		return;
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "read_error=", 11) == 0)
			read_error_at = strtoul(item + 11, NULL, 10);
		else if (strncmp(item, "again_reads=", 12) == 0)
			again_reads = strtoul(item + 12, NULL, 10);
		else if (strcmp(item, "short_reads") == 0)
			short_reads = true;
		else if (strncmp(item, "delay_us=", 9) == 0)
			delay_us = strtoul(item + 9, NULL, 10);
		else
			mx_log(MX_LOG_WARN, "fault", "unknown fault '%s' in "
			       "MX_FAULT", item);
	}
	free(copy);
}

int fault_read(int res)
{
	unsigned long n;

	pthread_once(&parse_once, parse_faults);
	n = atomic_fetch_add(&reads_seen, 1) + 1;
	if (delay_us) {
		struct timespec ts = {
			.tv_sec = (time_t)(delay_us / 1000000),
			.tv_nsec = (long)(delay_us % 1000000) * 1000,
		};

		nanosleep(&ts, NULL);
	}
	if (read_error_at && n == read_error_at)
		return -EIO;
	if (n <= again_reads)
		return -EAGAIN;
	/* Halves stay whole 4 KiB blocks where they can, for O_DIRECT. */
	if (short_reads && res >= 8192)
		return (res / 2) & ~4095;
	if (short_reads && res > 1)
		return res / 2;
	return res;
}
#endif
