# Helpers shared by the benchmark scripts (sourced, not run).

# median_of N CMD...: runs CMD N times and prints the median wall time in
# seconds. A run that exits non-zero still counts (metaextract exits 1
# when some file failed), and set -e must not end the loop on it.
median_of() {
	runs=$1
	shift
	i=0
	while [ "$i" -lt "$runs" ]; do
		start=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || true
		end=$(date +%s.%N)
		echo "$end - $start" | bc -l
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
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
