# Page cache and timing helpers for the tree benchmarks (sourced, not run),
# next to common.sh.

# drop_page_cache: writes back dirty pages and drops the clean page cache,
# dentries and inodes of the whole machine. Fails without root, or where
# /proc/sys is mounted read-only, as in most containers.
drop_page_cache() {
	sync
	{ echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null
}

# load_1min: prints the 1-minute load average.
load_1min() {
	cut -d' ' -f1 /proc/loadavg
}

# median_time MODE RUNS CMD...: runs CMD RUNS times and prints the median
# wall time in seconds. MODE "cold" drops the page cache before each run,
# outside the timed part. MODE "warm" drops nothing. The exit status of
# CMD is ignored, because metaextract exits 1 when some file fails to parse.
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
