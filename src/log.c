#include <stdarg.h>
#include <stdio.h>

#include "log.h"

enum mx_log_level log_level = MX_LOG_ERROR;
mx_log_fn log_fn;
static void *log_arg;

void mx_set_log(mx_log_fn fn, void *arg, enum mx_log_level level)
{
	log_fn = fn;
	log_arg = arg;
	log_level = level;
}

void log_message(enum mx_log_level level, const char *subsystem,
		 const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_fn)
		log_fn(level, subsystem, buf, log_arg);
}
