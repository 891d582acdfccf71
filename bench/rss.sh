#!/bin/sh
# Peak RSS of metaextract against file size: a dense 1 GiB file, and sparse
# files of 10 and 100 GiB with a few bytes of data at the end. Memory must
# not grow with file size; the printed delta is the figure to watch.
#
# Usage: bench/rss.sh [BUILD_DIR] [WORK_DIR]
# Needs /usr/bin/time (Debian package time) and about 1 GiB free in WORK_DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
mx=${1:-$here/../build}/tools/metaextract
work=${2:-/tmp/mx-bench-rss.d}
mkdir -p "$work"

[ -f "$work/dense-1g" ] || head -c 1G /dev/urandom >"$work/dense-1g"
for gib in 10 100; do
	f="$work/sparse-${gib}g"
	if [ ! -f "$f" ]; then
		truncate -s "${gib}G" "$f"
		printf 'end' | dd of="$f" bs=1 seek=$((gib * 1073741824 - 10)) \
			conv=notrunc status=none
	fi
done

machine_line
echo "digest xxh128, default engine settings, page cache warm for the dense file"
printf '%-14s %14s %12s\n' file size_bytes peak_rss_kib
base=""
for f in dense-1g sparse-10g sparse-100g; do
	rss=$(peak_rss_kib "$mx" -q -d xxh128 "$work/$f")
	[ -n "$base" ] || base=$rss
	printf '%-14s %14s %12s\n' "$f" "$(stat -c %s "$work/$f")" "$rss"
done
echo "delta from dense-1g to sparse-100g: $((rss - base)) KiB"
