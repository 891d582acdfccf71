#!/bin/sh
# How metaextract's loops share a tree of a few large files among many
# small ones, warm and cold. It prints the wall time with -j 2 against
# -j 1, and what each loop did according to --stats: files, bytes, busy
# fraction, steals and large files. Other options are the defaults
# (xxh128, type, parsers). Then it compares the --order values in ORDERS
# (default "walk size-desc size-asc") with -j 2.
#
# Usage: bench/mixed_tree.sh [BUILD_DIR] [WORK_DIR] [RUNS]
# The tree, made in WORK_DIR/tree (default /tmp/mx-bench-mixed), contains two
# files of 2 GiB and one of 1 GiB of random bytes among 5,000 files of 1 B
# to 16 KiB in 50 directories: about 5 GiB. It is kept for the next run
# only with KEEP=1. The per-loop figures come from the run with the median
# wall time. Cold runs drop the page cache of the whole machine before
# each run (root only); without that permission they are skipped.
# Needs bc and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/cache.sh"
build=${1:-$here/../build}
work=${2:-/tmp/mx-bench-mixed}
runs=${3:-3}
mx=$build/tools/metaextract
tree=$work/tree
small_count=5000
count=$((small_count + 3))

if [ ! -x "$mx" ]; then
	echo "mixed_tree.sh: $mx not found; build with 'ninja -C $build'" \
		"first" >&2
	exit 2
fi

mkdir -p "$work"
if [ ! -f "$work/tree.done" ]; then
	rm -rf "$tree"
	write_small_files "$tree" "$small_count" 50 2
	# The large files sit in the last directories of the walk.
	head -c 2G /dev/urandom >"$tree/d49/large-2g-a"
	head -c 2G /dev/urandom >"$tree/d48/large-2g-b"
	head -c 1G /dev/urandom >"$tree/d47/large-1g"
	touch "$work/tree.done"
fi
bytes=$(find "$tree" -type f -printf '%s\n' |
	awk '{ n += $1 } END { printf "%.0f\n", n }')

# run_series MODE THREADS [OPTION]: runs metaextract RUNS times, keeping
# each run's wall time and stats, and prints one table row plus the
# per-loop rows of the median run. Sets the variable wall_jTHREADS to the
# median wall time.
run_series() {
	mode=$1
	threads=$2
	option=${3:-}
	load=$(load_1min)
	i=0
	: >"$work/times"
	while [ "$i" -lt "$runs" ]; do
		if [ "$mode" = cold ]; then
			drop_page_cache
		fi
		start=$(date +%s.%N)
		"$mx" -q -j "$threads" $option --stats="$work/stats-$i.json" \
			"$tree" >/dev/null || true
		end=$(date +%s.%N)
		echo "$i $(echo "$end - $start" | bc -l)" >>"$work/times"
		i=$((i + 1))
	done
	python3 - "$work" "$runs" "$threads" "$count" "$load" "$option" <<'EOF'
import json, sys
work, runs, threads, count, load, option = sys.argv[1:7]
runs, count = int(runs), int(count)
times = sorted((float(t), int(i)) for i, t in
               (line.split() for line in open(work + "/times")))
wall, median_run = times[(runs - 1) // 2]
stats = json.load(open("%s/stats-%d.json" % (work, median_run)))
# A few small files of random bytes look like media streams to libmagic
# and libavformat, so their parse fails. Any other failure is an error.
other = {k: n for k, n in stats["errors"].items()
         if not k.startswith("parse:")}
if stats["files"] != count or other:
    sys.exit("mixed_tree.sh: -j %s: %d files, expected %d; failures %s" % (
        threads, stats["files"], count, stats["errors"]))
print("%-22s %9.3f %9.3f %9.0f %12d %8s" % (
    ("-j %s %s" % (threads, option)).strip(), wall, stats["wall_seconds"],
    stats["bytes_per_second"] / 1e6, stats["files_failed"], load))
for loop in stats["loops"]:
    print("   loop %d: files %5d  bytes %11d  busy_fraction %.3f  "
          "steals %4d  large_files %d" % (
              loop["id"], loop["files"], loop["bytes"],
              loop["busy_fraction"], loop["steals"], loop["large_files"]))
with open(work + "/wall", "w") as f:
    f.write("%.6f\n" % wall)
EOF
	eval "wall_j$threads=$(cat "$work/wall")"
}

section() {
	mode=$1
	echo
	echo "$mode page cache:"
	printf '%-22s %9s %9s %9s %12s %8s\n' run wall_s batch_s MB/s \
		parse_failed load1
	run_series "$mode" 1
	run_series "$mode" 2
	printf 'speedup -j 2 over -j 1: %.2f\n' \
		"$(echo "$wall_j1 / $wall_j2" | bc -l)"
	for order in ${ORDERS:-walk size-desc size-asc}; do
		run_series "$mode" 2 "--order=$order"
	done
}

machine_line
echo "tree: $tree, $count files ($small_count small, 2 x 2 GiB, 1 x 1 GiB)," \
	"$bytes bytes, median of $runs runs"
echo "wall_s: the whole command; batch_s and MB/s: wall_seconds and" \
	"bytes_per_second from --stats"

find "$tree" -type f -exec cat {} + >/dev/null
section warm
if drop_page_cache; then
	section cold
else
	echo
	echo "cold: skipped, because /proc/sys/vm/drop_caches is not" \
		"writable here (needs root outside a container)"
fi
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

rm -f "$work"/stats-*.json "$work/times" "$work/wall"
if [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$tree" "$work/tree.done"
fi
