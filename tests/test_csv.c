/*
 * The CSV writer of the command (tools/csv.c), fed with records that the
 * library makes from the fixtures and from files with awkward names made
 * here. The output is read back with a strict RFC 4180 parser written
 * below, and by Python's csv module where /usr/bin/python3 exists.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "metaextract.h"
#include "support.h"

#define PYTHON "/usr/bin/python3"

/* The expected columns, written out here rather than taken from csv.c. */
static const struct {
	const char *name;
	const char *pointer;
} columns[] = {
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

#define COLUMN_COUNT ARRAY_SIZE(columns)

static const char header[] =
	"path,path_b64,status,kind,size,allocated,mtime,inode,dev,mode,uid,"
	"gid,mime,description,xxh3,xxh128,xxh64,md5,sha1,sha256,sha512,"
	"format_name,duration,bit_rate,nb_streams,hdf5_objects,error_stage,"
	"error_errno,error_message,skipped\r\n";

/* Column indexes, in the order of columns[]. */
enum {
	COL_PATH,
	COL_PATH_B64,
	COL_STATUS,
	COL_KIND,
	COL_SIZE,
	COL_ALLOCATED,
	COL_MTIME,
	COL_INODE,
	COL_DEV,
	COL_MODE,
	COL_UID,
	COL_GID,
	COL_MIME,
	COL_DESCRIPTION,
	COL_XXH3,
	COL_XXH128,
	COL_XXH64,
	COL_MD5,
	COL_SHA1,
	COL_SHA256,
	COL_SHA512,
	COL_FORMAT_NAME,
	COL_DURATION,
	COL_BIT_RATE,
	COL_NB_STREAMS,
	COL_HDF5_OBJECTS,
	COL_ERROR_STAGE,
	COL_ERROR_ERRNO,
	COL_ERROR_MESSAGE,
	COL_SKIPPED,
	COL_END,
};

_Static_assert(COL_END == COLUMN_COUNT, "one COL_ constant per column");

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mx-csv-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static void remove_dir(void)
{
	int ret = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

	cr_assert_eq(ret, 0, "removing %s failed: %s", dir, strerror(errno));
}

TestSuite(csv, .init = make_dir, .fini = remove_dir, .timeout = 120);

/* Strict RFC 4180 parser. */

struct field {
	char *text;	/* NUL-terminated copy; len counts embedded NULs */
	size_t len;
};

struct row {
	struct field *fields;
	size_t count;
};

struct table {
	struct row *rows;
	size_t count;
};

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	cr_assert_not_null(p, "realloc(%zu) failed", size);
	return p;
}

static void add_field(struct row *row, const char *text, size_t len)
{
	struct field *f;

	row->fields = xrealloc(row->fields,
			       (row->count + 1) * sizeof(*row->fields));
	f = &row->fields[row->count++];
	f->text = xrealloc(NULL, len + 1);
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
}

/*
 * Parses a quoted field starting at the opening quote s[*pos] into out,
 * and moves *pos past the closing quote. Fails on a quote that is neither
 * doubled nor closing, and on a missing closing quote.
 */
static size_t parse_quoted(const char *s, size_t len, size_t *pos,
			   char *out)
{
	size_t i = *pos + 1, n = 0;

	for (;;) {
		cr_assert_lt(i, len, "CSV offset %zu: quoted field that "
			     "starts at %zu has no closing quote", i, *pos);
		if (s[i] != '"') {
			out[n++] = s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '"') {
			out[n++] = '"';
			i += 2;
			continue;
		}
		*pos = i + 1;
		return n;
	}
}

/*
 * Parses s as CSV: every row ends with CRLF, a quoted field is followed
 * by a comma or CRLF, and an unquoted field contains no quote, CR or LF.
 * Any other input fails the test with the offset.
 */
static struct table parse_csv(const char *s, size_t len)
{
	struct table t = {0};
	char *scratch = xrealloc(NULL, len + 1);
	size_t pos = 0;

