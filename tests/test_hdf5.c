/*
 * HDF5 structure from libhdf5, checked against h5dump on the same files.
 *
 * Expected values come from `h5dump -B -H -p FILE` (superblock, types,
 * shapes, layout, filters) and `h5dump -A -p FILE` (attribute values), HDF5
 * 1.10.8 on Debian 12, saved in tests/expected/FILE.h5dump-*.txt. For the
 * gen_* files they also follow from the h5py calls in
 * tests/data/make-fixtures.sh.
 *
 * Layout of an entry of /hdf5/objects, as these tests read it:
 * - Every entry has "path" ("/" for the root group) and "kind" ("group",
 *   "dataset", "soft_link" or "external_link").
 * - Datasets have "type", "shape", "max_shape" (null for an unlimited
 *   dimension), "layout", "chunk_shape" (null unless chunked), "filters"
 *   ([{"id", "name", "cd_values"}] in pipeline order) and "storage_size".
 * - A "type" has "class", "size" and, where NumPy has one, "dtype" (the
 *   NumPy array-interface type string such as ">i4" or "|S8"). Strings
 *   add "variable", "charset" and "padding", and compounds add "members"
 *   ([{"name", "offset", "type"}]).
 * - Soft links have "target", and external links "file" and "target".
 * - Groups and datasets have "attributes", an array of {"name", "type",
 *   "shape", "value"}. The value checks read array values in row-major
 *   order, flat or nested.
 *
 * The fixtures are read from the directory named by MX_TEST_DATA.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "metaextract.h"
#include "support.h"

/* Marks an unlimited dimension (null) in an expected max_shape. */
#define UNLIMITED (-1)

/*
 * Checks an array of dimensions, where UNLIMITED in expected means null.
 * With n == 0 it checks for the empty shape of a scalar.
 */
static void expect_dims(const struct mx_value *v, const char *pointer,
			const int64_t *expected, size_t n)
{
	const char *where = support_context();
	const struct mx_value *dims = get_typed(v, pointer, MX_ARRAY);
	size_t i;

	cr_assert_eq(mx_value_count(dims), n,
		     "%s: %s: expected %zu dimensions, got %zu", where, pointer,
		     n, mx_value_count(dims));
	for (i = 0; i < n; i++) {
		const struct mx_value *dim = mx_value_item(dims, i, NULL);

		if (expected[i] == UNLIMITED) {
			cr_assert_eq(mx_value_type(dim), MX_NULL,
				     "%s: %s/%zu: expected null (unlimited), "
				     "got type %s", where, pointer, i,
				     type_name(mx_value_type(dim)));
			continue;
		}
		cr_assert_eq(mx_value_type(dim), MX_INT,
			     "%s: %s/%zu: expected an int, got type %s", where,
			     pointer, i, type_name(mx_value_type(dim)));
		cr_assert_eq(mx_value_int(dim), expected[i],
			     "%s: %s/%zu: expected %lld, got %lld", where,
			     pointer, i, (long long)expected[i],
			     (long long)mx_value_int(dim));
	}
}

/* Returns the entry of /hdf5/objects whose "path" is path. */
static const struct mx_value *find_object(const struct mx_value *root,
					  const char *path)
{
	const struct mx_value *objects = get_typed(root, "/hdf5/objects",
						   MX_ARRAY);
	size_t i;

	for (i = 0; i < mx_value_count(objects); i++) {
		const struct mx_value *entry = mx_value_item(objects, i, NULL);
		const char *entry_path =
			mx_value_string(mx_value_get(entry, "/path"), NULL);

		if (entry_path && strcmp(entry_path, path) == 0) {
			support_set_context("%s object %s", support_fixture(),
					    path);
			return entry;
		}
	}
	cr_assert_fail("%s: /hdf5/objects: no entry with path \"%s\" among "
		       "%zu entries", support_fixture(), path,
		       mx_value_count(objects));
	return NULL;
}

