#!/bin/sh
# Peak RSS of metaextract with default options against the number of files
# (trees of 1,000 and 100,000 small files) and against the size of one
# sparse file (1, 10 and 100 GiB, each with 4 MiB of data). Memory should
# grow with neither; the printed differences are the figures to watch.
#
# Usage: bench/rss_files.sh [BUILD_DIR] [WORK_DIR] [RUNS]
# The files are made in WORK_DIR (default /tmp/mx-bench-rss-files). The
# trees hold files of 1 B to 16 KiB of random bytes in 100 directories,
# about 850 MB in all. The sparse files take 12 MiB on disk. All are kept
# for the next run only with KEEP=1. Each figure is the median of
# RUNS runs (default 3) with the page cache warm.
#
# /usr/bin/time reports the peak RSS of the metaextract process. The
# kernel raises it to the largest peak of the parser workers that the
# process waited for, so it is the larger of the two, not their sum.
# Needs /usr/bin/time (Debian package time) and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/cache.sh"
mx=${1:-$here/../build}/tools/metaextract
work=${2:-/tmp/mx-bench-rss-files}
runs=${3:-3}

if [ ! -x "$mx" ]; then
	echo "rss_files.sh: $mx not found; build it with 'ninja -C" \
		"$(dirname "$(dirname "$mx")")' first" >&2
	exit 2
fi
mkdir -p "$work"

# make_tree NAME COUNT: a tree of COUNT small files under WORK_DIR/NAME.
make_tree() {
	[ "$(cat "$work/$1.count" 2>/dev/null)" = "$2" ] && return 0
	rm -rf "${work:?}/$1"
	write_small_files "$work/$1" "$2" 100 3
	echo "$2" >"$work/$1.count"
}

# make_sparse GIB: a sparse file of GIB GiB with 2 MiB of random bytes at
# its start and 2 MiB at its end.
make_sparse() {
	f="$work/sparse-${1}g"
	[ -f "$f" ] && return 0
	truncate -s "${1}G" "$f"
	head -c 2M /dev/urandom | dd of="$f" conv=notrunc status=none
	head -c 2M /dev/urandom | dd of="$f" bs=1M seek=$(($1 * 1024 - 2)) \
		conv=notrunc status=none
}

make_tree files-1k 1000
make_tree files-100k 100000
for gib in 1 10 100; do
	make_sparse "$gib"
done

# median_rss PATH: prints the median peak RSS in KiB of RUNS runs. When
# the command exits non-zero (a file of random bytes that fails to parse
# as media), /usr/bin/time writes a line about it before the figure, so
# only the last line is kept.
median_rss() {
	i=0
	while [ "$i" -lt "$runs" ]; do
		/usr/bin/time -f '%M' -o "$work/time.out" "$mx" -q "$1" \
			>/dev/null 2>&1 || true
		tail -n 1 "$work/time.out"
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

machine_line
echo "default options (xxh128, type, parsers, $(nproc) loops)," \
	"page cache warm, median of $runs runs"
printf '%-14s %14s %14s %12s %6s\n' input files bytes peak_rss_kib load1

row() {
	name=$1
	path=$2
	# One run first, so that every byte metaextract reads is cached. Reading
	# the sparse files with cat instead would read their holes too.
	"$mx" -q "$path" >/dev/null 2>&1 || true
	load=$(load_1min)
	rss=$(median_rss "$path")
	files=$(find "$path" -type f | wc -l)
	bytes=$(find "$path" -type f -printf '%s\n' |
		awk '{ n += $1 } END { printf "%.0f\n", n }')
	printf '%-14s %14s %14s %12s %6s\n' "$name" "$files" "$bytes" \
		"$rss" "$load"
	eval "rss_$(echo "$name" | tr - _)=$rss"
}

row files-1k "$work/files-1k"
row files-100k "$work/files-100k"
for gib in 1 10 100; do
	row "sparse-${gib}g" "$work/sparse-${gib}g"
done
echo "files-100k minus files-1k:   $((rss_files_100k - rss_files_1k)) KiB"
echo "sparse-10g minus sparse-1g:  $((rss_sparse_10g - rss_sparse_1g)) KiB"
echo "sparse-100g minus sparse-1g: $((rss_sparse_100g - rss_sparse_1g)) KiB"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$work/files-1k" "$work/files-100k" "$work"/*.count \
		"$work"/sparse-*g "$work/time.out"
fi
