#!/usr/bin/env bash
# dedup.sh — all pairs within a Hamming radius over 64-bit hashes (bench/README.md "Dedup"): framelake's
# multi-index Hamming search against brute-force popcount, on the same hashes (half random, half clustered
# like near-identical frames). Brute force runs on the first BRUTE hashes (it is quadratic; its time on all
# N is extrapolated); the index runs on those too and on all N. The pair counts of both must agree.
#
# Environment (defaults in brackets): N [1000000]  BRUTE [50000]  RADIUS [10]  SEED [1]  OUT [bench/out/dedup]
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/common.sh"
ROOT=$(cd "$BENCH/.." && pwd)
N=${N:-1000000}
BRUTE=${BRUTE:-50000}
RADIUS=${RADIUS:-10}
SEED=${SEED:-1}
OUT=${OUT:-$BENCH/out/dedup}
(cd "$ROOT" && make -s all)
mkdir -p "$OUT"
fl_cc "$OUT/dedup_bench" "$BENCH/dedup_bench.c"
R=$("$OUT/dedup_bench" "$N" "$BRUTE" "$RADIUS" "$SEED")
key() { printf '%s\n' "$R" | awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
echo "dedup benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores: all pairs within $RADIUS bits, one thread"
printf '  %-52s %12s %10s\n' "" "pairs" "seconds"
printf '  %-52s %12s %10s\n' "brute force popcount, first $BRUTE hashes" "$(key brute_pairs)" "$(key brute_s)"
printf '  %-52s %12s %10s\n' "multi-index Hamming search, first $BRUTE hashes" "$(key index_small_pairs)" "$(key index_small_s)"
printf '  %-52s %12s %10s\n' "multi-index Hamming search, all $N hashes" "$(key index_pairs)" \
    "$(awk -v b="$(key index_build_s)" -v s="$(key index_search_s)" 'BEGIN { printf "%.3f", b + s }')"
printf '  %-52s %12s %10s\n' "brute force on all $N (extrapolated)" "" "$(key brute_extrapolated_s)"
awk -v a="$(key brute_s)" -v b="$(key index_small_s)" -v c="$(key brute_extrapolated_s)" -v d="$(key index_build_s)" -v e="$(key index_search_s)" \
    'BEGIN { printf "  speedup over brute force: %.1fx at %s hashes, %.1fx at %s (extrapolated)\n", a / b, "'"$BRUTE"'", c / (d + e), "'"$N"'" }'
