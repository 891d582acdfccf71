#!/bin/bash
# --shard K/N: the N jobs together give every entry of a tree exactly one
# record, with the records of a single run, and a sharded index flags
# missing only the rows of its own shard.
# Usage: test_shard.sh PATH_TO_METAEXTRACT
set -u
mx=$1
work=$(mktemp -d)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

# Path, status and digest of each JSON record, sorted.
records() {
	/usr/bin/python3 -c '
import json, sys
for name in sys.argv[1:]:
    for line in open(name, encoding="utf-8"):
        r = json.loads(line)
        print(r["path"], r["status"], r.get("digests", {}).get("xxh128", ""),
              sep="|")' "$@" | sort
}

# A tree with regular files, a symbolic link, a FIFO, a dangling link
# (an error record with -L) and nested directories.
tree=$work/tree
mkdir -p "$tree/a/b" "$tree/c"
for i in $(seq 1 60); do head -c $((i * 97)) /dev/urandom >"$tree/a/f$i"; done
for i in $(seq 1 30); do printf '%s' "$i" >"$tree/a/b/g$i"; done
head -c 300000 /dev/urandom >"$tree/c/large"
ln -s a/f1 "$tree/link"
ln -s missing "$tree/dangling"
mkfifo "$tree/fifo"

"$mx" -q --no-parse -L -j2 "$tree" >"$work/single.jsonl" 2>/dev/null
check "single run exit code (dangling link)" 1 $?
single=$(records "$work/single.jsonl")

for n in 1 2 3 4 5; do
	outs=()
	for k in $(seq 1 "$n"); do
		"$mx" -q --no-parse -L -j2 --shard="$k/$n" "$tree" \
			>"$work/shard-$k.jsonl" 2>/dev/null
		outs+=("$work/shard-$k.jsonl")
	done
	union=$(records "${outs[@]}")
	check "N=$n: union of the shards equals a single run" "$single" "$union"
	check "N=$n: no path twice" 0 \
		"$(records "${outs[@]}" | cut -d'|' -f1 | uniq -d | wc -l)"
done

# Without -L the links are skipped records, and they are split too.
"$mx" -q --no-parse "$tree" >"$work/nofollow.jsonl" 2>/dev/null
"$mx" -q --no-parse --shard=1/2 "$tree" >"$work/nf-1.jsonl" 2>/dev/null
"$mx" -q --no-parse --shard=2/2 "$tree" >"$work/nf-2.jsonl" 2>/dev/null
check "skipped records split without -L" \
	"$(records "$work/nofollow.jsonl")" \
	"$(records "$work/nf-1.jsonl" "$work/nf-2.jsonl")"

# The summary counts the entries left to other jobs, not as unchanged.
"$mx" --no-parse -o "$work/s.jsonl" --shard=1/3 --stats="$work/s.json" \
	"$tree" 2>"$work/err"
left=$(sed -n 's/.*shard 1\/3: \([0-9]*\) entries left.*/\1/p' "$work/err")
mine=$(wc -l <"$work/s.jsonl")
check "records plus entries left cover the tree" \
	"$(wc -l <"$work/nofollow.jsonl")" "$((left + mine))"
check "entries left are not unchanged" 0 \
	"$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files_unchanged"])' "$work/s.json")"

# Sharded indexes contain only their shard. A rerun finds its rows
# current and flags none of the other shards' files missing. Merged,
# they equal the index of a single run.
"$mx" -q --no-parse -o "$work/single.db" "$tree" 2>/dev/null
for k in 1 2 3; do
	"$mx" -q --no-parse --shard="$k/3" -o "$work/part-$k.db" "$tree" \
		2>/dev/null
	"$mx" -q --no-parse --shard="$k/3" -o "$work/part-$k.db" \
		--stats="$work/rerun-$k.json" "$tree" 2>/dev/null
	check "shard $k/3 rerun reads nothing" 0 \
		"$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["content_bytes"])' "$work/rerun-$k.json")"
	check "shard $k/3 rerun flags nothing missing" 0 \
		"$(sqlite3 "$work/part-$k.db" "SELECT count(*) FROM files WHERE missing")"
done
"$mx" merge "$work/merged.db" "$work/part-1.db" "$work/part-2.db" \
	"$work/part-3.db" 2>/dev/null
listing() {
	sqlite3 "$1" "SELECT path, status, xxh128, missing FROM files ORDER BY path"
}
check "merged shard indexes equal a single index" \
	"$(listing "$work/single.db")" "$(listing "$work/merged.db")"

# A file deleted between runs is flagged missing in its own shard only.
rm "$tree/a/f7"
for k in 1 2 3; do
	"$mx" -q --no-parse --shard="$k/3" -o "$work/part-$k.db" "$tree" \
		2>/dev/null
done
flagged=0
for k in 1 2 3; do
	n=$(sqlite3 "$work/part-$k.db" "SELECT count(*) FROM files WHERE missing")
	flagged=$((flagged + n))
done
check "deleted file flagged missing once" 1 "$flagged"

# Invalid values.
for bad in 0/3 4/3 3 1/0 a/b 1/2x -1/2; do
	"$mx" -q --shard="$bad" "$tree" >/dev/null 2>&1
	check "--shard=$bad rejected" 2 $?
done

finish_checks
