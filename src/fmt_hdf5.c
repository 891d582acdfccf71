/*
 * HDF5 backend: lists the groups, datasets, committed datatypes and links of
 * a file with libhdf5 1.10. All reads go through a read-only virtual file
 * driver whose read callback calls source_read(), so the library never opens
 * the file, or any other file, by itself.
 *
 * libhdf5 built thread-safe runs every API call under one global recursive
 * lock, so parses of different files take turns inside the library. Error
 * stacks, and the automatic printing of them, are per thread.
 *
 * NOTE: some malformed files still crash libhdf5 1.10.8 (object header and
 * global heap decoding) or hang it while reading a variable-length string,
 * which also blocks every other HDF5 parse. Only a separate process
 * contains that.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "alloc.h"
#include "fmt.h"

#if H5_VERS_MAJOR != 1 || H5_VERS_MINOR != 10
#error "fmt_hdf5.c needs the HDF5 1.10 API (H5FD_class_t, H5L_info_t)"
#endif

/* Bounds against hostile files. */
#define MAX_ATTRIBUTES 256	/* attributes listed per object */
#define MAX_VALUE_ELEMENTS 64	/* attribute values kept only up to this */
#define MAX_VALUE_BYTES 4096	/* ... and this size */
#define MAX_TYPE_DEPTH 16	/* nesting of compound, array, enum, vlen */
#define MAX_MEMBERS 256		/* compound and enum members listed */
#define MAX_NAME_LEN 1024	/* bytes kept of a name */
#define MAX_PATH_LEN 4096	/* bytes kept of an object path */
#define MAX_LINK_VALUE 65536	/* bytes read of a soft or external link */
#define MAX_FILTERS 32		/* filters listed per dataset */
#define MAX_CD_VALUES 32	/* client data values listed per filter */
#define MAX_RANK 32		/* H5S_MAX_RANK, also the array type limit */
#define MAX_GROUP_DEPTH 32	/* nesting of groups listed; about 3 KiB of
				   stack each with libhdf5 1.10.8 */

/* A name that no real file uses, for H5Lexists() and H5Aexists(). */
#define ABSENT_NAME "\x01metaextract absent name\x01"

/* State of one parse, shared by the file driver and the walk. */
struct reader {
	struct source *src;
	const char *name;	/* the only file name the driver opens */
	int read_error;		/* first error of source_read() */
	uint64_t error_offset;
	bool read_past_eof;	/* a read needed bytes past the end */
};

/* Driver info stored in the file access property list, copied bytewise. */
struct driver_info {
	struct reader *reader;
};

struct driver_file {
	H5FD_t pub;		/* first: HDF5 casts between the two */
	struct reader *reader;
	haddr_t eoa;
	haddr_t eof;
};

/* Innermost description from an HDF5 error stack. */
struct error_note {
	char desc[200];
	bool truncated;		/* the stack says "truncated file" */
};

/* Open-addressing set of object addresses. */
struct addr_set {
	haddr_t *slots;		/* HADDR_UNDEF marks a free slot */
	size_t cap;		/* 0 or a power of two */
	size_t count;
};

struct walk {
	struct arena *a;
	struct reader *reader;
	hid_t file;
	struct mx_value *objects;
	struct addr_set groups;		/* listed, to stop cycles */
	size_t listed;
	size_t limit;
	unsigned depth;
	unsigned max_depth;		/* cfg->max_depth */
	bool limit_reached;
	bool stop;			/* limit reached, read failed or arena
					   full: end every iteration */
	size_t path_len;
	char path[MAX_PATH_LEN + 1];	/* of the group being listed, "" for
					   the root group */
};

struct attribute_walk {
	struct walk *w;
	struct mx_value *list;
	unsigned count;
	bool truncated;
};

static const unsigned char signature[8] = {
	0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'
};

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static hid_t driver_id = H5I_INVALID_HID;	/* written once in setup() */
static int setup_status;

/* ---- Virtual file driver ---- */

static H5FD_t *driver_open(const char *name, unsigned flags, hid_t fapl,
			   haddr_t maxaddr)
{
	const struct driver_info *info;
	struct driver_file *file;
	const unsigned write_flags = H5F_ACC_RDWR | H5F_ACC_TRUNC |
				     H5F_ACC_EXCL | H5F_ACC_CREAT;

	if (flags & write_flags)
		return NULL;
	info = H5Pget_driver_info(fapl);
	if (!info || !info->reader)
		return NULL;

	/*
	 * Files named inside this one, such as virtual dataset sources, must
	 * not be opened, so reject every name but the one given.
	 */
	if (!name || strcmp(name, info->reader->name) != 0)
		return NULL;

	file = alloc_calloc(1, sizeof(*file));
	if (!file)
		return NULL;
	file->reader = info->reader;
	file->eof = source_size(info->reader->src);
	return &file->pub;
}

static herr_t driver_close(H5FD_t *pub)
{
	alloc_free(pub);
	return 0;
}

static int driver_cmp(const H5FD_t *f1, const H5FD_t *f2)
{
	const struct reader *r1 = ((const struct driver_file *)f1)->reader;
	const struct reader *r2 = ((const struct driver_file *)f2)->reader;

	if (r1 == r2)
		return 0;
	return (uintptr_t)r1 < (uintptr_t)r2 ? -1 : 1;
}

/*
 * No H5FD_FEAT_ACCUMULATE_METADATA: in libhdf5 1.10.8 the metadata
 * accumulator copies out of bounds on some damaged files (a crash in
 * H5F__accum_read seen on bit-flipped test files), and the engine's source
 * already caches small reads.
 */
static herr_t driver_query(const H5FD_t *pub, unsigned long *flags)
{
	*flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_DATA_SIEVE |
		 H5FD_FEAT_AGGREGATE_SMALLDATA;
	return 0;
}

static haddr_t driver_get_eoa(const H5FD_t *pub, H5FD_mem_t type)
{
	return ((const struct driver_file *)pub)->eoa;
}

static herr_t driver_set_eoa(H5FD_t *pub, H5FD_mem_t type, haddr_t addr)
{
	((struct driver_file *)pub)->eoa = addr;
	return 0;
}

static haddr_t driver_get_eof(const H5FD_t *pub, H5FD_mem_t type)
{
	return ((const struct driver_file *)pub)->eof;
}

/*
 * Reads below the end of the address space but past the end of the file
 * return zeros, as in the sec2 driver, and set reader->read_past_eof.
 */
