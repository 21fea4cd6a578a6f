#!/usr/bin/env bash
# Builds the libFuzzer targets (release, -sanitize=fuzzer,address) and runs them.
#
#   Fuzz/run.sh [--runs N | --seconds S] [--parallel P | --jobs J] [--timeout SECONDS] [TARGET...]
#   Fuzz/run.sh --list          # the targets
#   Fuzz/run.sh --build-only
#   Fuzz/run.sh --no-build [--runs N | --seconds S] [TARGET...]   # the binary as last built
#
# --parallel P runs P targets at once; --jobs J runs each target in J processes at once (a share
# of --runs each, one corpus, a results line each, logs/<target>.<k>.log; for a slow target such
# as `buffer`: libFuzzer's -fork ran it at a third of the speed).
# Defaults: every target, 10,000,000 executions each, one at a time, 2 s per input at most
# (under ASan and coverage code runs 3 to 10 times slower than a release build).
# Seeds come from Fuzz/corpus/<target>/ (committed); inputs that reach new code are kept in
# Fuzz/.corpus/<target>/ (git-ignored), so later runs start where earlier ones stopped. A crash,
# a failed check, a timeout or running out of memory leaves the input in
# Fuzz/artifacts/<target>-crash-… (or -timeout-…, -oom-…) and the log in Fuzz/logs/<target>.log.
# Reproduce one: FUZZ_TARGET=<target> Fuzz/.build/release/shipper-fuzz Fuzz/artifacts/<file>
# Prints one line per target: executions, seconds, executions per second, result.
set -euo pipefail
cd "$(dirname "$0")"
self="$PWD/$(basename "$0")"

runs=10000000
seconds=""
parallel=1
jobs=1
timeout=2
build_only=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --parallel) parallel="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        --no-build) no_build=1; shift ;;
        --list) list=1; shift ;;
        -h|--help) sed -n '2,18p' "$self"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

all_targets=(docker cri auto nginx_access nginx_error jetty_request jetty_server json regex multiline timestamp
             json_scanner json_roundtrip config buffer)
if [ "${list:-}" ]; then printf '%s\n' "${all_targets[@]}"; exit 0; fi
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

if [ -z "${no_build:-}" ]; then
    # The same dependency versions as the main package's build.
    [ -f ../Package.resolved ] && cp ../Package.resolved Package.resolved
    # Touched so that SwiftPM reloads the main package's manifest too (it misses new targets
    # there). This makes SwiftPM rebuild much of the package (minutes): runs in a row take
    # --no-build after one --build-only.
    touch Package.swift
    start=$(date +%s)
    # swiftc keeps only its last -sanitize= flag: SwiftPM's `--sanitize=fuzzer --sanitize=address`
    # alone gives Swift code ASan but no coverage (libFuzzer then finds nothing new). The combined
    # flag, last on the command line, gives both; clang (C targets) takes the separate flags.
    swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address --product shipper-fuzz >&2
    echo "build: $(( $(date +%s) - start )) s" >&2
fi
[ "$build_only" ] && exit 0
bin="$PWD/.build/release/shipper-fuzz"

# Longest input per target: lines and documents need room; configs and buffers less.
# (Speed falls with length; pathological lengths are checked apart, see README "Fuzzing".)
max_len() {
    case "$1" in
        docker|cri|auto|multiline|jetty_server|nginx_error|json|json_scanner|json_roundtrip|config|buffer) echo 2048 ;;
        *) echo 1024 ;;
    esac
}

run_one() {
    local t="$1" k="${2:-1}"
    local log="logs/$t.log"
    [ "$k" -gt 1 ] && log="logs/$t.$k.log"
    mkdir -p ".corpus/$t" artifacts logs
    # -detect_leaks=0: LeakSanitizer passes took a fifth of the time, and reported only the
    # process-lifetime tables (interned paths, caches).
    local args=(".corpus/$t" "corpus/$t" -max_len="$(max_len "$t")" -timeout="$timeout" -rss_limit_mb=2048 -detect_leaks=0
                -print_final_stats=1 -artifact_prefix="artifacts/$t-")
    [ -f "dict/$t.dict" ] && args+=(-dict="dict/$t.dict")
    if [ "$seconds" ]; then args+=(-max_total_time="$seconds"); else args+=(-runs="$(( (runs + jobs - 1) / jobs ))"); fi
    local t0 status=ok
    t0=$(date +%s)
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's backtracer would fight ASan over the signal.
    # malloc_context_size=0: no stack trace per allocation (a third faster; a reproduction shows it).
    FUZZ_TARGET="$t" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="malloc_context_size=0:${ASAN_OPTIONS:-}" "$bin" "${args[@]}" > "$log" 2>&1 || status="FAILED (see Fuzz/$log, Fuzz/artifacts/$t-*)"
    local secs=$(( $(date +%s) - t0 ))
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    printf '%-15s %12s executions %7s s %8s/s  %s\n' "$t" "${execs:-0}" "$secs" "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$status"
    # Every run is recorded (date, commit of the fuzzed code, target, executions, seconds, result):
    # runs resume from the kept corpus, so the counts of one target add up (Fuzz/totals.sh).
    # FAILED: libFuzzer found something (a crash, a failed check, a timeout, out of memory);
    # stopped: the run was interrupted (killed, Ctrl-C) without finding anything.
    # (A FAILED timeout whose input runs well within the limit when reproduced is a run starved of
    # CPU, not a finding; such a line is changed to `starved` by hand, see README "Fuzzing".)
    local result=ok
    if grep -q "ERROR: \|FUZZ CHECK FAILED\|ALARM\|out-of-memory" "$log"; then
        result=FAILED
    elif [ "$status" != ok ]; then
        result=stopped
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$t" "${execs:-0}" "$secs" "$result" >> results.tsv
}
commit=$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C .. diff --quiet HEAD -- Sources Fuzz/Sources 2>/dev/null || commit="$commit+changes"
export -f run_one max_len
export bin runs seconds timeout commit jobs

if [ "$parallel" -gt 1 ]; then
    printf '%s\n' "${targets[@]}" | xargs -P "$parallel" -I{} bash -c 'run_one {}'
else
    for t in "${targets[@]}"; do
        for k in $(seq 1 "$jobs"); do run_one "$t" "$k" & done
        wait
    done
fi
# Exit status: 1 when any target failed.
logs=()
for t in "${targets[@]}"; do
    logs+=("logs/$t.log")
    for k in $(seq 2 "$jobs"); do logs+=("logs/$t.$k.log"); done
done
! grep -l "ERROR: \|FUZZ CHECK FAILED\|ALARM\|out-of-memory" "${logs[@]}" >/dev/null 2>&1
