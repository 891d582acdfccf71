/*
 * CSV output of records: a header row, then one row per record with a
 * fixed set of columns (listed in csv.c). The writer is not thread-safe;
 * call csv_write() from one thread at a time, such as a batch's record
 * callback, which the batch serialises.
 */
#ifndef MX_TOOLS_CSV_H
#define MX_TOOLS_CSV_H

#include "metaextract.h"

struct csv_writer;

/*
 * Creates a writer on fd and writes the header row. Returns 0 and stores
 * the writer in *out, or a negative errno: -ENOMEM, or the error of the
 * failed write.
 */
int csv_open(int fd, struct csv_writer **out);

/*
 * Writes one record as one row with a single write(2), so that a crash
 * later in the run loses no finished row. Returns 0, the positive errno
 * of the failed write, or ENOMEM.
 */
int csv_write(struct csv_writer *w, const struct mx_record *rec);

/* Frees the writer but does not close its fd. w may be NULL. */
void csv_close(struct csv_writer *w);

#endif
