# Page cache and load helpers for the tree benchmarks (sourced, not run),
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
