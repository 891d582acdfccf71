/*
 * CSV output of records, in the format of RFC 4180.
 *
 * Rows end with CRLF, as RFC 4180 specifies. Python's csv module writes
 * CRLF by default (its excel dialect) and its reader accepts CRLF and LF
 * alike. Excel writes its own CSV files with CRLF, so spreadsheet programs
 * that read those read these too. A reader still has to honour quotes,
 * because a quoted field may contain CR and LF of its own. Python's reader
 * needs the file opened with newline='' for that.
 *
 * A field containing a comma, a double quote, CR or LF is enclosed in
 * double quotes, with each inner double quote doubled. Every field is
 * valid UTF-8. Each byte of a string that does not start a valid UTF-8
 * sequence becomes U+FFFD, as in the record's JSON, so a path that is not
 * valid UTF-8 needs its path_b64 column for the exact bytes. The file has
 * no byte order mark, because readers that do not strip one (Python's
 * "utf-8" codec) would make it part of the first column name.
 *
 * A missing value, a JSON null, a non-finite double and an empty string
 * all give an empty field. Integers are printed exactly, doubles with the
 * fewest digits (15 to 17) that read back to the same value, booleans as
 * true and false.
 *
 * NOTE: fields are written as they are. A spreadsheet may evaluate a file
 * name that starts with '=', '+', '-' or '@' as a formula.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "text.h"

struct csv_column {
	const char *name;
	const char *pointer;	/* JSON pointer into the record */
};

static const struct csv_column columns[] = {
	{"path", "/path"},
	{"path_b64", "/path_b64"},
	{"status", "/status"},
	{"kind", "/kind"},
	{"size", "/size"},
	{"allocated", "/allocated"},
	{"mtime", "/mtime"},
	{"inode", "/inode"},
	{"dev", "/dev"},
	{"mode", "/mode"},
	{"uid", "/uid"},
	{"gid", "/gid"},
	{"mime", "/type/mime"},
	{"description", "/type/description"},
	{"xxh3", "/digests/xxh3"},
	{"xxh128", "/digests/xxh128"},
	{"xxh64", "/digests/xxh64"},
	{"md5", "/digests/md5"},
	{"sha1", "/digests/sha1"},
	{"sha256", "/digests/sha256"},
	{"sha512", "/digests/sha512"},
	{"format_name", "/media/format_name"},
	{"duration", "/media/duration"},
	{"bit_rate", "/media/bit_rate"},
	{"nb_streams", "/media/nb_streams"},
	{"hdf5_objects", "/hdf5/objects_listed"},
	{"error_stage", "/error/stage"},
	{"error_errno", "/error/errno"},
	{"error_message", "/error/message"},
	{"skipped", "/skipped"},
};

#define COLUMN_COUNT (sizeof(columns) / sizeof(columns[0]))

/*
 * The row being built. The buffer is kept between rows, so it grows to
 * the longest row and is then reused. failed is set by the first failed
 * allocation, and later appends do nothing.
 */
struct csv_writer {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	bool failed;
};

static const char replacement_char[] = "\xef\xbf\xbd";	/* U+FFFD */

static bool reserve(struct csv_writer *w, size_t extra)
{
	size_t cap = w->cap ? w->cap : 1024;
	char *buf;

	if (w->failed)
		return false;
	if (extra <= w->cap - w->len)
		return true;
	while (cap - w->len < extra) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	buf = realloc(w->buf, cap);
	if (!buf)
		goto fail;
	w->buf = buf;
	w->cap = cap;
	return true;

fail:
	w->failed = true;
	return false;
}

static void append(struct csv_writer *w, const void *data, size_t len)
{
	if (!reserve(w, len))
		return;
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

static void append_char(struct csv_writer *w, char c)
{
	append(w, &c, 1);
}

static bool needs_quotes(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	}
	return false;
}

/* Appends a string field: quoted where needed and repaired to UTF-8. */
static void append_string(struct csv_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const bool quoted = needs_quotes(s, len);
	size_t i = 0;

	if (quoted)
		append_char(w, '"');
	while (i < len) {
		size_t n = text_utf8_sequence(p + i, len - i);

		if (n == 0) {
			append(w, replacement_char, 3);
			i++;
		} else if (p[i] == '"') {
			append(w, "\"\"", 2);
			i++;
		} else {
			append(w, p + i, n);
			i += n;
		}
	}
	if (quoted)
		append_char(w, '"');
}

static void append_double(struct csv_writer *w, double d)
{
	char text[32];
	int precision;

	if (!isfinite(d))
		return;
	for (precision = 15; precision < 17; precision++) {
		snprintf(text, sizeof(text), "%.*g", precision, d);
		if (strtod(text, NULL) == d)
			break;
	}
	if (precision == 17)
		snprintf(text, sizeof(text), "%.17g", d);
	append(w, text, strlen(text));
}

/*
 * Appends the field for v. A missing value (NULL), null, an array and an
 * object give an empty field.
 */
static void append_value(struct csv_writer *w, const struct mx_value *v)
{
	char text[24];
	const char *s;
	size_t len;

	switch (v ? mx_value_type(v) : MX_NULL) {
	case MX_BOOL:
		s = mx_value_bool(v) ? "true" : "false";
		append(w, s, strlen(s));
		break;
	case MX_INT:
		snprintf(text, sizeof(text), "%" PRId64, mx_value_int(v));
		append(w, text, strlen(text));
		break;
	case MX_DOUBLE:
		append_double(w, mx_value_double(v));
		break;
	case MX_STRING:
		s = mx_value_string(v, &len);
		append_string(w, s, len);
		break;
	case MX_NULL:
	case MX_ARRAY:
	case MX_OBJECT:
		break;
	}
}

/*
 * Writes the whole buffer. write(2) is called again only for the rest
 * after a short write (to a pipe, or on a full disk) or after EINTR.
 */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int csv_open(int fd, struct csv_writer **out)
{
	struct csv_writer *w = calloc(1, sizeof(*w));
	size_t i;
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = fd;

	for (i = 0; i < COLUMN_COUNT; i++) {
		if (i > 0)
			append_char(w, ',');
		append(w, columns[i].name, strlen(columns[i].name));
	}
	append(w, "\r\n", 2);
	err = w->failed ? ENOMEM : write_all(fd, w->buf, w->len);
	if (err) {
		csv_close(w);
		return -err;
	}

	*out = w;
	return 0;
}

int csv_write(struct csv_writer *w, const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	size_t i;

	w->len = 0;
	w->failed = false;
	for (i = 0; i < COLUMN_COUNT; i++) {
		if (i > 0)
			append_char(w, ',');
		append_value(w, mx_value_get(root, columns[i].pointer));
	}
	append(w, "\r\n", 2);
	if (w->failed)
		return ENOMEM;

	return write_all(w->fd, w->buf, w->len);
}

void csv_close(struct csv_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}
