#!/usr/bin/env bash
# backfill.sh — the backfill benchmark (issue 5; see bench/README.md, "Backfill"), in one run:
#   1. dhash kernels on N synthetic 1280x720 frames held in memory, one thread (bench/backfill_bench.c):
#      framelake's DCT-scaled decode + hash, a full-resolution decode + area resize + hash, and the raw
#      full-resolution decode rate (the physical reference); bit agreement between the hashes
#   2. the PIL peer of the same hash (bench/dhash_pil.py, /usr/bin/python3), full decode and draft mode
#   3. `framelake backfill … --udf dhash` end to end with --concurrency 1 and 2
#   4. has_person over ROWS rows: `framelake backfill --udf has_person` (one checkpoint, and the default
#      checkpoint size), `framelake add-column --expr array_has_any(…)`, and LanceDB's
#      table.addColumns([{name, valueSql}]) on the same rows (bench/lancedb_backfill.mjs)
#   5. external worker overhead per batch (exec: workers), only when this build has them
# Prints a table of figures and ratios; nothing is asserted (wrong values do fail the run).
#
# Environment (defaults in brackets): N [5000] frames  REPS [3]  ROWS [1000000]  SEED [1]
#   OUT [bench/out/backfill]  PYTHON [/usr/bin/python3: needs python3-pil and numpy]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/common.sh"
ROOT=$(cd "$BENCH/.." && pwd)
N=${N:-5000}
REPS=${REPS:-3}
ROWS=${ROWS:-1000000}
SEED=${SEED:-1}
OUT=${OUT:-$BENCH/out/backfill}
PYTHON=${PYTHON:-/usr/bin/python3}
FL=$ROOT/build/framelake
HP_SQL="array_has_any(ann_categories, ['pedestrian','other person'])"

log() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic (awk), printed with %g unless a format is given as $2
calc() { awk "BEGIN { printf \"${2:-%g}\", $1 }"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
best() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
# key FILE NAME: the value of a "name<TAB>value" line
key() { awk -F'\t' -v k="$2" '$1 == k {print $2; exit}' "$1"; }
# timed SECONDS_VAR CMD...: runs CMD (its stdout to $OUT/last.out), adds its wall time to the named list
timed() {
    local var=$1 a b
    shift
    a=$(now)
    "$@" > "$OUT/last.out"
    b=$(now)
    printf -v "$var" '%s %s' "${!var}" "$(calc "$b - $a" %.6f)"
}

command -v node >/dev/null || { echo "backfill.sh: node (>= 20) is required" >&2; exit 1; }
"$PYTHON" -c 'import PIL, numpy' 2>/dev/null || { echo "backfill.sh: $PYTHON needs python3-pil and numpy" >&2; exit 1; }
(cd "$ROOT" && make -s all)
[ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --no-package-lock --silent)
mkdir -p "$OUT"
fl_cc "$OUT/backfill_bench" "$BENCH/backfill_bench.c"

# ---- frames ----
FDB=$OUT/frames
rm -rf "$FDB" "$OUT/kernels"
mkdir -p "$OUT/kernels"
log "ingest synthetic: $N frames at 1280x720"
a=$(now)
"$FL" ingest synthetic "$FDB" --n "$N" --seed "$SEED" --size 1280x720 --quiet > /dev/null
ingest_s=$(calc "$(now) - $a")
fragments=$("$FL" info "$FDB" bdd100k | awk '$1 == "fragments:" {print $2}')

# ---- 1. kernels (C), 2. PIL ----
log "dhash kernels, $REPS rounds"
"$OUT/backfill_bench" kernels "$FDB" bdd100k "$OUT/kernels" "$REPS" > "$OUT/kernels.txt"
K=$OUT/kernels.txt
[ "$(key "$K" frames)" = "$N" ] || { echo "backfill.sh: the kernels read $(key "$K" frames) frames, expected $N" >&2; exit 1; }
log "PIL peer, $REPS rounds"
"$PYTHON" "$BENCH/dhash_pil.py" "$OUT/kernels/frames.bin" "$REPS" "$OUT/kernels" > "$OUT/pil.txt"
P=$OUT/pil.txt
rm -f "$OUT/kernels/frames.bin"

# ---- 3. end-to-end dhash backfill: concurrency 1 and 2 (and 2 with small checkpoints: more units) ----
bf_c1="" bf_c2="" bf_c2s=""
run_bf() { # NAME CONCURRENCY ROUND [EXTRA ARGS]
    local name=$1 conc=$2 r=$3
    shift 3
    timed "bf_$name" "$FL" backfill "$FDB" bdd100k "dh_${name}_$r" --udf dhash --concurrency "$conc" --quiet "$@"
}
for r in $(seq 1 "$REPS"); do
    log "dhash backfill, round $r/$REPS"
    if [ $((r % 2)) = 1 ]; then
        run_bf c1 1 "$r"; run_bf c2 2 "$r"; run_bf c2s 2 "$r" --checkpoint-size 1000
    else
        run_bf c2s 2 "$r" --checkpoint-size 1000; run_bf c2 2 "$r"; run_bf c1 1 "$r"
    fi
done
# every backfilled column holds exactly the hashes kernel (a) computed, in the same row order
"$FL" sql "$FDB" "SELECT $(for r in $(seq 1 "$REPS"); do printf 'dh_c1_%s, dh_c2_%s, dh_c2s_%s, ' "$r" "$r" "$r"; done | sed 's/, $//') FROM bdd100k" --format jsonl > "$OUT/dh.jsonl"
"$PYTHON" - "$OUT/dh.jsonl" "$OUT/kernels/hash_a.bin" <<'EOF'
import json, sys
want = open(sys.argv[2], "rb").read()
rows = [json.loads(line) for line in open(sys.argv[1])]
cols = [c for c in rows[0] if c.startswith("dh_")]
for i, row in enumerate(rows):
    for c in cols:
        if bytes(row[c]) != want[8 * i:8 * i + 8]:
            sys.exit("backfill.sh: row %d: column %s = %s, kernel (a) gave %s" % (i, c, row[c], list(want[8 * i:8 * i + 8])))
EOF
rm -f "$OUT/dh.jsonl"

# ---- 4. has_person over ROWS rows ----
ROWSFILE=$OUT/rows-$ROWS-$SEED.jsonl
if [ ! -s "$ROWSFILE" ]; then
    log "generating $ROWS rows"
    node "$BENCH/query_rows.mjs" "$ROWS" "$SEED" > "$ROWSFILE.tmp" && mv "$ROWSFILE.tmp" "$ROWSFILE"
fi
HDB=$OUT/rows
rm -rf "$HDB"
log "framelake: import $ROWS rows"
a=$(now)
"$FL" import "$HDB" q "$ROWSFILE" --schema "$BENCH/query_schema.txt" --commit-every 250000 > /dev/null
import_s=$(calc "$(now) - $a")
persons=$("$FL" count "$HDB" q --where has_person)
hp_big="" hp_big2="" hp_def="" hp_expr=""
for r in $(seq 1 "$REPS"); do
    log "has_person, round $r/$REPS"
    timed hp_big "$FL" backfill "$HDB" q "hp_big_$r" --udf has_person --checkpoint-size 1000000 --quiet
    timed hp_big2 "$FL" backfill "$HDB" q "hp_big2_$r" --udf has_person --checkpoint-size 1000000 --concurrency 2 --quiet
    timed hp_def "$FL" backfill "$HDB" q "hp_def_$r" --udf has_person --quiet
    timed hp_expr "$FL" add-column "$HDB" q "hp_expr_$r" --expr "$HP_SQL"
    for c in "hp_big_$r" "hp_big2_$r" "hp_def_$r" "hp_expr_$r"; do
        got=$("$FL" count "$HDB" q --where "$c = has_person")
        [ "$got" = "$ROWS" ] || { echo "backfill.sh: $c equals has_person on $got of $ROWS rows" >&2; exit 1; }
    done
done
log "LanceDB: load $ROWS rows, addColumns x $REPS"
rm -rf "$OUT/lance"
node "$BENCH/lancedb_backfill.mjs" "$ROWSFILE" "$OUT/lance" "$REPS" "$HP_SQL" > "$OUT/lance.txt" 2> "$OUT/lance.log" || {
    cat "$OUT/lance.log" >&2
    exit 1
}
L=$OUT/lance.txt
[ "$(key "$L" has_person_true)" = "$persons" ] || { echo "backfill.sh: LanceDB counts $(key "$L" has_person_true) persons, framelake $persons" >&2; exit 1; }

# ---- 5. external worker overhead per batch: only when `exec:` workers are built ----
EXEC_UDF="exec:$PYTHON $BENCH/has_person_worker.py"
ext_status=""
if "$FL" add-column "$HDB" q ext_probe --udf "$EXEC_UDF" > "$OUT/exec_probe.txt" 2>&1; then
    "$FL" drop-column "$HDB" q ext_probe > /dev/null
    # one batch: the rows of the first 1024 seconds (query_rows.mjs: a timestamp per second)
    ONE="timestamp < $((1500000000000 + 1024 * 1000))"
    ext_rule="" ext_const="" ext_one="" hp_one=""
    for r in $(seq 1 "$REPS"); do
        log "external worker, round $r/$REPS"
        "$FL" add-column "$HDB" q "ext_rule_$r" --udf "$EXEC_UDF" > /dev/null
        "$FL" add-column "$HDB" q "ext_const_$r" --udf "$EXEC_UDF" --param mode=const > /dev/null
        "$FL" add-column "$HDB" q "ext_one_$r" --udf "$EXEC_UDF" --param mode=const > /dev/null
        timed ext_rule "$FL" backfill "$HDB" q "ext_rule_$r" --concurrency 1 --quiet
        timed ext_const "$FL" backfill "$HDB" q "ext_const_$r" --concurrency 1 --quiet
        timed ext_one "$FL" backfill "$HDB" q "ext_one_$r" --concurrency 1 --where "$ONE" --quiet
        timed hp_one "$FL" backfill "$HDB" q "hp_one_$r" --udf has_person --where "$ONE" --quiet
        got=$("$FL" count "$HDB" q --where "ext_rule_$r = has_person")
        [ "$got" = "$ROWS" ] || { echo "backfill.sh: ext_rule_$r equals has_person on $got of $ROWS rows" >&2; exit 1; }
    done
else
    ext_status="skipped: external workers not built ($(head -n 1 "$OUT/exec_probe.txt"))"
fi

# ---- report ----
fps() { key "$K" "fps_$1"; }
{
    echo "backfill benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "frames: $N synthetic 1280x720 ($(calc "$(key "$K" jpeg_bytes) / 1e6" %.1f) MB of JPEG, $fragments fragments, ingested in $(calc "$ingest_s" %.1f) s); medians of $REPS rounds"
    echo
    echo "1. dhash kernels: frames in memory, one thread, TJFLAG_FASTDCT everywhere  frames/s     best   ms/frame"
    line() { printf '  %-68s %9.1f %8.1f %10.3f\n' "$1" "$2" "$3" "$(calc "1000 / $2")"; }
    line "(a) framelake dhash v2: DCT-scaled luma decode (1/8) + fl_dhash_gray" "$(fps a)" "$(fps a_best)"
    line "(b) full-resolution RGB decode + area resize to 9x8 + bits" "$(fps b)" "$(fps b_best)"
    line "(c) full-resolution RGB decode alone (physical reference)" "$(fps c)" "$(fps c_best)"
    line "    the same scaled luma decode + the bench's own area hash" "$(fps a_gray)" "$(fps a_gray_best)"
    line "    full-resolution gray decode + area resize + bits" "$(fps b_gray)" "$(fps b_gray_best)"
    line "    full-resolution gray decode alone" "$(fps c_gray)" "$(fps c_gray_best)"
    printf '  a/b %.2fx   a/c %.2fx (target >= 2x)   a/(c gray) %.2fx   (a gray)/c %.2fx\n' \
        "$(calc "$(fps a) / $(fps b)")" "$(calc "$(fps a) / $(fps c)")" "$(calc "$(fps a) / $(fps c_gray)")" "$(calc "$(fps a_gray) / $(fps c)")"
    printf '  bits differing, (a) vs (b): mean %.2f, max %s, identical hashes %s of %s frames\n' \
        "$(key "$K" bits_a_b_mean)" "$(key "$K" bits_a_b_max)" "$(key "$K" bits_a_b_equal)" "$N"
    printf '  bits differing, (a) vs its gray-decode variant: mean %.2f, max %s; (b) vs its gray variant: mean %.2f, max %s\n' \
        "$(key "$K" bits_a_agray_mean)" "$(key "$K" bits_a_agray_max)" "$(key "$K" bits_b_bgray_mean)" "$(key "$K" bits_b_bgray_max)"
    echo
    echo "2. PIL $(key "$P" pil_version) peer (dhash_pil.py, one thread, same frames)                          frames/s     best   ms/frame"
    line "PIL open + convert('L') + resize((9, 8), BOX) + bits" "$(key "$P" fps_pil)" "$(key "$P" fps_pil_best)"
    line "PIL draft('L', (w/8, h/8)) first (its DCT scaling, gray decode)" "$(key "$P" fps_pil_draft)" "$(key "$P" fps_pil_draft_best)"
    printf '  framelake (a) / PIL %.2fx   framelake (a) / PIL draft %.2fx\n' \
        "$(calc "$(fps a) / $(key "$P" fps_pil)")" "$(calc "$(fps a) / $(key "$P" fps_pil_draft)")"
    printf '  bits differing from (a): PIL mean %.2f max %s, PIL draft mean %.2f max %s; from (b): PIL mean %.2f max %s\n' \
        "$(key "$P" bits_pil_a_mean)" "$(key "$P" bits_pil_a_max)" "$(key "$P" bits_pil_draft_a_mean)" "$(key "$P" bits_pil_draft_a_max)" \
        "$(key "$P" bits_pil_b_mean)" "$(key "$P" bits_pil_b_max)"
    echo
    echo "3. framelake backfill bdd100k --udf dhash (CLI wall time, $N frames)                  seconds   frames/s"
    bl() { local m; m=$(echo "$2" | median); printf '  %-68s %9.3f %10.1f\n' "$1" "$m" "$(calc "$N / $m")"; }
    bl "--concurrency 1 (default checkpoint 10000)" "$bf_c1"
    bl "--concurrency 2 (default checkpoint 10000)" "$bf_c2"
    bl "--concurrency 2 --checkpoint-size 1000" "$bf_c2s"
    c1=$(echo "$bf_c1" | median) c2=$(echo "$bf_c2" | median) c2s=$(echo "$bf_c2s" | median)
    printf '  speedup 2/1: %.2fx (target >= 1.8x on idle cores); with --checkpoint-size 1000: %.2fx\n' "$(calc "$c1 / $c2")" "$(calc "$c1 / $c2s")"
    printf '  concurrency 1 vs kernel (a): %.0f%% of the in-memory kernel rate\n' "$(calc "100 * $N / $c1 / $(fps a)")"
    echo "  (every backfilled column equals kernel (a)'s hashes, checked)"
    echo
    echo "4. has_person over $ROWS rows ($persons true; framelake import $(calc "$import_s" %.1f) s, LanceDB load $(key "$L" load_seconds) s)   seconds     rows/s"
    hl() { printf '  %-68s %9.3f %10.0f\n' "$1" "$2" "$(calc "$ROWS / $2")"; }
    big=$(echo "$hp_big" | median) big2=$(echo "$hp_big2" | median) def=$(echo "$hp_def" | median) expr=$(echo "$hp_expr" | median)
    lance=$(calc "$(key "$L" median_ms) / 1000" %.6f)
    hl "framelake backfill --udf has_person --checkpoint-size 1000000" "$big"
    hl "framelake backfill ... --checkpoint-size 1000000 --concurrency 2" "$big2"
    hl "framelake backfill --udf has_person (default checkpoint 10000)" "$def"
    hl "framelake add-column --expr \"array_has_any(...)\"" "$expr"
    hl "LanceDB table.addColumns([{valueSql: \"array_has_any(...)\"}])" "$lance"
    printf '  framelake / LanceDB (speed): backfill 1 checkpoint %.2fx (concurrency 2: %.2fx), default checkpoint %.2fx, add-column --expr %.2fx\n' \
        "$(calc "$lance / $big")" "$(calc "$lance / $big2")" "$(calc "$lance / $def")" "$(calc "$lance / $expr")"
    echo "  (framelake: CLI wall time incl. process start; LanceDB: the addColumns call in a running node process)"
    echo
    echo "5. external worker overhead (exec: worker in Python, has_person, --concurrency 1)"
    if [ -n "$ext_status" ]; then
        echo "  $ext_status"
    else
        rule=$(echo "$ext_rule" | median) const=$(echo "$ext_const" | median) one=$(echo "$ext_one" | median) hone=$(echo "$hp_one" | median)
        batches=$(( (ROWS + 1023) / 1024 ))
        hl "exec worker, has_person rule in Python" "$rule"
        hl "exec worker, constant answer (protocol only)" "$const"
        hl "built-in has_person (default checkpoint)" "$def"
        printf '  one batch (--where, 1024 rows): exec %.3f s, built-in %.3f s -> worker start + handshake ~%.0f ms\n' "$one" "$hone" "$(calc "1000 * ($one - $hone)")"
        [ "$batches" -gt 1 ] || { echo "  (per-batch figures need ROWS > 1024)"; exit 0; }
        printf '  per batch of 1024 rows beyond the built-in: protocol %.2f ms, protocol + Python rule %.2f ms (%s batches)\n' \
            "$(calc "1000 * (($const - $one) - ($def - $hone)) / ($batches - 1)")" "$(calc "1000 * (($rule - $one) - ($def - $hone)) / ($batches - 1)")" "$batches"
    fi
} | tee "$OUT/results.txt"