/* Returns the attribute called name of an object entry. */
static const struct mx_value *find_attribute(const struct mx_value *object,
					     const char *name)
{
	const char *object_path =
		mx_value_string(mx_value_get(object, "/path"), NULL);
	const struct mx_value *attributes;
	size_t i;

	if (!object_path)
		object_path = "?";
	support_set_context("%s object %s", support_fixture(), object_path);
	attributes = get_typed(object, "/attributes", MX_ARRAY);
	for (i = 0; i < mx_value_count(attributes); i++) {
		const struct mx_value *item = mx_value_item(attributes, i, NULL);
		const char *key =
			mx_value_string(mx_value_get(item, "/name"), NULL);

		if (key && strcmp(key, name) == 0) {
			support_set_context("%s object %s attribute %s",
					    support_fixture(), object_path,
					    name);
			return item;
		}
	}
	cr_assert_fail("%s: /attributes: no attribute \"%s\" among %zu",
		       support_context(), name, mx_value_count(attributes));
	return NULL;
}

/* Appends the scalar leaves of v in row-major order to out. */
static size_t collect_leaves(const struct mx_value *v,
			     const struct mx_value **out, size_t cap,
			     size_t n)
{
	size_t i;

	if (mx_value_type(v) != MX_ARRAY) {
		if (n < cap)
			out[n] = v;
		return n + 1;
	}
	for (i = 0; i < mx_value_count(v); i++)
		n = collect_leaves(mx_value_item(v, i, NULL), out, cap, n);
	return n;
}

/* Checks the "value" of an integer attribute, flattened. */
static void expect_int_values(const struct mx_value *attribute,
			      const int64_t *expected, size_t n)
{
	const char *where = support_context();
	const struct mx_value *leaves[64];
	const struct mx_value *value = mx_value_get(attribute, "/value");
	size_t count;
	size_t i;

	cr_assert_not_null(value, "%s: /value is missing", where);
	count = collect_leaves(value, leaves, 64, 0);
	cr_assert_eq(count, n, "%s: /value: expected %zu numbers, got %zu",
		     where, n, count);
	for (i = 0; i < n; i++) {
		cr_assert_eq(mx_value_type(leaves[i]), MX_INT,
			     "%s: /value element %zu: expected an int, got "
			     "type %s", where, i,
			     type_name(mx_value_type(leaves[i])));
		cr_assert_eq(mx_value_int(leaves[i]), expected[i],
			     "%s: /value element %zu: expected %lld, got %lld",
			     where, i, (long long)expected[i],
			     (long long)mx_value_int(leaves[i]));
	}
}

/*
 * Checks the "value" of a float attribute, flattened. The comparison is
 * exact because every expected value here is a binary fraction.
 */
static void expect_double_values(const struct mx_value *attribute,
				 const double *expected, size_t n)
{
	const char *where = support_context();
	const struct mx_value *leaves[64];
	const struct mx_value *value = mx_value_get(attribute, "/value");
	size_t count;
	size_t i;

	cr_assert_not_null(value, "%s: /value is missing", where);
	count = collect_leaves(value, leaves, 64, 0);
	cr_assert_eq(count, n, "%s: /value: expected %zu numbers, got %zu",
		     where, n, count);
	for (i = 0; i < n; i++) {
		cr_assert(mx_value_type(leaves[i]) == MX_DOUBLE ||
			  mx_value_type(leaves[i]) == MX_INT,
			  "%s: /value element %zu: expected a number, got "
			  "type %s", where, i,
			  type_name(mx_value_type(leaves[i])));
		cr_assert(mx_value_double(leaves[i]) == expected[i],
			  "%s: /value element %zu: expected %g, got %g", where,
			  i, expected[i], mx_value_double(leaves[i]));
	}
}

/* Checks a value that must be JSON null, such as an unused chunk_shape. */
static void expect_null(const struct mx_value *v, const char *pointer)
{
	get_typed(v, pointer, MX_NULL);
}

