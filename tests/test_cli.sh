#!/bin/sh
# Command-line behaviour of metaextract: exit codes, output, options.
# Usage: test_cli.sh PATH_TO_METAEXTRACT DATA_DIR
set -u
mx=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

printf 'hello\n' >"$work/a.txt"
printf 'world\n' >"$work/b.txt"

"$mx" -q -d sha256 "$work/a.txt" >"$work/out" 2>"$work/err"
check "exit code, all files ok" 0 $?
check "one record per file" 1 "$(wc -l <"$work/out")"
check "sha256 as sha256sum prints it" \
	"\"sha256\":\"$(sha256sum "$work/a.txt" | cut -d' ' -f1)\"" \
	"$(grep -o '"sha256":"[0-9a-f]*"' "$work/out")"
check "quiet run prints nothing on stderr" "" "$(cat "$work/err")"

"$mx" -q "$work/a.txt" "$work/missing" >"$work/out" 2>/dev/null
check "exit code, some files failed" 1 $?
check "the failed file has a record" 1 \
	"$(grep -c '"status":"error".*"stage":"stat","errno":"ENOENT"' "$work/out")"

"$mx" --digest=nosuch "$work/a.txt" >/dev/null 2>"$work/err"
check "exit code, invalid digest" 2 $?
check "invalid digest message names the value" 1 \
	"$(grep -c "invalid digest list 'nosuch'" "$work/err")"

"$mx" >/dev/null 2>&1
check "exit code, no path" 2 $?

"$mx" --chunk-size=1000 "$work/a.txt" >/dev/null 2>&1
check "exit code, chunk size not a multiple of 4096" 2 $?

printf '%s\n%s\n' "$work/a.txt" "$work/b.txt" |
	"$mx" -q --files-from=- >"$work/out"
check "--files-from reads standard input" 2 "$(wc -l <"$work/out")"

printf '%s\0%s\0' "$work/a.txt" "$work/b.txt" >"$work/list0"
"$mx" -q -0 --files-from="$work/list0" -o "$work/out"
check "-0 and -o write both records" 2 "$(wc -l <"$work/out")"

"$mx" -q --digest=none --no-type "$work" >"$work/out"
check "--digest=none leaves digests out" 0 \
	"$(grep -c '"digests"' "$work/out")"

"$mx" "$work/a.txt" >/dev/null 2>"$work/err"
check "summary on stderr" 1 "$(grep -c '1 files: 1 ok, 0 failed' "$work/err")"

printf '%s\0%s\0' "$work/a.txt" "$work/b.txt" |
	"$mx" -q --files-from=- >"$work/out" 2>"$work/err"
check "exit code, NUL-separated list without -0" 2 $?
check "NUL in a list names the fix" 1 "$(grep -c 'use -0' "$work/err")"

"$mx" -q --no-content -d sha256 "$work/a.txt" >/dev/null 2>"$work/err"
check "exit code, --no-content with a digest" 2 $?

"$mx" -q -o /dev/full "$work/a.txt" "$work/b.txt" 2>"$work/err"
check "exit code, output device full" 2 $?
check "a failed write names the output" 1 \
	"$(grep -c 'writing to /dev/full failed' "$work/err")"

# The sanitizer runtime opens files before main(), and one of them can
# take the free descriptor 1, so only the plain build can see it closed.
if ! ldd "$mx" | grep -q libasan; then
	"$mx" -q "$work/a.txt" >&- 2>"$work/err"
	check "exit code, standard output closed" 2 $?
fi

"$mx" --chunk-size=18014398509481988K "$work/a.txt" >/dev/null 2>&1
check "exit code, chunk size that overflows" 2 $?

"$mx" -q --chunk-size=1024M --buffers=4096 "$work/a.txt" 2>"$work/err"
check "exit code, buffers larger than memory" 2 $?
check "the memory message names the fix" 1 \
	"$(grep -c 'more than half of the .* GiB of memory' "$work/err")"

# SIGINT while the list on a pipe is still open: a clean stop, exit 130.
mkfifo "$work/list"
"$mx" -q --files-from="$work/list" >"$work/out" 2>"$work/err" &
pid=$!
exec 3>"$work/list"
printf '%s\n' "$work/a.txt" >&3
sleep 1
kill -INT "$pid"
wait "$pid"
check "exit code after SIGINT" 130 $?
exec 3>&-
check "records before SIGINT are kept" 1 "$(grep -c '"status":"ok"' "$work/out")"

# Five bytes changed in gen_types.h5 make libhdf5 1.10.8 crash in
# H5HG_read. In a parser worker the crash costs that file's parse only:
# it gets a record with the crash, and the batch goes on. A libhdf5 that
# copes gives an ordinary record.
"$mx" -q -d none "$data/../crash/gen_types_flipped.h5" "$data/gen_tone.wav" \
	>"$work/out" 2>"$work/err"
