#!/usr/bin/env bash
# loader.sh — the data-loader benchmark (see bench/README.md, "Data loader"): the C loader's decoded images/s
# against the raw libjpeg-turbo decode rate of the same frames, and framelake's PyTorch paths against a
# torchvision ImageFolder + PIL pipeline reading the same JPEG files, in one run:
#   0. N synthetic frames (SIZE, SEED) ingested into table bdd100k of $OUT/loader/db, and the same frames written
#      as JPEG files by `framelake synthesize` into $OUT/loader/frames (BDD100K layout); the Python step checks
#      that every file holds exactly the table's image_bytes. Both are kept and reused while N, SIZE and SEED
#      stay the same.
#   1. bench/loader_bench.c: every JPEG read into memory once; tjDecompress2 of all of them on 1 and 2 threads
#      at scale 1/1 and 1/2 (the decode limit); fl_loader over all rows, batch BATCH, uint8 HWC, 1 and 2
#      threads: full size, 640x360 by DCT scaling 1/2, 512x288 with the loader's automatic DCT scale (1/2) then
#      bilinear, 640x360 by a bilinear resize of the full decode (scale 1/1 given). REPS
#      rounds, each the raw decodes then the loader epochs; medians reported. Pixels of SAMPLE rows == a direct
#      decode, every row exactly once per epoch.
#   2. bench/loader_torch.py: FastLoader (WORKERS threads), DetectionDataset in a DataLoader (WORKERS workers)
#      and torchvision ImageFolder + PIL in the same DataLoader settings (plus PIL with Image.draft, its DCT
#      scaling), all float32 [BATCH, 3, H, W] in [0, 1], one shuffled epoch each at 640x360 and at full size.
#   3. the report: $OUT/loader/results.txt, with the targets ">= 90% of the decode limit" (C loader) and
#      ">= 2x the PIL baseline" (PyTorch paths) marked PASS or MISS. Timing never fails the run; wrong data
#      (pixels, rows missing or repeated, bytes differing between table and files) does.
#
# Environment (defaults in brackets): N [5000] frames  SIZE [1280x720]  SEED [1]  BATCH [16]  WORKERS [2]
#   threads / worker processes of the PyTorch paths  SAMPLE [64] rows whose pixels are checked in C
#   REPS [3] rounds of the C measurements (the PyTorch paths run one epoch each)
#   OUT [bench/out]: scratch and results under $OUT/loader
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
. "$BENCH/common.sh"
N=${N:-5000}
SIZE=${SIZE:-1280x720}
SEED=${SEED:-1}
BATCH=${BATCH:-16}
WORKERS=${WORKERS:-2}
SAMPLE=${SAMPLE:-64}
REPS=${REPS:-3}
DIR=${OUT:-$BENCH/out}/loader
PYTHON=${PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

log() { printf '== %s\n' "$*" >&2; }

(cd "$ROOT" && make -s build/libframelake.a build/libframelake.so build/framelake)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
fl_cc "$DIR/loader_bench" "$BENCH/loader_bench.c"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)

# ---- 0. the frames, in the table and as files ----
STAMP="n=$N size=$SIZE seed=$SEED"
if [ "$(cat "$DIR/data.stamp" 2>/dev/null)" != "$STAMP" ]; then
    log "data: $N synthetic $SIZE frames (seed $SEED) into a table and into a folder"
    rm -rf "$DIR/db" "$DIR/frames" "$DIR/data.stamp"
    "$ROOT/build/framelake" ingest synthetic "$DIR/db" --n "$N" --size "$SIZE" --seed "$SEED" --quiet >&2
    "$ROOT/build/framelake" synthesize "$DIR/frames" --n "$N" --size "$SIZE" --seed "$SEED" >&2
    echo "$STAMP" > "$DIR/data.stamp"
else
    log "data: reusing $DIR/db and $DIR/frames ($STAMP)"
fi

