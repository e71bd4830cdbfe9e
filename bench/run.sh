#!/usr/bin/env bash
# run.sh — the framelake vs LanceDB storage benchmark, end to end (see bench/README.md).
#
# Installs the npm peer (@lancedb/lancedb 0.37.1, apache-arrow 18.1.0) into bench/node_modules when it is
# missing, builds bench/storage_bench.c against build/libframelake.a, writes the shared input once, runs
# the append rounds (framelake, LanceDB and the raw-copy reference, alternating the order), the take and
# scan measurements, and prints the figures and ratios. Nothing is asserted: targets are only reported.
#
# Scale and repetitions come from the environment (defaults in brackets):
#   ROWS [20000]  BLOB_BYTES [65536, mean; sizes uniform in 3/4..5/4 of it]  BATCH_ROWS [1000]
#   ROUNDS [3]  TAKE_ROWS [64]  TAKE_WARMUP [20]  TAKE_REPS [300]  SCAN_WARMUP [3]  SCAN_REPS [30]
#   SEED [42]  OUT [bench/out: scratch data, results, the bench binary]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
cd "$ROOT"
. "$BENCH/common.sh"

ROWS=${ROWS:-20000}
BLOB_BYTES=${BLOB_BYTES:-65536}
BATCH_ROWS=${BATCH_ROWS:-1000}
ROUNDS=${ROUNDS:-3}
TAKE_ROWS=${TAKE_ROWS:-64}
TAKE_WARMUP=${TAKE_WARMUP:-20}
TAKE_REPS=${TAKE_REPS:-300}
SCAN_WARMUP=${SCAN_WARMUP:-3}
SCAN_REPS=${SCAN_REPS:-30}
SEED=${SEED:-42}
OUT=${OUT:-$BENCH/out}
LANCEDB_VERSION=0.37.1
ARROW_VERSION=18.1.0

log() { printf '== %s\n' "$*" >&2; }

# ---- prerequisites ----
command -v node >/dev/null || { echo "run.sh: node (>= 20) is required" >&2; exit 1; }
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || { echo "run.sh: node >= 20 required, found $(node --version)" >&2; exit 1; }

