/*
 * Progress of a run on standard error, and the throughput timeline that
 * --stats saves, both fed by one thread that samples mx_batch_progress().
 */
#ifndef MX_TOOLS_PROGRESS_H
#define MX_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "metaextract.h"

enum progress_mode {
	PROGRESS_NONE,
	PROGRESS_BAR,		/* one line redrawn in place on a terminal */
	PROGRESS_PLAIN,		/* a new line every interval, for logs */
};

struct progress;

/*
 * Starts sampling b. The display follows mode; interval is the seconds
 * between plain lines. With timeline, samples are kept for
 * progress_write_timeline(). Returns NULL when there is nothing to do
 * or the thread cannot start.
 */
struct progress *progress_start(struct mx_batch *b, enum progress_mode mode,
				double interval, bool timeline);

/* Stops the thread and erases a progress bar from the terminal. */
void progress_stop(struct progress *p);

/* Writes the samples as a JSON array of {"t","files","bytes"}. */
void progress_write_timeline(const struct progress *p, FILE *out);

void progress_free(struct progress *p);

#endif
