#!/bin/sh
# metaextract bench against fio on the same file, settings and cache
# state, one setting at a time: sequential reads through io_uring with
# registered buffers, at each chunk size and queue depth.
#
# Usage: bench/bench_vs_fio.sh [BUILD_DIR] [FILE] [RUNS] [MODE]
# MODE is "direct" (O_DIRECT, the default) or "cold" (buffered, dropped
# from the page cache before each run) or "warm" (buffered, cached).
# Without FILE, a 2 GiB file of random bytes is made in /tmp.
# Needs fio (Debian package fio) and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
mx=${1:-$here/../build}/tools/metaextract
file=${2:-/tmp/mx-bench-2g}
runs=${3:-3}
mode=${4:-direct}
chunks="64K 256K 1M"
depths="1 4 16"

[ -f "$file" ] || head -c 2G /dev/urandom >"$file"
case $mode in
direct) mx_opts="--direct"; fio_opts="--direct=1" ;;
cold) mx_opts="--cold"; fio_opts="--direct=0 --invalidate=1" ;;
warm) mx_opts=""; fio_opts="--direct=0 --invalidate=0"; cat "$file" >/dev/null ;;
*) echo "bench_vs_fio.sh: MODE must be direct, cold or warm" >&2; exit 2 ;;
esac

# metaextract's chunk buffers sit in 2 MiB pages (src/alloc.c), so a large
# read is one segment for the device. fio gets the same from hugetlb pages
# (--iomem=mmaphuge); with 4 KiB pages its 1 MiB reads measured 2.6 GB/s
# against 4.3 GB/s with huge pages on this kind of virtio disk. The pages
# are reserved for the run and the old reservation put back at the end.
hp_file=/proc/sys/vm/nr_hugepages
hp_old=$(cat "$hp_file" 2>/dev/null || echo "")
fio_mem="--iomem=mmaphuge"
if [ -z "$hp_old" ] || ! { [ "$hp_old" -ge 16 ] ||
	echo 16 2>/dev/null >"$hp_file"; } ||
	[ "$(cat "$hp_file")" -lt 16 ]; then
	fio_mem=""
	echo "note: no hugetlb pages for fio (needs root); its buffers use" \
		"4 KiB pages, which favours metaextract at 256K and above"
fi
restore_hugepages() {
	[ -n "$hp_old" ] && [ "$(cat "$hp_file")" != "$hp_old" ] &&
		echo "$hp_old" >"$hp_file"
	return 0
}
trap restore_hugepages EXIT

machine_line
echo "file: $file, $(stat -c %s "$file") bytes, $mode, median of $runs runs"
printf '%6s %6s %12s %12s %7s %12s %12s\n' chunk depth mx_MB/s fio_MB/s \
	ratio mx_p99_us fio_p99_us

for bs in $chunks; do
	for qd in $depths; do
		mx_json=$("$mx" bench --json --runs="$runs" $mx_opts \
			--chunk-sizes="$bs" --queue-depths="$qd" -j 1 "$file")
		i=0
		fio_all=""
		while [ "$i" -lt "$runs" ]; do
			fio_all="$fio_all$(fio --name=read --filename="$file" \
				--rw=read --bs="$bs" --iodepth="$qd" \
				--ioengine=io_uring --fixedbufs --hipri=0 \
				$fio_mem $fio_opts --output-format=json)
"
			i=$((i + 1))
		done
		printf '%s\n---\n%s' "$mx_json" "$fio_all" | python3 -c '
import json, statistics, sys
mx_text, fio_text = sys.stdin.read().split("\n---\n", 1)
mx = json.loads(mx_text)["results"][0]
dec = json.JSONDecoder()
fio, pos = [], 0
fio_text = fio_text.strip()
while pos < len(fio_text):
    obj, end = dec.raw_decode(fio_text, pos)
    fio.append(obj["jobs"][0]["read"])
    pos = end
    while pos < len(fio_text) and fio_text[pos].isspace():
        pos += 1
fio_bw = statistics.median(r["bw_bytes"] for r in fio) / 1e6
fio_p99 = statistics.median(
    r["clat_ns"]["percentile"]["99.000000"] for r in fio) / 1e3
mx_bw = mx["bytes_per_second"] / 1e6
print("%6s %6d %12.1f %12.1f %7.2f %12.1f %12.1f" % (
    sys.argv[1], mx["queue_depth"], mx_bw, fio_bw, mx_bw / fio_bw,
    mx["latency_us"]["p99"], fio_p99))
' "$bs"
	done
done
echo "ratio: metaextract MB/s divided by fio MB/s (1.00 is equal)"
echo "latency: metaextract from submission to reaping; fio completion latency"
