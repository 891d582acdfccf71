#!/bin/bash
# Builds one libFuzzer target of fuzz/ (av, hdf5 or wire) and runs it for
# SECONDS from seeds made of the test fixtures. Then it reruns every input
# that crashed the target and sorts the crashes by where their stacks
# fault: in our sources, or inside a library such as libhdf5.
#
#   tools/fuzz.sh TARGET SECONDS [BUILD_DIR]
#
# Everything lives under $MX_FUZZ_DIR (default /tmp/mx-fuzz), outside the
# repository: BUILD_DIR defaults to $MX_FUZZ_DIR/build, and TARGET/ keeps
# corpus/ (grown across runs), seeds/, crashes/ (inputs that crashed, hung
# or ran out of memory, with their reproduced reports under
# crashes/reports/) and logs/. Inputs whose stack faults in our code are
# also copied to $MX_FUZZ_DIR/findings/.
#
# The run uses libFuzzer's -fork mode with -ignore_crashes=1, so it goes on
# past crashes. SECONDS 0 runs no fuzzing: it only reproduces and sorts
# the crash inputs that earlier runs left, and summarizes the latest log.
# MX_FUZZ_JOBS (default 1) sets the jobs run in parallel. CC selects the
# compiler of a new build directory (default clang-14, else clang).
set -euo pipefail

usage()
{
	echo "usage: tools/fuzz.sh TARGET SECONDS [BUILD_DIR]" >&2
	echo "TARGET is av, hdf5 or wire. SECONDS is the fuzzing time." >&2
	exit 2
}

