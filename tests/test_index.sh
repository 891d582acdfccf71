#!/bin/bash
# The SQLite index: contents, resume after kill -9, incremental runs,
# clean stop on SIGTERM, merge, CSV output, and the README's SQL examples.
# Usage: test_index.sh PATH_TO_METAEXTRACT DATA_DIR README
set -u
mx=$1
data=$2
readme=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

q() { sqlite3 -batch "$1" "$2"; }

# A value of the --stats JSON: stat FILE KEY.
stat_of() {
	/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# Paths, states and digests of an index, for comparing two of them.
listing() {
	q "$1" "SELECT path, status, size, sha256, xxh128, missing FROM files ORDER BY path"
}

# A tree with skewed sizes: many small files and a few larger ones. Runs
# over it use --no-parse, because about 1 in 7,000 files of random bytes
# looks like audio to libmagic and libavformat and then fails to parse,
# which would make exit codes depend on chance.
make_tree() {
	local dir=$1 count=$2 i
	mkdir -p "$dir/small" "$dir/large"
	for i in $(seq 1 "$count"); do
		head -c $((i * 211 % 60000 + 1)) /dev/urandom >"$dir/small/f$i.bin"
	done
	for i in 1 2 3; do
		head -c $((i * 3 * 1024 * 1024)) /dev/urandom >"$dir/large/big$i.bin"
	done
}

# --- contents: one row per record, same digests as the JSON Lines output.
tree=$work/fixtures
mkdir -p "$tree"
cp "$data"/*.mp4 "$data"/*.h5 "$data"/*.wav "$data"/*.mkv "$tree"/
cp "$data/gen_tone.wav" "$tree/copy of tone.wav"
printf 'x' >"$tree/$(printf 'bad\377name.bin')"
"$mx" -q -d sha256 -o "$work/fix.db" "$tree" 2>"$work/err"
check "index run exit code (damaged fixtures)" 1 $?
"$mx" -q -d sha256 "$tree" >"$work/fix.jsonl" 2>/dev/null
check "one row per record" "$(wc -l <"$work/fix.jsonl")" \
	"$(q "$work/fix.db" "SELECT count(*) FROM files")"
/usr/bin/python3 - "$work/fix.jsonl" >"$work/json.txt" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    e = r.get("error", {})
    print(r["path"], r["status"], r.get("digests", {}).get("sha256", ""),
          e.get("errno", ""), e.get("message", ""), sep="|")
EOF
q "$work/fix.db" "SELECT path, status, coalesce(sha256, ''),
	coalesce(error_errno, ''), coalesce(error_message, '') FROM files" \
	>"$work/db.txt"
check "paths, states, sha256 and errors equal the JSON records" \
	"$(sort "$work/json.txt")" "$(sort "$work/db.txt")"
check "non-UTF-8 name keeps its bytes" "626164ff6e616d652e62696e" \
	"$(q "$work/fix.db" "SELECT substr(lower(hex(path_raw)), -24) FROM files WHERE path_raw IS NOT NULL")"
check "streams of the MP4 files" 4 \
	"$(q "$work/fix.db" "SELECT count(*) FROM streams s JOIN files f ON f.id = s.file_id WHERE f.path LIKE '%gen_faststart.mp4' OR f.path LIKE '%gen_moov_end.mp4'")"
check "gzip dataset of gen_chunked.h5" "/measurements/samples" \
	"$(q "$work/fix.db" "SELECT d.path FROM datasets d JOIN files f ON f.id = d.file_id, json_each(d.filters) WHERE f.path LIKE '%gen_chunked.h5' AND json_each.value = 'deflate'")"
check "HDF5 attribute as a tag" "probe-7" \
	"$(q "$work/fix.db" "SELECT value FROM tags WHERE scope = 'attribute' AND object_path = '/measurements' AND name = 'instrument'")"
check "manifest: one complete run" "1|complete" \
	"$(q "$work/fix.db" "SELECT count(*), status FROM runs")"
check "manifest: library versions" 1 \
	"$(q "$work/fix.db" "SELECT json_extract(libraries, '\$.metaextract') = '$("$mx" --version | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["metaextract"])')' FROM runs")"
check "manifest: options" '["sha256"]' \
	"$(q "$work/fix.db" "SELECT json_extract(options, '\$.digests') FROM runs")"
check "integrity" ok "$(q "$work/fix.db" "PRAGMA integrity_check")"

# --- the README's SQL examples run against this index and return rows.
/usr/bin/python3 - "$readme" "$work/examples" <<'EOF'
import os, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
os.makedirs(sys.argv[2])
for i, block in enumerate(re.findall(r"```sql\n(.*?)```", text, re.S)):
    open(os.path.join(sys.argv[2], "%02d.sql" % i), "w").write(block)
EOF
examples=$(ls "$work/examples" | wc -l)
check "README has SQL examples" 1 "$([ "$examples" -ge 4 ] && echo 1)"
for f in "$work/examples"/*.sql; do
	rows=$(sqlite3 -batch "$work/fix.db" <"$f" 2>"$work/err" | wc -l)
	check "README example $(basename "$f") runs" "" "$(cat "$work/err")"
	check "README example $(basename "$f") returns rows" 1 \
		"$([ "$rows" -ge 1 ] && echo 1)"
done

# --- resume: kill -9 at random points, rerun, compare with one clean run.
make_tree "$work/tree" 300
"$mx" -q --no-parse -j2 -d sha256,xxh128 -o "$work/ref.db" "$work/tree"
check "reference run exit code" 0 $?
for i in $(seq 1 10); do
	"$mx" -q --no-parse -j2 -d sha256,xxh128 --max-rate=40M \
		-o "$work/resume.db" "$work/tree" &
	pid=$!
	sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
"$mx" -q --no-parse -j2 -d sha256,xxh128 -o "$work/resume.db" "$work/tree"
check "final rerun exit code" 0 $?
check "index after kills equals a clean run" "$(listing "$work/ref.db")" \
	"$(listing "$work/resume.db")"
check "integrity after kills" ok \
	"$(q "$work/resume.db" "PRAGMA integrity_check")"
check "no duplicate paths" 0 \
	"$(q "$work/resume.db" "SELECT count(*) - count(DISTINCT path) FROM files")"

# --- incremental: touch, modify, delete and add between runs.
# The runs keep the parsers on and check exit codes, so the bytes are
# seeded: about one file of fresh random bytes in 10,000 looks like an
# audio stream to libmagic or libavformat and fails to parse.
noise() {
	/usr/bin/python3 -c 'import random, sys
sys.stdout.buffer.write(random.Random(int(sys.argv[2])).randbytes(int(sys.argv[1])))' "$1" "$2"
}
inc=$work/inc
mkdir -p "$inc"
for i in $(seq 1 20); do noise $((i * 1000)) "$i" >"$inc/f$i"; done
"$mx" -q -o "$work/inc.db" --stats="$work/s1.json" "$inc"
check "first run reads every byte" 210000 \
	"$(stat_of "$work/s1.json" content_bytes)"
noise 500 21 >>"$inc/f1"
touch -d '2001-01-01' "$inc/f2"
rm "$inc/f3"
noise 7000 22 >"$inc/new"
"$mx" -q -o "$work/inc.db" --stats="$work/s2.json" "$inc"
check "second run exit code" 0 $?
check "second run reads changed and new files only" $((1500 + 2000 + 7000)) \
	"$(stat_of "$work/s2.json" content_bytes)"
check "second run: unchanged files" 17 \
	"$(stat_of "$work/s2.json" files_unchanged)"
check "deleted file flagged missing" 1 \
	"$(q "$work/inc.db" "SELECT missing FROM files WHERE path LIKE '%/f3'")"
check "modified file has its new size" 1500 \
	"$(q "$work/inc.db" "SELECT size FROM files WHERE path LIKE '%/f1'")"
check "new file indexed" 7000 \
	"$(q "$work/inc.db" "SELECT size FROM files WHERE path LIKE '%/new'")"
check "run manifest counts missing" 1 \
	"$(q "$work/inc.db" "SELECT files_missing FROM runs WHERE id = 2")"
"$mx" -q -o "$work/inc.db" --stats="$work/s3.json" "$inc"
check "unchanged tree: no content read" 0 \
	"$(stat_of "$work/s3.json" content_bytes)"
check "unchanged tree: every file unchanged" 20 \
	"$(stat_of "$work/s3.json" files_unchanged)"
"$mx" -q -o "$work/inc.db" --prune-missing "$inc"
check "--prune-missing deletes the row" 0 \
	"$(q "$work/inc.db" "SELECT count(*) FROM files WHERE path LIKE '%/f3'")"
"$mx" -q -o "$work/inc.db" --rescan --stats="$work/s4.json" "$inc"
check "--rescan reads every file" $((210000 - 3000 + 500 + 7000)) \
	"$(stat_of "$work/s4.json" content_bytes)"
"$mx" -q -o "$work/inc.db" -d sha256 --stats="$work/s5.json" "$inc"
check "a new digest re-reads every file" 20 \
	"$(stat_of "$work/s5.json" files)"

# A file whose parser failed is not read again while unchanged, but
# still counts as failed; --retry-failed reads it.
cp "$data/gen_truncated.mp4" "$inc/"
"$mx" -q -o "$work/inc.db" -d sha256 "$inc"
check "truncated file fails" 1 $?
"$mx" -q -o "$work/inc.db" -d sha256 --stats="$work/s6.json" "$inc"
check "unchanged failed file still exits 1" 1 $?
check "unchanged failed file not read" 0 "$(stat_of "$work/s6.json" files)"
"$mx" -q -o "$work/inc.db" -d sha256 --retry-failed \
	--stats="$work/s7.json" "$inc"
check "--retry-failed reads it" 1 "$(stat_of "$work/s7.json" files)"

# --- clean stop: SIGTERM mid-run ends quickly with a consistent index.
"$mx" -q --no-parse -j2 -d sha256 --max-rate=8M -o "$work/stop.db" \
	"$work/tree" &
pid=$!
sleep 1
start=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"
code=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "SIGTERM exit code" 143 "$code"
check "SIGTERM stop within 5 s" 1 "$([ "$ms" -lt 5000 ] && echo 1)"
check "stopped run recorded" stopped \
	"$(q "$work/stop.db" "SELECT status FROM runs")"
check "integrity after SIGTERM" ok \
	"$(q "$work/stop.db" "PRAGMA integrity_check")"
"$mx" -q --no-parse -j2 -d sha256,xxh128 -o "$work/stop.db" "$work/tree"
check "rerun after SIGTERM exit code" 0 $?
check "rerun after SIGTERM equals a clean run" "$(listing "$work/ref.db")" \
	"$(listing "$work/stop.db")"

# --- merge: two shards equal one run; merging again changes nothing.
"$mx" -q --no-parse -d sha256,xxh128 -o "$work/shard1.db" "$work/tree/small"
"$mx" -q --no-parse -d sha256,xxh128 -o "$work/shard2.db" "$work/tree/large" \
	"$work/tree/small/f1.bin"
"$mx" merge "$work/merged.db" "$work/shard1.db" "$work/shard2.db" \
	2>"$work/err"
check "merge exit code" 0 $?
"$mx" -q --no-parse -d sha256,xxh128 -o "$work/whole.db" "$work/tree/small" \
	"$work/tree/large"
check "merged shards equal one run" "$(listing "$work/whole.db")" \
	"$(listing "$work/merged.db")"
"$mx" merge "$work/merged.db" "$work/shard2.db" 2>/dev/null
check "merging again changes nothing" "$(listing "$work/whole.db")" \
	"$(listing "$work/merged.db")"
check "merged manifest keeps both runs" 2 \
	"$(q "$work/merged.db" "SELECT count(*) FROM runs")"
"$mx" merge "$work/fmerged.db" "$work/fix.db" "$work/fix.db" 2>/dev/null
check "merge keeps child rows once" \
	"$(q "$work/fix.db" "SELECT count(*) FROM streams")|$(q "$work/fix.db" "SELECT count(*) FROM tags")" \
	"$(q "$work/fmerged.db" "SELECT count(*) FROM streams")|$(q "$work/fmerged.db" "SELECT count(*) FROM tags")"
printf 'not an index\n' >"$work/text.db"
"$mx" merge "$work/merged.db" "$work/text.db" 2>"$work/err"
check "merge of a non-index exits 1" 1 $?

# --- errors: a file that is not an index, a second run on one index.
printf 'some text\n' >"$work/notes.db"
"$mx" -q -o "$work/notes.db" "$tree" 2>"$work/err"
check "non-index output exit code" 2 $?
check "non-index output left alone" "some text" "$(cat "$work/notes.db")"
"$mx" -q --max-rate=1M -o "$work/busy.db" "$work/tree" &
pid=$!
sleep 0.5
"$mx" -q -o "$work/busy.db" "$inc" 2>"$work/err"
check "second run on a busy index exit code" 2 $?
check "busy index message" 1 "$(grep -c 'in use by another' "$work/err")"
kill -9 "$pid"
wait "$pid" 2>/dev/null
"$mx" -q --rescan "$inc" >/dev/null 2>"$work/err"
check "--rescan without an index exit code" 2 $?

# --- CSV: one row per record; Python's csv module reads the same paths.
"$mx" -q -o "$work/fix.csv" "$tree" 2>/dev/null
/usr/bin/python3 - "$work/fix.csv" >"$work/csv.txt" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f, strict=True):
        print(row["path"], row["status"], sep="|")
EOF
/usr/bin/python3 - "$work/fix.jsonl" >"$work/json2.txt" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print(r["path"], r["status"], sep="|")
EOF
check "CSV rows equal the JSON records" "$(sort "$work/json2.txt")" \
	"$(sort "$work/csv.txt")"

# --- regressions from attacks on the index.
reg=$work/reg
mkdir -p "$reg/d" "$reg/dé"
echo a >"$reg/d/a"; echo b >"$reg/d/b"; echo c >"$reg/dé/c"; echo e >"$reg/dé/e"
"$mx" -q -o "$reg/r.db" "$reg/d" "$reg/dé"
"$mx" -q -o "$reg/r.db" --stats="$reg/r.db" "$reg/d" 2>"$work/err"
check "--stats naming the index exit code" 2 $?
check "--stats naming the index leaves it intact" 4 \
	"$(q "$reg/r.db" "SELECT count(*) FROM files")"
rm "$reg/dé/e"
"$mx" -q -o "$reg/r.db" "$reg/dé"
check "missing file under a non-ASCII root flagged" 1 \
	"$(q "$reg/r.db" "SELECT missing FROM files WHERE path LIKE '%/e'")"
"$mx" -q -o "$reg/r.db" "$reg/d//" "$reg/d/"
check "one row per file whatever the slashes" 4 \
	"$(q "$reg/r.db" "SELECT count(*) FROM files")"
check "journal back to delete mode after a run" "delete|absent" \
	"$(q "$reg/r.db" "PRAGMA journal_mode")|$([ -e "$reg/r.db-wal" ] && echo present || echo absent)"
"$mx" -q -o "$reg/d/inside.db" "$reg/d"
check "an index inside its tree does not index itself" 0 \
	"$(q "$reg/d/inside.db" "SELECT count(*) FROM files WHERE path LIKE '%inside.db%'")"
touch -d '2300-01-01' "$reg/d/a"
"$mx" -q -o "$reg/r.db" "$reg/d" 2>"$work/err"
"$mx" -q -o "$reg/r.db" --stats="$work/far.json" "$reg/d" 2>>"$work/err"
check "mtime past 2262: no sanitizer report" "" \
	"$(grep -i 'runtime error' "$work/err")"
check "mtime past 2262: unchanged on rerun" 0 "$(stat_of "$work/far.json" files)"

# A run killed with SIGKILL is marked interrupted by the next one.
"$mx" -q --max-rate=1M -o "$reg/k.db" "$work/tree" &
pid=$!
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null
"$mx" -q -o "$reg/k.db" "$reg/d"
check "killed run marked interrupted" "interrupted|complete" \
	"$(q "$reg/k.db" "SELECT group_concat(status, '|') FROM (SELECT status FROM runs ORDER BY id)")"

# Stopping a --rescan run keeps the good rows of files it did not finish.
cp "$work/ref.db" "$reg/rescan.db"
"$mx" -q --no-parse -j2 -d sha256,xxh128 --rescan --max-rate=8M \
	-o "$reg/rescan.db" "$work/tree" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
check "stopped --rescan keeps every digest" \
	"$(q "$work/ref.db" "SELECT count(sha256) FROM files")" \
	"$(q "$reg/rescan.db" "SELECT count(sha256) FROM files")"

# --no-parse does not fail on parser failures recorded earlier.
"$mx" -q -o "$work/inc.db" -d sha256 --no-parse "$inc"
check "--no-parse ignores earlier parser failures" 0 $?

# Merge carries what later runs of a shard changed, and checks its
# arguments.
mkdir -p "$reg/s"
echo 1 >"$reg/s/a"; echo 2 >"$reg/s/b"
"$mx" -q -o "$reg/s.db" "$reg/s"
"$mx" merge "$reg/out.db" "$reg/s.db" 2>/dev/null
rm "$reg/s/b"
"$mx" -q -o "$reg/s.db" "$reg/s"
"$mx" merge "$reg/out.db" "$reg/s.db" 2>/dev/null
check "merge carries a later missing flag" 1 \
	"$(q "$reg/out.db" "SELECT missing FROM files WHERE path LIKE '%/s/b'")"
check "merge carries the later run's status" "complete|complete" \
	"$(q "$reg/out.db" "SELECT group_concat(status, '|') FROM runs")"
"$mx" merge -v "$reg/out.db" "$reg/s.db" 2>"$work/err"
check "merge rejects options" 2 $?
check "no file named like the option" absent \
	"$([ -e -v ] && echo present || echo absent)"
"$mx" merge "$reg/out.db" "$work/fix.jsonl" 2>"$work/err"
check "merge of a JSON file exit code" 1 $?
check "merge of a JSON file says why" 1 "$(grep -c 'fix.jsonl' "$work/err")"

finish_checks
