#!/usr/bin/env bash
# End-to-end benchmark: shipper as a real process, tail → nginx_access → disk buffer (fsync
# interval) → Elasticsearch test server with gzip, on generated Docker json-file nginx lines; and,
# in the same run on the same file, the CPU time of `gzip -1` and `wc -l` as the reference.
#
#   Benchmarks/e2e.sh [LINES]            # default 1000000; release builds
#   BUILD=debug Benchmarks/e2e.sh 50000  # the CI smoke run: checks that it works, times nothing
#
# Prints lines/s, CPU-seconds per million lines (user+sys of shipper), peak RSS, the test
# server's CPU, bytes on the wire vs uncompressed, and shipper-CPU / gzip-1-CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
BUILD=${BUILD:-release}
if [ "$BUILD" = release ]; then
    swift build -c release --product shipper >/dev/null
    swift build -c release --product es-test-server >/dev/null
fi
BIN=.build/$BUILD
work=$(mktemp -d)
trap 'kill $es_pid 2>/dev/null || true; rm -rf "$work"' EXIT
id=$(printf 'b%.0s' {1..64})
mkdir -p "$work/containers/$id"
echo '{"ID":"'$id'","Name":"/bench_web.1.x","Config":{"Image":"nginx:1.27","Labels":{"com.docker.swarm.service.name":"bench_web"}}}' \
    >"$work/containers/$id/config.v2.json"
log="$work/containers/$id/$id-json.log"
"$BIN/shipper" bench --lines "$LINES" --write-sample "$log"
size=$(stat -c %s "$log")

"$BIN/es-test-server" --port 0 --no-mapping-emulation >"$work/es.out" 2>"$work/es.err" &
es_pid=$!
for _ in $(seq 100); do grep -q listening "$work/es.out" 2>/dev/null && break; sleep 0.1; done
port=$(head -1 "$work/es.out" | sed 's/.*://')
cat >"$work/shipper.yaml" <<YAML
data_dir: $work/state
drain_timeout: 600s
log: {level: warning}
telemetry: {address: "127.0.0.1:0"}
sources:
  containers: {type: docker, paths: ["$work/containers/*/*-json.log"]}
pipelines:
  web:
    stages:
      - type: parse
        parsers: [{type: nginx_access, format: main}, nginx_access]
buffer: {path: $work/state/buffer, fsync: 500ms, max_size: 256MiB}
outputs:
  es:
    type: elasticsearch
    hosts: ["http://127.0.0.1:$port"]
    index: bench
    compression: gzip
YAML

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
es_before=$(cpu_of $es_pid)
/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$BIN/shipper" run --config "$work/shipper.yaml" --once
es_after=$(cpu_of $es_pid)
kill -TERM $es_pid; wait $es_pid || true
read -r elapsed user sys rss <"$work/time"
summary=$(grep documents: "$work/es.out" || true)
gzip_cpu=$( { /usr/bin/time -f "%U %S" gzip -1 -c "$log" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
wc_cpu=$( { /usr/bin/time -f "%U %S" wc -l "$log" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
awk -v lines="$LINES" -v size="$size" -v el="$elapsed" -v u="$user" -v s="$sys" -v rss="$rss" -v gz="$gzip_cpu" -v wc="$wc_cpu" \
    -v esc="$(( es_after - es_before ))" -v hz="$hz" -v summary="$summary" -v build="$BUILD" 'BEGIN {
    cpu = u + s
    printf "end to end (%s build): %d lines, %.1f MB: tail -> nginx_access -> disk buffer (fsync 500ms) -> es-test-server, gzip\n", build, lines, size / 1e6
    printf "  %.0f lines/s; shipper %.2f CPU-s (%.2f per million lines), peak RSS %.1f MiB; test server %.2f CPU-s\n", lines / el, cpu, cpu * 1e6 / lines, rss / 1024, esc / hz
    printf "  %s\n", summary
    printf "  reference on the same file: gzip -1 %.2f CPU-s, wc -l %.2f CPU-s; shipper / gzip-1 = %.2f\n", gz, wc, (gz > 0 ? cpu / gz : 0)
}'
echo "$summary" | grep -q "documents: $LINES," || { echo "FAIL: expected $LINES documents in the test server" >&2; exit 1; }
