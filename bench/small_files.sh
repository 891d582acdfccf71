#!/bin/sh
# Files per second over a tree of many small files, for metaextract and
# its peers run side by side in the same session, warm and cold:
#
#   (a) metaextract with its defaults: xxh128, type identification, parsers
#   (b) metaextract --no-type --no-parse -d none
#   (c) find | xargs -P NPROC xxh128sum   (digests only)
#   (d) find | xargs -P NPROC file        (type identification only)
#   (e) uring_floor: io_uring open, read and close, one thread, 32 files
#       in flight (bench/uring_floor.c)
#
# It prints the ratios (a)/(c), (a)/(d) and (b)/(e), then (a) writing an
# SQLite index against (a) writing JSON Lines, warm.
#
# Usage: bench/small_files.sh [BUILD_DIR] [WORK_DIR] [RUNS] [FILES]
# The tree of FILES files (default 100000) of 1 B to 16 KiB of random
# bytes, in 100 directories, is made in WORK_DIR/tree (default
# /tmp/mx-bench-small) and kept for the next run only with KEEP=1.
# Cold runs drop the page cache of the whole machine before each run
# (root only); without that permission they are skipped with a note.
# Needs xxhash (xxh128sum or xxhsum), file, bc and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/cache.sh"
build=${1:-$here/../build}
work=${2:-/tmp/mx-bench-small}
runs=${3:-3}
count=${4:-100000}
mx=$build/tools/metaextract
floor=$build/bench/uring_floor
tree=$work/tree
cpus=$(nproc)

for tool in "$mx" "$floor"; do
	if [ ! -x "$tool" ]; then
		echo "small_files.sh: $tool not found; build with" \
			"'ninja -C $build' first" >&2
		exit 2
	fi
done
if command -v xxh128sum >/dev/null; then
	xxh="xxh128sum"
elif command -v xxhsum >/dev/null; then
	xxh="xxhsum -H2"
else
	echo "small_files.sh: xxh128sum or xxhsum not found" \
		"(Debian package xxhash)" >&2
	exit 2
fi

# The tree is reused when its file count matches. The count file sits
# beside the tree, so that no run reads it.
mkdir -p "$work"
if [ "$(cat "$work/tree.count" 2>/dev/null)" != "$count" ]; then
	rm -rf "$tree" "$work/tree.count"
	write_small_files "$tree" "$count" 100 1
	echo "$count" >"$work/tree.count"
fi
bytes=$(find "$tree" -type f -printf '%s\n' |
	awk '{ n += $1 } END { printf "%.0f\n", n }')

# Each metaextract variant must see every file before its time means
# anything. A few files of random bytes look like media streams (AC-3,
# LOAS) to libmagic and libavformat, so their parse fails. Any other
# failure stops the benchmark.
check_metaextract() {
	"$mx" -q --stats="$work/check.json" "$@" "$tree" >/dev/null || true
	python3 - "$work/check.json" "$count" "$*" <<'EOF'
import json, sys
stats = json.load(open(sys.argv[1]))
expected = int(sys.argv[2])
other = {k: n for k, n in stats["errors"].items()
         if not k.startswith("parse:")}
if stats["files"] != expected or other:
    sys.exit("small_files.sh: metaextract %s: %d files, expected %d; "
             "failures %s" % (sys.argv[3], stats["files"], expected,
                              stats["errors"]))
print("check: metaextract %s: %d files, %d parse failures" % (
    sys.argv[3] or "(defaults)", stats["files"],
    stats["files_failed"]))
EOF
}
peer_digests() {
	find "$tree" -type f -print0 | xargs -0 -P"$cpus" $xxh
}
peer_type() {
	find "$tree" -type f -print0 | xargs -0 -P"$cpus" file
}
# Each run writes a new index, because an existing one makes metaextract
# skip the unchanged files.
mx_to_index() {
	rm -f "$work/index.db" "$work/index.db-wal" "$work/index.db-shm"
	"$mx" -q -o "$work/index.db" "$tree"
}
mx_to_jsonl() {
	rm -f "$work/out.jsonl"
	"$mx" -q -o "$work/out.jsonl" "$tree"
}

machine_line
echo "tree: $tree, $count files, $bytes bytes, 100 directories," \
	"median of $runs runs"
check_metaextract
check_metaextract --no-type --no-parse -d none

# row MODE LABEL CMD...: prints the median seconds and files/s of CMD, and
# stores the files/s in the variable named LABEL.
row() {
	mode=$1
	label=$2
	shift 2
	load=$(load_1min)
	t=$(median_time "$mode" "$runs" "$@")
	rate=$(echo "$count / $t" | bc -l)
	eval "$label=$rate"
	printf '%-4s %-48s %9.3f %10.0f %6s\n' "($label)" "$name" "$t" \
		"$rate" "$load"
}

section() {
	mode=$1
	echo
	echo "$mode page cache:"
	printf '%-4s %-48s %9s %10s %6s\n' "" command seconds files/s load1
	name="metaextract (xxh128, type, parsers)"
	row "$mode" a "$mx" -q "$tree"
	name="metaextract --no-type --no-parse -d none"
	row "$mode" b "$mx" -q --no-type --no-parse -d none "$tree"
	name="find | xargs -0 -P$cpus $xxh"
	row "$mode" c peer_digests
	name="find | xargs -0 -P$cpus file"
	row "$mode" d peer_type
	name="uring_floor (1 thread, 32 files in flight)"
	row "$mode" e "$floor" "$tree"
	printf '(a)/(c) %.3f   (a)/(d) %.3f   (b)/(e) %.3f\n' \
		"$(echo "$a / $c" | bc -l)" "$(echo "$a / $d" | bc -l)" \
		"$(echo "$b / $e" | bc -l)"
}

# One full read, so that the warm runs start from a cached tree.
"$floor" "$tree" >/dev/null
section warm
if drop_page_cache; then
	section cold
else
	echo
	echo "cold: skipped, because /proc/sys/vm/drop_caches is not" \
		"writable here (needs root outside a container)"
fi

echo
echo "output format, warm page cache, (a) with -o:"
printf '%-4s %-48s %9s %10s %6s\n' "" command seconds files/s load1
"$floor" "$tree" >/dev/null
name="metaextract -o out.jsonl"
row warm j mx_to_jsonl
name="metaextract -o index.db (SQLite)"
row warm s mx_to_index
ratio=$(echo "$s / $j" | bc -l)
printf 'sqlite/jsonl %.3f: SQLite costs %.1f%% of the JSON Lines' "$ratio" \
	"$(echo "(1 - $ratio) * 100" | bc -l)"
echo " throughput (target: under 10%)"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratios: files/s over files/s (above 1: the first is faster)"

rm -f "$work/index.db" "$work/index.db-wal" "$work/index.db-shm" \
	"$work/out.jsonl" "$work/check.json"
if [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$tree" "$work/tree.count"
fi