static herr_t driver_read(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl,
			  haddr_t addr, size_t size, void *buf)
{
	struct driver_file *file = (struct driver_file *)pub;
	struct reader *r = file->reader;
	unsigned char *p = buf;

	if (addr == HADDR_UNDEF || addr > file->eoa || size > file->eoa - addr)
		return -1;
	while (size > 0) {
		ssize_t n = source_read(r->src, p, size, addr);

		if (n < 0) {
			if (!r->read_error) {
				r->read_error = (int)n;
				r->error_offset = addr;
			}
			return -1;
		}
		if (n == 0) {
			memset(p, 0, size);
			r->read_past_eof = true;
			break;
		}
		p += n;
		addr += (haddr_t)n;
		size -= (size_t)n;
	}
	return 0;
}

static herr_t driver_write(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl,
			   haddr_t addr, size_t size, const void *buf)
{
	return -1;
}

static const H5FD_class_t driver_class = {
	.name = "metaextract_source",
	.maxaddr = (haddr_t)INT64_MAX,
	.fc_degree = H5F_CLOSE_WEAK,
	.fapl_size = sizeof(struct driver_info),
	.open = driver_open,
	.close = driver_close,
	.cmp = driver_cmp,
	.query = driver_query,
	.get_eoa = driver_get_eoa,
	.set_eoa = driver_set_eoa,
	.get_eof = driver_get_eof,
	.read = driver_read,
	.write = driver_write,
	.fl_map = H5FD_FLMAP_DICHOTOMY,
};

static void setup(void)
{
	if (H5open() < 0) {
		setup_status = -ENOSYS;
		return;
	}
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	/*
	 * No free lists: libhdf5 1.10.8 copies unwritten buffer bytes into
	 * attribute values of some damaged files, and its free lists would
	 * hand it memory that held an earlier file's data. Through malloc,
	 * the parser worker's M_PERTURB fills such bytes with a constant.
	 */
	H5set_free_list_limits(0, 0, 0, 0, 0, 0);
	driver_id = H5FDregister(&driver_class);
	if (driver_id < 0)
		setup_status = -ENOSYS;
}

static int hdf5_init(void)
{
	pthread_once(&setup_once, setup);
	return setup_status;
}

/* ---- Errors ---- */

static herr_t note_error(unsigned n, const H5E_error2_t *err, void *data)
{
	struct error_note *note = data;

	if (!err->desc || !err->desc[0])
		return 0;
	if (!note->desc[0])
		snprintf(note->desc, sizeof(note->desc), "%s", err->desc);
	if (strncmp(err->desc, "truncated file", 14) == 0)
		note->truncated = true;
	return 0;
}

/*
 * Collects the innermost description of the calling thread's error stack
 * and clears the stack. Call right after the failed call, because every
 * other API call clears the stack on entry.
 */
static void take_error(struct error_note *note)
{
	memset(note, 0, sizeof(*note));
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, note_error, note);
	H5Eclear2(H5E_DEFAULT);
	if (!note->desc[0])
		snprintf(note->desc, sizeof(note->desc), "no detail");
}

/* Stores msg as the "error" of obj, unless it has one. */
static void put_message(struct arena *a, struct mx_value *obj,
			const char *msg)
{
	if (obj && !val_find(obj, "error"))
		val_put(a, obj, "error", val_cstring(a, msg));
}

/* Stores "call failed: detail" as the "error" of obj, unless it has one. */
static void put_error(struct arena *a, struct mx_value *obj, const char *call)
{
	struct error_note note;

	take_error(&note);
	put_message(a, obj, arena_printf(a, "%s failed: %s", call, note.desc));
}

/* ---- Small value helpers ---- */

/* Returns u as a JSON integer, or as a double when it is past INT64_MAX. */
static struct mx_value *val_u64(struct arena *a, uint64_t u)
{
	if (u > INT64_MAX)
		return val_double(a, (double)u);
	return val_int(a, (int64_t)u);
}

/* Stores s cut to max bytes under key, and flag = true when it was cut. */
static void put_bounded(struct arena *a, struct mx_value *obj,
			const char *key, const char *s, size_t max,
			const char *flag)
{
	size_t len = strnlen(s, max + 1);

	if (len > max) {
		val_put(a, obj, key, val_string(a, s, max));
		val_put_bool(a, obj, flag, true);
		return;
	}
	val_put(a, obj, key, val_string(a, s, len));
}

static struct mx_value *dims_array(struct arena *a, const hsize_t *dims,
				   int rank, bool unlimited_null)
{
	struct mx_value *arr = val_array(a);
	int i;

	for (i = 0; i < rank; i++) {
		if (unlimited_null && dims[i] == H5S_UNLIMITED)
			val_push(a, arr, val_null(a));
		else
			val_push(a, arr, val_u64(a, dims[i]));
	}
	return arr;
}

/*
 * Stores the extent of space under shape (and max_shape when not NULL):
 * [] for a scalar, null for a null dataspace. Returns the class, or
 * H5S_NO_CLASS on failure.
 */
static H5S_class_t put_extent(struct arena *a, struct mx_value *obj,
			      hid_t space, const char *shape,
			      const char *max_shape)
{
	hsize_t dims[MAX_RANK], maxdims[MAX_RANK];
	H5S_class_t cls = H5Sget_simple_extent_type(space);
	int rank = 0;

	if (cls == H5S_SIMPLE) {
		rank = H5Sget_simple_extent_ndims(space);
		if (rank < 0 || rank > MAX_RANK ||
		    H5Sget_simple_extent_dims(space, dims, maxdims) < 0)
			return H5S_NO_CLASS;
	} else if (cls != H5S_SCALAR && cls != H5S_NULL) {
		return H5S_NO_CLASS;
	}
	if (cls == H5S_NULL) {
		val_put(a, obj, shape, val_null(a));
		if (max_shape)
			val_put(a, obj, max_shape, val_null(a));
		return cls;
	}
	val_put(a, obj, shape, dims_array(a, dims, rank, false));
	if (max_shape)
		val_put(a, obj, max_shape, dims_array(a, maxdims, rank, true));
	return cls;
}

/* ---- Datatypes ---- */

static struct mx_value *describe_type(struct arena *a, hid_t type,
				      unsigned depth);

static const char *class_name(H5T_class_t cls)
{
	switch (cls) {
	case H5T_INTEGER: return "integer";
	case H5T_FLOAT: return "float";
	case H5T_TIME: return "time";
	case H5T_STRING: return "string";
	case H5T_BITFIELD: return "bitfield";
	case H5T_OPAQUE: return "opaque";
	case H5T_COMPOUND: return "compound";
	case H5T_REFERENCE: return "reference";
	case H5T_ENUM: return "enum";
	case H5T_VLEN: return "vlen";
	case H5T_ARRAY: return "array";
	default: return "unknown";
	}
}

