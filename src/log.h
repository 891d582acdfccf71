/* Library logging through the callback set with mx_set_log(). */
#ifndef MX_LOG_H
#define MX_LOG_H

#include "metaextract.h"

extern enum mx_log_level log_level;
extern mx_log_fn log_fn;

void log_message(enum mx_log_level level, const char *subsystem,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Tests the level before any argument is formatted. */
#define mx_log(level, subsystem, ...)					\
	do {								\
		if (log_fn && (level) <= log_level)			\
			log_message(level, subsystem, __VA_ARGS__);	\
	} while (0)

#endif
