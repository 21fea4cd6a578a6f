#!/usr/bin/env bash
# Live benchmark: shipper running (not catching up) while a container's log grows at a steady rate,
# tail -> nginx_access -> disk buffer (fsync 500ms) -> Elasticsearch test server with gzip, as on a
# node whose nginx serves RATE requests a second. Each line is its own write(2), as Docker's
# json-file driver writes them.
#
#   Benchmarks/live.sh [RATE] [SECONDS]   # default 20000 lines/s for 15 s; release build
#   BIN_DIR=DIR Benchmarks/live.sh        # shipper and es-test-server from DIR (no build)
#   BUILD=debug Benchmarks/live.sh 2000 2 # a smoke run
#
# Prints shipper's CPU-seconds per million lines while it keeps up (user+sys from the first line
# written to the last document indexed), its peak RSS and context switches, and how long the last
# line took to be indexed. Exits 1 when not every line arrives as a document within 60 s of the
# last write. Needs python3 (the writer).
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/stages.sh
RATE=${1:-20000}
SECONDS_WRITTEN=${2:-15}
BUILD=${BUILD:-release}
BIN=${BIN_DIR:-.build/$BUILD}
if [ "$BUILD" = release ] && [ -z "${BIN_DIR:-}" ]; then
    swift build -c release --product shipper --static-swift-stdlib --scratch-path .build/static >/dev/null
    swift build -c release --product es-test-server >/dev/null
    BIN=.build/static/release
fi
SERVER_BIN=${BIN_DIR:-.build/$BUILD}
work=$(mktemp -d)
es_pid= shipper_pid=
trap 'for p in $es_pid $shipper_pid; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
total=$((RATE * SECONDS_WRITTEN))
container_log "$work/containers" nginx e
: >"$log"
"$BIN/shipper" bench --lines "$total" --write-sample "$work/lines" >/dev/null
start_es "$SERVER_BIN" "$work"
bench_config "$work/state" "$work/containers" nginx "
  es:
    type: elasticsearch
    hosts: [\"http://127.0.0.1:$es_port\"]
    index: bench
    compression: gzip" >"$work/shipper.yaml"
"$BIN/shipper" run --config "$work/shipper.yaml" 2>"$work/shipper.err" &
shipper_pid=$!
# Started and idle (its state directory made, the empty log found): then the clock starts.
for _ in $(seq 100); do [ -d "$work/state" ] && break; sleep 0.1; done
sleep 1
cpu0=$(awk '{print $14 + $15}' /proc/$shipper_pid/stat)
python3 - "$work/lines" "$log" "$RATE" "$SECONDS_WRITTEN" <<'PY'
import os, sys, time
src, dst, rate, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(src, 'rb') as f:
    lines = f.readlines()
fd = os.open(dst, os.O_WRONLY | os.O_APPEND)
start = time.monotonic()
n = 0
total = rate * secs
while n < total:
    due = min(total, int((time.monotonic() - start) * rate) + 1)
    while n < due:
        os.write(fd, lines[n])
        n += 1
    time.sleep(0.001)
os.close(fd)
late = time.monotonic() - start - secs
print(f"wrote {n} lines in {secs + late:.2f} s" + (f" ({late:.2f} s late: the writer could not keep the rate)" if late > 0.5 else ""))
PY
written_at=$(date +%s%N)
count=0
for _ in $(seq 600); do
    count=$(curl -s "http://127.0.0.1:$es_port/bench/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
    [ "${count:-0}" -ge "$total" ] && break
    sleep 0.1
done
done_at=$(date +%s%N)
cpu1=$(awk '{print $14 + $15}' /proc/$shipper_pid/stat)
rss=$(awk '/^VmHWM:/ {print $2}' /proc/$shipper_pid/status)
switches=$(cat /proc/$shipper_pid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}')
kill -TERM $shipper_pid
wait $shipper_pid || true
shipper_pid=
stop_es
awk -v c=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v t="$total" -v rate="$RATE" -v rss="$rss" -v cs="$switches" \
    -v lag="$(( (done_at - written_at) / 1000000 ))" -v build="$BUILD" 'BEGIN {
    printf "live (%s build): %d nginx lines at %d lines/s -> nginx_access -> disk buffer (fsync 500ms) -> es-test-server, gzip\n", build, t, rate
    printf "  shipper %.2f CPU-s (%.2f per million lines, %.1f %% of a core), peak RSS %.1f MiB, %d context switches\n", c / hz, c / hz * 1e6 / t, 100 * c / hz * rate / t, rss / 1024, cs
    printf "  all indexed %.2f s after the last write\n", lag / 1000
}'
if [ "${count:-0}" != "$total" ]; then
    echo "FAIL: expected $total documents in the test server, got ${count:-none}" >&2
    exit 1
fi