	while (pos < len) {
		struct row row = {0};

		for (;;) {
			size_t n = 0;

			if (s[pos] == '"') {
				n = parse_quoted(s, len, &pos, scratch);
			} else {
				while (pos < len && s[pos] != ',' &&
				       s[pos] != '\r' && s[pos] != '\n') {
					cr_assert_neq(s[pos], '"',
						"CSV offset %zu: quote inside "
						"an unquoted field", pos);
					scratch[n++] = s[pos++];
				}
			}
			add_field(&row, scratch, n);
			cr_assert_lt(pos, len, "CSV offset %zu: the last row "
				     "does not end with CRLF", pos);
			if (s[pos] == ',') {
				pos++;
				continue;
			}
			cr_assert(pos + 1 < len && s[pos] == '\r' &&
				  s[pos + 1] == '\n', "CSV offset %zu: "
				  "expected a comma or CRLF after a field, "
				  "got 0x%02x", pos, (unsigned char)s[pos]);
			pos += 2;
			break;
		}
		t.rows = xrealloc(t.rows, (t.count + 1) * sizeof(*t.rows));
		t.rows[t.count++] = row;
	}
	free(scratch);
	return t;
}

static void free_table(struct table *t)
{
	size_t r, f;

	for (r = 0; r < t->count; r++) {
		for (f = 0; f < t->rows[r].count; f++)
			free(t->rows[r].fields[f].text);
		free(t->rows[r].fields);
	}
	free(t->rows);
}

/*
 * Returns whether s is well-formed UTF-8: each code point is decoded and
 * checked against its shortest encoding, the surrogates and U+10FFFF.
 */
static bool is_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
		size_t n, k;
		uint32_t cp;

		if (p[i] < 0x80) {
			n = 1;
			cp = p[i];
		} else if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* Helpers. */

static char *path_in(const char *name)
{
	static char buf[4][4200];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t len = strlen(data);

	cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s: %s", path,
		     strerror(errno));
	close(fd);
}

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0, "fstat %s: %s", path, strerror(errno));
	data = xrealloc(NULL, (size_t)st.st_size + 1);
	cr_assert_eq(read(fd, data, (size_t)st.st_size), st.st_size,
		     "read %s: short read", path);
	close(fd);
	data[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return data;
}

static struct mx_config config_all(void)
{
	struct mx_config cfg;

	mx_config_init(&cfg);
	cfg.threads = 1;
	cfg.digests = MX_DIGEST_ALL;
	cfg.identify = true;
	cfg.parse = true;
	return cfg;
}

