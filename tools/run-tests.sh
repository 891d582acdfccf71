#!/bin/sh
# Builds metaextract twice, plain and with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the whole test suite on both.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f build/build.ninja ]; then
	meson setup build
fi
meson test -C build --print-errorlogs

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
# Any UBSan report fails the test that caused it.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
	meson test -C build-asan --print-errorlogs
