#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "alloc.h"
#include "record.h"
#include "strbuf.h"

static const char *const stage_names[] = {
	[STAGE_WALK] = "walk",
	[STAGE_OPEN] = "open",
	[STAGE_STAT] = "stat",
	[STAGE_READ] = "read",
	[STAGE_PARSE] = "parse",
	[STAGE_RECORD] = "record",
};

static void put_base64(struct mx_record *rec, const char *key,
		       const unsigned char *s, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = arena_alloc(&rec->arena, (len + 2) / 3 * 4 + 1);
	size_t i, n = 0;

	if (!out)
		return;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = s[i] << 16 | s[i + 1] << 8 | s[i + 2];

		out[n++] = tab[v >> 18];
		out[n++] = tab[(v >> 12) & 63];
		out[n++] = tab[(v >> 6) & 63];
		out[n++] = tab[v & 63];
	}
	if (i < len) {
		unsigned v = s[i] << 16 | (i + 1 < len ? s[i + 1] << 8 : 0);

		out[n++] = tab[v >> 18];
		out[n++] = tab[(v >> 12) & 63];
		out[n++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[n++] = '=';
	}
	val_put(&rec->arena, rec->root, key, val_string(&rec->arena, out, n));
}

struct mx_record *record_new(const char *path)
{
	struct mx_record *rec = alloc_calloc(1, sizeof(*rec));
	struct arena *a;
	size_t len = strlen(path);

	if (!rec)
		return NULL;
	a = &rec->arena;
	arena_init(a, RECORD_MAX_BYTES);
	rec->root = val_object(a);
	rec->path = arena_strndup(a, path, len);
	val_put(a, rec->root, "path", val_string(a, path, len));
	/* JSON cannot hold arbitrary bytes: keep the exact name in base64. */
	if (!utf8_valid(path, len))
		put_base64(rec, "path_b64", (const unsigned char *)path, len);
	rec->status = val_put_cstring(a, rec->root, "status", "ok");
	rec->state = MX_STATUS_OK;
	if (a->failed) {
		arena_free(a);
		alloc_free(rec);
		return NULL;
	}
	return rec;
}

const char *record_kind_name(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char_device";
	case S_IFBLK: return "block_device";
	default: return "unknown";
	}
}

/* Writes the 12 permission bits as 4 octal digits and a NUL. */
static void put_digits_octal(char *out, unsigned mode)
{
	int i;

	for (i = 3; i >= 0; i--) {
		out[i] = (char)('0' + (mode & 7));
		mode >>= 3;
	}
	out[4] = '\0';
}

