/*
 * Clean stops on SIGINT, SIGTERM, SIGHUP and SIGUSR1, which batch
 * schedulers send before a time limit. The first one cancels the running
 * batch, so the run ends with whole records and a summary. A second one
 * ends the process at once.
 */
#ifndef MX_TOOLS_STOP_H
#define MX_TOOLS_STOP_H

#include "metaextract.h"

/*
 * Blocks the stop signals and starts the thread that waits for them.
 * Call first in main(), before any thread starts, so that every thread
 * inherits the blocked set and a signal is never lost or fatal.
 */
void stop_watch(void);

/* Sets the batch a stop signal cancels; NULL between batches. */
void stop_set_batch(struct mx_batch *b);

/*
 * Sets what the message printed on the first signal names as the work
 * the stop waits for ("the files in flight" by default). Call before the signal can come.
 */
void stop_describe(const char *what);

/* The first stop signal received, or 0. */
int stop_signal(void);

#endif
