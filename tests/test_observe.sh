#!/bin/sh
# What a run shows while and after it works: the progress line in a real
# terminal (tmux), plain progress lines, --stats, --max-rate, bench and
# the plot script.
# Usage: test_observe.sh PATH_TO_METAEXTRACT SOURCE_DIR
set -u
mx=$1
src=$2
work=$(mktemp -d)
session="mx-test-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null; rm -rf "$work"' EXIT
. "$(dirname "$0")/check.sh"

# 8 MiB read at 2 MiB/s takes about 4 seconds: long enough to watch.
head -c 8M /dev/zero >"$work/slow"
mkdir "$work/tree"
for i in 1 2 3 4 5; do printf 'file %s\n' "$i" >"$work/tree/f$i"; done
ln -s nowhere "$work/tree/dangling"

# The progress line is redrawn in place, then erased before the summary.
tmux new-session -d -s "$session" -x 200 -y 40
# The marker is typed in two parts so that the command line never matches.
tmux send-keys -t "$session" "'$mx' -d none --max-rate=2M '$work/slow' \
>/dev/null; echo fin''ished-\$?" Enter
sleep 2
tmux capture-pane -p -t "$session" >"$work/during"
check "one progress line on screen while running" 1 \
	"$(grep -c '^metaextract: 0/1 files' "$work/during")"
i=0
while ! tmux capture-pane -p -t "$session" | grep -q 'finished-'; do
	i=$((i + 1))
	[ "$i" -lt 60 ] || break
	sleep 0.5
done
tmux capture-pane -p -t "$session" >"$work/after"
check "run ends with exit 0" 1 "$(grep -c 'finished-0' "$work/after")"
check "progress line erased at the end" 0 \
	"$(grep -c '0/1 files\|1/1 files' "$work/after")"
check "summary shown" 1 "$(grep -c '1 files: 1 ok' "$work/after")"

# Plain progress lines at the set interval, for batch job logs.
start=$(date +%s)
"$mx" -d none --max-rate=2M --progress=plain --progress-interval=1 \
	"$work/slow" >/dev/null 2>"$work/plain"
took=$(( $(date +%s) - start ))
lines=$(grep -c 'files, ' "$work/plain")
check "plain progress prints about one line a second" yes \
	"$([ "$lines" -ge $((took - 2)) ] && [ "$lines" -le $((took + 1)) ] \
		&& echo yes || echo "$lines lines in $took s")"
check "--max-rate 2M keeps 8 MiB over 3 seconds" yes \
	"$([ "$took" -ge 3 ] && echo yes || echo "$took s")"
check "--max-rate 2M keeps 8 MiB under 9 seconds" yes \
	"$([ "$took" -le 8 ] && echo yes || echo "$took s")"

# The rate limit applies over two loops and many files: 40 files of 100 KiB.
mkdir "$work/many"
i=0
while [ "$i" -lt 40 ]; do
	head -c 102400 /dev/zero >"$work/many/f$i"
	i=$((i + 1))
done
start=$(date +%s)
"$mx" -q -j 2 -d none --no-type --no-parse --max-rate=1M "$work/many" \
	>/dev/null
took=$(( $(date +%s) - start ))
check "--max-rate 1M keeps 4 MB on two loops over 2 seconds" yes \
	"$([ "$took" -ge 2 ] && echo yes || echo "$took s")"

"$mx" -q --stats="$work/same" -o "$work/same" "$work/tree" 2>"$work/err"
check "exit code, --stats naming the output file" 2 $?
"$mx" -q --stats="$work/no/such/dir/s.json" "$work/tree" >"$work/records" \
	2>"$work/err"
check "exit code, --stats in a missing directory" 2 $?
check "a bad --stats path fails before any record" 0 \
	"$(wc -l <"$work/records")"

# --stats counts what the records contain: five files, a skipped link and
# a missing path.
"$mx" -q --stats="$work/stats.json" "$work/tree" "$work/missing" \
	>"$work/records"