static const char *order_name(H5T_order_t order)
{
	switch (order) {
	case H5T_ORDER_LE: return "little";
	case H5T_ORDER_BE: return "big";
	case H5T_ORDER_VAX: return "vax";
	case H5T_ORDER_MIXED: return "mixed";
	case H5T_ORDER_NONE: return "none";
	default: return "unknown";
	}
}

/* Adds order, signed and a numpy dtype string ("<i4", "|u1", ">f8"). */
static void describe_number(struct arena *a, struct mx_value *obj,
			    hid_t type, H5T_class_t cls, size_t size)
{
	H5T_order_t order = H5Tget_order(type);
	char kind = 'f';
	char byte_order;

	val_put_cstring(a, obj, "order", order_name(order));
	if (cls == H5T_INTEGER) {
		bool is_signed = H5Tget_sign(type) == H5T_SGN_2;

		val_put_bool(a, obj, "signed", is_signed);
		kind = is_signed ? 'i' : 'u';
	}
	if (order != H5T_ORDER_LE && order != H5T_ORDER_BE)
		return;
	if (size == 1)
		byte_order = '|';
	else
		byte_order = order == H5T_ORDER_LE ? '<' : '>';
	val_put(a, obj, "dtype",
		val_cstring(a, arena_printf(a, "%c%c%zu", byte_order, kind,
					    size)));
}

static void describe_string(struct arena *a, struct mx_value *obj,
			    hid_t type, size_t size)
{
	htri_t variable = H5Tis_variable_str(type);
	H5T_cset_t cset = H5Tget_cset(type);
	H5T_str_t pad = H5Tget_strpad(type);
	const char *pad_name = "unknown";

	val_put_bool(a, obj, "variable", variable > 0);
	val_put_cstring(a, obj, "charset", cset == H5T_CSET_UTF8 ? "utf-8" :
			cset == H5T_CSET_ASCII ? "ascii" : "unknown");
	if (pad == H5T_STR_NULLTERM)
		pad_name = "nullterm";
	else if (pad == H5T_STR_NULLPAD)
		pad_name = "nullpad";
	else if (pad == H5T_STR_SPACEPAD)
		pad_name = "spacepad";
	val_put_cstring(a, obj, "padding", pad_name);
	if (variable == 0)
		val_put(a, obj, "dtype",
			val_cstring(a, arena_printf(a, "|S%zu", size)));
}

static void put_base(struct arena *a, struct mx_value *obj, hid_t type,
		     unsigned depth)
{
	hid_t base = H5Tget_super(type);

	if (base < 0) {
		put_error(a, obj, "H5Tget_super");
		return;
	}
	val_put(a, obj, "base", describe_type(a, base, depth + 1));
	H5Tclose(base);
}

static void describe_compound(struct arena *a, struct mx_value *obj,
			      hid_t type, unsigned depth)
{
	struct mx_value *members = val_put_array(a, obj, "members");
	int n = H5Tget_nmembers(type);
	int i;

	for (i = 0; i < n && i < MAX_MEMBERS; i++) {
		struct mx_value *m = val_push(a, members, val_object(a));
		char *name = H5Tget_member_name(type, (unsigned)i);
		hid_t mtype;

		if (name) {
			put_bounded(a, m, "name", name, MAX_NAME_LEN,
				    "name_truncated");
			H5free_memory(name);
		}
		val_put(a, m, "offset",
			val_u64(a, H5Tget_member_offset(type, (unsigned)i)));
		mtype = H5Tget_member_type(type, (unsigned)i);
		if (mtype < 0) {
			put_error(a, m, "H5Tget_member_type");
			continue;
		}
		val_put(a, m, "type", describe_type(a, mtype, depth + 1));
		H5Tclose(mtype);
	}
	if (n > MAX_MEMBERS)
		val_put_bool(a, obj, "members_truncated", true);
}

/* Converts member i of an enum to a JSON integer through its base type. */
static struct mx_value *enum_value(struct arena *a, hid_t type, hid_t base,
				   unsigned i)
{
	bool is_signed = H5Tget_sign(base) == H5T_SGN_2;
	hid_t native = is_signed ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG;
	size_t size = H5Tget_size(base);
	unsigned char buf[64];
	long long s;
	unsigned long long u;

	/*
	 * H5Tget_member_value() copies H5Tget_size(type) bytes and H5Tconvert
	 * works in place, so buf must fit both sizes and the native one.
	 */
	if (size == 0 || size > sizeof(buf) ||
	    H5Tget_size(type) > sizeof(buf) ||
	    H5Tget_member_value(type, i, buf) < 0 ||
	    H5Tconvert(base, native, 1, buf, NULL, H5P_DEFAULT) < 0) {
		H5Eclear2(H5E_DEFAULT);
		return val_null(a);
	}
	if (is_signed) {
		memcpy(&s, buf, sizeof(s));
		return val_int(a, s);
	}
	memcpy(&u, buf, sizeof(u));
	return val_u64(a, u);
}

static void describe_enum(struct arena *a, struct mx_value *obj, hid_t type,
			  unsigned depth)
{
	struct mx_value *members;
	hid_t base = H5Tget_super(type);
	int n = H5Tget_nmembers(type);
	int i;

	if (base < 0) {
		put_error(a, obj, "H5Tget_super");
		return;
	}
	val_put(a, obj, "base", describe_type(a, base, depth + 1));
	members = val_put_object(a, obj, "members");
	for (i = 0; i < n && i < MAX_MEMBERS; i++) {
		char *name = H5Tget_member_name(type, (unsigned)i);

		if (!name)
			continue;
		val_put(a, members,
			arena_strndup(a, name, strnlen(name, MAX_NAME_LEN)),
			enum_value(a, type, base, (unsigned)i));
		H5free_memory(name);
	}
	if (n > MAX_MEMBERS)
		val_put_bool(a, obj, "members_truncated", true);
	H5Tclose(base);
}

static void describe_array(struct arena *a, struct mx_value *obj, hid_t type,
			   unsigned depth)
{
	hsize_t dims[MAX_RANK];
	int rank = H5Tget_array_ndims(type);

	if (rank < 0 || rank > MAX_RANK ||
	    H5Tget_array_dims2(type, dims) < 0) {
		put_error(a, obj, "H5Tget_array_dims2");
		return;
	}
	val_put(a, obj, "dims", dims_array(a, dims, rank, false));
	put_base(a, obj, type, depth);
}

