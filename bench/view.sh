#!/usr/bin/env bash
# view.sh — the materialized-view benchmark (see bench/README.md, "Materialized views"): incremental
# refresh vs rebuild in framelake, and LanceDB keeping the same split current, on the same data in one run:
#   1. bench/view_bench.c: ROWS rows of frame metadata from SEED into table `frames` (commits of LOAD_ROWS
#      rows, also written to source.jsonl), view rider_train
#        WHERE has_rider AND split = 'train' AND NOT is_duplicate
#        SELECT image_id, timeofday, weather, num_annotations, ann_categories, person_bbox_area_pct
#      and a twin with the same definition; then REPS times each: +APPEND rows appended, has_rider
#      recomputed on BACKFILL random rows (fl_table_update), DELETE random rows deleted — after each change
#      rider_train is refreshed incrementally and the twin rebuilt (`full`), both timed. Every change goes
#      to ops.jsonl. Wrong rows fail the run (view = twin = the generated data, on every rep).
#   2. bench/lancedb_view.mjs: LanceDB 0.37.1 on the same rows and changes; it has no views, so the split
#      is rebuilt from the source after each change (query().where().select().toArrow() + createTable
#      overwrite) and must hold framelake's rows (count and checksum; a difference fails the run).
#   3. the table of medians: incremental vs rebuild vs LanceDB, rows read, deltas; $OUT/view/results.txt
# The target printed by the append line (incremental >= 20x faster than a rebuild, rows read O(change)) is
# only reported: timing never fails the run.
#
# Environment (defaults in brackets): ROWS [100000]  APPEND [500]  BACKFILL [1000]  DELETE [100]  REPS [5]
#   SEED [1]  LOAD_ROWS [10000] rows per commit of the initial load (both engines)
#   OUT [bench/out]: scratch and results under $OUT/view
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
. "$BENCH/common.sh"
ROWS=${ROWS:-100000}
APPEND=${APPEND:-500}
BACKFILL=${BACKFILL:-1000}
DELETE=${DELETE:-100}
REPS=${REPS:-5}
SEED=${SEED:-1}
LOAD_ROWS=${LOAD_ROWS:-10000}
DIR=${OUT:-$BENCH/out}/view

log() { printf '== %s\n' "$*" >&2; }

command -v node >/dev/null || { echo "view.sh: node (>= 20) is required" >&2; exit 1; }
(cd "$ROOT" && make -s build/libframelake.a)
[ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --no-package-lock --silent)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
fl_cc "$DIR/view_bench" "$BENCH/view_bench.c"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. framelake ----
log "framelake: $ROWS rows, views, $REPS x (+$APPEND rows, has_rider on $BACKFILL rows, -$DELETE rows)"
rm -rf "$DIR/db" "$DIR/lance"
"$DIR/view_bench" "$DIR" "$ROWS" "$APPEND" "$BACKFILL" "$DELETE" "$REPS" "$SEED" "$LOAD_ROWS" > "$DIR/framelake.tsv.tmp"
mv "$DIR/framelake.tsv.tmp" "$DIR/framelake.tsv"

# ---- 2. LanceDB ----
log "LanceDB: load, the same changes, split rebuilt after each"
node "$BENCH/lancedb_view.mjs" "$DIR/source.jsonl" "$DIR/ops.jsonl" "$DIR/lance" "$LOAD_ROWS" > "$DIR/lancedb.tsv.tmp" 2> "$DIR/lancedb.log" || {
    cat "$DIR/lancedb.log" >&2
    exit 1
}
mv "$DIR/lancedb.tsv.tmp" "$DIR/lancedb.tsv"