check "exit code with one failed file" 1 $?
python3 - "$work/stats.json" "$work/records" >"$work/compare" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
records = [json.loads(line) for line in open(sys.argv[2])]
status = [r["status"] for r in records]
print("files", stats["files"] == len(records))
print("ok", stats["files_ok"] == status.count("ok"))
print("failed", stats["files_failed"] == status.count("error"))
print("skipped", stats["files_skipped"] == status.count("skipped"))
print("errors", stats["errors"] == {"stat:ENOENT": 1} or stats["errors"])
print("loops", sum(l["files"] for l in stats["loops"]) == 5)
print("reads", stats["read_latency_us"]["count"] == 5)
print("histogram", sum(b[2] for b in stats["read_latency_us"]["histogram"]) == 5)
print("timeline", stats["timeline"][-1]["files"] == stats["files"])
PY
for key in files ok failed skipped errors loops reads histogram timeline; do
	check "--stats $key matches the records" "$key True" \
		"$(grep "^$key " "$work/compare")"
done

# bench prints JSON with one result per setting.
"$mx" bench --json --runs=1 --chunk-sizes=64K,1M --queue-depths=1,4 \
	"$work/slow" >"$work/bench.json"
check "bench exit code" 0 $?
check "bench JSON has 4 results over all bytes" "4 True" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"]
print(len(r), all(x["bytes"] == 8 << 20 and x["reads"] > 0 for x in r))
' "$work/bench.json")"
# A file of 64 MiB or more keeps the depth asked for: a normal run gives
# such files three quarters of the buffers, which bench must not.
head -c 70M /dev/zero >"$work/large"
"$mx" bench --json --runs=1 --chunk-sizes=256K --queue-depths=1,4 \
	"$work/large" >"$work/bench-large.json"
check "bench keeps the depth on a large file" "1 4" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(str(x["max_reads_in_flight"]) for x in d["results"]))
' "$work/bench-large.json")"
# At depth 64 the loop reaps completions in several batches of 64; reads
# submitted meanwhile once showed latencies of 2^64 ns.
"$mx" bench --json --runs=1 --chunk-sizes=64K --queue-depths=64 \
	"$work/large" >"$work/bench-deep.json"
check "bench latencies at depth 64 are below a second" "True" \
	"$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]["latency_us"]
print(all(0 <= r[k] < 1e6 for k in ("mean", "p50", "p99", "p999", "max")))
' "$work/bench-deep.json")"
rm -f "$work/large"
"$mx" bench --queue-depths=0 "$work/slow" >/dev/null 2>&1
check "bench exit code, invalid depth" 2 $?
mkdir "$work/empty"
"$mx" bench --runs=1 "$work/empty" >/dev/null 2>&1
check "bench exit code, no file to read" 1 $?

# A stopped bench still writes a JSON document that parses.
"$mx" bench --json --runs=99 --cold "$work/slow" >"$work/stopped.json" \
	2>/dev/null &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
check "bench exit code after SIGTERM" 143 $?
check "stopped bench JSON parses" ok "$(python3 -c '
import json, sys
json.load(open(sys.argv[1]))
print("ok")
' "$work/stopped.json" 2>&1)"

# The plot script turns both JSON forms into PNG files.
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
	"$src/tools/mx-plot" "$work/stats.json" -o "$work/stats.png"
	check "plot of --stats is a PNG" PNG "$(head -c4 "$work/stats.png" | tail -c3)"
	"$src/tools/mx-plot" "$work/bench.json" -o "$work/bench.png"
	check "plot of bench is a PNG" PNG "$(head -c4 "$work/bench.png" | tail -c3)"
fi

# Work stealing: two large files among small ones go to both loops, one
# each, and every file is counted once across the loops. --max-rate
# makes each large file take about a second, far longer than a loop
# needs to wake, even on a loaded machine.
mkdir -p "$work/mixed"
for i in 1 2; do
	head -c $((70 << 20)) /dev/urandom >"$work/mixed/large$i"
done
for i in $(seq 1 300); do printf '%s' "$i" >"$work/mixed/small$i"; done
"$mx" -q -j2 --max-rate=140M --stats="$work/mixed.json" "$work/mixed" \
	>/dev/null
check "large files: one per loop" "1 1" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(*[loop["large_files"] for loop in d["loops"]])
' "$work/mixed.json")"
check "files counted once across loops" 302 "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(loop["files"] for loop in d["loops"]))
' "$work/mixed.json")"
check "steals reported" yes "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = d["steals"] == sum(loop["steals"] for loop in d["loops"])
print("yes" if ok else "no")
' "$work/mixed.json")"

finish_checks