static void describe_opaque(struct arena *a, struct mx_value *obj,
			    hid_t type)
{
	char *tag = H5Tget_tag(type);

	if (!tag) {
		H5Eclear2(H5E_DEFAULT);
		return;
	}
	put_bounded(a, obj, "tag", tag, MAX_NAME_LEN, "tag_truncated");
	H5free_memory(tag);
}

static void describe_reference(struct arena *a, struct mx_value *obj,
			       hid_t type)
{
	if (H5Tequal(type, H5T_STD_REF_OBJ) > 0)
		val_put_cstring(a, obj, "reference", "object");
	else if (H5Tequal(type, H5T_STD_REF_DSETREG) > 0)
		val_put_cstring(a, obj, "reference", "region");
}

/*
 * Describes a datatype as an object with "class" and "size" plus the fields
 * of its class. Nesting past MAX_TYPE_DEPTH gets "depth_limit_reached".
 */
static struct mx_value *describe_type(struct arena *a, hid_t type,
				      unsigned depth)
{
	struct mx_value *obj = val_object(a);
	H5T_class_t cls = H5Tget_class(type);
	size_t size = H5Tget_size(type);

	val_put_cstring(a, obj, "class", class_name(cls));
	val_put(a, obj, "size", val_u64(a, size));
	if (depth >= MAX_TYPE_DEPTH) {
		val_put_bool(a, obj, "depth_limit_reached", true);
		return obj;
	}
	switch (cls) {
	case H5T_INTEGER:
	case H5T_FLOAT:
		describe_number(a, obj, type, cls, size);
		break;
	case H5T_BITFIELD:
		val_put_cstring(a, obj, "order",
				order_name(H5Tget_order(type)));
		break;
	case H5T_STRING:
		describe_string(a, obj, type, size);
		break;
	case H5T_COMPOUND:
		describe_compound(a, obj, type, depth);
		break;
	case H5T_ENUM:
		describe_enum(a, obj, type, depth);
		break;
	case H5T_ARRAY:
		describe_array(a, obj, type, depth);
		break;
	case H5T_VLEN:
		put_base(a, obj, type, depth);
		break;
	case H5T_OPAQUE:
		describe_opaque(a, obj, type);
		break;
	case H5T_REFERENCE:
		describe_reference(a, obj, type);
		break;
	default:
		H5Eclear2(H5E_DEFAULT);
		break;
	}
	return obj;
}

/* ---- Attribute values ---- */

/* Length of a fixed-size string element once its padding is removed. */
static size_t unpadded_length(const char *s, size_t size, H5T_str_t pad)
{
	size_t len = size;

	if (pad == H5T_STR_NULLTERM)
		return strnlen(s, size);
	while (len > 0 && s[len - 1] == (pad == H5T_STR_SPACEPAD ? ' ' : '\0'))
		len--;
	return len;
}

/* An attribute whose value is being read into the array values. */
struct value_read {
	struct arena *a;
	struct mx_value *item;		/* gets "error" on failure */
	struct mx_value *values;
	hid_t attr;
	hid_t type;
	hid_t space;
	size_t n;			/* at most MAX_VALUE_ELEMENTS */
};

/*
 * The read_* functions return 0, 1 when the value turned out too large to
 * keep, or -1 after storing "error" in the item. Their buffers start
 * zeroed: libhdf5 1.10.8 can report success on a damaged attribute
 * without filling them, and stack bytes must not reach a record.
 */
static int read_integers(struct value_read *r)
{
	long long values[MAX_VALUE_ELEMENTS] = { 0 };
	bool is_signed = H5Tget_sign(r->type) == H5T_SGN_2;
	hid_t memtype = is_signed ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG;
	size_t i;

	if (H5Aread(r->attr, memtype, values) < 0) {
		put_error(r->a, r->item, "H5Aread");
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		if (is_signed)
			val_push(r->a, r->values, val_int(r->a, values[i]));
		else
			val_push(r->a, r->values,
				 val_u64(r->a, (unsigned long long)values[i]));
	}
	return 0;
}

static int read_floats(struct value_read *r)
{
	double values[MAX_VALUE_ELEMENTS] = { 0 };
	size_t i;

	if (H5Aread(r->attr, H5T_NATIVE_DOUBLE, values) < 0) {
		put_error(r->a, r->item, "H5Aread");
		return -1;
	}
	for (i = 0; i < r->n; i++)
		val_push(r->a, r->values, val_double(r->a, values[i]));
	return 0;
}

static int read_fixed_strings(struct value_read *r)
{
	char buf[MAX_VALUE_BYTES] = { 0 };
	size_t size = H5Tget_size(r->type);
	H5T_str_t pad = H5Tget_strpad(r->type);
	size_t i;

	/* The caller checked that n * size fits in buf. */
	if (H5Aread(r->attr, r->type, buf) < 0) {
		put_error(r->a, r->item, "H5Aread");
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		const char *s = buf + i * size;

		val_push(r->a, r->values,
			 val_string(r->a, s, unpadded_length(s, size, pad)));
	}
	return 0;
}

/*
 * Reads variable-length strings. Their total size is known only after the
 * read, so a value over MAX_VALUE_BYTES is dropped then.
 */
static int read_variable_strings(struct value_read *r)
{
	char *values[MAX_VALUE_ELEMENTS] = { 0 };
	H5T_str_t pad = H5Tget_strpad(r->type);
	hid_t memtype = H5Tcopy(H5T_C_S1);
	size_t i, total = 0;
	int ret;

	if (memtype < 0 || H5Tset_size(memtype, H5T_VARIABLE) < 0 ||
	    H5Tset_cset(memtype, H5Tget_cset(r->type)) < 0 ||
	    H5Aread(r->attr, memtype, values) < 0) {
		put_error(r->a, r->item, "H5Aread");
		ret = -1;
		goto reclaim;
	}
	for (i = 0; i < r->n; i++) {
		if (values[i])
			total += strnlen(values[i], MAX_VALUE_BYTES + 1);
	}
	ret = total > MAX_VALUE_BYTES;
	for (i = 0; i < r->n && !ret; i++) {
		const char *s = values[i] ? values[i] : "";

		val_push(r->a, r->values,
			 val_string(r->a, s,
				    unpadded_length(s, strlen(s), pad)));
	}
reclaim:
	/* A failed read may leave some strings allocated; the rest are NULL. */
	if (memtype >= 0) {
		H5Dvlen_reclaim(memtype, r->space, H5P_DEFAULT, values);
		H5Tclose(memtype);
	}
	return ret;
}