/* h5dump prints FILTERS { NONE }: an empty list, or no list at all. */
static void expect_no_filters(const struct mx_value *object)
{
	const char *where = support_context();
	const struct mx_value *filters = mx_value_get(object, "/filters");

	if (!filters)
		return;
	cr_assert_eq(mx_value_type(filters), MX_ARRAY,
		     "%s: /filters: expected an array, got type %s", where,
		     type_name(mx_value_type(filters)));
	cr_assert_eq(mx_value_count(filters), 0,
		     "%s: /filters: expected none, got %zu", where,
		     mx_value_count(filters));
}

/* Checks the soft link at path, which must point to target. */
static void expect_soft_link(const struct mx_value *root, const char *path,
			     const char *target)
{
	const struct mx_value *link = find_object(root, path);

	expect_string(link, "/kind", "soft_link");
	expect_string(link, "/target", target);
}

/* Checks the external link at path, which must name file and target. */
static void expect_external_link(const struct mx_value *root,
				 const char *path, const char *file,
				 const char *target)
{
	const struct mx_value *link = find_object(root, path);

	expect_string(link, "/kind", "external_link");
	expect_string(link, "/file", file);
	expect_string(link, "/target", target);
}

/* hdf5-json data/hdf5/tall.h5 */

Test(hdf5, tall_superblock_and_status)
{
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);

	/* The dangling soft link and external link are no error. */
	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/error");
	expect_absent(root, "/media");
	expect_string(root, "/type/mime", "application/x-hdf5");
	/* h5dump -B: SUPERBLOCK_VERSION 0 */
	expect_int(root, "/hdf5/superblock_version", 0);

	/* The root group, 5 more groups, 4 datasets and 2 links. */
	expect_count(root, "/hdf5/objects", MX_ARRAY, 12);
	expect_int(root, "/hdf5/objects_listed", 12);
	expect_bool(root, "/hdf5/objects_limit_reached", false);
	mx_record_free(rec);
}

Test(hdf5, tall_object_kinds)
{
	static const struct {
		const char *path;
		const char *kind;
	} expected[] = {
		{ "/", "group" },
		{ "/g1", "group" },
		{ "/g1/g1.1", "group" },
		{ "/g1/g1.1/dset1.1.1", "dataset" },
		{ "/g1/g1.1/dset1.1.2", "dataset" },
		{ "/g1/g1.2", "group" },
		{ "/g1/g1.2/extlink", "external_link" },
		{ "/g1/g1.2/g1.2.1", "group" },
		{ "/g1/g1.2/g1.2.1/slink", "soft_link" },
		{ "/g2", "group" },
		{ "/g2/dset2.1", "dataset" },
		{ "/g2/dset2.2", "dataset" },
	};
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(expected); i++) {
		const struct mx_value *object =
			find_object(root, expected[i].path);

		expect_string(object, "/kind", expected[i].kind);
	}
	mx_record_free(rec);
}

Test(hdf5, tall_datasets)
{
	static const int64_t dims_10x10[] = { 10, 10 };
	static const int64_t dims_20[] = { 20 };
	static const int64_t dims_10[] = { 10 };
	static const int64_t dims_3x5[] = { 3, 5 };
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *object;

	/* H5T_STD_I32BE, ( 10, 10 ) / ( 10, 10 ), CONTIGUOUS, SIZE 400 */
	object = find_object(root, "/g1/g1.1/dset1.1.1");
	expect_string(object, "/type/dtype", ">i4");
	expect_dims(object, "/shape", dims_10x10, 2);
	expect_dims(object, "/max_shape", dims_10x10, 2);
	expect_string(object, "/layout", "contiguous");
	expect_null(object, "/chunk_shape");
	expect_int(object, "/storage_size", 400);
	expect_no_filters(object);

	/* H5T_STD_I32BE, ( 20 ) / ( 20 ), CONTIGUOUS, SIZE 80 */
	object = find_object(root, "/g1/g1.1/dset1.1.2");
	expect_string(object, "/type/dtype", ">i4");
	expect_dims(object, "/shape", dims_20, 1);
	expect_dims(object, "/max_shape", dims_20, 1);
	expect_string(object, "/layout", "contiguous");
	expect_int(object, "/storage_size", 80);

	/* H5T_IEEE_F32BE, ( 10 ) / ( 10 ), CONTIGUOUS, SIZE 40 */
	object = find_object(root, "/g2/dset2.1");
	expect_string(object, "/type/dtype", ">f4");
	expect_dims(object, "/shape", dims_10, 1);
	expect_string(object, "/layout", "contiguous");
	expect_int(object, "/storage_size", 40);

	/* H5T_IEEE_F32BE, ( 3, 5 ) / ( 3, 5 ), CONTIGUOUS, SIZE 60 */
	object = find_object(root, "/g2/dset2.2");
	expect_string(object, "/type/dtype", ">f4");
	expect_dims(object, "/shape", dims_3x5, 2);
	expect_dims(object, "/max_shape", dims_3x5, 2);
	expect_string(object, "/layout", "contiguous");
	expect_int(object, "/storage_size", 60);
	mx_record_free(rec);
}

