# Helpers shared by the benchmark scripts (sourced, not run).

# median_time MODE RUNS CMD...: runs CMD RUNS times and prints the median
# wall time in seconds. MODE "cold" drops the page cache before each run,
# outside the timed part (drop_page_cache, from cache.sh), and "warm"
# drops nothing. A run that exits non-zero still counts, because
# metaextract exits 1 when some file failed, and set -e must not end the
# loop on it.
median_time() {
	mode=$1
	runs=$2
	shift 2
	i=0
	while [ "$i" -lt "$runs" ]; do
		if [ "$mode" = cold ]; then
			drop_page_cache
		fi
		start=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || true
		end=$(date +%s.%N)
		echo "$end - $start" | bc -l
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_of RUNS CMD...: median_time with a warm page cache.
median_of() {
	median_time warm "$@"
}

# write_small_files ROOT COUNT DIRS SEED: COUNT files of 1 B to 16 KiB of
# random bytes, spread over DIRS directories under ROOT. SEED fixes the
# sizes, so that a tree made again has the same byte count.
write_small_files() {
	python3 - "$@" <<'EOF'
import os, random, sys
root, count, dirs, seed = sys.argv[1], *map(int, sys.argv[2:5])
sizes = random.Random(seed)
for d in range(dirs):
    os.makedirs(os.path.join(root, "d%02d" % d))
for i in range(count):
    path = os.path.join(root, "d%02d" % (i % dirs), "f%06d" % i)
    with open(path, "wb") as f:
        f.write(os.urandom(sizes.randint(1, 16384)))
EOF
}

# peak_rss_kib CMD...: runs CMD once and prints its peak RSS in KiB. time
# writes a line about a non-zero exit status first, so only the last
# line is the figure.
peak_rss_kib() {
	/usr/bin/time -f '%M' -o /tmp/mx-bench-rss "$@" >/dev/null 2>&1 || true
	tail -n 1 /tmp/mx-bench-rss
}

machine_line() {
	echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"$(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}
