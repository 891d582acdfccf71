#!/bin/bash
# Builds metaextract twice, plain and with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the whole test suite on both; with
# MPICH installed, also its MPI tests against MPICH.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# -Dtesting=true adds the misbehaving test parsers and fault injection
# that the isolation tests need; release builds leave it off. -Dmpi=enabled
# builds --mpi, which tests/test_mpi.sh runs under mpirun.
if [ ! -f build/build.ninja ]; then
	meson setup build -Dtesting=true -Dmpi=enabled
else
	meson setup --reconfigure build -Dtesting=true -Dmpi=enabled >/dev/null
fi
status=0
meson test -C build --print-errorlogs | tee -a "$log" || status=1

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dtesting=true -Dmpi=enabled
else
	meson setup --reconfigure build-asan -Dtesting=true -Dmpi=enabled \
		>/dev/null
fi
# Any UBSan report fails the test that caused it.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
	meson test -C build-asan --print-errorlogs | tee -a "$log" || status=1

# MPICH beside Open MPI: the MPI tests again, built against it and run
# with its launcher.
if pkg-config --exists mpich && command -v mpirun.mpich >/dev/null; then
	if [ ! -f build-mpich/build.ninja ]; then
		meson setup build-mpich -Dmpi=enabled -Dmpi_dependency=mpich \
			>/dev/null
	fi
	MPIRUN=mpirun.mpich meson test -C build-mpich --print-errorlogs \
		mpi shard | tee -a "$log" || status=1
fi

# One closing line for all builds, counted from meson's summaries.
awk '/^Ok:/ { ok += $2 } /^(Fail|Timeout|Unexpected Pass):/ { bad += $NF }
	END { printf "tests: %d passed, %d failed\n", ok, bad }' "$log"
exit "$status"
