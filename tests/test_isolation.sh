#!/bin/bash
# Parser isolation and bad input: misbehaving test parsers (a -Dtesting
# build), fault injection, and truncated or forged files of every format.
# Usage: test_isolation.sh PATH_TO_METAEXTRACT DATA_DIR
set -u
mx=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

# Prints "path|status|stage|errno|outcome" per record, sorted.
summarise() {
	/usr/bin/python3 -c '
import json, os, sys
for line in sys.stdin:
    r = json.loads(line)
    e = r.get("error") or {}
    print("|".join(str(x) for x in (os.path.basename(r["path"]), r["status"],
          e.get("stage"), e.get("errno"), e.get("parser_outcome"))))
' | sort
}

field() {
	/usr/bin/python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    if r["path"].endswith(want):
        v = r
        for k in sys.argv[2].split("/"):
            v = v.get(k) if isinstance(v, dict) else None
        print(v)
' "$1" "$2"
}

# --- a batch with a crash, an abort, a hang and a slow parser among good
# files: every file gets its record, the bad ones their outcome.
bad=$work/bad
mkdir -p "$bad"
for c in crash abort loop slow escape; do printf 'MXTEST:%s\n' "$c" >"$bad/$c.bin"; done
cp "$data/gen_faststart.mp4" "$data/gen_chunked.h5" "$data/gen_tone.wav" "$bad/"
start=$(date +%s)
"$mx" -q -j1 -d sha256 --parse-stall-timeout=1 --parse-timeout=3 "$bad" \
	>"$work/bad.jsonl" 2>"$work/err"
check "batch with bad parsers exit code" 1 $?
check "batch with bad parsers ends in time" 1 \
	"$([ $(($(date +%s) - start)) -lt 30 ] && echo 1)"
summarise <"$work/bad.jsonl" | grep -v '^gen_' | sed 's/|None$//' \
	>"$work/bad.txt"
crash=$(grep '^crash.bin' "$work/bad.txt")
check "crash outcome" "crash.bin|error|parse|None|crash" "$crash"
check "abort outcome" "abort.bin|error|parse|None|crash" \
	"$(grep '^abort.bin' "$work/bad.txt")"
check "endless loop hits the stall timeout" \
	"loop.bin|error|parse|ETIMEDOUT|timeout" "$(grep '^loop.bin' "$work/bad.txt")"
check "slow parser hits the total timeout" \
	"slow.bin|error|parse|ETIMEDOUT|timeout" "$(grep '^slow.bin' "$work/bad.txt")"
check "slow parser message names the limit" 1 \
	"$(field slow.bin error/message <"$work/bad.jsonl" | grep -c 'parse-timeout')"
check "good files among bad ones" \
	"gen_chunked.h5|ok|None|None|None gen_faststart.mp4|ok|None|None|None gen_tone.wav|ok|None|None|None" \
	"$(summarise <"$work/bad.jsonl" | grep '^gen_' | tr '\n' ' ' | sed 's/ $//')"
check "digests kept when the parser crashed" \
	"$(sha256sum "$bad/crash.bin" | cut -d' ' -f1)" \
	"$(field crash.bin digests/sha256 <"$work/bad.jsonl")"
check "good file equals an isolated run of it alone" \
	"$(field gen_chunked.h5 hdf5 <"$work/bad.jsonl")" \
	"$("$mx" -q "$bad/gen_chunked.h5" | field gen_chunked.h5 hdf5)"

# --- the sandbox: a parser cannot open a file or create a socket.
check "sandboxed parser cannot open a file" EPERM \
	"$(field escape.bin test/open <"$work/bad.jsonl")"
check "sandboxed parser cannot create a socket" EPERM \
	"$(field escape.bin test/socket <"$work/bad.jsonl")"
"$mx" -q --parser-isolation=none "$bad/escape.bin" >"$work/none.jsonl"
check "without isolation the same parser opens the file" opened \
	"$(field escape.bin test/open <"$work/none.jsonl")"