# ---- 1. C: decode limit and the loader ----
log "C: tjDecompress2 limit and fl_loader, 1 and 2 threads, $REPS rounds"
"$DIR/loader_bench" "$DIR/db" bdd100k "$BATCH" "$SAMPLE" "$REPS" > "$DIR/c.tsv.tmp"
mv "$DIR/c.tsv.tmp" "$DIR/c.tsv"

# ---- 2. PyTorch ----
log "PyTorch: FastLoader, DetectionDataset, ImageFolder + PIL ($WORKERS threads / workers)"
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" FRAMELAKE_LIB="$ROOT/build/libframelake.so" \
    "$PYTHON" "$BENCH/loader_torch.py" "$DIR/db" "$DIR/frames" "$BATCH" "$WORKERS" > "$DIR/torch.tsv.tmp"
mv "$DIR/torch.tsv.tmp" "$DIR/torch.tsv"

# ---- 3. report ----
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
FL_COMMIT=$(framelake_commit "$ROOT")
TURBO=$(dpkg-query -W -f '${Version}' libturbojpeg0 2>/dev/null || echo '?')
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "framelake data loader vs the libjpeg-turbo decode limit and torchvision ImageFolder + PIL, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine: $(nproc) cores ($CPU), load average $LOAD0 at start, $LOAD1 at end; framelake $FL_COMMIT; libjpeg-turbo $TURBO"
    awk -F'\t' -v batch="$BATCH" -v workers="$WORKERS" -v seed="$SEED" -v reps="$REPS" -v elapsed="$(($(date +%s) - START))" '
    function median(list,    a, n, i, j, v) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) {
            v = a[i] + 0
            for (j = i - 1; j >= 1 && a[j] + 0 > v; j--) a[j + 1] = a[j]
            a[j + 1] = v
        }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function span(list,    a, n, i, lo, hi) {
        n = split(list, a, " ")
        lo = hi = a[1] + 0
        for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
        return sprintf("%.0f-%.0f", lo, hi)
    }
    FNR == 1 { file++ }
    $1 == "setup" { setup[$2] = $3 }
    $1 == "check" { checks[++n_checks] = $2 ": " $3 }
    file == 1 && $1 == "raw" { raw[$3 "," $4] = raw[$3 "," $4] " " $7 }
    file == 1 && $1 == "loader" { ld[$3 "," $4] = ld[$3 "," $4] " " $7 }
    file == 2 && $1 == "py" { py[$2] = $5; first[$2] = $6 }
    function verdict(ok) { return ok ? "PASS" : "MISS" }
    END {
        split(setup["size"], wh, "x")
        printf "frames: %d synthetic %s JPEGs (seed %s), %.0f MB, %.1f KB each on average; batch %d; run took %d s\n\n", setup["frames"],
            setup["size"], seed, setup["jpeg_bytes"] / 1e6, setup["jpeg_bytes"] / setup["frames"] / 1e3, batch, elapsed
        for (key in raw) limit[key] = median(raw[key])
        printf "1. decode limit: tjDecompressHeader3 + tjDecompress2 (flags 0) from memory into a reused RGB buffer;\n"
        printf "   images/s, median (range) of %d rounds\n", reps
        printf "%-28s %22s %22s\n", "decoded size", "1 thread", "2 threads"
        for (d = 1; d <= 2; d++)
            printf "%-28s %22s %22s\n", sprintf("%dx%d (scale 1/%d)", wh[1] / d, wh[2] / d, d),
                sprintf("%.0f (%s)", limit[d ",1"], span(raw[d ",1"])), sprintf("%.0f (%s)", limit[d ",2"], span(raw[d ",2"]))
        printf "\n2. C loader: fl_loader over every row in storage order, batch %d, uint8 HWC, one epoch (open to end) after a\n", batch
        printf "   warm-up; images/s, median (range) of %d rounds, each right after that round'"'"'s raw decodes\n", reps
        printf "%-36s %7s %18s %12s %9s  %s\n", "variant", "threads", "images/s", "limit img/s", "of limit", "target >= 90% of the decode limit"
        nv = split("full dct resize bilinear", vs, " ")
        label["full"] = setup["size"] " (decoded size)"
        label["dct"] = (wh[1] / 2) "x" (wh[2] / 2) " by DCT scaling 1/2"
        label["resize"] = "512x288 (auto: DCT 1/2 + bilinear)"
        label["bilinear"] = (wh[1] / 2) "x" (wh[2] / 2) " bilinear from full (1/1)"
        against["full"] = 1; against["dct"] = 2; against["resize"] = 2; against["bilinear"] = 1
        for (k = 1; k <= nv; k++)
            for (t = 1; t <= 2; t++) {
                v = vs[k]; lim = limit[against[v] "," t]; m = median(ld[v "," t]); r = m / lim
                printf "%-36s %7d %18s %12.0f %8.1f%%  %s%s\n", label[v], t, sprintf("%.0f (%s)", m, span(ld[v "," t])), lim, 100 * r,
                    verdict(r >= 0.9), v == "bilinear" ? " (limit: the full-size decode)" : v == "resize" ? " (limit: the 1/2 decode)" : ""
            }
        printf "\n3. PyTorch: float32 [%d, 3, H, W] in [0, 1] per batch, one shuffled epoch (from making the loader or the\n", batch
        printf "   DataLoader iterator to the last batch) after a warm-up; %d C threads (FastLoader) or %d worker processes\n", workers, workers
        printf "%-44s %9s %10s %9s %10s %8s  %s\n", "path", "size", "images/s", "1st batch", "of limit", "vs PIL", "target >= 2x the PIL baseline"
        np_ = split("fast_small fast_full ds_small ds_full pil_small pil_draft pil_full", ps, " ")
        desc["fast_small"] = "FastLoader, size=(640, 360)"
        desc["fast_full"] = "FastLoader"
        desc["ds_small"] = "DetectionDataset + DataLoader, size=(640, 360)"
        desc["ds_full"] = "DetectionDataset + DataLoader"
        desc["pil_small"] = "ImageFolder + PIL Resize BILINEAR + ToTensor"
        desc["pil_draft"] = "ImageFolder + PIL draft (DCT 1/2) + ToTensor"
        desc["pil_full"] = "ImageFolder + PIL + ToTensor"
        small = (wh[1] / 2) "x" (wh[2] / 2)
        for (k = 1; k <= np_; k++) {
            p = ps[k]
            full = p ~ /_full$/
            base = full ? "pil_full" : "pil_small"
            lim = limit[(p ~ /_(small|draft)$/ && p != "pil_small" ? 2 : 1) "," workers]
            ratio = py[p] / py[base]
            printf "%-44s %9s %10.1f %8.2fs %9.1f%% %7.2fx  %s\n", desc[p], full ? setup["size"] : small, py[p], first[p], 100 * py[p] / lim, ratio,
                p ~ /^pil/ ? (p == "pil_draft" ? "(a tuned baseline: PIL with DCT scaling)" : "(baseline)") : verdict(ratio >= 2)
        }
        printf "(of limit: against the %d-thread decode limit of the size decoded: 1/2 for the framelake 640x360 paths (the\n", workers
        printf " loader picks DCT 1/2 for that size) and PIL draft, else full; vs PIL: against the plain PIL path of the same\n"
        printf " output size; FastLoader 640x360 vs PIL draft: %.2fx)\n", py["fast_small"] / py["pil_draft"]
        printf "\nchecks passed (a failure stops the run):\n"
        for (i = 1; i <= n_checks; i++) printf "  %s\n", checks[i]
        printf "  every timed epoch: each row exactly once, full batches but the last, the expected shape, nothing skipped\n"
        printf "  PyTorch: float32 in [0, 1]; the first batch of each framelake path == fl_loader_read uint8 / 255 of its rows\n"
        printf "versions: %s\n", setup["versions"]
    }' "$DIR/c.tsv" "$DIR/torch.tsv"
} | tee "$DIR/results.txt"
