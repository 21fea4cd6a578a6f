#!/usr/bin/env bash
# Sums Fuzz/results.tsv (written by Fuzz/run.sh) per target: executions, CPU time, failed runs,
# the executions since the target's last failed run (the runs on code that has the fix of its
# last finding: results.tsv is in run order), and whether those reach the 10,000,000 executions
# of issue 7. Markdown table. A row with status `reset` (0 executions, added by hand when a
# target's code changed) starts the count since again without counting as a failure.
#   Fuzz/totals.sh
set -euo pipefail
cd "$(dirname "$0")"
[ -f results.tsv ] || { echo "no Fuzz/results.tsv yet: run Fuzz/run.sh" >&2; exit 1; }
awk -F'\t' '
    $6 == "reset" { since[$3] = 0; next }
    { n[$3] += $4; s[$3] += $5; runs[$3]++
      if ($6 == "FAILED") { f[$3]++; since[$3] = 0 } else since[$3] += $4
      if (!($3 in order)) { order[$3] = ++k; name[k] = $3 } }
    END {
        print "| target | executions | seconds | runs | failed runs | since the last failed run | ≥ 10 M since |"
        print "|---|---:|---:|---:|---:|---:|---|"
        for (i = 1; i <= k; i++) { t = name[i]
            printf "| %s | %\047d | %d | %d | %d | %\047d | %s |\n", t, n[t], s[t], runs[t], f[t] + 0, since[t], (since[t] >= 10000000 ? "yes" : "no") }
    }' results.tsv
