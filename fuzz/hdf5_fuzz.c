/*
 * libFuzzer target for the HDF5 backend (src/fmt_hdf5.c): each input is
 * one file for probe() and parse(), run as the parser worker runs them
 * (fuzz/parse_harness.c). libhdf5 is the system's uninstrumented library.
 * Its objects are identifiers rather than heap blocks that LeakSanitizer
 * could track, so this target also checks that a parse leaves no more
 * identifiers open than it found.
 *
 * Build with meson -Dfuzz=true under clang, or let tools/fuzz.sh do it:
 *
 *   tools/fuzz.sh hdf5 600
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <hdf5.h>

#include "parse_harness.h"

/* Identifier types that the backend opens. */
static const struct {
	H5I_type_t type;
	const char *name;
} id_types[] = {
	{ H5I_FILE, "file" },
	{ H5I_GROUP, "group" },
	{ H5I_DATATYPE, "datatype" },
	{ H5I_DATASPACE, "dataspace" },
	{ H5I_DATASET, "dataset" },
	{ H5I_ATTR, "attribute" },
	{ H5I_GENPROP_LST, "property list" },
};

#define ID_TYPES (sizeof(id_types) / sizeof(id_types[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_ids(hsize_t counts[ID_TYPES])
{
	size_t i;

	for (i = 0; i < ID_TYPES; i++)
		if (H5Inmembers(id_types[i].type, &counts[i]) < 0)
			counts[i] = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hsize_t before[ID_TYPES], after[ID_TYPES];
	bool leaked = false;
	size_t i;

	count_ids(before);
	harness_parse(&fmt_hdf5_ops, data, size);
	count_ids(after);

	for (i = 0; i < ID_TYPES; i++) {
		if (after[i] <= before[i])
			continue;
		fprintf(stderr, "fuzz: parse() left %llu %s identifier(s) "
			"open\n", (unsigned long long)(after[i] - before[i]),
			id_types[i].name);
		leaked = true;
	}
	if (leaked)
		abort();
	return 0;
}