[ $# -ge 2 ] && [ $# -le 3 ] || usage
target=$1
seconds=$2
case $target in av|hdf5|wire) ;; *) usage ;; esac
case $seconds in ''|*[!0-9]*) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
work=${MX_FUZZ_DIR:-/tmp/mx-fuzz}
mkdir -p "$work"
work=$(cd "$work" && pwd)
case $work/ in
"$root"/*)
	echo "fuzz.sh: MX_FUZZ_DIR=$work is inside the repository;" \
	     "choose a directory outside $root" >&2
	exit 2 ;;
esac
build=${3:-$work/build}
dir=$work/$target
bin=$build/fuzz/${target}_fuzz
jobs=${MX_FUZZ_JOBS:-1}

# Options of the run, also used to reproduce its crashes. The timeout is
# per input, in seconds. -rss_limit_mb also caps single allocations.
# libhdf5 1.10.8 hangs on some variable-length strings, and every hang
# costs the whole timeout, so hdf5 gets a shorter one. Its fixtures parse
# in milliseconds.
fuzz_options=(-rss_limit_mb=2048)
case $target in
av) fuzz_options+=(-timeout=20 -max_len=32768) ;;
hdf5) fuzz_options+=(-timeout=5 -max_len=32768) ;;
wire) fuzz_options+=(-timeout=20) ;;
esac

# Allocations above ASan's maximum (1 TiB) return NULL instead of ending the
# run, as they fail in the product's parser worker under its data limit
# (--parser-memory). A library that handles the NULL is then no crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer)
then
	export ASAN_SYMBOLIZER_PATH=$symbolizer
fi

configure()
{
	local tests=false cc=${CC:-}

	if [ -z "$cc" ]; then
		cc=$(command -v clang-14 || command -v clang) || {
			echo "fuzz.sh: clang not found: install clang-14 or set CC" >&2
			exit 2
		}
	fi
	# test_wire (Criterion) writes the seeds of the wire target.
	if pkg-config --exists criterion; then
		tests=true
	fi
	if [ -f "$build/build.ninja" ]; then
		# Reconfigure only when needed, because two runs may share a build.
		ninja -C "$build" -t targets all |
			grep "^fuzz/${target}_fuzz:" >/dev/null ||
			meson configure "$build" -Dfuzz=true >/dev/null
	else
		CC=$cc meson setup "$build" "$root" -Dfuzz=true \
			-Dtests=$tests >/dev/null
	fi
}

build_targets()
{
	local targets=("fuzz/${target}_fuzz")

	# With -Dtests=true the build has test_wire, which writes wire seeds.
	if [ "$target" = wire ] &&
	   ninja -C "$build" -t targets all | grep '^tests/test_wire:' >/dev/null; then
		targets+=(tests/test_wire tools/metaextract-parser)
	fi
	ninja -C "$build" "${targets[@]}" >/dev/null
}

make_seeds()
{
	local f

	rm -rf "$dir/seeds"
	mkdir -p "$dir/seeds"
	case $target in
	av)
		for f in "$root"/tests/data/*.{mp4,mov,mkv,wav,flac,mp3}; do
			[ -f "$f" ] && cp "$f" "$dir/seeds/"
		done ;;
	hdf5)
		for f in "$root"/tests/data/*.{h5,hdf5}; do
			[ -f "$f" ] && cp "$f" "$dir/seeds/"
		done ;;
	wire)
		if [ ! -x "$build/tests/test_wire" ]; then
			echo "fuzz.sh: no tests/test_wire in $build (Criterion" \
			     "missing?); the wire target starts without seeds" >&2
			return
		fi
		MX_WIRE_SEED_DIR=$dir/seeds MX_TEST_DATA=$root/tests/data \
		MX_PARSER_HELPER=$build/tools/metaextract-parser \
			"$build/tests/test_wire" \
			--filter 'wire/real_records_round_trip' \
			>"$dir/logs/seeds.log" 2>&1 ||
			echo "fuzz.sh: test_wire failed while writing the" \
			     "seeds; see $dir/logs/seeds.log" >&2 ;;
	esac
}

# Reads a sanitizer or libFuzzer report and prints one tab-separated line:
# class (ours, library, other or not-reproduced), kind, the faulting frame,
# and for a frame outside our code, our innermost caller with the library
# function it called. The faulting frame is the first frame of the first
# stack that is not in the sanitizer runtime, libFuzzer, libc or our
# alloc_*() wrappers. For a leak, that frame allocated the block.
classify()
{
	awk '
	function runtime(fn, loc) {
		return fn ~ /^(main$|_start$|operator$|_Unwind|__mem|__str|__interceptor_|___interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|__GI_|__libc_|__pthread_kill|pthread_kill|raise$|abort$|gsignal$|__assert|malloc$|calloc$|realloc$|free$|posix_memalign$|aligned_alloc$|strdup$|alloc_(malloc|calloc|realloc|aligned|strdup)$)/ ||
		       loc ~ /(compiler-rt|sanitizer_common|\/libc\.so|libpthread|ld-linux|libstdc\+\+|libgcc_s|\/fuzzer\/Fuzzer|sysdeps\/)/
	}
	function ours(loc) {
		return match(loc, /(src|fuzz)\/[A-Za-z0-9_]+\.c(:[0-9]+)*/)
	}
	function place(i,   where) {
		if (ours(loc[i]))
			return fn[i] " (" substr(loc[i], RSTART, RLENGTH) ")"
		where = loc[i]
		if (where ~ /^\(/) {
			sub(/^\(/, "", where); sub(/\+0x.*/, "", where)
			sub(/.*\//, "", where)
		}
		return fn[i] " (" where ")"
	}
	error == "" && /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): |runtime error:/ {
		error = $0
	}
	kind == "" && /^SUMMARY: [A-Za-z]+: / {
		kind = $0
		sub(/^SUMMARY: [A-Za-z]+: /, "", kind)
		if (kind ~ /byte\(s\) leaked/)
			kind = "leak"
		else if ($0 ~ /SUMMARY: libFuzzer/)
			gsub(/ /, "-", kind)
		else
			sub(/[ :].*/, "", kind)
	}
	error != "" && !ended && /^ *#[0-9]+ 0x/ {
		n++
		fn[n] = "?"
		if (match($0, / in [^ ]+/))
			fn[n] = substr($0, RSTART + 4, RLENGTH - 4)
		loc[n] = $NF
		if ($(NF - 1) == "(BuildId:")
			loc[n] = $(NF - 2)
		next
	}
	n && /^$/ { ended = 1 }
	END {
		if (error == "") {
			print "not-reproduced\t-\t-\t-"
			exit
		}
		if (kind == "")
			kind = "unknown"
		for (f = 1; f <= n && runtime(fn[f], loc[f]); f++)
			;
		if (f > n) {
			print "other\t" kind "\tno frame outside the runtime\t-"
			exit
		}
		if (ours(loc[f]))
			class = "ours"
		else if (loc[f] ~ /^\(/ && loc[f] !~ /_fuzz\+0x/)
			class = "library"
		else
			class = "other"
		caller = "-"
		for (j = f + 1; class != "ours" && j <= n; j++) {
			if (ours(loc[j])) {
				caller = place(j) " calling " fn[j - 1]
				break
			}
		}
		print class "\t" kind "\t" place(f) "\t" caller
	}'
}

# Reruns every crash input that has no report yet, and classifies every
# report.
reproduce_all()
{
	local f name report options

	mkdir -p "$dir/crashes/reports"
	for f in "$dir"/crashes/{crash,leak,timeout,oom}-*; do
		[ -f "$f" ] || continue
		name=${f##*/}
		report=$dir/crashes/reports/$name
		# For leaks, the slow unwinder gives allocation stacks through
		# libraries built without frame pointers. It slows every
		# allocation, so the other inputs could time out under it.
		options=$ASAN_OPTIONS
		case $name in
		leak-*) options=$options:fast_unwind_on_malloc=0 ;;
		esac
		if [ ! -f "$report.txt" ]; then
			(cd "$dir" && ASAN_OPTIONS=$options \
			 timeout 120 "$bin" "${fuzz_options[@]}" "$f") \
				>"$report.txt.part" 2>&1 || true
			mv "$report.txt.part" "$report.txt"
		fi
		classify <"$report.txt" >"$report.class"
		if [ "$(cut -f1 "$report.class")" = ours ]; then
			mkdir -p "$work/findings"
			cp "$f" "$work/findings/$target-$name"
			cp "$report.txt" "$work/findings/$target-$name.txt"
		fi
	done
}

summarize()
{
	local stats run_time execs cov ft corp this_run reports

	stats=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -n 1 || true)
	run_time=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$stats")
	execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$stats")
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
	this_run=$(sed -nE 's/.* oom\/timeout\/crash: ([0-9\/]+).*/\1/p' \
		<<<"$stats")
	corp=$(find "$dir/corpus" -type f | wc -l)
	reports=$(find "$dir/crashes/reports" -name '*.class' 2>/dev/null)

	echo "== $target, latest run: ${run_time:-?} s, ${execs:-?}" \
	     "executions, cov ${cov:-?}, ft ${ft:-?}; corpus $corp inputs"
	echo "latest run, jobs ended by oom/timeout/crash: ${this_run:-?};" \
	     "log $log"
	if [ -z "$reports" ]; then
		echo "no crash inputs in $dir/crashes"
		return
	fi
	echo "crash inputs in $dir/crashes, all runs, by class:"
	xargs cat <<<"$reports" | cut -f1 | sort | uniq -c |
		awk '{ printf "  %-16s %d\n", $2, $1 }'
	echo "by class, kind and faulting frame, with our caller when the" \
	     "frame is in a library (count, then one input):"
	for r in $reports; do
		printf '%s\t%s\n' "$(cat "$r")" "$(basename "$r" .class)"
	done | sort | awk -F'\t' '
		{ key = $1 "\t" $2 "\t" $3 "\t" $4; n[key]++
		  if (!(key in eg)) { eg[key] = $5; order[++k] = key } }
		END { for (i = 1; i <= k; i++) {
			split(order[i], p, "\t")
			printf "  %4d  %-8s %-24s %s\n", n[order[i]], p[1],
				p[2], p[3]
			if (p[4] != "-")
				printf "        from %s\n", p[4]
			printf "        e.g. %s\n", eg[order[i]] } }'
	if ls "$work"/findings/"$target"-* >/dev/null 2>&1; then
		echo "inputs whose stack faults in our code: $work/findings/"
	fi
}

run_fuzzer()
{
	log=$dir/logs/run-$(date +%Y%m%d-%H%M%S).log
	echo "fuzz.sh: running $bin for $seconds s; log $log" >&2
	(cd "$dir" && "$bin" -fork="$jobs" -ignore_crashes=1 \
		-ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$seconds" \
		-artifact_prefix="$dir/crashes/" "${fuzz_options[@]}" \
		"$dir/corpus" "$dir/seeds") >"$log" 2>&1 || true
}

# The steps run from one function called on the last line, so bash has read
# the whole file before the fuzzer starts. An edit to the script during a
# run then cannot shift what bash reads next.
main()
{
	mkdir -p "$dir/corpus" "$dir/crashes" "$dir/logs"
	configure
	build_targets
	if [ "$seconds" -gt 0 ]; then
		make_seeds
		run_fuzzer
	else
		log=$(ls -t "$dir"/logs/run-*.log 2>/dev/null | head -n 1 ||
		      true)
		log=${log:-/dev/null}
	fi
	reproduce_all
	summarize | tee "$dir/summary.txt"
}

main "$@"; exit
