#!/bin/sh
# Throughput of metaextract's digests on one file with a warm page cache,
# against the standard tools on the same file in the same session.
#
# Usage: bench/digest_throughput.sh [BUILD_DIR] [FILE] [RUNS]
# Without FILE, a 2 GiB file of random bytes is made in /tmp.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
mx=${1:-$here/../build}/tools/metaextract
file=${2:-/tmp/mx-bench-2g}
runs=${3:-5}

[ -f "$file" ] || head -c 2G /dev/urandom >"$file"
size=$(stat -c %s "$file")
cat "$file" >/dev/null	# warm the page cache

machine_line
echo "file: $file, $size bytes, page cache warm, median of $runs runs"
printf '%-32s %10s %10s %8s\n' command seconds MB/s ratio

row() {
	name=$1
	peer=$2
	shift 2
	t=$(median_of "$runs" "$@")
	mbs=$(echo "$size / $t / 1000000" | bc -l)
	if [ -n "$peer" ]; then
		ratio=$(echo "$peer / $t" | bc -l)
		printf '%-32s %10.3f %10.0f %8.2f\n' "$name" "$t" "$mbs" "$ratio"
	else
		printf '%-32s %10.3f %10.0f %8s\n' "$name" "$t" "$mbs" "-"
	fi
	last=$t
}

row "xxhsum -H2" "" xxhsum -H2 "$file"
peer=$last
row "metaextract -d xxh128" "$peer" "$mx" -q -j 1 -d xxh128 "$file"
row "sha256sum" "" sha256sum "$file"
peer=$last
row "metaextract -d sha256" "$peer" "$mx" -q -j 1 -d sha256 "$file"
row "metaextract -d none" "" "$mx" -q -j 1 -d none "$file"
echo "ratio: the peer's time divided by metaextract's (above 1: metaextract is faster)"