/*
 * Adds "value" for small integer, float and string attributes: the element
 * itself for a scalar, a flat row-major array otherwise. Attributes over the
 * size bounds get "value_omitted" instead.
 */
static void put_value(struct arena *a, struct mx_value *item, hid_t attr,
		      hid_t type, hid_t space, H5S_class_t space_class)
{
	struct value_read r = {
		.a = a, .item = item, .attr = attr, .type = type,
		.space = space, .values = val_array(a),
	};
	H5T_class_t cls = H5Tget_class(type);
	hssize_t n = H5Sget_simple_extent_npoints(space);
	size_t size = H5Tget_size(type);
	int ret;

	if (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_STRING)
		return;
	if (space_class == H5S_NULL || n < 0 || !r.values)
		return;
	if (n > MAX_VALUE_ELEMENTS || size == 0 ||
	    (size_t)n * size > MAX_VALUE_BYTES) {
		val_put_bool(a, item, "value_omitted", true);
		return;
	}
	r.n = (size_t)n;

	if (cls == H5T_INTEGER)
		ret = read_integers(&r);
	else if (cls == H5T_FLOAT)
		ret = read_floats(&r);
	else if (H5Tis_variable_str(type) > 0)
		ret = read_variable_strings(&r);
	else
		ret = read_fixed_strings(&r);
	if (ret > 0)
		val_put_bool(a, item, "value_omitted", true);
	else if (ret == 0 && space_class == H5S_SCALAR &&
		 r.values->u.list.count == 1)
		val_put(a, item, "value", r.values->u.list.items[0].value);
	else if (ret == 0)
		val_put(a, item, "value", r.values);
}

/* ---- Attributes ---- */

static void describe_attribute(struct arena *a, struct mx_value *item,
			       hid_t attr)
{
	hid_t type = H5Aget_type(attr);
	hid_t space = H5Aget_space(attr);
	H5S_class_t space_class;

	if (type < 0 || space < 0) {
		put_error(a, item, type < 0 ? "H5Aget_type" : "H5Aget_space");
		goto close;
	}
	val_put(a, item, "type", describe_type(a, type, 0));
	space_class = put_extent(a, item, space, "shape", NULL);
	if (space_class == H5S_NO_CLASS) {
		put_error(a, item, "H5Sget_simple_extent_dims");
		goto close;
	}
	put_value(a, item, attr, type, space, space_class);
close:
	if (space >= 0)
		H5Sclose(space);
	if (type >= 0)
		H5Tclose(type);
}

static herr_t visit_attribute(hid_t obj, const char *name,
			      const H5A_info_t *info, void *data)
{
	struct attribute_walk *aw = data;
	struct walk *w = aw->w;
	struct mx_value *item;
	hid_t attr;

	if (aw->count >= MAX_ATTRIBUTES) {
		aw->truncated = true;
		return 1;
	}
	aw->count++;
	item = val_push(w->a, aw->list, val_object(w->a));
	put_bounded(w->a, item, "name", name, MAX_NAME_LEN, "name_truncated");
	attr = H5Aopen(obj, name, H5P_DEFAULT);
	if (attr < 0) {
		put_error(w->a, item, "H5Aopen");
	} else {
		describe_attribute(w->a, item, attr);
		H5Aclose(attr);
	}
	if (w->reader->read_error || w->a->failed)
		w->stop = true;
	return w->stop ? 1 : 0;
}

static herr_t count_attribute(hid_t obj, const char *name,
			      const H5A_info_t *info, void *data)
{
	++*(hsize_t *)data;
	return 0;
}

/*
 * libhdf5 1.10.8 frees uninitialised pointers when an attribute fails to
 * decode while it builds the table it sorts compact attributes in, and
 * sizes the table of dense attributes from the header. H5Aexists() on an
 * absent name decodes every compact attribute without a table, and a
 * native-order walk decodes dense ones without a table and counts them.
 * Returns the attribute count, 0 for none, or -1 with "error" set.
 */
static hssize_t check_attributes(struct arena *a, struct mx_value *entry,
				 hid_t obj)
{
	H5O_info_t info;
	hsize_t count = 0, idx = 0;

	if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) {
		put_error(a, entry, "H5Oget_info2");
		return -1;
	}
	if (info.num_attrs == 0)
		return 0;
	if (H5Aexists(obj, ABSENT_NAME) < 0) {
		put_error(a, entry, "H5Aexists");
		return -1;
	}
	if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx,
			count_attribute, &count) < 0) {
		put_error(a, entry, "H5Aiterate2");
		return -1;
	}
	if (count != info.num_attrs) {
		put_message(a, entry, arena_printf(a,
			"object header lists %llu attributes but %llu were found",
			(unsigned long long)info.num_attrs,
			(unsigned long long)count));
		return -1;
	}
	return (hssize_t)count;
}

/* Adds "attributes" in name order, at most MAX_ATTRIBUTES of them. */
static void list_attributes(struct walk *w, struct mx_value *entry, hid_t obj)
{
	struct attribute_walk aw = { .w = w };
	hsize_t idx = 0;

	aw.list = val_put_array(w->a, entry, "attributes");
	if (check_attributes(w->a, entry, obj) <= 0)
		return;
	if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_attribute,
			&aw) < 0)
		put_error(w->a, entry, "H5Aiterate2");
	if (aw.truncated)
		val_put_bool(w->a, entry, "attributes_truncated", true);
}

/* ---- Objects ---- */

static const char *layout_name(H5D_layout_t layout)
{
	switch (layout) {
	case H5D_COMPACT: return "compact";
	case H5D_CONTIGUOUS: return "contiguous";
	case H5D_CHUNKED: return "chunked";
	case H5D_VIRTUAL: return "virtual";
	default: return NULL;
	}
}