check "crashing HDF5 file: both records" 2 "$(wc -l <"$work/out")"
check "crashing HDF5 file: the other file is ok" 1 \
	"$(grep -c '"path":"[^"]*gen_tone.wav","status":"ok"' "$work/out")"
check "crashing HDF5 file: a crash, or a record" 1 \
	"$(grep -c '"parser_outcome":"crash"\|"hdf5":{' "$work/out")"

# Without isolation the crash ends the run, and the file is named, by
# AddressSanitizer in the sanitizer build or by metaextract's message.
"$mx" -q -d none --parser-isolation=none \
	"$data/../crash/gen_types_flipped.h5" >"$work/out" 2>"$work/err"
rc=$?
if grep -q AddressSanitizer "$work/err"; then
	check "sanitizer build: ASan reports the fault in libhdf5" yes \
		"$(grep -q 'libhdf5' "$work/err" && echo yes)"
elif [ "$rc" -le 1 ]; then
	check "damaged HDF5 file gets a record" 1 "$(wc -l <"$work/out")"
else
	check "crash message names the file" 1 \
		"$(grep -c 'while parsing .*gen_types_flipped.h5' "$work/err")"
fi

# The portable backend gives the same records as io_uring.
"$mx" -q -d all "$data" >"$work/uring.jsonl"
"$mx" -q -d all --io=pool "$data" >"$work/pool.jsonl"
check "--io=pool gives the records of io_uring" same "$(python3 -c '
import json, sys
def load(path):
    records = {}
    for line in open(path):
        record = json.loads(line)
        record.pop("read", None)
        records[record["path"]] = record
    return records
a, b = load(sys.argv[1]), load(sys.argv[2])
print("same" if a == b and len(a) > 10 else "differ")
' "$work/uring.jsonl" "$work/pool.jsonl")"
"$mx" --io=fast "$work/a.txt" >/dev/null 2>&1
check "exit code, invalid --io" 2 $?

"$mx" --help >"$work/out"
check "--help exits 0" 0 $?
for opt in --files-from --null --follow --one-file-system --digest \
	--no-content --no-type --no-parse --max-objects --max-tags --threads \
	--chunk-size --buffers --queue-depth --files-in-flight --output \
	--quiet --verbose --version --direct --max-rate --progress --io \
	--drop-cache --progress-interval --stats --format --rescan \
	--retry-failed --prune-missing --parser-isolation --parse-timeout \
	--parse-stall-timeout --parser-memory --parser-recycle --max-depth \
	--probe-size --analyze-duration; do
	check "--help documents $opt" 1 \
		"$(grep -cE -- "^ +(-[a-zA-Z0-9], )?$opt([=[ ]|$)" "$work/out")"
done

# Bounds on work: HDF5 group nesting and libavformat's stream analysis.
"$mx" -q --max-depth=1 "$data/hdf5json_tall.h5" >"$work/out"
check "--max-depth=1 stops below /g1" 2 \
	"$(grep -o '"path":"/g1/g1.[12]","kind":"group","attributes":\[\],"depth_limit_reached":true' "$work/out" | wc -l)"
"$mx" -q --probe-size=32 --analyze-duration=0 "$data/gen_chapters.mkv" \
	>"$work/out"
check "--probe-size=32 still finds the codecs" 1 \
	"$(grep -c '"codec_name":"mpeg4".*"codec_name":"vorbis"' "$work/out")"
"$mx" -q --max-depth=65 "$data/hdf5json_tall.h5" >/dev/null 2>&1
check "--max-depth=65 rejected" 2 $?
"$mx" -q --probe-size=16 "$data/gen_chapters.mkv" >/dev/null 2>&1
check "--probe-size=16 rejected" 2 $?

# --direct=auto: a large file that is not cached is read with O_DIRECT,
# a cached one buffered. Skipped where the file system has no O_DIRECT.
head -c $((80 << 20)) /dev/urandom >"$work/large.bin"
if dd if="$work/large.bin" of=/dev/null bs=1M count=1 iflag=direct \
	status=none 2>/dev/null; then
	sync
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$work/large.bin"
	"$mx" -q -d sha256 "$work/large.bin" >"$work/out"
	check "uncached large file read with O_DIRECT" 1 \
		"$(grep -c '"direct":true,"direct_chosen":true' "$work/out")"
	check "O_DIRECT digest right" 1 "$(grep -c "$(sha256sum \
		"$work/large.bin" | cut -d' ' -f1)" "$work/out")"
	cat "$work/large.bin" >/dev/null
	"$mx" -q "$work/large.bin" >"$work/out"
	check "cached large file read buffered" 0 \
		"$(grep -c '"direct"' "$work/out")"
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$work/large.bin"
	"$mx" -q --direct=never "$work/large.bin" >"$work/out"
	check "--direct=never keeps buffered reads" 0 \
		"$(grep -c '"direct"' "$work/out")"
fi
"$mx" -q --direct=sometimes "$work/a.txt" >/dev/null 2>&1
check "--direct=sometimes rejected" 2 $?

# Without CAP_IPC_LOCK, registered buffers must fit RLIMIT_MEMLOCK. Huge
# pages are charged whole, so at 8 MiB for two loops small pages fit
# more buffers (15 against 8) and are chosen.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock sh -c \
		'ulimit -l 8192 && exec "$0" -j 2 -d sha256 "$1"' \
		"$mx" "$work/a.txt" >"$work/out" 2>"$work/err"
	check "exit code under an 8 MiB RLIMIT_MEMLOCK" 0 $?
	check "15 buffers fit 8 MiB for two loops" 1 \
		"$(grep -c '15 x 256 KiB registered per loop, fewer to fit' \
			"$work/err")"
	# At 16 KiB one loop's ring fits and the next falls back, and the
	# parser ring of the first may not fit either.
	setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock sh -c \
		'ulimit -l 16 && exec "$0" -j 2 -d sha256 "$1"' \
		"$mx" "$work/a.txt" >"$work/out16" 2>"$work/err16"
	check "exit code under a 16 KiB RLIMIT_MEMLOCK" 0 $?
	check "digest right under 16 KiB" \
		"\"sha256\":\"$(sha256sum "$work/a.txt" | cut -d' ' -f1)\"" \
		"$(grep -o '"sha256":"[0-9a-f]*"' "$work/out16")"
	check "digest right with fewer buffers" \
		"\"sha256\":\"$(sha256sum "$work/a.txt" | cut -d' ' -f1)\"" \
		"$(grep -o '"sha256":"[0-9a-f]*"' "$work/out")"
fi

finish_checks