# The peer resolves from bench/node_modules (or NODE_PATH, handy in development); install it when absent
# or at another version.
peer_ok() {
    (cd "$BENCH" && node -e '
        const fs = require("fs"), path = require("path");
        const version = (name) => { /* walk up from the resolved entry point to the package root */
            for (let d = path.dirname(require.resolve(name)); d !== path.dirname(d); d = path.dirname(d)) {
                const p = path.join(d, "package.json");
                if (fs.existsSync(p) && JSON.parse(fs.readFileSync(p, "utf8")).name === name) return JSON.parse(fs.readFileSync(p, "utf8")).version;
            }
        };
        process.exit(version("@lancedb/lancedb") === process.argv[1] && version("apache-arrow") === process.argv[2] ? 0 : 1);
    ' "$LANCEDB_VERSION" "$ARROW_VERSION") 2>/dev/null
}
if ! peer_ok; then
    log "installing @lancedb/lancedb@$LANCEDB_VERSION apache-arrow@$ARROW_VERSION into bench/node_modules"
    npm install --prefix "$BENCH" --no-save --no-package-lock --no-audit --no-fund \
        "@lancedb/lancedb@$LANCEDB_VERSION" "apache-arrow@$ARROW_VERSION" >&2
    peer_ok || { echo "run.sh: the npm peer is still not resolvable from $BENCH" >&2; exit 1; }
fi

log "building build/libframelake.a and the bench"
mkdir -p "$OUT/results"
build_bench() {
    make --no-print-directory -s build/libframelake.a >&2 &&
        fl_cc "$OUT/storage_bench" bench/storage_bench.c
}
# A second attempt covers a library archive that another `make` was rewriting at the same moment.
build_bench || { sleep 5; build_bench; }

C_ARGS=(--dir "$OUT" --rows "$ROWS" --blob-bytes "$BLOB_BYTES" --batch-rows "$BATCH_ROWS" --take-rows "$TAKE_ROWS"
        --take-warmup "$TAKE_WARMUP" --take-reps "$TAKE_REPS" --scan-warmup "$SCAN_WARMUP" --scan-reps "$SCAN_REPS")
JS_ARGS=(--dir "$OUT" --rows "$ROWS" --batch-rows "$BATCH_ROWS" --take-rows "$TAKE_ROWS" --take-warmup "$TAKE_WARMUP"
         --take-reps "$TAKE_REPS" --scan-warmup "$SCAN_WARMUP" --scan-reps "$SCAN_REPS")
RES=$OUT/results
rm -f "$RES"/*.txt

# ---- the shared input, written once in this run ----
log "generating $ROWS rows of ~$BLOB_BYTES-byte random blobs (seed $SEED) into $OUT/input"
"$OUT/storage_bench" gen "${C_ARGS[@]}" --seed "$SEED" > "$RES/gen.txt"

# ---- append rounds: the C process does raw copy + framelake, node does LanceDB; orders alternate ----
run_c() { "$OUT/storage_bench" append "${C_ARGS[@]}" --round "$1" > "$RES/fl_append_r$1.txt"; }
run_js() { node "$BENCH/lancedb_storage.mjs" append "${JS_ARGS[@]}" --round "$1" > "$RES/lance_append_r$1.txt" 2> "$RES/lance_append_r$1.log"; }
for r in $(seq 1 "$ROUNDS"); do
    log "append round $r of $ROUNDS"
    if [ $((r % 2)) -eq 1 ]; then run_c "$r"; run_js "$r"; else run_js "$r"; run_c "$r"; fi
done

# ---- the literal `cat > file` + fsync reference, as a cross-check of the raw copy measured in C ----
log "cat + sync cross-check"
mkdir -p "$OUT/raw"
rm -f "$OUT/raw/cat.bin"
sync
t0=$(date +%s%N)
cat "$OUT/input/blobs.bin" > "$OUT/raw/cat.bin"
sync "$OUT/raw/cat.bin"
t1=$(date +%s%N)
echo "cat_copy_s $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')" > "$RES/cat.txt"
rm -f "$OUT/raw/cat.bin"
sync

# ---- reads on the last round's tables (both written in this run), each process warm after warm-up ----
log "framelake take and scan"
"$OUT/storage_bench" read "${C_ARGS[@]}" > "$RES/fl_read.txt"
log "LanceDB take and scan"
node "$BENCH/lancedb_storage.mjs" read "${JS_ARGS[@]}" > "$RES/lance_read.txt" 2> "$RES/lance_read.log"
{
    echo "fl_disk_bytes $(du -sb "$OUT/framelake/bench" | cut -f1)"
    echo "lance_disk_bytes $(du -sb "$OUT/lancedb/bench.lance" | cut -f1)"
    echo "lance_file_format $(tail -c 8 "$(ls "$OUT"/lancedb/bench.lance/data/*.lance | head -1)" | od -An -tu2 -N4 | awk '{ print $1 "." $2 }')"
} > "$RES/disk.txt"

# ---- report ----
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
FS=$(df -T "$OUT" | awk 'NR == 2 { print $2 " on " $1 }')
{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), ${CPU:-unknown CPU}, $FS, $(uname -sr)"
    echo "node $(node --version)"
} > "$RES/env.txt"

awk -v take_rows="$TAKE_ROWS" -v take_warmup="$TAKE_WARMUP" -v take_reps="$TAKE_REPS" -v scan_reps="$SCAN_REPS" \
    -v scan_warmup="$SCAN_WARMUP" -v lancedb_version="$LANCEDB_VERSION" -v arrow_version="$ARROW_VERSION" '
# Samples of seconds per method: n[m] of them in smp[m, 1..n[m]].
function add(m, x) { smp[m, ++n[m]] = x }
function sorted(m,    i, j, t) {
    for (i = 1; i <= n[m]; i++) srt[i] = smp[m, i]
    for (i = 2; i <= n[m]; i++) { t = srt[i]; for (j = i - 1; j >= 1 && srt[j] > t; j--) srt[j + 1] = srt[j]; srt[j + 1] = t }
}
function med(m) { sorted(m); return n[m] % 2 ? srt[(n[m] + 1) / 2] : (srt[n[m] / 2] + srt[n[m] / 2 + 1]) / 2 }
function best(m) { sorted(m); return srt[1] }
function worst(m) { sorted(m); return srt[n[m]] }
function row(label, m) {
    printf "  %-50s %9.1f %9.1f %9.1f %3d\n", label, mb / med(m), mb / best(m), mb / worst(m), n[m]
}
# Throughput of method b relative to method a (their seconds are inverse to throughput), as % or as x.
function ratio(label, a, b, target) {
    printf "  %-50s %6.0f%% %6.0f%%   %s\n", label, 100 * med(a) / med(b), 100 * best(a) / best(b), target
}
function times(label, a, b) {
    printf "  %-50s %6.1fx %6.1fx\n", label, med(a) / med(b), best(a) / best(b)
}
FNR == 1 { file = FILENAME; sub(/.*\//, "", file); sub(/\.txt$/, "", file) }
file == "env" { k = $1; sub(/^[a-z]+ /, ""); env[k] = $0; next }
/^sample_/ { add(substr($1, 8), $2); next }
file ~ /^lance_append_r/ && $1 == "lance_add_s" { add("lance_add", $2); add_s = $2; next }
file ~ /^lance_append_r/ && $1 == "lance_fsync_after_s" { add("lance_add_fsync", add_s + $2); next }
file ~ /^lance_append_r/ { la[$1] = $2; next }
file ~ /^fl_append_r/ { if ($1 == "batch_build_s") add("fl_build", $2); else if ($1 == "blob_hash_s") add("blob_hash", $2); else fa[$1] = $2; next }
{ v[$1] = $2 }
END {
    mb = fa["blob_bytes"] / 1e6
    rounds = n["lance_add"]
    add("cat", v["cat_copy_s"])
    best_lance = v["lance_take_offsets_rows_per_s"] > v["lance_take_rowids_rows_per_s"] ? "takeOffsets" : "takeRowIds"
    best_lance_rps = best_lance == "takeOffsets" ? v["lance_take_offsets_rows_per_s"] : v["lance_take_rowids_rows_per_s"]
    best_lance_s = v["lance_take_offsets_scalars_rows_per_s"] > v["lance_take_rowids_scalars_rows_per_s"] ? "takeOffsets" : "takeRowIds"
    best_lance_s_rps = best_lance_s == "takeOffsets" ? v["lance_take_offsets_scalars_rows_per_s"] : v["lance_take_rowids_scalars_rows_per_s"]

    printf "\nframelake storage benchmark vs LanceDB %s (apache-arrow %s), %s\n", lancedb_version, arrow_version, env["date"]
    printf "machine: %s; node %s\n", env["machine"], env["node"]
    printf "data: %d rows of (id int64 not null, x float64, label string, blob binary), %.1f MB of random blob bytes,\n", fa["rows"], mb
    printf "      generated once from a seed; framelake and LanceDB store the identical bytes (checked on read).\n"
    printf "      framelake %s; LanceDB file format %s. On disk: framelake %.1f MB, LanceDB %.1f MB.\n", \
        v["fl_lib_version"], v["lance_file_format"], v["fl_disk_bytes"] / 1e6, v["lance_disk_bytes"] / 1e6

    printf "\nAPPEND  in-memory batches -> files on disk. MB = 1e6 blob bytes. Batch construction is excluded (untimed).\n"
    printf "        %d rounds; each C round times every raw/framelake method twice in a balanced order after an\n", rounds
    printf "        untimed warm-up copy, each LanceDB round once. Before each step the previous output is deleted + synced.\n"
    printf "  %-50s %9s %9s %9s %3s\n", "", "median", "best", "worst", "n"
    printf "  %-50s %9s %9s %9s\n", "", "MB/s", "MB/s", "MB/s"
    row("raw copy: write to 1 file + 1 fsync (reference)", "raw_copy")
    row(sprintf("raw copy: %d files, fsync after each", fa["batches"]), "raw_files")
    row(sprintf("framelake: %d fl_table_append (= commits)", fa["batches"]), "fl_append")
    row("framelake: 1 fl_table_append of all rows", "fl_one_append")
    row(sprintf("LanceDB: %d table.add (it issues no fsync)", la["batches"]), "lance_add")
    row(sprintf("LanceDB: %d table.add + fsync of its files after", la["batches"]), "lance_add_fsync")
    row("cross-check: cat blobs.bin > file; sync file", "cat")
    printf "  framelake fsyncs each data file, the data directory, the manifest and its directory on every commit, and\n"
    printf "  checksums every blob (XXH3): hashing all blobs once takes %.2f s here (%.0f%% of a median raw copy).\n", \
        med("blob_hash"), 100 * med("blob_hash") / med("raw_copy")
    printf "  Untimed: building the batches took %.1f s in C (blobs copied into fl_arrays), %.1f s in node; LanceDB'"'"'s JS\n", \
        med("fl_build"), la["lance_batch_build_s"]
    printf "  layer serialises each table to Arrow IPC inside add(); that alone took %.1f s for all batches.\n", la["lance_js_ipc_encode_s"]

    printf "\nTAKE  %d random distinct row ids per call, the same id sets on both sides (unsorted). Warm: %d untimed\n", take_rows, take_warmup
    printf "      calls per variant first (they also verify every returned value), then %d timed calls. rows/s = %d / p50.\n", take_reps, take_rows
    printf "  %-50s %9s %9s %11s %9s\n", "", "p50 us", "p90 us", "rows/s", "MB/s"
    printf "  %-50s %9.1f %9.1f %11.0f %9.1f\n", "framelake fl_table_take, all columns", v["fl_take_p50_us"], v["fl_take_p90_us"], v["fl_take_rows_per_s"], v["fl_take_mb_per_s"]
    printf "  %-50s %9.1f %9.1f %11.0f %9.1f\n", "LanceDB takeOffsets().toArrow(), all columns", v["lance_take_offsets_p50_us"], v["lance_take_offsets_p90_us"], v["lance_take_offsets_rows_per_s"], v["lance_take_offsets_mb_per_s"]
    printf "  %-50s %9.1f %9.1f %11.0f %9.1f\n", "LanceDB takeRowIds().toArrow(), all columns", v["lance_take_rowids_p50_us"], v["lance_take_rowids_p90_us"], v["lance_take_rowids_rows_per_s"], v["lance_take_rowids_mb_per_s"]
    printf "  %-50s %9.1f %9.1f %11.0f\n", "framelake fl_table_take, id/x/label only", v["fl_take_scalars_p50_us"], v["fl_take_scalars_p90_us"], v["fl_take_scalars_rows_per_s"]
    printf "  %-50s %9.1f %9.1f %11.0f\n", "LanceDB takeOffsets, id/x/label only", v["lance_take_offsets_scalars_p50_us"], v["lance_take_offsets_scalars_p90_us"], v["lance_take_offsets_scalars_rows_per_s"]
    printf "  %-50s %9.1f %9.1f %11.0f\n", "LanceDB takeRowIds, id/x/label only", v["lance_take_rowids_scalars_p50_us"], v["lance_take_rowids_scalars_p90_us"], v["lance_take_rowids_scalars_rows_per_s"]

    printf "\nSCAN  every row of column id (int64), default batch sizes. Warm: median of %d timed scans after %d\n", scan_reps, scan_warmup
    printf "      untimed ones (which check the sum). First: the first scan on a freshly opened table (OS cache warm).\n"
    printf "  %-50s %9s %9s %14s\n", "", "first us", "median us", "rows/s"
    printf "  %-50s %9.1f %9.1f %14.0f\n", "framelake fl_scan (sums the values)", v["fl_scan_first_us"], v["fl_scan_median_us"], v["fl_scan_rows_per_s"]
    printf "  %-50s %9.1f %9.1f %14.0f\n", "LanceDB query().select([\"id\"]) (iterates batches)", v["lance_scan_first_us"], v["lance_scan_median_us"], v["lance_scan_rows_per_s"]

    printf "\nRATIOS (append: of medians, and of bests)               median   best   target\n"
    ratio(sprintf("framelake %d commits / raw copy 1 fsync", fa["batches"]), "raw_copy", "fl_append", \
        (100 * med("raw_copy") / med("fl_append") >= 70 ? ">= 70%  met (median)" : ">= 70%  NOT met (median)"))
    ratio("framelake 1 commit / raw copy 1 fsync", "raw_copy", "fl_one_append", "")
    ratio(sprintf("framelake %d commits / raw copy %d fsynced files", fa["batches"], fa["batches"]), "raw_files", "fl_append", "")
    times(sprintf("framelake %d commits / LanceDB add (no fsync)", fa["batches"]), "lance_add", "fl_append")
    times(sprintf("framelake %d commits / LanceDB add + fsync", fa["batches"]), "lance_add_fsync", "fl_append")
    printf "  %-50s %6.1fx %8s %s\n", "framelake take / LanceDB " best_lance " (rows/s)", v["fl_take_rows_per_s"] / best_lance_rps, \
        "", (v["fl_take_rows_per_s"] / best_lance_rps >= 2 ? ">= 2x   met" : ">= 2x   NOT met")
    printf "  %-50s %6.1fx\n", "same, id/x/label only (vs LanceDB " best_lance_s ")", v["fl_take_scalars_rows_per_s"] / best_lance_s_rps
    printf "  %-50s %6.1fx\n", "framelake scan / LanceDB scan (rows/s)", v["fl_scan_rows_per_s"] / v["lance_scan_rows_per_s"]
    printf "  (take ratios use the faster LanceDB variant; the target column is informational, nothing is asserted)\n"
}' "$RES/env.txt" "$RES"/fl_append_r*.txt "$RES"/lance_append_r*.txt "$RES/cat.txt" "$RES/fl_read.txt" "$RES/lance_read.txt" \
   "$RES/disk.txt" | tee "$RES/summary.txt"
log "raw results in $RES; summary in $RES/summary.txt"