Test(hdf5, tall_root_attributes)
{
	/* h5dump -A: attr1 is the bytes of "abcdefghi" and a zero. */
	static const int64_t attr1_values[] = {
		97, 98, 99, 100, 101, 102, 103, 104, 105, 0,
	};
	static const int64_t attr1_dims[] = { 10 };
	static const int64_t attr2_values[] = { 0, 1, 2, 3 };
	static const int64_t attr2_dims[] = { 2, 2 };
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *group = find_object(root, "/");
	const struct mx_value *attribute;

	/* H5T_STD_I8BE, SIMPLE { ( 10 ) / ( 10 ) } */
	attribute = find_attribute(group, "attr1");
	expect_string(attribute, "/type/dtype", "|i1");
	expect_dims(attribute, "/shape", attr1_dims, 1);
	expect_int_values(attribute, attr1_values, 10);

	/* H5T_STD_I32BE, SIMPLE { ( 2, 2 ) / ( 2, 2 ) } */
	attribute = find_attribute(group, "attr2");
	expect_string(attribute, "/type/dtype", ">i4");
	expect_dims(attribute, "/shape", attr2_dims, 2);
	expect_int_values(attribute, attr2_values, 4);
	mx_record_free(rec);
}

Test(hdf5, tall_dataset_attributes)
{
	/* h5dump -A: the bytes of "1st attribute of dset1.1.1" and a zero. */
	static const int64_t attr1_values[] = {
		49, 115, 116, 32, 97, 116, 116, 114, 105, 98, 117, 116, 101,
		32, 111, 102, 32, 100, 115, 101, 116, 49, 46, 49, 46, 49, 0,
	};
	/* The same text starting "2nd". */
	static const int64_t attr2_values[] = {
		50, 110, 100, 32, 97, 116, 116, 114, 105, 98, 117, 116, 101,
		32, 111, 102, 32, 100, 115, 101, 116, 49, 46, 49, 46, 49, 0,
	};
	static const int64_t dims_27[] = { 27 };
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset =
		find_object(root, "/g1/g1.1/dset1.1.1");
	const struct mx_value *attribute;

	attribute = find_attribute(dataset, "attr1");
	expect_string(attribute, "/type/dtype", "|i1");
	expect_dims(attribute, "/shape", dims_27, 1);
	expect_int_values(attribute, attr1_values, 27);

	attribute = find_attribute(dataset, "attr2");
	expect_string(attribute, "/type/dtype", "|i1");
	expect_dims(attribute, "/shape", dims_27, 1);
	expect_int_values(attribute, attr2_values, 27);
	mx_record_free(rec);
}

/* Both links point to nothing. They are reported but never followed. */
Test(hdf5, tall_links)
{
	struct mx_record *rec = extract_fixture("hdf5json_tall.h5");
	const struct mx_value *root = mx_record_root(rec);

	/* SOFTLINK "slink" { LINKTARGET "somevalue" } */
	expect_soft_link(root, "/g1/g1.2/g1.2.1/slink", "somevalue");

	/* EXTERNAL_LINK "extlink" { TARGETFILE "somefile" TARGETPATH
	 * "somepath" } */
	expect_external_link(root, "/g1/g1.2/extlink", "somefile", "somepath");
	mx_record_free(rec);
}