/* Writes recs through a CSV writer to the file csv_path. */
static void write_csv(const char *csv_path, struct mx_record **recs,
		      size_t count)
{
	struct csv_writer *w;
	size_t i;
	int fd = open(csv_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret;

	cr_assert_geq(fd, 0, "create %s: %s", csv_path, strerror(errno));
	ret = csv_open(fd, &w);
	cr_assert_eq(ret, 0, "csv_open: expected 0, got %d (%s)", ret,
		     strerror(-ret));
	for (i = 0; i < count; i++) {
		ret = csv_write(w, recs[i]);
		cr_assert_eq(ret, 0, "csv_write of record %zu: expected 0, "
			     "got %d (%s)", i, ret, strerror(ret));
	}
	csv_close(w);
	close(fd);
}

/*
 * Parses csv_path and checks that it is valid UTF-8, starts with the
 * header and has one row of COLUMN_COUNT fields per record.
 */
static struct table read_csv(const char *csv_path, size_t records)
{
	struct table t;
	size_t len, r;
	char *data = read_all(csv_path, &len);

	cr_assert(is_utf8(data, len), "%s is not valid UTF-8", csv_path);
	cr_assert_eq(strncmp(data, header, strlen(header)), 0,
		     "CSV header: expected \"%s\", got \"%.*s\"", header,
		     (int)strlen(header), data);
	t = parse_csv(data, len);
	free(data);

	cr_assert_eq(t.count, records + 1, "CSV rows: expected %zu (header "
		     "and %zu records), got %zu", records + 1, records,
		     t.count);
	for (r = 0; r < t.count; r++) {
		cr_assert_eq(t.rows[r].count, COLUMN_COUNT, "CSV row %zu: "
			     "expected %zu fields, got %zu", r, COLUMN_COUNT,
			     t.rows[r].count);
	}
	return t;
}

/* Asserts that column col of row is exactly expected (len bytes). */
static void expect_field_bytes(const struct row *row, size_t col,
			       const char *expected, size_t len)
{
	const struct field *f = &row->fields[col];

	cr_assert(f->len == len && memcmp(f->text, expected, len) == 0,
		  "%s: column %s: expected \"%.*s\" (%zu bytes), got "
		  "\"%s\" (%zu bytes)", support_context(), columns[col].name,
		  (int)len, expected, len, f->text, f->len);
}

static void expect_field(const struct row *row, size_t col,
			 const char *expected)
{
	expect_field_bytes(row, col, expected, strlen(expected));
}

/*
 * Checks every field of row against the value that the record contains at
 * the column's pointer. The record's strings must be valid UTF-8 here:
 * repaired strings are checked with literal values instead.
 */
static void expect_row_matches(const struct row *row,
			       const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	size_t col;

	for (col = 0; col < COLUMN_COUNT; col++) {
		const struct mx_value *v = mx_value_get(root,
							columns[col].pointer);
		const char *field = row->fields[col].text;
		char text[32];
		const char *s;
		size_t len;

		switch (v ? mx_value_type(v) : MX_NULL) {
		case MX_STRING:
			s = mx_value_string(v, &len);
			cr_assert(is_utf8(s, len), "%s: %s is not UTF-8",
				  support_context(), columns[col].pointer);
			expect_field_bytes(row, col, s, len);
			break;
		case MX_INT:
			snprintf(text, sizeof(text), "%" PRId64,
				 mx_value_int(v));
			expect_field(row, col, text);
			break;
		case MX_DOUBLE:
			cr_assert_eq(strtod(field, NULL), mx_value_double(v),
				     "%s: column %s: \"%s\" reads back as "
				     "%.17g, the record has %.17g",
				     support_context(), columns[col].name,
				     field, strtod(field, NULL),
				     mx_value_double(v));
			break;
		case MX_BOOL:
			expect_field(row, col,
				     mx_value_bool(v) ? "true" : "false");
			break;
		default:
			expect_field(row, col, "");
			break;
		}
	}
}

/* Decodes standard base64 (with padding) into out and returns its length. */
static size_t base64_decode(const char *s, unsigned char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	uint32_t bits = 0;
	size_t n = 0;
	int count = 0;

	for (; *s && *s != '='; s++) {
		const char *c = strchr(alphabet, *s);

		cr_assert(c && *c, "invalid base64 character '%c'", *s);
		bits = bits << 6 | (uint32_t)(c - alphabet);
		count += 6;
		if (count >= 8) {
			count -= 8;
			out[n++] = (unsigned char)(bits >> count);
		}
	}
	return n;
}

/* Tests. */

Test(csv, header_row_only)
{
	const char *csv_path = path_in("out.csv");
	size_t len;
	char *data;

	write_csv(csv_path, NULL, 0);
	data = read_all(csv_path, &len);
	cr_assert_str_eq(data, header, "CSV of no records: expected \"%s\", "
			 "got \"%s\"", header, data);
	free(data);
}

static const char *const fixtures[] = {
	"gen_tone.wav",
	"gen_tone.mp3",
	"gen_tone.flac",
	"gen_chapters.mkv",
	"gen_faststart.mp4",
	"gen_truncated.mp4",
	"gen_types.h5",
	"gen_truncated.h5",
	"gen_notes.txt",
	"exiftool_QuickTime.mov",
	"mutagen_truncated-64bit.mp4",
	"libarchive_test_compat_gtar_1.tar",
};

#define FIXTURE_COUNT ARRAY_SIZE(fixtures)

Test(csv, fixture_rows_match_records)
{
	const struct mx_config cfg = config_all();
	const char *csv_path = path_in("out.csv");
	struct mx_record *recs[FIXTURE_COUNT];
	struct table t;
	size_t i;

	for (i = 0; i < FIXTURE_COUNT; i++)
		recs[i] = extract_fixture_config(&cfg, fixtures[i]);
	write_csv(csv_path, recs, FIXTURE_COUNT);
	t = read_csv(csv_path, FIXTURE_COUNT);

	for (i = 0; i < FIXTURE_COUNT; i++) {
		support_set_context("%s (CSV row %zu)", fixtures[i], i + 1);
		expect_row_matches(&t.rows[i + 1], recs[i]);
		mx_record_free(recs[i]);
	}
	free_table(&t);
}

Test(csv, fixture_fields_exact)
{
	const struct mx_config cfg = config_all();
	const char *csv_path = path_in("out.csv");
	struct mx_record *recs[4];
	const struct row *row;
	struct table t;
	size_t i;

	recs[0] = extract_fixture_config(&cfg, "gen_tone.wav");
	recs[1] = extract_fixture_config(&cfg, "gen_tone.mp3");
	recs[2] = extract_fixture_config(&cfg, "gen_types.h5");
	recs[3] = extract_fixture_config(&cfg, "gen_truncated.mp4");
	write_csv(csv_path, recs, 4);
	t = read_csv(csv_path, 4);

	support_set_context("gen_tone.wav");
	row = &t.rows[1];
	expect_field(row, COL_PATH_B64, "");
	expect_field(row, COL_STATUS, "ok");
	expect_field(row, COL_KIND, "file");
	expect_field(row, COL_SIZE, "8044");
	expect_field(row, COL_SHA256, "a8ef0d52bc40e92a628ef2a8ecf98e06"
		     "8859adcd02587a763a9cab511a1a3d75");
	expect_field(row, COL_FORMAT_NAME, "wav");
	expect_field(row, COL_DURATION, "0.5");
	expect_field(row, COL_BIT_RATE, "128704");
	expect_field(row, COL_NB_STREAMS, "1");
	expect_field(row, COL_HDF5_OBJECTS, "");
	expect_field(row, COL_ERROR_STAGE, "");
	expect_field(row, COL_ERROR_ERRNO, "");
	expect_field(row, COL_ERROR_MESSAGE, "");
	expect_field(row, COL_SKIPPED, "");

	support_set_context("gen_tone.mp3");
	row = &t.rows[2];
	expect_field(row, COL_DURATION, "0.574694");
	expect_field(row, COL_DESCRIPTION, "Audio file with ID3 version 2.4.0, "
		     "contains:\\012- MPEG ADTS, layer III, v2,  56 kbps, "
		     "22.05 kHz, Monaural");

	support_set_context("gen_types.h5");
	row = &t.rows[3];
	expect_field(row, COL_HDF5_OBJECTS, "7");
	expect_field(row, COL_FORMAT_NAME, "");
	expect_field(row, COL_DURATION, "");

	support_set_context("gen_truncated.mp4");
	row = &t.rows[4];
	expect_field(row, COL_STATUS, "error");
	expect_field(row, COL_ERROR_STAGE, "parse");
	expect_field(row, COL_ERROR_ERRNO, "ENODATA");
	expect_field(row, COL_ERROR_MESSAGE, "media parser: media data runs "
		     "past the end of the file: the last sample ends at byte "
		     "9754, file has 5712 bytes");
	expect_field(row, COL_FORMAT_NAME, "mov,mp4,m4a,3gp,3g2,mj2");

	for (i = 0; i < 4; i++)
		mx_record_free(recs[i]);
	free_table(&t);
}

/*
 * A file name in the temporary directory and the path column expected
 * for it: the same bytes when the name is valid UTF-8, else each invalid
 * byte replaced with U+FFFD (EF BF BD).
 */
struct name_case {
	const char *name;
	const char *expected;
	bool valid;
};

static const struct name_case name_cases[] = {
	{"plain.txt", "plain.txt", true},
	{"comma,name", "comma,name", true},
	{"quote\"in\"name", "quote\"in\"name", true},
	{"\"", "\"", true},
	{"new\nline", "new\nline", true},
	{"carriage\rreturn", "carriage\rreturn", true},
	{"crlf\r\nend\r\n", "crlf\r\nend\r\n", true},
	{"all ,\"\r\n\"\",", "all ,\"\r\n\"\",", true},
	{"caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80", "caf\xc3\xa9 "
	 "\xe6\x97\xa5\xf0\x9f\x98\x80", true},
	{"bad\xff\xfe", "bad\xef\xbf\xbd\xef\xbf\xbd", false},
	{"lone\x80" "cont", "lone\xef\xbf\xbd" "cont", false},
	{"overlong\xc0\xaf", "overlong\xef\xbf\xbd\xef\xbf\xbd", false},
	{"surrogate\xed\xa0\x80", "surrogate\xef\xbf\xbd\xef\xbf\xbd"
	 "\xef\xbf\xbd", false},
	{"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd", false},
	{"above\xf4\x90\x80\x80", "above\xef\xbf\xbd\xef\xbf\xbd"
	 "\xef\xbf\xbd\xef\xbf\xbd", false},
	{"mixed,\"\n\xc3(\r", "mixed,\"\n\xef\xbf\xbd(\r", false},
};

#define NAME_COUNT ARRAY_SIZE(name_cases)

/* Creates every file of name_cases and stores their records in recs. */
static void extract_names(struct mx_record **recs)
{
	const struct mx_config cfg = config_all();
	size_t i;

	for (i = 0; i < NAME_COUNT; i++) {
		const char *path = path_in(name_cases[i].name);

		write_file(path, name_cases[i].name);
		recs[i] = extract(&cfg, path);
	}
}

Test(csv, awkward_names_round_trip)
{
	const char *csv_path = path_in("out.csv");
	struct mx_record *recs[NAME_COUNT];
	struct table t;
	size_t i;

	extract_names(recs);
	write_csv(csv_path, recs, NAME_COUNT);
	t = read_csv(csv_path, NAME_COUNT);

	for (i = 0; i < NAME_COUNT; i++) {
		const struct name_case *c = &name_cases[i];
		const struct row *row = &t.rows[i + 1];
		const char *raw = path_in(c->name);
		unsigned char decoded[512];
		size_t len;

		support_set_context("file name case %zu", i);
		expect_field(row, COL_PATH, path_in(c->expected));
		expect_field(row, COL_STATUS, "ok");
		if (c->valid) {
			expect_field(row, COL_PATH_B64, "");
			expect_row_matches(row, recs[i]);
		} else {
			cr_assert_lt(row->fields[COL_PATH_B64].len,
				     sizeof(decoded) / 4 * 3,
				     "case %zu: path_b64 too long", i);
			len = base64_decode(row->fields[COL_PATH_B64].text,
					    decoded);
			cr_assert(len == strlen(raw) &&
				  memcmp(decoded, raw, len) == 0,
				  "case %zu: path_b64 does not decode to the "
				  "path's bytes", i);
			expect_string(mx_record_root(recs[i]), "/path_b64",
				      row->fields[COL_PATH_B64].text);
		}
		mx_record_free(recs[i]);
	}
	free_table(&t);
}

/*
 * A path of more than 3000 bytes, three quarters of them quotes, whose
 * field outgrows the writer's first buffer several times.
 */
Test(csv, long_quoted_path)
{
	const struct mx_config cfg = config_all();
	const char *csv_path = path_in("out.csv");
	char path[4096], part[201];
	struct mx_record *rec;
	struct table t;
	int level;

	memset(part, '"', 200);
	part[200] = '\0';
	memset(part + 100, ',', 50);
	snprintf(path, sizeof(path), "%s", dir);
	for (level = 0; level < 15; level++) {
		strcat(path, "/");
		strcat(path, part);
		cr_assert_eq(mkdir(path, 0755), 0, "mkdir at level %d: %s",
			     level, strerror(errno));
	}
	strcat(path, "/f");
	write_file(path, "x");
	rec = extract(&cfg, path);
	write_csv(csv_path, &rec, 1);
	t = read_csv(csv_path, 1);

	support_set_context("path of %zu bytes", strlen(path));
	expect_field(&t.rows[1], COL_PATH, path);
	expect_row_matches(&t.rows[1], rec);
	mx_record_free(rec);
	free_table(&t);
}

Test(csv, skipped_and_failed_records)
{
	const struct mx_config cfg = config_all();
	const char *csv_path = path_in("out.csv");
	const char *fifo = path_in("fifo");
	struct mx_record *recs[2];
	struct table t;

	cr_assert_eq(mkfifo(fifo, 0644), 0, "mkfifo: %s", strerror(errno));
	recs[0] = extract(&cfg, fifo);
	recs[1] = extract(&cfg, path_in("missing"));
	write_csv(csv_path, recs, 2);
	t = read_csv(csv_path, 2);

	support_set_context("fifo");
	expect_row_matches(&t.rows[1], recs[0]);
	expect_field(&t.rows[1], COL_STATUS, "skipped");
	expect_field(&t.rows[1], COL_KIND, "fifo");
	expect_field(&t.rows[1], COL_SKIPPED, "not a regular file");
	expect_field(&t.rows[1], COL_SHA256, "");

	support_set_context("missing file");
	expect_row_matches(&t.rows[2], recs[1]);
	expect_field(&t.rows[2], COL_STATUS, "error");
	expect_field(&t.rows[2], COL_ERROR_ERRNO, "ENOENT");
	expect_field(&t.rows[2], COL_SIZE, "");
	expect_field(&t.rows[2], COL_SKIPPED, "");

	mx_record_free(recs[0]);
	mx_record_free(recs[1]);
	free_table(&t);
}

Test(csv, write_errors_returned)
{
	struct mx_record *rec = extract_fixture("gen_notes.txt");
	struct csv_writer *w = (struct csv_writer *)1;
	int fd = open("/dev/full", O_WRONLY);
	int pipe_fds[2];
	int ret;

	cr_assert_geq(fd, 0, "open /dev/full: %s", strerror(errno));
	ret = csv_open(fd, &w);
	cr_assert_eq(ret, -ENOSPC, "csv_open on /dev/full: expected %d "
		     "(-ENOSPC), got %d", -ENOSPC, ret);
	cr_assert_null(w, "csv_open on /dev/full: expected no writer");
	close(fd);

	/* A reader that goes away after the header. */
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(pipe(pipe_fds), 0, "pipe: %s", strerror(errno));
	ret = csv_open(pipe_fds[1], &w);
	cr_assert_eq(ret, 0, "csv_open on a pipe: expected 0, got %d", ret);
	close(pipe_fds[0]);
	ret = csv_write(w, rec);
	cr_assert_eq(ret, EPIPE, "csv_write to a closed pipe: expected %d "
		     "(EPIPE), got %d", EPIPE, ret);
	csv_close(w);
	close(pipe_fds[1]);
	mx_record_free(rec);
}

/*
 * Python's csv module must read the same rows: the script prints the
 * number of fields and the hex of the path of each row.
 */
static const char python_script[] =
	"import csv, sys\n"
	"with open(sys.argv[1], newline='', encoding='utf-8',\n"
	"          errors='strict') as f:\n"
	"    for row in csv.reader(f, strict=True):\n"
	"        print(len(row), row[0].encode('utf-8').hex())\n";

Test(csv, python_reads_same_paths)
{
	const char *csv_path = path_in("out.csv");
	const char *script = path_in("read.py");
	struct mx_record *recs[NAME_COUNT];
	char command[256], line[8192], expected[8192];
	struct table t;
	size_t r, k;
	FILE *p;

	if (access(PYTHON, X_OK) != 0)
		cr_skip_test(PYTHON " is missing");
	extract_names(recs);
	write_csv(csv_path, recs, NAME_COUNT);
	for (r = 0; r < NAME_COUNT; r++)
		mx_record_free(recs[r]);
	t = read_csv(csv_path, NAME_COUNT);
	write_file(script, python_script);

	snprintf(command, sizeof(command), PYTHON " '%s' '%s'", script,
		 csv_path);
	p = popen(command, "r");
	cr_assert_not_null(p, "popen(%s): %s", command, strerror(errno));
	for (r = 0; r < t.count; r++) {
		const struct field *f = &t.rows[r].fields[COL_PATH];
		int n = snprintf(expected, sizeof(expected), "%zu ",
				 t.rows[r].count);

		for (k = 0; k < f->len; k++)
			n += snprintf(expected + n, sizeof(expected) - n,
				      "%02x", (unsigned char)f->text[k]);
		cr_assert_not_null(fgets(line, sizeof(line), p), "Python "
				   "output ends before row %zu", r);
		line[strcspn(line, "\n")] = '\0';
		cr_assert_str_eq(line, expected, "row %zu: Python read "
				 "\"%s\", the C parser \"%s\"", r, line,
				 expected);
	}
	cr_assert_null(fgets(line, sizeof(line), p), "Python read an extra "
		       "row: \"%s\"", line);
	cr_assert_eq(pclose(p), 0, "%s failed", command);
	free_table(&t);
}
