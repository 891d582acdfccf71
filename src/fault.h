/*
 * Fault injection for tests, in builds with -Dtesting=true only. The
 * MX_FAULT environment variable lists faults, separated by commas:
 *   read_error=N   the Nth content read of the process fails with EIO
 *   again_reads=N  the first N content reads fail with EAGAIN
 *   short_reads    every content read returns at most half its bytes
 *   delay_us=N     each read completion is handled N microseconds late
 * Release builds compile none of it.
 */
#ifndef MX_FAULT_H
#define MX_FAULT_H

#ifdef MX_TESTING
/* Returns the result a content read completion is handled with. */
int fault_read(int res);
#else
static inline int fault_read(int res)
{
	return res;
}
#endif

#endif