/*
 * jhdf test_userblock_latest.hdf5: 1024 bytes of text, then the HDF5
 * signature. libavformat's prober guesses MP3 for it (ffprobe 5.1 prints
 * "Invalid frame size (420)"), so the record must not carry media.
 */
Test(hdf5, userblock_superblock_v3)
{
	struct mx_record *rec =
		extract_fixture("jhdf_test_userblock_latest.hdf5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *group;

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/error");
	expect_absent(root, "/media");
	/* file -b --mime-type and file -b (file 5.44) */
	expect_string(root, "/type/mime", "application/x-hdf5");
	expect_string(root, "/type/description",
		      "Hierarchical Data Format (version 5) with 1k user block");
	/* h5dump -B: SUPERBLOCK_VERSION 3, USERBLOCK_SIZE 1024 */
	expect_int(root, "/hdf5/superblock_version", 3);

	/* GROUP "/" { }: the root group alone. */
	expect_count(root, "/hdf5/objects", MX_ARRAY, 1);
	group = find_object(root, "/");
	expect_string(group, "/kind", "group");
	expect_bool(root, "/hdf5/objects_limit_reached", false);
	mx_record_free(rec);
}

/* gen_chunked.h5, made by make-fixtures.sh with h5py */

Test(hdf5, chunked_dataset_layout)
{
	static const int64_t shape[] = { 16, 4 };
	static const int64_t max_shape[] = { UNLIMITED, 4 };
	static const int64_t chunk_shape[] = { 4, 4 };
	struct mx_record *rec = extract_fixture("gen_chunked.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset;

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/media");
	expect_int(root, "/hdf5/superblock_version", 0);

	expect_string(find_object(root, "/measurements"), "/kind", "group");

	/*
	 * H5T_IEEE_F32LE, ( 16, 4 ) / ( H5S_UNLIMITED, 4 ), CHUNKED ( 4, 4 ),
	 * SIZE 126, PREPROCESSING SHUFFLE, COMPRESSION DEFLATE { LEVEL 7 }
	 */
	dataset = find_object(root, "/measurements/samples");
	expect_string(dataset, "/kind", "dataset");
	expect_string(dataset, "/type/dtype", "<f4");
	expect_dims(dataset, "/shape", shape, 2);
	expect_dims(dataset, "/max_shape", max_shape, 2);
	expect_string(dataset, "/layout", "chunked");
	expect_dims(dataset, "/chunk_shape", chunk_shape, 2);
	expect_int(dataset, "/storage_size", 126);

	/* The pipeline runs shuffle, then deflate. */
	expect_count(dataset, "/filters", MX_ARRAY, 2);
	/* H5Z_FILTER_SHUFFLE is 2, and its parameter is the element size. */
	expect_int(dataset, "/filters/0/id", 2);
	expect_string(dataset, "/filters/0/name", "shuffle");
	expect_int(dataset, "/filters/0/cd_values/0", 4);
	/* H5Z_FILTER_DEFLATE is 1, and its parameter is the gzip level. */
	expect_int(dataset, "/filters/1/id", 1);
	expect_string(dataset, "/filters/1/name", "deflate");
	expect_int(dataset, "/filters/1/cd_values/0", 7);
	mx_record_free(rec);
}

Test(hdf5, chunked_group_attributes)
{
	static const int64_t offsets[] = { 1, 2, 3 };
	static const int64_t offsets_dims[] = { 3 };
	static const int64_t channels[] = { 4 };
	static const double gain[] = { 1.5 };
	struct mx_record *rec = extract_fixture("gen_chunked.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *group = find_object(root, "/measurements");
	const struct mx_value *attribute;

	/* h5py stores a str attribute as a variable-length UTF-8 string. */
	attribute = find_attribute(group, "instrument");
	expect_string(attribute, "/type/class", "string");
	expect_bool(attribute, "/type/variable", true);
	expect_string(attribute, "/type/charset", "utf-8");
	expect_dims(attribute, "/shape", NULL, 0);
	expect_string(attribute, "/value", "probe-7");

	attribute = find_attribute(group, "channels");
	expect_string(attribute, "/type/dtype", "<i8");
	expect_dims(attribute, "/shape", NULL, 0);
	expect_int_values(attribute, channels, 1);

	attribute = find_attribute(group, "gain");
	expect_string(attribute, "/type/dtype", "<f8");
	expect_double_values(attribute, gain, 1);

	attribute = find_attribute(group, "offsets");
	expect_string(attribute, "/type/dtype", "<i4");
	expect_dims(attribute, "/shape", offsets_dims, 1);
	expect_int_values(attribute, offsets, 3);
	mx_record_free(rec);
}

Test(hdf5, chunked_dataset_attributes)
{
	static const int64_t count[] = { 16 };
	static const double scale[] = { 0.25 };
	static const double window[] = { 0.0, 1.0 };
	static const int64_t window_dims[] = { 2 };
	struct mx_record *rec = extract_fixture("gen_chunked.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset =
		find_object(root, "/measurements/samples");
	const struct mx_value *attribute;

	attribute = find_attribute(dataset, "units");
	expect_string(attribute, "/value", "volt");

	attribute = find_attribute(dataset, "scale");
	expect_string(attribute, "/type/dtype", "<f8");
	expect_double_values(attribute, scale, 1);

	attribute = find_attribute(dataset, "count");
	expect_string(attribute, "/type/dtype", "<i4");
	expect_int_values(attribute, count, 1);

	attribute = find_attribute(dataset, "window");
	expect_string(attribute, "/type/dtype", "<f8");
	expect_dims(attribute, "/shape", window_dims, 1);
	expect_double_values(attribute, window, 2);
	mx_record_free(rec);
}

/* gen_types.h5, made by make-fixtures.sh with h5py */

/*
 * H5T_COMPOUND { H5T_STD_I32LE "id"; H5T_IEEE_F64LE "x"; 8-byte
 * H5T_STRING "name"; }. h5py packs the members, so the offsets are 0, 4
 * and 12, and 3 records of 20 bytes give SIZE 60.
 */
Test(hdf5, compound_members)
{
	static const int64_t shape[] = { 3 };
	struct mx_record *rec = extract_fixture("gen_types.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset = find_object(root, "/table");

	expect_string(dataset, "/kind", "dataset");
	expect_string(dataset, "/type/class", "compound");
	expect_int(dataset, "/type/size", 20);
	expect_dims(dataset, "/shape", shape, 1);
	expect_string(dataset, "/layout", "contiguous");
	expect_int(dataset, "/storage_size", 60);

	/* The members are id, x and name. */
	expect_count(dataset, "/type/members", MX_ARRAY, 3);
	expect_string(dataset, "/type/members/0/name", "id");
	expect_int(dataset, "/type/members/0/offset", 0);
	expect_string(dataset, "/type/members/0/type/dtype", "<i4");
	expect_string(dataset, "/type/members/1/name", "x");
	expect_int(dataset, "/type/members/1/offset", 4);
	expect_string(dataset, "/type/members/1/type/dtype", "<f8");
	expect_string(dataset, "/type/members/2/name", "name");
	expect_int(dataset, "/type/members/2/offset", 12);
	expect_string(dataset, "/type/members/2/type/class", "string");
	expect_string(dataset, "/type/members/2/type/dtype", "|S8");
	mx_record_free(rec);
}

Test(hdf5, string_datasets)
{
	static const int64_t shape[] = { 3 };
	struct mx_record *rec = extract_fixture("gen_types.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset;

	/* STRSIZE 8, STRPAD H5T_STR_NULLPAD, CSET H5T_CSET_ASCII, SIZE 24 */
	dataset = find_object(root, "/names_fixed");
	expect_string(dataset, "/type/class", "string");
	expect_string(dataset, "/type/dtype", "|S8");
	expect_int(dataset, "/type/size", 8);
	expect_bool(dataset, "/type/variable", false);
	expect_string(dataset, "/type/charset", "ascii");
	expect_string(dataset, "/type/padding", "nullpad");
	expect_dims(dataset, "/shape", shape, 1);
	expect_int(dataset, "/storage_size", 24);

	/*
	 * STRSIZE H5T_VARIABLE, CSET H5T_CSET_UTF8. SIZE 48 is 3 heap
	 * references of 16 bytes, not the text.
	 */
	dataset = find_object(root, "/names_vlen");
	expect_string(dataset, "/type/class", "string");
	expect_bool(dataset, "/type/variable", true);
	expect_string(dataset, "/type/charset", "utf-8");
	expect_string(dataset, "/type/padding", "nullterm");
	expect_dims(dataset, "/shape", shape, 1);
	expect_int(dataset, "/storage_size", 48);
	mx_record_free(rec);
}

Test(hdf5, scalar_dataset)
{
	struct mx_record *rec = extract_fixture("gen_types.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *dataset = find_object(root, "/scalar");
	const struct mx_value *attribute;

	/* H5T_STD_I64LE, DATASPACE SCALAR, CONTIGUOUS, SIZE 8 */
	expect_string(dataset, "/kind", "dataset");
	expect_string(dataset, "/type/dtype", "<i8");
	expect_dims(dataset, "/shape", NULL, 0);
	expect_int(dataset, "/storage_size", 8);

	attribute = find_attribute(dataset, "note");
	expect_string(attribute, "/value", "a scalar");
	mx_record_free(rec);
}

Test(hdf5, types_root_attributes)
{
	static const int64_t answer[] = { 42 };
	static const double ratio[] = { 0.125 };
	static const int64_t dims[] = { 2, 3, 5 };
	static const int64_t dims_shape[] = { 3 };
	struct mx_record *rec = extract_fixture("gen_types.h5");
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *group = find_object(root, "/");
	const struct mx_value *attribute;

	attribute = find_attribute(group, "answer");
	expect_string(attribute, "/type/dtype", "<i4");
	expect_dims(attribute, "/shape", NULL, 0);
	expect_int_values(attribute, answer, 1);

	attribute = find_attribute(group, "ratio");
	expect_string(attribute, "/type/dtype", "<f8");
	expect_double_values(attribute, ratio, 1);

	attribute = find_attribute(group, "label");
	expect_string(attribute, "/value", "types fixture");

	attribute = find_attribute(group, "dims");
	expect_string(attribute, "/type/dtype", "<i8");
	expect_dims(attribute, "/shape", dims_shape, 1);
	expect_int_values(attribute, dims, 3);
	mx_record_free(rec);
}

/* The external file other.h5 does not exist, which is no error. */
Test(hdf5, types_links)
{
	struct mx_record *rec = extract_fixture("gen_types.h5");
	const struct mx_value *root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/error");

	/* SOFTLINK "soft" { LINKTARGET "/table" } */
	expect_soft_link(root, "/soft", "/table");

	/* EXTERNAL_LINK "external" { TARGETFILE "other.h5" TARGETPATH
	 * "/data" } */
	expect_external_link(root, "/external", "other.h5", "/data");
	mx_record_free(rec);
}

/*
 * gen_truncated.h5 is the first half of gen_types.h5. libmagic still finds
 * the signature, but libhdf5 cannot open it (h5dump: "unable to open file").
 */
Test(hdf5, truncated_file_error)
{
	struct mx_record *rec = extract_fixture("gen_truncated.h5");
	const struct mx_value *root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_ERROR);
	expect_string(root, "/error/stage", "parse");
	/* libhdf5: "truncated file: eof = 4460, ..., stored_eof = 8920" */
	expect_string(root, "/error/errno", "ENODATA");
	get_typed(root, "/error/message", MX_STRING);
	expect_string(root, "/type/mime", "application/x-hdf5");
	expect_absent(root, "/media");
	mx_record_free(rec);
}
