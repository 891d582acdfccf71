/*
 * libFuzzer target for the media backend (src/fmt_av.c): each input is
 * one file for probe() and parse(), run as the parser worker runs them
 * (fuzz/parse_harness.c). libavformat is the system's uninstrumented
 * library, so AddressSanitizer checks only its heap use and our code.
 *
 * Build with meson -Dfuzz=true under clang, or let tools/fuzz.sh do it:
 *
 *   tools/fuzz.sh av 600
 */
#include <stddef.h>
#include <stdint.h>

#include "parse_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	harness_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_parse(&fmt_av_ops, data, size);
	return 0;
}
