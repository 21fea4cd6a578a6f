#!/usr/bin/env bash
# Sums Fuzz/results.tsv (written by Fuzz/run.sh) per target: executions, CPU time, failed runs,
# and whether the target has reached the 10,000,000 executions of issue 7. Markdown table.
#   Fuzz/totals.sh [--since COMMIT-DATE]
set -euo pipefail
cd "$(dirname "$0")"
[ -f results.tsv ] || { echo "no Fuzz/results.tsv yet: run Fuzz/run.sh" >&2; exit 1; }
awk -F'\t' '
    { n[$3] += $4; s[$3] += $5; runs[$3]++; if ($6 == "FAILED") f[$3]++; if (!($3 in order)) { order[$3] = ++k; name[k] = $3 } }
    END {
        print "| target | executions | seconds | runs | failed runs | ≥ 10 M |"
        print "|---|---:|---:|---:|---:|---|"
        for (i = 1; i <= k; i++) { t = name[i]
            printf "| %s | %\047d | %d | %d | %d | %s |\n", t, n[t], s[t], runs[t], f[t] + 0, (n[t] >= 10000000 ? "yes" : "no") }
    }' results.tsv