# --- memory limit: a parser that allocates without end gets ENOMEM.
printf 'MXTEST:memory\n' >"$work/memory.bin"
"$mx" -q --parser-memory=256M "$work/memory.bin" >"$work/mem.jsonl"
outcome=$(summarise <"$work/mem.jsonl")
if [ "$(field memory.bin warnings <"$work/mem.jsonl")" != None ]; then
	# Sanitizer builds run workers without RLIMIT_DATA (see worker.c).
	check "memory test skipped without a limit" \
		"memory.bin|ok|None|None|None" "$outcome"
else
	check "memory blow-up outcome" "memory.bin|error|parse|ENOMEM|memory" \
		"$outcome"
fi

# --- recycling: a fresh worker every file gives the same records.
"$mx" -q -d none "$data" | summarise >"$work/once.txt"
"$mx" -q -d none --parser-recycle=1 "$data" | summarise >"$work/recycled.txt"
check "--parser-recycle=1 gives the same records" \
	"$(cat "$work/once.txt")" "$(cat "$work/recycled.txt")"

# --- fault injection in content reads.
big=$work/big.bin
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$big"
MX_FAULT=short_reads "$mx" -q -d sha256 --chunk-size=64K "$big" \
	>"$work/short.jsonl"
check "short reads: digest still right" \
	"$(sha256sum "$big" | cut -d' ' -f1)" \
	"$(field big.bin digests/sha256 <"$work/short.jsonl")"
check "short reads: more reads than chunks" 1 \
	"$([ "$(field big.bin read/content_reads <"$work/short.jsonl")" -gt 49 ] && echo 1)"
MX_FAULT=read_error=2 "$mx" -q -j1 -d sha256 --chunk-size=64K "$big" \
	>"$work/eio.jsonl"
check "injected read error exit code" 1 $?
check "injected read error record" "big.bin|error|read|EIO|None" \
	"$(summarise <"$work/eio.jsonl")"
check "no digest after a failed read" None \
	"$(field big.bin digests <"$work/eio.jsonl")"
MX_FAULT=delay_us=2000 "$mx" -q -d sha256 --chunk-size=64K "$big" \
	>"$work/slow.jsonl"
check "delayed completions: digest still right" \
	"$(sha256sum "$big" | cut -d' ' -f1)" \
	"$(field big.bin digests/sha256 <"$work/slow.jsonl")"

# Transient errors: reads that fail with EAGAIN are retried after a
# growing pause, and the record counts the attempts.
start=$(date +%s%N)
MX_FAULT=again_reads=5 "$mx" -q -j1 -d sha256 --chunk-size=64K "$big" \
	>"$work/again.jsonl"
ms=$((($(date +%s%N) - start) / 1000000))
check "retried reads: digest right" "$(sha256sum "$big" | cut -d' ' -f1)" \
	"$(field big.bin digests/sha256 <"$work/again.jsonl")"
check "retried reads: attempts counted" 1 \
	"$([ "$(field big.bin read/attempts <"$work/again.jsonl")" -ge 2 ] && echo 1)"
check "retried reads: backoff waited" 1 "$([ "$ms" -ge 8 ] && echo 1)"
MX_FAULT=again_reads=100 "$mx" -q -j1 --queue-depth=1 --chunk-size=64K \
	"$big" >"$work/again2.jsonl"
check "a read that keeps failing gives up" "big.bin|error|read|EAGAIN|None" \
	"$(summarise <"$work/again2.jsonl")"

# --- truncated and forged files of every format, with their exact
# statuses. MP3 declares no size, and FLAC is checked only up to its
# header, so their cut copies parse.
cut=$work/cut
mkdir -p "$cut"
for f in gen_faststart.mp4 gen_moov_end.mp4 gen_chapters.mkv gen_tone.wav \
	gen_tone.flac gen_tone.mp3 gen_chunked.h5 gen_types.h5; do
	size=$(stat -c %s "$data/$f")
	for q in 1 2 3; do
		head -c $((size * q / 4)) "$data/$f" >"$cut/${q}q_$f"
	done
	head -c 64 "$data/$f" >"$cut/head_$f"
