#!/bin/bash
# metaextract --mpi under mpirun: the merged output of 1 and 3 ranks
# equals a single-process run, every rank does work, a run killed with
# SIGKILL and run again ends with the same index, and SIGUSR1 stops all
# ranks cleanly.
# Usage: test_mpi.sh PATH_TO_METAEXTRACT
set -u
mx=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

# MPIRUN picks another launcher, such as mpirun.mpich for a build made
# against MPICH.
mpirun=${MPIRUN:-mpirun}
if ! command -v "$mpirun" >/dev/null; then
	echo "$mpirun not found; skipped"
	exit 77
fi
# Open MPI rejects running as root without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under AddressSanitizer: leaks inside the MPI libraries are theirs, and
# only full stacks show which library a leak is in (see the file).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Only the ranks get the slow unwinder; the other runs keep the defaults.
mpi_asan_options="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

# Open MPI needs --oversubscribe for more ranks than cores; MPICH's
# launcher oversubscribes without it.
launch=(env ASAN_OPTIONS="$mpi_asan_options" "$mpirun")
if "$mpirun" --version 2>&1 | grep -q 'Open MPI'; then
	launch+=(--oversubscribe)
fi

# rank_of PID: one metaextract process started under the launcher PID.
# Under MPICH the launcher's children are proxies, and other metaextract
# processes may run beside the test, so ancestors are followed.
rank_of() {
	local p q
	for p in $(pgrep -x metaextract); do
		q=$p
		while [ "${q:-1}" -gt 1 ]; do
			q=$(ps -o ppid= -p "$q" | tr -d ' ')
			if [ "$q" = "$1" ]; then
				echo "$p"
				return
			fi
		done
	done
}

stat_of() {
	/usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$1" "$2"
}

listing() {
	sqlite3 -batch "$1" "SELECT path, status, size, sha256, xxh128, missing FROM files ORDER BY path"
}

jsonl_listing() {
	/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print(r["path"], r["status"], r.get("digests", {}).get("sha256", ""),
          sep="|")' "$1" | sort
}

# Skewed sizes: many small files in nested directories, a few large ones,
# and entries that get records without a read. --no-parse keeps exit
# codes independent of random bytes that look like media.
tree=$work/tree
mkdir -p "$tree/small/x/y" "$tree/large" "$tree/other"
for i in $(seq 1 400); do
	head -c $((i * 211 % 40000 + 1)) /dev/urandom >"$tree/small/f$i"
done
for i in $(seq 1 100); do printf '%s' "$i" >"$tree/small/x/y/g$i"; done
for i in 1 2 3; do
	head -c $((i * 4 * 1024 * 1024)) /dev/urandom >"$tree/large/big$i"
done
head -c $((70 * 1024 * 1024)) /dev/zero >"$tree/large/zeros"
ln -s ../small "$tree/other/link"
mkfifo "$tree/other/fifo"

opts=(-q --no-parse -j2 -d sha256,xxh128)
"$mx" "${opts[@]}" -o "$work/ref.db" "$tree"
check "single-process run exit code" 0 $?
"$mx" "${opts[@]}" -o "$work/ref.jsonl" "$tree"

for n in 1 3; do
	# A rate limit per rank keeps the run long enough for steals.
	"${launch[@]}" -n "$n" "$mx" --mpi "${opts[@]}" --max-rate=40M \
		--stats="$work/stats-$n.json" -o "$work/mpi-$n.db" "$tree"
	check "$n ranks: exit code" 0 $?
	check "$n ranks: merged index equals a single run" \
		"$(listing "$work/ref.db")" "$(listing "$work/mpi-$n.db")"
	check "$n ranks: shards removed after the merge" 0 \
		"$(ls "$work" | grep -c "mpi-$n.db.rank-")"
	check "$n ranks: stats list the ranks" "$n" \
		"$(stat_of "$work/stats-$n.json" mpi.ranks)"
	for r in $(seq 0 $((n - 1))); do
		files=$(stat_of "$work/stats-$n.json" "mpi.per_rank.$r.files")
		check "$n ranks: rank $r made records" 1 \
			"$([ "$files" -gt 0 ] && echo 1)"
	done
done
total=0
for r in 0 1 2; do
	total=$((total + $(stat_of "$work/stats-3.json" "mpi.per_rank.$r.files")))
done
check "3 ranks: records add up" "$(listing "$work/ref.db" | wc -l)" "$total"
received=0
for r in 0 1 2; do
	received=$((received + $(stat_of "$work/stats-3.json" "mpi.per_rank.$r.items_received")))
done
check "3 ranks: items were stolen" 1 "$([ "$received" -gt 0 ] && echo 1)"

# JSON Lines: the shards are joined into one file.
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" -o "$work/mpi.jsonl" "$tree"
check "JSON Lines: exit code" 0 $?
check "JSON Lines: joined output equals a single run" \
	"$(jsonl_listing "$work/ref.jsonl")" "$(jsonl_listing "$work/mpi.jsonl")"

# A second run finds every file current in the merged index.
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" --stats="$work/again.json" \
	-o "$work/mpi-3.db" "$tree"
check "rerun: exit code" 0 $?
check "rerun reads nothing" 0 "$(stat_of "$work/again.json" content_bytes)"
unchanged=0
for r in 0 1 2; do
	unchanged=$((unchanged + $(stat_of "$work/again.json" "mpi.per_rank.$r.files_unchanged")))
