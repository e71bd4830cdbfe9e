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
        cc -std=c11 -O2 -Wall -Wextra -Iinclude -o "$OUT/storage_bench" bench/storage_bench.c build/libframelake.a \
            -lzstd -lxxhash -lpthread -lm
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

awk -v rounds="$ROUNDS" -v take_rows="$TAKE_ROWS" -v take_warmup="$TAKE_WARMUP" -v take_reps="$TAKE_REPS" \
    -v scan_reps="$SCAN_REPS" -v lancedb_version="$LANCEDB_VERSION" -v arrow_version="$ARROW_VERSION" '
function median(arr, n,    i, j, t, tmp) {
    for (i = 1; i <= n; i++) tmp[i] = arr[i]
    for (i = 2; i <= n; i++) { t = tmp[i]; for (j = i - 1; j >= 1 && tmp[j] > t; j--) tmp[j + 1] = tmp[j]; tmp[j + 1] = t }
    return n % 2 ? tmp[(n + 1) / 2] : (tmp[n / 2] + tmp[n / 2 + 1]) / 2
}
FNR == 1 { file = FILENAME; sub(/.*\//, "", file); sub(/\.txt$/, "", file) }
file ~ /^fl_append_r/ { r = substr(file, 12) + 0; fa[r, $1] = $2; next }
file ~ /^lance_append_r/ { r = substr(file, 15) + 0; la[r, $1] = $2; next }
$1 == "date" || $1 == "machine" || $1 == "node" { sub(/^[a-z]+ /, ""); env[FNR] = $0; next }
{ v[$1] = $2 }
END {
    mb = fa[1, "blob_bytes"] / 1e6
    for (r = 1; r <= rounds; r++) {
        raw[r] = fa[r, "blob_bytes"] / 1e6 / fa[r, "raw_copy_s"]
        fl[r] = fa[r, "blob_bytes"] / 1e6 / fa[r, "fl_append_s"]
        ln[r] = la[r, "blob_bytes"] / 1e6 / la[r, "lance_add_s"]
        ld[r] = la[r, "blob_bytes"] / 1e6 / (la[r, "lance_add_s"] + la[r, "lance_fsync_after_s"])
        flraw[r] = fl[r] / raw[r]
        flbuild[r] = fa[r, "batch_build_s"]; lbuild[r] = la[r, "lance_batch_build_s"]; ipc[r] = la[r, "lance_js_ipc_encode_s"]
    }
    m_raw = median(raw, rounds); m_fl = median(fl, rounds); m_ln = median(ln, rounds); m_ld = median(ld, rounds)
    m_flraw = median(flraw, rounds)
    cat_mb = mb / v["cat_copy_s"]
    best_lance = v["lance_take_offsets_rows_per_s"] > v["lance_take_rowids_rows_per_s"] ? "takeOffsets" : "takeRowIds"
    best_lance_rps = best_lance == "takeOffsets" ? v["lance_take_offsets_rows_per_s"] : v["lance_take_rowids_rows_per_s"]
    best_lance_s = v["lance_take_offsets_scalars_rows_per_s"] > v["lance_take_rowids_scalars_rows_per_s"] ? "takeOffsets" : "takeRowIds"
    best_lance_s_rps = best_lance_s == "takeOffsets" ? v["lance_take_offsets_scalars_rows_per_s"] : v["lance_take_rowids_scalars_rows_per_s"]

    printf "\nframelake storage benchmark vs LanceDB %s (apache-arrow %s), %s\n", lancedb_version, arrow_version, env[1]
    printf "machine: %s; node %s\n", env[2], env[3]
    printf "data: %d rows of (id int64 not null, x float64, label string, blob binary), %.1f MB of random blob bytes\n", fa[1, "rows"], mb
    printf "      generated once from a seed; framelake and LanceDB store the identical bytes (checked on read).\n"
    printf "      framelake %s; LanceDB file format %s. On disk: framelake %.1f MB, LanceDB %.1f MB.\n", \
        v["fl_lib_version"], v["lance_file_format"], v["fl_disk_bytes"] / 1e6, v["lance_disk_bytes"] / 1e6

    printf "\nAPPEND  in-memory batches of %d rows -> files; one append/add call = one commit; MB = 1e6 blob bytes;\n", fa[1, "rows"] / fa[1, "batches"]
    printf "        batch construction is timed apart and excluded; median of %d rounds (orders alternate)\n", rounds
    printf "  %-52s %10s %10s\n", "", "MB/s", "median s"
    printf "  %-52s %10.1f %10.3f\n", "raw copy: write the blob bytes + one fsync (C)", m_raw, mb / m_raw
    printf "  %-52s %10.1f %10.3f\n", "framelake fl_table_append (fsyncs every commit)", m_fl, mb / m_fl
    printf "  %-52s %10.1f %10.3f\n", "LanceDB table.add (issues no fsync at all)", m_ln, mb / m_ln
    printf "  %-52s %10.1f %10.3f\n", "LanceDB table.add + fsync of all its files after", m_ld, mb / m_ld
    printf "  %-52s %10.1f %10.3f\n", "cross-check: cat blobs.bin > file; sync file (once)", cat_mb, v["cat_copy_s"]
    for (r = 1; r <= rounds; r++)
        printf "  round %d (%s first): raw %.1f, framelake %.1f (%.0f%% of raw), LanceDB %.1f / %.1f with fsync MB/s\n", \
            r, r % 2 ? "C" : "LanceDB", raw[r], fl[r], 100 * flraw[r], ln[r], ld[r]
    printf "  untimed batch construction: framelake %.2f s (copies the blobs into fl_arrays), LanceDB %.2f s (reads into\n", \
        median(flbuild, rounds), median(lbuild, rounds)
    printf "  Arrow buffers); LanceDB JS-side Arrow IPC encoding of the same batches alone: %.2f s (inside add)\n", median(ipc, rounds)

    printf "\nTAKE  %d random distinct row ids per call (the same id sets on both sides, unsorted), warm: %d warm-up calls\n", take_rows, take_warmup
    printf "      per variant (they also verify every returned value), then p50/p90 over %d timed calls; rows/s = %d / p50\n", take_reps, take_rows
    printf "  %-52s %10s %10s %12s %10s\n", "", "p50 us", "p90 us", "rows/s", "MB/s"
    printf "  %-52s %10.1f %10.1f %12.0f %10.1f\n", "framelake fl_table_take, all columns", v["fl_take_p50_us"], v["fl_take_p90_us"], v["fl_take_rows_per_s"], v["fl_take_mb_per_s"]
    printf "  %-52s %10.1f %10.1f %12.0f %10.1f\n", "LanceDB takeOffsets().toArrow(), all columns", v["lance_take_offsets_p50_us"], v["lance_take_offsets_p90_us"], v["lance_take_offsets_rows_per_s"], v["lance_take_offsets_mb_per_s"]
    printf "  %-52s %10.1f %10.1f %12.0f %10.1f\n", "LanceDB takeRowIds().toArrow(), all columns", v["lance_take_rowids_p50_us"], v["lance_take_rowids_p90_us"], v["lance_take_rowids_rows_per_s"], v["lance_take_rowids_mb_per_s"]
    printf "  %-52s %10.1f %10.1f %12.0f\n", "framelake fl_table_take, id/x/label only", v["fl_take_scalars_p50_us"], v["fl_take_scalars_p90_us"], v["fl_take_scalars_rows_per_s"]
    printf "  %-52s %10.1f %10.1f %12.0f\n", "LanceDB takeOffsets, id/x/label only", v["lance_take_offsets_scalars_p50_us"], v["lance_take_offsets_scalars_p90_us"], v["lance_take_offsets_scalars_rows_per_s"]
    printf "  %-52s %10.1f %10.1f %12.0f\n", "LanceDB takeRowIds, id/x/label only", v["lance_take_rowids_scalars_p50_us"], v["lance_take_rowids_scalars_p90_us"], v["lance_take_rowids_scalars_rows_per_s"]

    printf "\nSCAN  every row of column id (int64), default batch sizes, warm; median of %d timed scans\n", scan_reps
    printf "  %-52s %10s %14s\n", "", "median us", "rows/s"
    printf "  %-52s %10.1f %14.0f\n", "framelake fl_scan (sums the values)", v["fl_scan_median_us"], v["fl_scan_rows_per_s"]
    printf "  %-52s %10.1f %14.0f\n", "LanceDB query().select([\"id\"]) (iterates the batches)", v["lance_scan_median_us"], v["lance_scan_rows_per_s"]

    printf "\nRATIOS                                                   value   target\n"
    printf "  %-52s %6.0f%%   >= 70%%   %s\n", "framelake append / raw copy (median of round ratios)", 100 * m_flraw, (m_flraw >= 0.7 ? "met" : "NOT met")
    printf "  %-52s %6.2fx\n", "framelake append MB/s / LanceDB add MB/s (no fsync)", m_fl / m_ln
    printf "  %-52s %6.2fx\n", "framelake append MB/s / LanceDB add+fsync MB/s", m_fl / m_ld
    printf "  %-52s %6.1fx   >= 2x     %s\n", "framelake take rows/s / LanceDB " best_lance " rows/s", v["fl_take_rows_per_s"] / best_lance_rps, \
        (v["fl_take_rows_per_s"] / best_lance_rps >= 2 ? "met" : "NOT met")
    printf "  %-52s %6.1fx\n", "same, id/x/label only (vs LanceDB " best_lance_s ")", v["fl_take_scalars_rows_per_s"] / best_lance_s_rps
    printf "  %-52s %6.1fx\n", "framelake scan rows/s / LanceDB scan rows/s", v["fl_scan_rows_per_s"] / v["lance_scan_rows_per_s"]
    printf "  (the LanceDB take ratio uses the faster of takeOffsets and takeRowIds)\n"
}' "$RES/env.txt" "$RES/gen.txt" "$RES"/fl_append_r*.txt "$RES"/lance_append_r*.txt "$RES/cat.txt" "$RES/fl_read.txt" \
   "$RES/lance_read.txt" "$RES/disk.txt" | tee "$RES/summary.txt"
log "raw results in $RES; summary in $RES/summary.txt"
