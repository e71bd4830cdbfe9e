#!/usr/bin/env bash
# ingest.sh — the ingest benchmark (see bench/README.md, "Ingest"): synthetic generation rate; framelake
# `ingest bdd100k` on a BDD100K-style folder against a raw copy of the same files and against LanceDB
# (npm) ingesting the same bytes and labels, in the same run; peak RSS for label files of FRAMES vs
# BIG_LABELS entries. Nothing is asserted; figures are printed and written to OUT/results.txt.
#
# Environment (defaults in brackets): FRAMES [5000]  SIZE [1280x720]  BIG_LABELS [50000]  ROUNDS [3]
#   THREADS [0: one per core]  SEED [1]  OUT [bench/out/ingest]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
FRAMES=${FRAMES:-5000}
SIZE=${SIZE:-1280x720}
BIG_LABELS=${BIG_LABELS:-50000}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-0}
SEED=${SEED:-1}
OUT=${OUT:-$BENCH/out/ingest}
FL=$ROOT/build/framelake

log() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
fmt() { printf '%.1f' "$1"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

command -v node >/dev/null || { echo "ingest.sh: node (>= 20) is required" >&2; exit 1; }
command -v bc >/dev/null || { echo "ingest.sh: bc is required (apt-get install bc)" >&2; exit 1; }
(cd "$ROOT" && make -s all)
[ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --silent)

rm -rf "$OUT"
mkdir -p "$OUT"
SRC=$OUT/src

# ---- 1. synthetic generation ----
log "synthesize $FRAMES frames at $SIZE"
t0=$(now)
"$FL" synthesize "$SRC" --n "$FRAMES" --seed "$SEED" --size "$SIZE" --threads "$THREADS" >/dev/null 2>&1
t1=$(now)
gen_s=$(secs "$t0" "$t1")
img_bytes=$(find "$SRC/images" -name '*.jpg' -printf '%s\n' | awk '{s += $1} END {print s}')
label_bytes=$(cat "$SRC"/labels/det_20/*.json | wc -c)
mb=$(echo "$img_bytes / 1000000" | bc -l)

# ---- 2..4. raw copy, framelake, LanceDB; alternating order, median of ROUNDS ----
copy_t="" fl_t="" lance_t=""
run_copy() {
    rm -rf "$OUT/copy"
    sync
    local a b
    a=$(now)
    mkdir -p "$OUT/copy" && cp -r "$SRC/images" "$SRC/labels" "$OUT/copy/" && sync
    b=$(now)
    copy_t="$copy_t $(secs "$a" "$b")"
    rm -rf "$OUT/copy"
}
run_fl() {
    rm -rf "$OUT/fldb"
    sync
    local a b
    a=$(now)
    "$FL" ingest bdd100k "$OUT/fldb" --root "$SRC" --threads "$THREADS" --quiet > "$OUT/fl.out"
    b=$(now)
    fl_t="$fl_t $(secs "$a" "$b")"
    fl_rows=$("$FL" count "$OUT/fldb" bdd100k)
}
run_lance() {
    rm -rf "$OUT/lancedb"
    sync
    local a b
    a=$(now)
    (cd "$BENCH" && node lancedb_ingest.mjs "$SRC" "$OUT/lancedb" 1000) > "$OUT/lance.out"
    b=$(now)
    lance_t="$lance_t $(secs "$a" "$b")"
    lance_rows=$(awk '$1 == "rows" {print $2}' "$OUT/lance.out")
}
cat "$SRC"/images/100k/*/*.jpg > /dev/null # warm the page cache for everyone
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    if [ $((r % 2)) = 1 ]; then run_copy; run_fl; run_lance; else run_lance; run_fl; run_copy; fi
done
[ "$fl_rows" = "$lance_rows" ] || { echo "ingest.sh: framelake has $fl_rows rows, LanceDB $lance_rows" >&2; exit 1; }
copy_s=$(echo "$copy_t" | median)
fl_s=$(echo "$fl_t" | median)
lance_s=$(echo "$lance_t" | median)

# ---- 5. peak RSS: FRAMES vs BIG_LABELS label entries (tiny images, a commit every 1000 rows) ----
rss() {
    local n=$1 dir=$OUT/rss-$1
    "$FL" synthesize "$dir" --n "$n" --seed "$SEED" --size 64x64 --threads "$THREADS" >/dev/null 2>&1
    local kb
    kb=$( { /usr/bin/time -f '%M' "$FL" ingest bdd100k "$dir/db" --root "$dir" --commit-every 1000 --quiet >/dev/null; } 2>&1 | tail -n 1)
    echo "$kb $(cat "$dir"/labels/det_20/*.json | wc -c)"
    rm -rf "$dir"
}
log "peak RSS with $FRAMES and $BIG_LABELS label entries"
read -r rss_small labels_small < <(rss "$FRAMES")
read -r rss_big labels_big < <(rss "$BIG_LABELS")

{
    echo "ingest benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $FRAMES frames at $SIZE ($(fmt "$mb") MB of JPEG, $(fmt "$(echo "$label_bytes / 1000000" | bc -l)") MB of labels), median of $ROUNDS"
    printf '%-44s %10s %10s %12s\n' "" "seconds" "frames/s" "MB/s"
    printf '%-44s %10.3f %10.0f %12.1f\n' "synthetic generation (render + JPEG)" "$gen_s" "$(echo "$FRAMES / $gen_s" | bc -l)" "$(echo "$mb / $gen_s" | bc -l)"
    printf '%-44s %10.3f %10.0f %12.1f\n' "raw copy of the files (cp -r + sync)" "$copy_s" "$(echo "$FRAMES / $copy_s" | bc -l)" "$(echo "$mb / $copy_s" | bc -l)"
    printf '%-44s %10.3f %10.0f %12.1f\n' "framelake ingest bdd100k (fsynced commit)" "$fl_s" "$(echo "$FRAMES / $fl_s" | bc -l)" "$(echo "$mb / $fl_s" | bc -l)"
    printf '%-44s %10.3f %10.0f %12.1f\n' "LanceDB 0.37.1 (JSON.parse + add, no fsync)" "$lance_s" "$(echo "$FRAMES / $lance_s" | bc -l)" "$(echo "$mb / $lance_s" | bc -l)"
    echo "framelake vs raw copy: $(fmt "$(echo "100 * $copy_s / $fl_s" | bc -l)")% of the copy rate; vs LanceDB: $(fmt "$(echo "$lance_s / $fl_s" | bc -l)")x faster"
    echo "rows: framelake $fl_rows, LanceDB $lance_rows"
    echo "peak RSS of ingest bdd100k (64x64 frames, --commit-every 1000): $FRAMES label entries ($labels_small bytes): $((rss_small / 1024)) MiB; $BIG_LABELS entries ($labels_big bytes): $((rss_big / 1024)) MiB; ratio $(fmt "$(echo "$rss_big / $rss_small" | bc -l)")"
} | tee "$OUT/results.txt"
rm -rf "$SRC" "$OUT/fldb" "$OUT/lancedb"
