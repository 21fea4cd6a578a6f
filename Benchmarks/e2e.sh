#!/usr/bin/env bash
# End-to-end benchmark: shipper as a real process, on two generated inputs, each through two outputs:
#
#   nginx: Docker json-file nginx access lines          tail -> nginx_access
#   jetty: Docker json-file lines of a Jetty container   tail -> multiline (java) -> jetty_request, jetty_server
#          (request log on stdout, server log with Java stack traces on stderr, one Docker line per
#          physical line)
#   each -> disk buffer (fsync 500ms) -> Elasticsearch test server with gzip
#        -> disk buffer (fsync 500ms) -> file output (no gzip)
#
# then nginx -> Elasticsearch once more with the test server down at first: reading fills a 32 MiB
# buffer and pauses, the outage lasts OUTAGE_SECONDS (default 5) after that, then the server starts
# on the same port and everything is delivered (peak RSS during the outage and overall; it needs
# LINES of at least 30000, more than 24 MiB of events, or it fails saying so);
# and, in the same run, the CPU time of `gzip -1` and `wc -l` on each input file as the reference.
#
#   Benchmarks/e2e.sh [LINES]            # LINES per input (default 1000000); release builds
#   ROUNDS=5 Benchmarks/e2e.sh           # each combination 5 times, gzip -1 measured again before
#                                        # each round; then the median, min and max per combination
#   BUILD=debug Benchmarks/e2e.sh 50000  # the CI smoke run: checks that it works, times nothing
#   BIN_DIR=DIR Benchmarks/e2e.sh 300000 # shipper and es-test-server from DIR (no build)
#
# The release shipper is built as deploy/Dockerfile ships it: the Swift runtime and Foundation
# linked statically (--static-swift-stdlib), in its own build directory (.build/static; the first
# run builds everything once). Linked dynamically, the same code maps the Swift and Foundation
# shared libraries (about 3 MiB more peak RSS) and calls the runtime through the PLT.
#
# One block per combination: lines/s, CPU-seconds per million lines (user+sys of shipper), peak
# RSS, the test server's CPU, bytes on the wire vs uncompressed (or bytes written), and
# shipper-CPU / gzip-1-CPU (gzip -1 measured on the same file just before the round). On a VM one
# run can differ from the next by ±10 % (neighbours, fresh page-cache pages), so with ROUNDS > 1 it
# also prints, per combination, the median of the rounds' ratios and CPU-seconds with their range,
# and the highest peak RSS. Exits 1 when the test server did not get every event as one document,
# or the file output did not write one line per event (for jetty: events after multi-line grouping,
# as counted by the generator).
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/stages.sh
LINES=${1:-1000000}
ROUNDS=${ROUNDS:-1}
BUILD=${BUILD:-release}
BIN=${BIN_DIR:-.build/$BUILD}
SERVER_BIN=$BIN
LABEL=$BUILD
if [ "$BUILD" = release ] && [ -z "${BIN_DIR:-}" ]; then
    swift build -c release --product shipper --static-swift-stdlib --scratch-path .build/static >/dev/null
    swift build -c release --product es-test-server >/dev/null
    BIN=.build/static/release
    LABEL="release, static Swift stdlib"
fi
work=$(mktemp -d)
es_pid=
shipper_pid=
trap 'for p in $es_pid $shipper_pid; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, clock ticks
failed=0

# make_input KIND ID_CHAR: a container directory with config.v2.json and the generated log;
# sets log, size, events.
make_input() {
    local kind=$1
    container_log "$work/$kind/containers" "$kind" "$2"
    local said
    said=$("$BIN/shipper" bench --kind "$kind" --lines "$LINES" --write-sample "$log")
    # nginx: one event per line; jetty: the generator says how many events multi-line grouping makes.
    events=$(echo "$said" | sed -n 's/.*events: \([0-9]*\).*/\1/p')
    events=${events:-$LINES}
    size=$(stat -c %s "$log")
}