done
check "rerun: every regular file unchanged" \
	"$(sqlite3 "$work/ref.db" "SELECT count(*) FROM files WHERE kind = 'file'")" \
	"$unchanged"
check "rerun: index unchanged" "$(listing "$work/ref.db")" \
	"$(listing "$work/mpi-3.db")"

# Resume: SIGKILL the whole job (launcher and ranks, as a scheduler does)
# partway, then run the same command again.
for i in 1 2 3; do
	setsid "${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" --max-rate=4M \
		-o "$work/killed.db" "$tree" 2>/dev/null &
	pid=$!
	sleep "1.$((RANDOM % 10))"
	kill -9 -- -"$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
check "killed runs left rank shards" 1 \
	"$([ "$(ls "$work" | grep -c 'killed.db.rank-[0-9]*$')" -gt 0 ] && echo 1)"
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" -o "$work/killed.db" \
	--stats="$work/resumed.json" "$tree" 2>/dev/null
check "resumed run: exit code" 0 $?
check "resumed run: index equals a single run" "$(listing "$work/ref.db")" \
	"$(listing "$work/killed.db")"
check "resumed run: integrity" ok \
	"$(sqlite3 "$work/killed.db" "PRAGMA integrity_check")"
check "resumed run: no interrupted run left running" 0 \
	"$(sqlite3 "$work/killed.db" "SELECT count(*) FROM runs WHERE status = 'running'")"
unchanged=0
for r in 0 1 2; do
	unchanged=$((unchanged + $(stat_of "$work/resumed.json" "mpi.per_rank.$r.files_unchanged")))
done
check "resumed run kept the work of the killed runs" 1 \
	"$([ "$unchanged" -gt 0 ] && echo 1)"

# SIGUSR1, which mpirun passes on to the ranks, stops every rank
# cleanly; the same command then finishes the job.
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" --max-rate=4M \
	-o "$work/stopped.db" "$tree" 2>"$work/stop.err" &
pid=$!
sleep 1.5
kill -USR1 "$pid"
wait "$pid"
status=$?
check "SIGUSR1: exit code 128 + 10" 138 "$status"
check "SIGUSR1: shards merged" 0 \
	"$(ls "$work" | grep -c 'stopped.db.rank-')"
check "SIGUSR1: runs recorded as stopped" 1 \
	"$([ "$(sqlite3 "$work/stopped.db" "SELECT count(*) FROM runs WHERE status = 'stopped'")" -gt 0 ] && echo 1)"
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" -o "$work/stopped.db" "$tree"
check "after SIGUSR1: rerun exit code" 0 $?
check "after SIGUSR1: index equals a single run" "$(listing "$work/ref.db")" \
	"$(listing "$work/stopped.db")"

# SIGTERM to one rank once the walk is over, while every rank still reads
# a large file, stops the others too: before, they read to the end.
mkdir "$work/large"
for i in 0 1 2; do
	head -c 40M /dev/urandom >"$work/large/f$i"
done
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" --max-rate=8M \
	-o "$work/large.db" "$work/large" 2>/dev/null &
pid=$!
# Each file takes 5 s at this rate. Once the ranks have their shards
# open, the three files are handed out within a second.
for i in $(seq 1 100); do
	[ "$(ls "$work" | grep -c '^large.db.rank-[0-9]*$')" = 3 ] && break
	sleep 0.2
done
sleep 1
rank=$(rank_of "$pid")
kill -TERM "$rank"
wait "$pid"
check "SIGTERM to one rank: every run stopped" 3 \
	"$(sqlite3 "$work/large.db" "SELECT count(*) FROM runs WHERE status = 'stopped'")"
check "SIGTERM to one rank: no file read to the end" 0 \
	"$(sqlite3 "$work/large.db" "SELECT count(*) FROM files WHERE status = 'ok'")"
rm -rf "$work/large"

# The same with files queued in the engines when the stop comes: a
# cancelled batch drops them without records, and the ranks once waited
# for them for ever.
mkdir "$work/queued"
for i in $(seq 1 300); do
	head -c 20000 /dev/urandom >"$work/queued/f$i"
done
timeout 60 "${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" -j 1 \
	--max-rate=2M -o "$work/queued.db" "$work/queued" 2>/dev/null &
pid=$!
sleep 1.5
rank=$(rank_of "$pid")
kill -TERM "$rank"
wait "$pid"
status=$?
check "stop with queued files: the job ends" 1 \
	"$([ "$status" != 124 ] && echo 1)"
check "stop with queued files: shards merged" 0 \
	"$(ls "$work" | grep -c 'queued.db.rank-')"
rm -rf "$work/queued"

# An output inside the tree: no rank reads the job's output or the other
# ranks' shards, which are being written.
mkdir -p "$work/inside/sub"
for i in 1 2 3 4 5 6 7 8 9; do
	echo "$i" >"$work/inside/sub/f$i"
done
"${launch[@]}" -n 3 "$mx" --mpi "${opts[@]}" -o "$work/inside/out.db" \
	"$work/inside" 2>/dev/null
check "output inside the tree: exit code" 0 $?
check "output inside the tree: only the tree's files" 9 \
	"$(sqlite3 "$work/inside/out.db" "SELECT count(*) FROM files")"
rm -rf "$work/inside"

# Usage errors need no launcher.
"$mx" --mpi -q "$tree" >/dev/null 2>&1
check "--mpi without -o rejected" 2 $?
"$mx" --mpi --shard=1/2 -q -o "$work/x.db" "$tree" >/dev/null 2>&1
check "--mpi with --shard rejected" 2 $?

finish_checks