done
: >"$cut/empty.mp4"
# Seeded bytes: with fresh random ones, the MP4 demuxer's verdict depended
# on the size field it happened to read (EBADMSG or ENODATA).
noise() {
	python3 -c 'import random, sys
sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(5000))' "$1"
}
{ printf '\211HDF\r\n\032\n'; noise 1; } >"$cut/random_magic.h5"
{ printf '\000\000\000\040ftypisom'; noise 2; } >"$cut/random_magic.mp4"
"$mx" -q -d none "$cut" | summarise >"$work/cut.txt"
cat >"$work/cut.expected" <<'EOF'
1q_gen_chapters.mkv|error|parse|ENODATA|None
1q_gen_chunked.h5|error|parse|ENODATA|None
1q_gen_faststart.mp4|error|parse|ENODATA|None
1q_gen_moov_end.mp4|error|parse|ENODATA|None
1q_gen_tone.flac|error|parse|ENODATA|None
1q_gen_tone.mp3|ok|None|None|None
1q_gen_tone.wav|error|parse|ENODATA|None
1q_gen_types.h5|error|parse|ENODATA|None
2q_gen_chapters.mkv|error|parse|ENODATA|None
2q_gen_chunked.h5|error|parse|ENODATA|None
2q_gen_faststart.mp4|error|parse|ENODATA|None
2q_gen_moov_end.mp4|error|parse|ENODATA|None
2q_gen_tone.flac|error|parse|ENODATA|None
2q_gen_tone.mp3|ok|None|None|None
2q_gen_tone.wav|error|parse|ENODATA|None
2q_gen_types.h5|error|parse|ENODATA|None
3q_gen_chapters.mkv|error|parse|ENODATA|None
3q_gen_chunked.h5|error|parse|ENODATA|None
3q_gen_faststart.mp4|error|parse|ENODATA|None
3q_gen_moov_end.mp4|error|parse|ENODATA|None
3q_gen_tone.flac|ok|None|None|None
3q_gen_tone.mp3|ok|None|None|None
3q_gen_tone.wav|error|parse|ENODATA|None
3q_gen_types.h5|error|parse|ENODATA|None
empty.mp4|ok|None|None|None
head_gen_chapters.mkv|error|parse|ENODATA|None
head_gen_chunked.h5|error|parse|ENODATA|None
head_gen_faststart.mp4|error|parse|ENODATA|None
head_gen_moov_end.mp4|error|parse|ENODATA|None
head_gen_tone.flac|error|parse|EBADMSG|None
head_gen_tone.mp3|error|parse|EBADMSG|None
head_gen_tone.wav|error|parse|ENODATA|None
head_gen_types.h5|error|parse|ENODATA|None
random_magic.h5|error|parse|EBADMSG|None
random_magic.mp4|error|parse|EBADMSG|None
EOF
check "truncated and forged files: exact statuses" \
	"$(cat "$work/cut.expected")" "$(cat "$work/cut.txt")"

# --- an HDF5 file whose external link points at itself is listed, and
# the link is not followed.
"$mx" -q "$data/gen_extlink_self.h5" >"$work/ext.jsonl"
check "self-referencing external link: exit code" 0 $?
check "self-referencing external link listed" \
	"external_link|gen_extlink_self.h5|/" "$(/usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
for o in r["hdf5"]["objects"]:
    if o["kind"] == "external_link":
        print(o["kind"], o["file"], o["target"], sep="|")
' <"$work/ext.jsonl")"

# libhdf5 reads past a heap buffer into an attribute of this damaged
# file. The file still gets one record, and the batch goes on; a
# sanitizer build's worker stops at the over-read with a crash.
"$mx" -q -j1 "$data/gen_chunked.h5" \
	"$data/../crash/hdf5json_tall_attr_overread.h5" >"$work/overread.jsonl"
check "over-read attribute: one record per file" 2 \
	"$(wc -l <"$work/overread.jsonl")"

# Files that crash or overrun libhdf5 (tests/crash, found by mutation,
# fuzzing and attacks): each gets exactly one record and the batch ends.
crash_files=$(ls "$data/../crash" | grep -c '\.h5$')
"$mx" -q -j2 -d none "$data/../crash" >"$work/crash.jsonl"
check "every crashing file gets one record" "$crash_files" \
	"$(grep -c '\.h5"' "$work/crash.jsonl")"

finish_checks