static void put_filters(struct arena *a, struct mx_value *entry, hid_t dcpl)
{
	struct mx_value *filters = val_put_array(a, entry, "filters");
	int n = H5Pget_nfilters(dcpl);
	int i;

	for (i = 0; i < n && i < MAX_FILTERS; i++) {
		struct mx_value *f = val_push(a, filters, val_object(a));
		unsigned cd[MAX_CD_VALUES];
		size_t count = MAX_CD_VALUES, j;
		unsigned flags;
		char name[256] = "";
		H5Z_filter_t id;
		struct mx_value *values;

		id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &count, cd,
				    sizeof(name), name, NULL);
		if (id < 0) {
			put_error(a, f, "H5Pget_filter2");
			continue;
		}
		val_put_int(a, f, "id", id);
		val_put_cstring(a, f, "name", name);
		values = val_put_array(a, f, "cd_values");
		for (j = 0; j < count && j < MAX_CD_VALUES; j++)
			val_push(a, values, val_int(a, cd[j]));
		if (count > MAX_CD_VALUES)
			val_put_bool(a, f, "cd_values_truncated", true);
	}
	if (n > MAX_FILTERS)
		val_put_bool(a, entry, "filters_truncated", true);
}

static void put_layout(struct arena *a, struct mx_value *entry, hid_t dset)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	H5D_layout_t layout;
	hsize_t chunk[MAX_RANK];
	int rank;

	if (dcpl < 0) {
		put_error(a, entry, "H5Dget_create_plist");
		return;
	}
	layout = H5Pget_layout(dcpl);
	val_put_cstring(a, entry, "layout", layout_name(layout));
	rank = layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, MAX_RANK, chunk) : 0;
	if (rank > 0 && rank <= MAX_RANK)
		val_put(a, entry, "chunk_shape",
			dims_array(a, chunk, rank, false));
	else
		val_put(a, entry, "chunk_shape", val_null(a));
	put_filters(a, entry, dcpl);
	H5Pclose(dcpl);
	H5Eclear2(H5E_DEFAULT);
}

static void describe_dataset(struct arena *a, struct mx_value *entry,
			     hid_t dset)
{
	hid_t type = H5Dget_type(dset);
	hid_t space = H5Dget_space(dset);

	if (type >= 0)
		val_put(a, entry, "type", describe_type(a, type, 0));
	else
		put_error(a, entry, "H5Dget_type");
	if (space < 0)
		put_error(a, entry, "H5Dget_space");
	else if (put_extent(a, entry, space, "shape", "max_shape") ==
		 H5S_NO_CLASS)
		put_error(a, entry, "H5Sget_simple_extent_dims");
	put_layout(a, entry, dset);
	val_put(a, entry, "storage_size",
		val_u64(a, H5Dget_storage_size(dset)));
	H5Eclear2(H5E_DEFAULT);
	if (space >= 0)
		H5Sclose(space);
	if (type >= 0)
		H5Tclose(type);
}

/* ---- Walk ---- */

static size_t addr_slot(haddr_t addr, size_t cap)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static int addr_set_grow(struct addr_set *set)
{
	size_t cap = set->cap ? set->cap * 2 : 64;
	haddr_t *slots = alloc_malloc(cap * sizeof(*slots));
	size_t i;

	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, cap * sizeof(*slots));	/* HADDR_UNDEF */
	for (i = 0; i < set->cap; i++) {
		size_t j;

		if (set->slots[i] == HADDR_UNDEF)
			continue;
		j = addr_slot(set->slots[i], cap);
		while (slots[j] != HADDR_UNDEF)
			j = (j + 1) & (cap - 1);
		slots[j] = set->slots[i];
	}
	alloc_free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

/* Adds addr to the set. Returns 1 when added, 0 when present, -ENOMEM. */
static int addr_set_add(struct addr_set *set, haddr_t addr)
{
	size_t i;

	if (set->count * 2 >= set->cap && addr_set_grow(set) < 0)
		return -ENOMEM;
	i = addr_slot(addr, set->cap);
	while (set->slots[i] != HADDR_UNDEF) {
		if (set->slots[i] == addr)
			return 0;
		i = (i + 1) & (set->cap - 1);
	}
	set->slots[i] = addr;
	set->count++;
	return 1;
}

static herr_t count_link(hid_t group, const char *name,
			 const H5L_info_t *info, void *data)
{
	++*(hsize_t *)data;
	return 0;
}

/*
 * libhdf5 1.10.8 builds a table of links to walk a compact or dense group
 * in name order, and frees uninitialised pointers when a link fails to
 * decode on the way. Decode them all first through calls that build no
 * table: a lookup of an absent name for compact groups, a native-order
 * walk for dense ones. Returns 0, or -1 with "error" set.
 */
static int check_links(struct arena *a, struct mx_value *entry, hid_t group)
{
	H5G_info_t info;
	hsize_t count = 0;

	if (H5Gget_info(group, &info) < 0) {
		put_error(a, entry, "H5Gget_info");
		return -1;
	}
	if (info.storage_type == H5G_STORAGE_TYPE_SYMBOL_TABLE)
		return 0;
	if (info.storage_type == H5G_STORAGE_TYPE_COMPACT) {
		if (H5Lexists(group, ABSENT_NAME, H5P_DEFAULT) < 0) {
			put_error(a, entry, "H5Lexists");
			return -1;
		}
		return 0;
	}
	if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, count_link,
		       &count) < 0) {
		put_error(a, entry, "H5Literate");
		return -1;
	}
	if (count != info.nlinks) {
		put_message(a, entry, arena_printf(a,
			"group lists %llu links but %llu were found",
			(unsigned long long)info.nlinks,
			(unsigned long long)count));
		return -1;
	}
	return 0;
}

static herr_t visit_link(hid_t group, const char *name,
			 const H5L_info_t *info, void *data);

/* Lists the links of group in name order, then recurses into subgroups. */
static void list_links(struct walk *w, struct mx_value *entry, hid_t group)
{
	hsize_t idx = 0;

	if (check_links(w->a, entry, group) < 0)
		return;
	if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_link,
		       w) < 0 && !w->stop)
		put_error(w->a, entry, "H5Literate");
}

/*
 * Lists a group reached through the link name, unless an earlier hard
 * link or a cycle already led to it, or it is max_depth levels deep.
 */
static void list_subgroup(struct walk *w, struct mx_value *entry,
			  hid_t group, const char *name, haddr_t addr)
{
	size_t saved = w->path_len;
	int added = addr_set_add(&w->groups, addr);

	if (added < 0) {
		w->a->failed = true;
		w->stop = true;
		return;
	}
	if (added == 0)
		return;
	if (w->depth >= w->max_depth) {
		val_put_bool(w->a, entry, "depth_limit_reached", true);
		return;
	}

	snprintf(w->path + saved, sizeof(w->path) - saved, "/%s", name);
	w->path_len = strlen(w->path);
	w->depth++;
	list_links(w, entry, group);
	w->depth--;
	w->path[saved] = '\0';
	w->path_len = saved;
}

