#!/usr/bin/env bash
# A/B comparison of shipper builds end to end: the same generated input, each binary in turn for
# ROUNDS rounds (A B A B …), tail -> parse -> disk buffer (fsync 500ms) -> es-test-server with gzip.
# Run-to-run noise on a VM can exceed the difference between two builds (fresh page-cache pages,
# neighbours); runs in turn under the same conditions compare builds where single runs cannot.
#
#   Benchmarks/ab.sh nginx|jetty LINES ROUNDS DIR_A DIR_B [DIR…]
#
# Each DIR holds `shipper` (a release build, e.g. static as Benchmarks/e2e.sh builds it); the
# first DIR (or SERVER_DIR) holds the `es-test-server` every run uses (started with
# --no-sources; SERVER_FLAGS= for a server older than that flag). Prints one line per run
# (shipper CPU-s per million lines, user and system, peak RSS, gzip -1 CPU-s of the input
# measured right after, the ratio) and, per DIR, the mean. Exits 1 when a run does not deliver
# one document per event.
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/stages.sh
[ $# -ge 5 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
KIND=$1 LINES=$2 ROUNDS=$3
shift 3
DIRS=("$@")
# One test server for every build compared (the first DIR's unless SERVER_DIR names another).
server=${SERVER_DIR:-${DIRS[0]}}
bench_stages "$KIND" || { echo "KIND must be nginx or jetty" >&2; exit 2; }
work=$(mktemp -d)
es_pid=
trap 'if [ -n "$es_pid" ]; then kill $es_pid 2>/dev/null || true; fi; rm -rf "$work"' EXIT
container_log "$work/containers" "$KIND" a
said=$("${DIRS[0]}/shipper" bench --kind "$KIND" --lines "$LINES" --write-sample "$log")
events=$(echo "$said" | sed -n 's/.*events: \([0-9]*\).*/\1/p')
events=${events:-$LINES}
: >"$work/results"
n=0
for _ in $(seq "$ROUNDS"); do
    for dir in "${DIRS[@]}"; do
        n=$((n + 1))
        start_es "$server" "$work"
        bench_config "$work/state" "$work/containers" "$KIND" "
  es:
    type: elasticsearch
    hosts: [\"http://127.0.0.1:$es_port\"]
    index: bench$n
    compression: gzip" >"$work/shipper.yaml"
        rm -rf "$work/state"
        /usr/bin/time -f "%U %S %M" -o "$work/time" "$dir/shipper" run --config "$work/shipper.yaml" --once
        gz=$({ /usr/bin/time -f "%U %S" gzip -1 -c "$log" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
        stop_es
        docs=$(sed -n 's/^documents: \([0-9]*\),.*/\1/p' "$work/es.out")
        if [ "$docs" != "$events" ]; then
            echo "FAIL: $dir delivered ${docs:-no} documents, expected $events" >&2
            exit 1
        fi
        read -r u s m <"$work/time"
        echo "$dir $u $s $m $gz" >>"$work/results"
        awk -v d="$dir" -v u="$u" -v s="$s" -v m="$m" -v g="$gz" -v L="$LINES" 'BEGIN {
            printf "%-24s %.2f CPU-s/M (user %.2f, sys %.2f)  peak RSS %.1f MiB  gzip -1 %.2f  ratio %.2f\n",
                d, (u + s) * 1e6 / L, u, s, m / 1024, g, (u + s) / g }'
    done
done
echo "means over $ROUNDS rounds ($KIND, $LINES lines):"
for dir in "${DIRS[@]}"; do
    awk -v d="$dir" -v L="$LINES" '$1 == d { c += ($2 + $3) * 1e6 / L; r += ($2 + $3) / $5; k++ }
        END { printf "  %-22s %.2f CPU-s/M, %.2f x gzip -1\n", d, c / k, r / k }' "$work/results"
done
