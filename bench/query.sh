#!/usr/bin/env bash
# query.sh — the query benchmark (see bench/README.md, "Query"): ROWS rows with the bdd100k table's scalar
# and list columns (bench/query_rows.mjs, synthetic values), imported into framelake and loaded into
# LanceDB (npm) from the same JSON Lines; the queries of bench/queries.tsv — filtered counts with 1, 3 and
# 6 predicates, a timestamp range, label-list predicates, a GROUP BY weather, timeofday and a top-k ORDER BY
# timestamp LIMIT 10 — run on both, first without indexes, then with the same scalar indexes on both sides.
# Prints median milliseconds and the framelake/LanceDB speed ratio per query. Nothing is asserted.
#
# Environment (defaults in brackets): ROWS [1000000]  REPS [9]  SEED [1]  OUT [bench/out/query]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/common.sh"
ROOT=$(cd "$BENCH/.." && pwd)
ROWS=${ROWS:-1000000}
REPS=${REPS:-9}
SEED=${SEED:-1}
OUT=${OUT:-$BENCH/out/query}
FL=$ROOT/build/framelake
INDEXES=${INDEXES:-timeofday:bitmap,weather:bitmap,split:bitmap,has_person:bitmap,is_duplicate:bitmap,person_bbox_area_pct:btree,timestamp:btree,ann_categories:label_list}

log() { printf '== %s\n' "$*" >&2; }

command -v node >/dev/null || { echo "query.sh: node (>= 20) is required" >&2; exit 1; }
(cd "$ROOT" && make -s all)
[ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --no-package-lock --silent)
mkdir -p "$OUT"
fl_cc "$OUT/query_bench" "$BENCH/query_bench.c"

ROWSFILE=$OUT/rows-$ROWS-$SEED.jsonl
if [ ! -s "$ROWSFILE" ]; then
    log "generating $ROWS rows"
    node "$BENCH/query_rows.mjs" "$ROWS" "$SEED" > "$ROWSFILE.tmp" && mv "$ROWSFILE.tmp" "$ROWSFILE"
fi

log "framelake: import"
rm -rf "$OUT/db"
t0=$(date +%s.%N)
"$FL" import "$OUT/db" q "$ROWSFILE" --schema "$BENCH/query_schema.txt" --commit-every 250000 > /dev/null
t1=$(date +%s.%N)
log "framelake: imported in $(echo "$t1 - $t0" | bc -l | cut -c1-5) s"

log "framelake: queries without indexes"
"$OUT/query_bench" "$OUT/db" q "$BENCH/queries.tsv" "$REPS" | sed 's/^/scan\t/' > "$OUT/fl.txt"
log "framelake: indexes"
t0=$(date +%s.%N)
IFS=, read -ra specs <<< "$INDEXES"
for spec in "${specs[@]}"; do "$FL" index create "$OUT/db" q "${spec%%:*}" --type "${spec##*:}" > /dev/null; done
t1=$(date +%s.%N)
printf 'index\tbuild\t%s\t%s indexes\n' "$(echo "($t1 - $t0) * 1000" | bc -l | cut -d. -f1)" "${#specs[@]}" >> "$OUT/fl.txt"
log "framelake: queries with indexes"
"$OUT/query_bench" "$OUT/db" q "$BENCH/queries.tsv" "$REPS" | sed 's/^/indexed\t/' >> "$OUT/fl.txt"

log "LanceDB: load, queries, indexes, queries"
rm -rf "$OUT/lance"
node "$BENCH/lancedb_query.mjs" "$ROWSFILE" "$BENCH/queries.tsv" "$OUT/lance" "$REPS" "$INDEXES" > "$OUT/lance.txt" 2> "$OUT/lance.log" || {
    cat "$OUT/lance.log" >&2
    exit 1
}
grep '^lancedb:' "$OUT/lance.log" >&2 || true

{
    echo "query benchmark: $ROWS rows, median of $REPS runs, $(date -u +%Y-%m-%d), LanceDB $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version' "$BENCH/node_modules/@lancedb/lancedb/package.json")"
    printf '%-8s %-20s %12s %12s %8s %14s %14s  %s\n' phase query "framelake ms" "LanceDB ms" ratio "fl first ms" "Lance first ms" "results (framelake / LanceDB)"
    while IFS=$'\t' read -r phase name ms result first; do
        peer=$(awk -F'\t' -v p="$phase" -v n="$name" '$1 == p && $2 == n {print $3 "\t" $4 "\t" $5}' "$OUT/lance.txt")
        IFS=$'\t' read -r pms pres pfirst <<< "$peer"
        ratio=$(echo "$pms / $ms" | bc -l 2>/dev/null | cut -c1-5)
        printf '%-8s %-20s %12s %12s %7sx %14s %14s  %s / %s\n' "$phase" "$name" "$ms" "${pms:-?}" "${ratio:-?}" "${first:--}" "${pfirst:--}" "$result" "${pres:-?}"
    done < "$OUT/fl.txt"
    echo "ms: median of the timed runs on one open table; first ms: the first (untimed) run, before caches (index postings) fill"
    echo "ratio = LanceDB time / framelake time (above 1: framelake is faster)"
} | tee "$OUT/results.txt"