static const char *kind_of(H5O_type_t type)
{
	switch (type) {
	case H5O_TYPE_GROUP: return "group";
	case H5O_TYPE_DATASET: return "dataset";
	case H5O_TYPE_NAMED_DATATYPE: return "datatype";
	default: return "unknown";
	}
}

/*
 * Describes the object a hard link points to, opened by address so that no
 * link is traversed. When it cannot be opened, the entry gets "error" and
 * the kind that H5Oget_info_by_name2() reads from the object header.
 */
static void describe_object(struct walk *w, struct mx_value *entry,
			    hid_t parent, const char *name, haddr_t addr)
{
	struct arena *a = w->a;
	hid_t obj = H5Oopen_by_addr(w->file, addr);
	H5O_info_t info;

	if (obj < 0) {
		put_error(a, entry, "H5Oopen_by_addr");
		if (H5Oget_info_by_name2(parent, name, &info, H5O_INFO_BASIC,
					 H5P_DEFAULT) < 0)
			info.type = H5O_TYPE_UNKNOWN;
		H5Eclear2(H5E_DEFAULT);
		val_put_cstring(a, entry, "kind", kind_of(info.type));
		return;
	}
	switch (H5Iget_type(obj)) {
	case H5I_GROUP:
		val_put_cstring(a, entry, "kind", "group");
		list_attributes(w, entry, obj);
		list_subgroup(w, entry, obj, name, addr);
		break;
	case H5I_DATASET:
		val_put_cstring(a, entry, "kind", "dataset");
		describe_dataset(a, entry, obj);
		list_attributes(w, entry, obj);
		break;
	case H5I_DATATYPE:
		val_put_cstring(a, entry, "kind", "datatype");
		val_put(a, entry, "type", describe_type(a, obj, 0));
		list_attributes(w, entry, obj);
		break;
	default:
		val_put_cstring(a, entry, "kind", "unknown");
		break;
	}
	H5Oclose(obj);
}

/*
 * Reads the value of a soft or external link into a buffer with two extra
 * NUL bytes, so string scans of a hostile value stay inside it. Returns the
 * buffer (alloc_free() it) or NULL with "error" set.
 */
static char *read_link_value(struct walk *w, struct mx_value *entry,
			     hid_t group, const char *name, size_t size)
{
	char *buf;

	if (size > MAX_LINK_VALUE) {
		put_message(w->a, entry, arena_printf(w->a,
			"link value of %zu bytes is over the %d-byte limit",
			size, MAX_LINK_VALUE));
		return NULL;
	}
	buf = alloc_calloc(1, size + 2);
	if (!buf) {
		w->a->failed = true;
		return NULL;
	}
	if (H5Lget_val(group, name, buf, size, H5P_DEFAULT) < 0) {
		put_error(w->a, entry, "H5Lget_val");
		alloc_free(buf);
		return NULL;
	}
	return buf;
}

static void describe_soft_link(struct walk *w, struct mx_value *entry,
			       hid_t group, const char *name, size_t size)
{
	char *buf = read_link_value(w, entry, group, name, size);

	if (!buf)
		return;
	put_bounded(w->a, entry, "target", buf, MAX_PATH_LEN,
		    "target_truncated");
	alloc_free(buf);
}

static void describe_external_link(struct walk *w, struct mx_value *entry,
				   hid_t group, const char *name, size_t size)
{
	char *buf = read_link_value(w, entry, group, name, size);
	const char *file, *target;
	unsigned flags;

	if (!buf)
		return;
	if (H5Lunpack_elink_val(buf, size, &flags, &file, &target) < 0) {
		put_error(w->a, entry, "H5Lunpack_elink_val");
	} else {
		put_bounded(w->a, entry, "file", file, MAX_PATH_LEN,
			    "file_truncated");
		put_bounded(w->a, entry, "target", target, MAX_PATH_LEN,
			    "target_truncated");
	}
	alloc_free(buf);
}

/* Stores the path of link name in group, cut to MAX_PATH_LEN bytes. */
static void put_path(struct walk *w, struct mx_value *entry, const char *name)
{
	char *path = arena_printf(w->a, "%s/%.*s", w->path, MAX_PATH_LEN, name);

	if (path && strlen(path) > MAX_PATH_LEN) {
		path[MAX_PATH_LEN] = '\0';
		val_put_cstring(w->a, entry, "path", path);
		val_put_bool(w->a, entry, "path_truncated", true);
		return;
	}
	val_put_cstring(w->a, entry, "path", path);
}

/* Adds an entry for one link. The links of a subgroup follow its entry. */
static herr_t visit_link(hid_t group, const char *name,
			 const H5L_info_t *info, void *data)
{
	struct walk *w = data;
	struct arena *a = w->a;
	struct mx_value *entry;

	if (w->listed >= w->limit) {
		w->limit_reached = true;
		w->stop = true;
		return 1;
	}
	w->listed++;
	entry = val_push(a, w->objects, val_object(a));
	put_path(w, entry, name);

	if (info->type == H5L_TYPE_HARD) {
		describe_object(w, entry, group, name, info->u.address);
	} else if (info->type == H5L_TYPE_SOFT) {
		val_put_cstring(a, entry, "kind", "soft_link");
		describe_soft_link(w, entry, group, name, info->u.val_size);
	} else if (info->type == H5L_TYPE_EXTERNAL) {
		val_put_cstring(a, entry, "kind", "external_link");
		describe_external_link(w, entry, group, name,
				       info->u.val_size);
	} else {
		val_put_cstring(a, entry, "kind", "user_link");
		val_put_int(a, entry, "link_type", info->type);
	}

	/* After a failed read or with a full arena, nothing more is kept. */
	if (w->reader->read_error || a->failed)
		w->stop = true;
	return w->stop ? 1 : 0;
}

/* Lists "/" and then every link below it, up to the object limit. */
static void walk_file(struct walk *w, hid_t root)
{
	struct arena *a = w->a;
	struct mx_value *entry;
	H5O_info_t info;

	if (w->limit == 0) {
		w->limit_reached = true;
		return;
	}
	w->listed++;
	entry = val_push(a, w->objects, val_object(a));
	val_put_cstring(a, entry, "path", "/");
	val_put_cstring(a, entry, "kind", "group");
	list_attributes(w, entry, root);
	if (w->stop)
		return;
	if (H5Oget_info2(root, &info, H5O_INFO_BASIC) < 0) {
		put_error(a, entry, "H5Oget_info2");
		return;
	}
	if (addr_set_add(&w->groups, info.addr) < 0) {
		a->failed = true;
		return;
	}
	list_links(w, entry, root);
}

