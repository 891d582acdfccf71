#!/bin/sh
# Compares metaextract on one large file with fio and xxh128sum, and on
# several files with sha256sum and OpenSSL's speed, in one session.
#
# Usage: bench/large_file.sh [BUILD_DIR] [FILE] [RUNS]
# Without FILE, an 8 GiB file of random bytes is made in /tmp. The SHA-256
# part reads 2 x nproc files of 1 GiB cut from it (made in /tmp once).
# Cold rows use O_DIRECT on both sides, because a buffered cold read is
# decided by readahead and, on a virtual disk, by the host's cache.
# fio reads into hugetlb pages, as metaextract reads into huge pages (see
# bench_vs_fio.sh); the pages are reserved for the run. Needs root for
# that and for dropping the page cache, fio, xxhash, openssl and bc.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
. "$here/cache.sh"
mx=${1:-$here/../build}/tools/metaextract
file=${2:-/tmp/mx-bench-8g}
runs=${3:-3}
cores=$(nproc)
xxh=$(command -v xxh128sum || echo "xxhsum -H2")

[ -f "$file" ] || head -c 8G /dev/urandom >"$file"
size=$(stat -c %s "$file")

hp_file=/proc/sys/vm/nr_hugepages
hp_old=$(cat "$hp_file")
echo 16 >"$hp_file"
trap 'echo "$hp_old" >"$hp_file"' EXIT

# fio_best MODE: the highest median MB/s of fio over a sweep of block
# sizes and depths; prints "MB/s bs depth".
fio_best() {
	case $1 in
	direct) opts="--direct=1" ;;
	*) opts="--direct=0 --invalidate=0" ;;
	esac
	for bs in 256K 1M; do
		for qd in 4 16; do
			i=0
			while [ "$i" -lt "$runs" ]; do
				fio --name=read --filename="$file" --rw=read \
					--bs="$bs" --iodepth="$qd" \
					--ioengine=io_uring --fixedbufs \
					--iomem=mmaphuge $opts \
					--output-format=json |
					python3 -c 'import json, sys
print(json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"] / 1e6)'
				i=$((i + 1))
			done | sort -n | awk -v bs="$bs" -v qd="$qd" \
				'{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], bs, qd }'
		done
	done | sort -n | tail -n 1
}

# row NAME MODE CMD...: median seconds of CMD and its MB/s against the
# reference $ref_mbs (fio's best) when set.
row() {
	name=$1
	mode=$2
	shift 2
	t=$(median_time "$mode" "$runs" "$@")
	mbs=$(echo "$size / $t / 1000000" | bc -l)
	printf '%-40s %9.3f %9.0f %7.2f\n' "$name" "$t" "$mbs" \
		"$(echo "$mbs / $ref_mbs" | bc -l)"
}

machine_line
echo "file: $file, $size bytes, median of $runs runs"

for mode in cold warm; do
	if [ "$mode" = cold ]; then
		set -- "$(fio_best direct)"
		mx_direct="--direct=always"
	else
		cat "$file" >/dev/null
		set -- "$(fio_best buffered)"
		mx_direct="--direct=never"
	fi
	ref_mbs=${1%% *}
	echo
	echo "$mode: fio's best $1 (MB/s, block size, depth)"
	printf '%-40s %9s %9s %7s\n' command seconds MB/s "/fio"
	for d in xxh128 none; do
		row "metaextract -j1 -d $d $mx_direct" "$mode" \
			"$mx" -q -j 1 -d "$d" "$mx_direct" "$file"
	done
	# 1 MiB chunks: 12 MiB in flight for a large file instead of 3.
	row "  same, -d xxh128 --chunk-size=1M" "$mode" \
		"$mx" -q -j 1 -d xxh128 "$mx_direct" --chunk-size=1M "$file"
	row "$xxh (buffered)" "$mode" $xxh "$file"
done

# SHA-256 over more files than cores: against the cores' combined ceiling.
set --
i=0
while [ "$i" -lt $((2 * cores)) ]; do
	part=/tmp/mx-bench-sha-$i
	[ -f "$part" ] || dd if="$file" of="$part" bs=1M count=1024 \
		skip=$((i * 1024 % (size >> 20))) status=none
	set -- "$@" "$part"
	i=$((i + 1))
done
cat "$@" >/dev/null
total=$(du -cb "$@" | tail -n 1 | cut -f1)
# openssl speed's MB/s: one process, and one per core at once (-multi),
# since two vCPUs may share one physical core's SHA unit.
openssl_mbs() {
	openssl speed "$@" -evp sha256 -bytes 16384 -seconds 3 2>/dev/null |
		awk '/^sha256/ { v = $NF; sub("k", "", v); print v * 1000 / 1e6 }' |
		tail -n 1
}
per_core=$(openssl_mbs)
ceiling=$(openssl_mbs -multi "$cores")
echo
printf 'sha256, %d warm files of 1 GiB; openssl speed -evp sha256: %.0f MB/s on one core, %.0f with -multi %d\n' \
	"$#" "$per_core" "$ceiling" "$cores"
printf '%-40s %9s %9s %7s\n' command seconds MB/s "/ceiling"
ref_mbs=$ceiling
size=$total
row "metaextract -d sha256" warm "$mx" -q -d sha256 "$@"
row "xargs -P$cores sha256sum" warm sh -c \
	'printf "%s\n" "$@" | xargs -P"$0" -n1 sha256sum' "$cores" "$@"