# reference: the CPU time of gzip -1 and wc -l on $log; sets gzip_cpu, wc_cpu.
reference() {
    gzip_cpu=$( { /usr/bin/time -f "%U %S" gzip -1 -c "$log" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
    wc_cpu=$( { /usr/bin/time -f "%U %S" wc -l "$log" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
}

# run KIND OUTPUT ROUND: one shipper run over $work/KIND, OUTPUT = elasticsearch | file; prints its
# block and adds a line to $work/results.
run() {
    local kind=$1 output=$2 round=$3 stages flow
    local dir="$work/run-$kind-$output"
    mkdir -p "$dir"
    bench_stages "$kind"
    local out_yaml sink
    if [ "$output" = elasticsearch ]; then
        start_es "$SERVER_BIN" "$dir"
        out_yaml="
  es:
    type: elasticsearch
    hosts: [\"http://127.0.0.1:$es_port\"]
    index: bench
    compression: gzip"
        sink="es-test-server, gzip"
    else
        mkdir -p "$dir/out"
        out_yaml="
  local:
    type: file
    path: $dir/out/bench.ndjson
    max_size: 64GiB"
        sink="file"
    fi
    bench_config "$dir/state" "$work/$kind/containers" "$kind" "$out_yaml" >"$dir/shipper.yaml"

    local es_before=0 es_after=0
    [ -n "$es_pid" ] && es_before=$(cpu_of $es_pid)
    if ! /usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$BIN/shipper" run --config "$dir/shipper.yaml" --once; then
        echo "FAIL: shipper run ($kind -> $output) exited with an error" >&2
        failed=1
        if [ -n "$es_pid" ]; then stop_es; fi
        return
    fi
    local summary check
    if [ -n "$es_pid" ]; then
        es_after=$(cpu_of $es_pid)
        stop_es
        summary=$(grep documents: "$dir/es.out" || true)
        check=$(echo "$summary" | sed -n 's/^documents: \([0-9]*\),.*/\1/p')
    else
        local files bytes
        files=$(find "$dir/out" -type f | wc -l)
        bytes=$(find "$dir/out" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
        check=$(find "$dir/out" -type f -exec cat {} + | wc -l)
        summary="file output: $check lines, $bytes bytes written ($files files)"
    fi
    local elapsed user sys rss
    read -r elapsed user sys rss <"$dir/time"
    # The nginx -> elasticsearch block keeps the layout the README quotes.
    awk -v lines="$LINES" -v events="$events" -v kind="$kind" -v output="$output" -v flow="$flow" -v sink="$sink" \
        -v size="$size" -v el="$elapsed" -v u="$user" -v s="$sys" -v rss="$rss" -v gz="$gzip_cpu" -v wc="$wc_cpu" \
        -v esc="$(( es_after - es_before ))" -v hz="$hz" -v summary="$summary" -v build="$LABEL" \
        -v round="$round" -v rounds="$ROUNDS" 'BEGIN {
        cpu = u + s
        what = (kind == "nginx") ? sprintf("%d lines", lines) : sprintf("%d lines (%d events)", lines, events)
        of = (rounds > 1) ? sprintf(", round %d of %d", round, rounds) : ""
        printf "end to end (%s build%s): %s, %.1f MB: tail -> %s -> disk buffer (fsync 500ms) -> %s\n", build, of, what, size / 1e6, flow, sink
        if (output == "elasticsearch")
            printf "  %.0f lines/s; shipper %.2f CPU-s (%.2f per million lines), peak RSS %.1f MiB; test server %.2f CPU-s\n", lines / el, cpu, cpu * 1e6 / lines, rss / 1024, esc / hz
        else
            printf "  %.0f lines/s; shipper %.2f CPU-s (%.2f per million lines), peak RSS %.1f MiB\n", lines / el, cpu, cpu * 1e6 / lines, rss / 1024
        printf "  %s\n", summary
        if (output == "elasticsearch")
            printf "  reference on the same file: gzip -1 %.2f CPU-s, wc -l %.2f CPU-s; shipper / gzip-1 = %.2f\n", gz, wc, (gz > 0 ? cpu / gz : 0)
        else
            printf "  shipper / gzip-1 = %.2f (the reference above)\n", (gz > 0 ? cpu / gz : 0)
    }'
    echo "$kind $output $(awk -v u="$user" -v s="$sys" -v g="$gzip_cpu" -v L="$LINES" -v el="$elapsed" \
        'BEGIN { printf "%.4f %.4f %.0f", (u + s) * 1e6 / L, (g > 0 ? (u + s) / g : 0), L / el }') $rss" >>"$work/results"
    if [ "$check" != "$events" ]; then
        if [ "$output" = elasticsearch ]; then
            echo "FAIL: expected $events documents in the test server ($kind), got ${check:-none}" >&2
        else
            echo "FAIL: expected $events lines from the file output ($kind), got ${check:-none}" >&2
        fi
        failed=1
    fi
    rm -rf "$dir/out" "$dir/state"
}

# run_outage: nginx -> es-test-server with the server down until the buffer (32 MiB) is full and
# OUTAGE_SECONDS more; prints the peak RSS during the outage and of the whole run, and checks that
# every event arrives once the server is up.
run_outage() {
    local kind=nginx stages flow
    local dir="$work/run-outage"
    mkdir -p "$dir"
    bench_stages "$kind"
    # A port that was free a moment ago: the server takes it once the outage ends.
    start_es "$SERVER_BIN" "$dir"
    stop_es
    local port=$es_port
    bench_config "$dir/state" "$work/$kind/containers" "$kind" "
  es:
    type: elasticsearch
    hosts: [\"http://127.0.0.1:$port\"]
    index: bench
    compression: gzip
    retry: {initial_backoff: 100ms, max_backoff: 500ms}
    host_cooldown: 500ms" 32MiB >"$dir/shipper.yaml"
    /usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$BIN/shipper" run --config "$dir/shipper.yaml" --once 2>"$dir/shipper.err" &
    local time_pid=$!
    for _ in $(seq 100); do
        shipper_pid=$(pgrep -P $time_pid shipper || true)
        [ -n "$shipper_pid" ] && break
        sleep 0.05
    done
    # The buffer fills (reading then waits): 24 MiB of its 32 in segment files.
    local filled=0
    for _ in $(seq 1200); do
        local bytes
        bytes=$( { find "$dir/state/buffer" -type f -printf '%s\n' 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
        if [ "$bytes" -ge $((24 << 20)) ]; then filled=1; break; fi
        kill -0 "$shipper_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$filled" != 1 ]; then
        echo "FAIL: the buffer did not fill while the test server was down (is the input larger than 32 MiB of events?)" >&2
        failed=1
        # (SIGTERM would wait up to drain_timeout for the output that is down)
        kill -KILL "$shipper_pid" 2>/dev/null || true
        wait $time_pid || true
        shipper_pid=
        return
    fi
    # Full once reading has stopped: what shipper read stays the same for half a second.
    local read_at_full rss_max=0 rss previous=-1
    for _ in $(seq 40); do
        read_at_full=$(awk '/^rchar:/ {print $2}' /proc/"$shipper_pid"/io)
        [ "$read_at_full" = "$previous" ] && break
        previous=$read_at_full
        sleep 0.5
    done
    for _ in $(seq $((${OUTAGE_SECONDS:-5} * 5))); do
        rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$shipper_pid"/status)
        [ "$rss" -gt "$rss_max" ] && rss_max=$rss
        sleep 0.2
    done
    local hwm_outage read_in_outage
    hwm_outage=$(awk '/^VmHWM:/ {print $2}' /proc/"$shipper_pid"/status)
    read_in_outage=$(( $(awk '/^rchar:/ {print $2}' /proc/"$shipper_pid"/io) - read_at_full ))
    start_es "$SERVER_BIN" "$dir" "$port"
    if ! wait $time_pid; then
        echo "FAIL: shipper run (outage) exited with an error:" >&2
        tail -5 "$dir/shipper.err" >&2
        failed=1
    fi
    shipper_pid=
    stop_es
    local summary check elapsed user sys peak
    summary=$(grep documents: "$dir/es.out" || true)
    check=$(echo "$summary" | sed -n 's/^documents: \([0-9]*\),.*/\1/p')
    read -r elapsed user sys peak <"$dir/time"
    awk -v lines="$LINES" -v u="$user" -v s="$sys" -v peak="$peak" -v hwm="$hwm_outage" -v rss="$rss_max" \
        -v secs="${OUTAGE_SECONDS:-5}" -v readin="$read_in_outage" -v summary="$summary" -v build="$LABEL" 'BEGIN {
        printf "outage (%s build): %d lines: tail -> nginx_access -> disk buffer (32 MiB) -> es-test-server down until the buffer was full and %d s more\n", build, lines, secs
        printf "  peak RSS while down %.1f MiB (sampled up to %.1f MiB), of the whole run %.1f MiB; read in the outage once full: %.1f MB\n", hwm / 1024, rss / 1024, peak / 1024, readin / 1e6
        printf "  shipper %.2f CPU-s (%.2f per million lines, outage included)\n", u + s, (u + s) * 1e6 / lines
        printf "  %s\n", summary
    }'
    if [ "$check" != "$LINES" ]; then
        echo "FAIL: expected $LINES documents in the test server after the outage, got ${check:-none}" >&2
        failed=1
    fi
    rm -rf "$dir/state"
}

# summary KIND OUTPUT: the median and range of the rounds of one combination.
summary() {
    awk -v k="$1" -v o="$2" '$1 == k && $2 == o { n++; cpu[n] = $3; ratio[n] = $4; rate[n] = $5; rss[n] = $6 }
        function median(a, n,   i, j, t, b) {
            for (i = 1; i <= n; i++) b[i] = a[i]
            for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
            lo = b[1]; hi = b[n]
            return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
        }
        END {
            if (n == 0) exit
            m = median(ratio, n); rlo = lo; rhi = hi
            c = median(cpu, n); clo = lo; chi = hi
            r = median(rate, n)
            median(rss, n)
            printf "  %s -> %s: shipper / gzip-1 median %.2f (%.2f-%.2f); %.2f CPU-s per million lines (%.2f-%.2f); %.0f lines/s; peak RSS up to %.1f MiB\n",
                k, o, m, rlo, rhi, c, clo, chi, r, hi / 1024
        }' "$work/results"
}

: >"$work/results"
make_input nginx b
for round in $(seq "$ROUNDS"); do
    reference
    run nginx elasticsearch "$round"
    run nginx file "$round"
done
run_outage
make_input jetty c
for round in $(seq "$ROUNDS"); do
    reference
    run jetty elasticsearch "$round"
    run jetty file "$round"
done
if [ "$ROUNDS" -gt 1 ]; then
    echo "summary over $ROUNDS rounds (shipper / gzip-1 with gzip -1 measured before each round):"
    summary nginx elasticsearch
    summary nginx file
    summary jetty elasticsearch
    summary jetty file
fi
exit $failed