/* ---- Entry points ---- */

static bool hdf5_probe(const unsigned char *head, size_t head_len,
		       uint64_t file_size, const char *mime)
{
	size_t off;

	if (mime && (strcmp(mime, "application/x-hdf5") == 0 ||
		     strcmp(mime, "application/x-hdf") == 0))
		return true;
	if (head_len >= 8 && memcmp(head, signature, 8) == 0)
		return true;

	/* A user block moves the superblock to 512, 1024, 2048, ... */
	for (off = 512; head_len >= 8 && off <= head_len - 8; off *= 2) {
		if (memcmp(head + off, signature, 8) == 0)
			return true;
	}
	return false;
}

/*
 * Looks for the signature where HDF5 does: at 0 and at each power of two
 * from 512. Returns 0 when found, -EBADMSG when not, or a read error.
 */
static int find_signature(struct parse_ctx *ctx)
{
	uint64_t size = source_size(ctx->src);
	unsigned char buf[sizeof(signature)];
	uint64_t off = 0;

	while (size >= sizeof(buf) && off <= size - sizeof(buf)) {
		ssize_t n = source_read(ctx->src, buf, sizeof(buf), off);

		if (n < 0) {
			snprintf(ctx->message, sizeof(ctx->message),
				 "reading the HDF5 file failed at offset %"
				 PRIu64, off);
			return (int)n;
		}
		if (n == sizeof(buf) && memcmp(buf, signature, n) == 0)
			return 0;
		off = off ? off * 2 : 512;
	}
	snprintf(ctx->message, sizeof(ctx->message),
		 "HDF5 signature not found at offset 0 or at any power of two from 512");
	return -EBADMSG;
}

static hid_t make_fapl(struct reader *reader)
{
	struct driver_info info = { .reader = reader };
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

	if (fapl < 0)
		return fapl;
	if (H5Pset_driver(fapl, driver_id, &info) < 0 ||
	    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)
		goto fail;
#if H5_VERSION_GE(1, 10, 7)
	/* The driver has no lock callback, so HDF5 takes no lock either way. */
	if (H5Pset_file_locking(fapl, false, true) < 0)
		goto fail;
#endif
	return fapl;
fail:
	H5Pclose(fapl);
	return H5I_INVALID_HID;
}

/* Maps a failed H5Fopen() to an errno and a message. */
static int open_failed(struct parse_ctx *ctx, const struct reader *r)
{
	struct error_note note;

	take_error(&note);
	if (r->read_error) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "reading the HDF5 file failed at offset %" PRIu64,
			 r->error_offset);
		return r->read_error;
	}
	if (note.truncated || !r->read_past_eof) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "H5Fopen failed: %s", note.desc);
		return note.truncated ? -ENODATA : -EBADMSG;
	}

	/* The signature was found, so the missing bytes mean a cut file. */
	snprintf(ctx->message, sizeof(ctx->message),
		 "H5Fopen failed after reading past the end of the file: %s",
		 note.desc);
	return -ENODATA;
}

/* Lists the contents of an open file into ctx->out. */
static int list_file(struct parse_ctx *ctx, struct reader *reader,
		     hid_t file)
{
	struct arena *a = ctx->arena;
	struct walk w = {
		.a = a, .reader = reader, .file = file,
		.limit = ctx->cfg->max_objects,
		.max_depth = ctx->cfg->max_depth,
	};
	H5F_info2_t finfo;
	hid_t root;

	if (H5Fget_info2(file, &finfo) < 0)
		put_error(a, ctx->out, "H5Fget_info2");
	else
		val_put_int(a, ctx->out, "superblock_version",
			    finfo.super.version);
	w.objects = val_array(a);
	root = H5Oopen(file, "/", H5P_DEFAULT);
	if (root < 0) {
		put_error(a, ctx->out, "H5Oopen");
	} else {
		walk_file(&w, root);
		H5Oclose(root);
	}
	alloc_free(w.groups.slots);
	H5Eclear2(H5E_DEFAULT);
	val_put(a, ctx->out, "objects_listed", val_u64(a, w.listed));
	val_put_bool(a, ctx->out, "objects_limit_reached", w.limit_reached);
	val_put(a, ctx->out, "objects", w.objects);
	return 0;
}

/* Opens the file through the driver set in fapl and lists it. */
static int read_file(struct parse_ctx *ctx, struct reader *reader,
		     hid_t fapl)
{
	hid_t file = H5Fopen(reader->name, H5F_ACC_RDONLY, fapl);
	int ret;

	if (file < 0)
		return open_failed(ctx, reader);
	ret = list_file(ctx, reader, file);
	H5Fclose(file);
	H5Eclear2(H5E_DEFAULT);

	if (reader->read_error) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "reading the HDF5 file failed at offset %" PRIu64,
			 reader->error_offset);
		return reader->read_error;
	}
	if (ctx->arena->failed) {
		snprintf(ctx->message, sizeof(ctx->message), "%s",
			 "building the HDF5 record failed: memory or record size limit reached");
		return -ENOMEM;
	}
	return ret;
}

static int hdf5_parse(struct parse_ctx *ctx)
{
	struct reader reader = { .src = ctx->src };
	hid_t fapl;
	int ret;

	if (hdf5_init() < 0) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "HDF5 library setup failed");
		return -ENOSYS;
	}
	/* Error stacks and their printing are per thread. */
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	ret = find_signature(ctx);
	if (ret < 0)
		return ret;
	reader.name = source_path(ctx->src);
	if (!reader.name || !reader.name[0])
		reader.name = "(unnamed)";

	fapl = make_fapl(&reader);
	if (fapl < 0) {
		H5Eclear2(H5E_DEFAULT);
		snprintf(ctx->message, sizeof(ctx->message),
			 "creating the HDF5 file access property list failed");
		return -ENOMEM;
	}
	ret = read_file(ctx, &reader, fapl);
	H5Pclose(fapl);
	return ret;
}

static void hdf5_version(char *buf, size_t len)
{
	unsigned major = 0, minor = 0, release = 0;

	H5get_libversion(&major, &minor, &release);
	snprintf(buf, len, "libhdf5 %u.%u.%u", major, minor, release);
}

const struct fmt_ops fmt_hdf5_ops = {
	.name = "hdf5",
	.init = hdf5_init,
	.probe = hdf5_probe,
	.parse = hdf5_parse,
	.version = hdf5_version,
};