# ---- 3. report ----
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
FL_COMMIT=$(framelake_commit "$ROOT")
LANCE_VERSION=$(node -p 'require(process.argv[1]).version' "$BENCH/node_modules/@lancedb/lancedb/package.json" 2>/dev/null || echo '?')
{
    echo "framelake materialized views vs LanceDB $LANCE_VERSION, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine: $(nproc) cores, load average $LOAD0 at start, $LOAD1 at end; framelake $FL_COMMIT; node $(node --version)"
    awk -F'\t' -v reps="$REPS" -v n_append="$APPEND" -v n_backfill="$BACKFILL" -v n_delete="$DELETE" -v load_rows="$LOAD_ROWS" -v seed="$SEED" '
    function median(list,    a, n, i, j, v) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) {
            v = a[i] + 0
            for (j = i - 1; j >= 1 && a[j] + 0 > v; j--) a[j + 1] = a[j]
            a[j + 1] = v
        }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    FNR == 1 { file++ }
    file == 1 && $1 == "setup" { fl[$2] = $3 }
    file == 1 && $1 == "rep" {
        s = $2
        incr[s] = incr[s] " " $4; full[s] = full[s] " " $5; read_i[s] = read_i[s] " " $6; read_f[s] = read_f[s] " " $7
        added[s] = added[s] " " $8; removed[s] = removed[s] " " $9; updated[s] = updated[s] " " $10
        write_fl[s] = write_fl[s] " " $13; noop = noop " " $15
        rows_fl[s, $3] = $11; sum_fl[s, $3] = $14; last_fl[s] = $11; n_fl[s]++
    }
    file == 2 && $1 == "setup" { ld[$2] = $3 }
    file == 2 && $1 == "rep" {
        s = $2
        lance[s] = lance[s] " " $4; lq = lq " " $5; lw = lw " " $6; apply_l[s] = apply_l[s] " " $7
        rows_l[s, $3] = $8; sum_l[s, $3] = $9; last_l[s] = $8; n_l[s]++
    }
    END {
        ns = split("append backfill delete", order, " ")
        label["append"] = "+" n_append " appended"
        label["backfill"] = "has_rider on " n_backfill
        label["delete"] = "-" n_delete " deleted"
        change["append"] = n_append; change["backfill"] = n_backfill; change["delete"] = n_delete
        bad = 0
        if ((fl["view_rows"] "") != (ld["split_rows"] "")) {
            printf "view.sh: after create: framelake view %s rows, LanceDB split %s rows\n", fl["view_rows"], ld["split_rows"] > "/dev/stderr"
            bad = 1
        }
        for (k = 1; k <= ns; k++) {
            s = order[k]
            if (n_fl[s] != reps || n_l[s] != reps) {
                printf "view.sh: %s: %d framelake and %d LanceDB reps, %d expected\n", s, n_fl[s], n_l[s], reps > "/dev/stderr"
                bad = 1
            }
            for (r = 1; r <= reps; r++)
                if ((rows_fl[s, r] "") != (rows_l[s, r] "") || (sum_fl[s, r] "") != (sum_l[s, r] "")) {
                    printf "view.sh: %s rep %d: framelake view %s rows (checksum %s), LanceDB split %s rows (checksum %s)\n", s, r,
                        rows_fl[s, r], sum_fl[s, r], rows_l[s, r], sum_l[s, r] > "/dev/stderr"
                    bad = 1
                }
        }
        if (bad) exit 1
        printf "source: %d rows in %d commits of %d (%d fragments), seed %s; view rider_train: %d rows, built in %.1f ms (twin %.1f ms)\n",
            fl["source_rows"], (fl["source_rows"] + load_rows - 1) / load_rows, load_rows, fl["source_fragments"], seed, fl["view_rows"],
            fl["create_ms"], fl["twin_create_ms"]
        printf "  WHERE has_rider AND split = '\''train'\'' AND NOT is_duplicate\n"
        printf "  SELECT image_id, timeofday, weather, num_annotations, ann_categories, person_bbox_area_pct\n"
        printf "medians of %d reps, each on a fresh change to the source; incr = fl_view_refresh, full = the twin rebuilt\n", reps
        printf "(.full = true) at the same source version; LanceDB = query().where().select().toArrow() + createTable(overwrite)\n\n"
        printf "%-18s %-20s %9s %9s %9s %21s %10s %12s %15s\n", "scenario", "delta +add -rem ~upd", "incr ms", "full ms", "full/incr",
            "rows read incr/full", "LanceDB ms", "LanceDB/incr", "rows fl/LanceDB"
        for (k = 1; k <= ns; k++) {
            s = order[k]
            mi = median(incr[s]); mf = median(full[s]); ml = median(lance[s]); ri = median(read_i[s]); rf = median(read_f[s])
            printf "%-18s %-20s %9.2f %9.2f %8.1fx %21s %10.2f %11.1fx %15s\n", label[s],
                sprintf("+%g -%g ~%g", median(added[s]), median(removed[s]), median(updated[s])), mi, mf, mf / mi,
                sprintf("%d / %d", ri, rf), ml, ml / mi, last_fl[s] " / " last_l[s]
            if (s == "append") {
                pass = mf / mi >= 20 && ri <= 2 * change[s]
                printf "  target: incremental >= 20x faster than rebuild, rows read O(change): %s (%.1fx; %d rows read for %d appended)\n",
                    pass ? "PASS" : "MISS", mf / mi, ri, change[s]
            }
        }
        printf "\nframelake, a refresh with nothing to do (opens the view and the source, compares versions): median %.2f ms\n", median(noop)
        printf "LanceDB rebuild, medians over all changes: query %.2f ms + overwrite %.2f ms; load %.0f ms, first split %.1f ms\n",
            median(lq), median(lw), ld["load_ms"], ld["split_create_ms"]
        printf "source change itself (not in the table above), median ms framelake / LanceDB:"
        for (k = 1; k <= ns; k++) printf " %s %.2f / %.2f%s", order[k], median(write_fl[order[k]]), median(apply_l[order[k]]), k < ns ? ";" : "\n"
        printf "checked on every rep: view = rebuilt twin = the generated rows (count, checksum over row id + values) = the source\n"
        printf "count under WHERE; exact +add -rem ~upd; LanceDB split = framelake view (count, checksum over values)\n"
    }' "$DIR/framelake.tsv" "$DIR/lancedb.tsv"
} | tee "$DIR/results.txt"