/* Writes v as exactly n decimal digits at p; returns the end. */
static char *put_digits(char *p, unsigned v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/*
 * Adds a timestamp in RFC 3339 form with nanoseconds. Years 0 to 9999 are
 * written digit by digit, three per record being worth avoiding printf.
 */
static void put_time(struct arena *a, struct mx_value *obj, const char *key,
		     const struct statx_timestamp *ts)
{
	time_t secs = (time_t)ts->tv_sec;
	unsigned year;
	struct tm tm;
	char buf[64], *p = buf;

	if (!gmtime_r(&secs, &tm))
		return;
	year = (unsigned)tm.tm_year + 1900;
	if (tm.tm_year < -1900 || year > 9999 || ts->tv_nsec >= 1000000000u) {
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
		val_put_cstring(a, obj, key, buf);
		return;
	}
	p = put_digits(p, year, 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, ts->tv_nsec, 9);
	*p++ = 'Z';
	*p = '\0';
	val_put_cstring(a, obj, key, buf);
}

void record_put_identity(struct mx_record *rec, const struct statx *stx)
{
	struct arena *a = &rec->arena;
	struct mx_value *o = rec->root;
	char mode[8];

	put_digits_octal(mode, stx->stx_mode & 07777);
	val_put_cstring(a, o, "kind", record_kind_name(stx->stx_mode));
	val_put_int(a, o, "size", (int64_t)stx->stx_size);
	/* st_blocks counts 512-byte units whatever the file system's block. */
	val_put_int(a, o, "allocated", (int64_t)stx->stx_blocks * 512);
	val_put_cstring(a, o, "mode", mode);
	val_put_int(a, o, "uid", stx->stx_uid);
	val_put_int(a, o, "gid", stx->stx_gid);
	val_put_int(a, o, "nlink", stx->stx_nlink);
	val_put_int(a, o, "inode", (int64_t)stx->stx_ino);
	val_put_int(a, o, "dev", (int64_t)makedev(stx->stx_dev_major,
						  stx->stx_dev_minor));
	put_time(a, o, "mtime", &stx->stx_mtime);
	put_time(a, o, "ctime", &stx->stx_ctime);
	if (stx->stx_mask & STATX_BTIME)
		put_time(a, o, "btime", &stx->stx_btime);
}

void record_fail(struct mx_record *rec, enum record_stage stage, int err,
		 const char *fmt, ...)
{
	struct arena *a = &rec->arena;
	struct mx_value *e;
	const char *name;
	char msg[512];
	va_list ap;

	/* The first failure is the cause; later ones are consequences. */
	if (rec->state == MX_STATUS_ERROR)
		return;
	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	name = err ? strerrorname_np(err) : NULL;
	e = val_put_object(a, rec->root, "error");
	val_put_cstring(a, e, "stage", stage_names[stage]);
	val_put_cstring(a, e, "errno", name);
	val_put_cstring(a, e, "message", msg);
	rec->state = MX_STATUS_ERROR;
}

void record_skip(struct mx_record *rec, const char *reason)
{
	val_put_cstring(&rec->arena, rec->root, "skipped", reason);
	rec->state = MX_STATUS_SKIPPED;
}

static const char *status_name(enum mx_status s)
{
	switch (s) {
	case MX_STATUS_OK: return "ok";
	case MX_STATUS_ERROR: return "error";
	case MX_STATUS_SKIPPED: return "skipped";
	}
	return "error";
}

struct mx_record *record_close(struct mx_record *rec)
{
	struct mx_record *small;
	const char *name;

	if (!rec->arena.failed) {
		name = status_name(rec->state);
		rec->status->u.str.bytes = name;
		rec->status->u.str.len = strlen(name);
		return rec;
	}
	small = record_new(rec->path ? rec->path : "");
	if (small) {
		record_fail(small, STAGE_RECORD, ENOMEM,
			    "the record needs more than %u MiB of memory",
			    RECORD_MAX_BYTES >> 20);
		small = record_close(small);
	}
	mx_record_free(rec);
	return small;
}

const struct mx_value *mx_record_root(const struct mx_record *rec)
{
	return rec ? rec->root : NULL;
}

enum mx_status mx_record_status(const struct mx_record *rec)
{
	return rec ? rec->state : MX_STATUS_ERROR;
}

int mx_record_json(const struct mx_record *rec, char **json, size_t *len)
{
	return mx_value_json(rec->root, json, len);
}

int mx_value_json(const struct mx_value *v, char **json, size_t *len)
{
	struct strbuf sb;

	if (!v)
		return -EINVAL;
	strbuf_init(&sb);
	val_write_json(&sb, v);
	if (sb.failed) {
		strbuf_free(&sb);
		return -ENOMEM;
	}
	*json = strbuf_detach(&sb, len);
	return *json ? 0 : -ENOMEM;
}

_Thread_local bool record_kept;

struct mx_record *mx_record_keep(const struct mx_record *rec)
{
	record_kept = true;
	return (struct mx_record *)rec;
}

void mx_record_free(struct mx_record *rec)
{
	if (!rec)
		return;
	arena_free(&rec->arena);
	alloc_free(rec);
}

void mx_free(void *p)
{
	alloc_free(p);
}
