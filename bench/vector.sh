#!/usr/bin/env bash
# vector.sh — the vector-index benchmark (see bench/README.md, "Vector search"): framelake's ivf_pq index vs
# FAISS IndexIVFPQ (Debian libfaiss-dev 1.7.3) vs LanceDB 0.37.1 IVF_PQ, on one generated data set, in one run:
#   1. N x DIM float32 vectors in CLUSTERS Gaussian clusters and NQ queries near them, from SEED
#      (bench/vector_data.py), written once as raw .f32 files with the exact top 10 of every query (numpy,
#      float64); cached in $OUT/data
#   2. framelake (bench/vector_bench.c against build/libframelake.a): fl_table_append in BATCH-row batches,
#      fl_index_create_with(ivf_pq, partitions, sub_vectors, metric l2) timed, then fl_vector_search over
#      every (nprobes, refine) pair; then the phase profile of one query (vector_bench profile) for PROFILE
#   3. FAISS (bench/faiss_bench.cpp): IndexIVFPQ(PARTITIONS, SUB_VECTORS x 8 bits) in an IndexRefineFlat,
#      trained on as many sampled rows as framelake trains on, train + add timed on BUILD_THREADS threads,
#      queries on one thread
#   4. LanceDB (bench/lancedb_vector.mjs): the same rows in BATCH-row adds, createIndex(ivfPq) timed; the
#      queries in a second node process with LANCE_CPU_THREADS=$LANCE_QUERY_THREADS
#   5. bench/vector_report.py: recall@10, p50/p95 per engine and pair, ratios at equal recall;
#      $OUT/results.txt and $OUT/results.tsv
# Nothing is asserted: the figures and ratios are only reported.
#
# Environment (defaults in brackets): N [200000]  DIM [512]  CLUSTERS [1000]  NQ [200]  SEED [1]
#   PARTITIONS [256]  SUB_VECTORS [64]  NPROBES ["1 2 4 8 16 32 64"]  REFINES ["0 4 10"] (0: no refine)
#   REPS [3] timed passes over the queries per pair  WARMUP [20] untimed queries per pair
#   BATCH [20000] rows per append/add  BUILD_THREADS [2] (OpenBLAS and OpenMP threads of the builds)
#   LANCE_QUERY_THREADS [1]  ENGINES ["framelake faiss lancedb"]  RECALLS ["0.8 0.9 0.95"]
#   PROFILE ["1:0 2:10 16:0"] nprobes:refine pairs for framelake's phase profile ("" to skip)
#   FL_STORE_VECTORS [auto: the library's default] framelake's store_vectors index parameter (true|false)
#   OUT [bench/out/vector]  PYTHON [/usr/bin/python3: needs numpy]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
. "$BENCH/common.sh"
N=${N:-200000}
DIM=${DIM:-512}
CLUSTERS=${CLUSTERS:-1000}
NQ=${NQ:-200}
SEED=${SEED:-1}
PARTITIONS=${PARTITIONS:-256}
SUB_VECTORS=${SUB_VECTORS:-64}
NPROBES=${NPROBES:-"1 2 4 8 16 32 64"}
REFINES=${REFINES:-"0 4 10"}
REPS=${REPS:-3}
WARMUP=${WARMUP:-20}
BATCH=${BATCH:-20000}
BUILD_THREADS=${BUILD_THREADS:-2}
LANCE_QUERY_THREADS=${LANCE_QUERY_THREADS:-1}
ENGINES=${ENGINES:-"framelake faiss lancedb"}
RECALLS=${RECALLS:-"0.8 0.9 0.95"}
PROFILE=${PROFILE-"1:0 2:10 16:0"}
FL_STORE_VECTORS=${FL_STORE_VECTORS:-auto}
OUT=${OUT:-$BENCH/out/vector}
PYTHON=${PYTHON:-/usr/bin/python3}

log() { printf '== %s\n' "$*" >&2; }
has() { case " $ENGINES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

"$PYTHON" -c 'import numpy' 2>/dev/null || { echo "vector.sh: $PYTHON has no numpy" >&2; exit 1; }
mkdir -p "$OUT/data"
# training sample of framelake's ivf_pq build (src/index/vindex.c): max(256 x partitions, 65536) rows, at most N
TRAIN_N=$((256 * PARTITIONS > 65536 ? 256 * PARTITIONS : 65536))
[ "$TRAIN_N" -le "$N" ] || TRAIN_N=$N

if has framelake; then
    (cd "$ROOT" && make -s build/libframelake.a)
    fl_cc "$OUT/vector_bench" "$BENCH/vector_bench.c"
fi
if has faiss; then
    [ -f /usr/include/faiss/IndexIVFPQ.h ] || { echo "vector.sh: FAISS headers missing (apt-get install libfaiss-dev)" >&2; exit 1; }
    g++ -std=c++17 -O2 -fopenmp -o "$OUT/faiss_bench" "$BENCH/faiss_bench.cpp" -lfaiss -lopenblas -llapack
fi
if has lancedb; then
    command -v node >/dev/null || { echo "vector.sh: node (>= 20) is required" >&2; exit 1; }
    [ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --no-package-lock --silent)
fi

# ---- 1. data ----
DATA=$OUT/data/vec-$N-$DIM-$CLUSTERS-$NQ-$SEED
if [ ! -s "$DATA.gt.i64" ]; then
    log "generating $N x $DIM vectors in $CLUSTERS clusters, $NQ queries, ground truth (seed $SEED)"
    "$PYTHON" "$BENCH/vector_data.py" "$N" "$DIM" "$CLUSTERS" "$NQ" "$SEED" "$DATA"
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 2. framelake ----
if has framelake; then
    log "framelake: load, ivf_pq build, $(echo $NPROBES | wc -w) x $(echo $REFINES | wc -w) settings x $REPS passes"
    rm -rf "$OUT/framelake-db"
    OPENBLAS_NUM_THREADS=$BUILD_THREADS "$OUT/vector_bench" run "$OUT/framelake-db" "$DATA.base.f32" "$DATA.query.f32" "$N" "$DIM" "$NQ" \
        "$NPROBES" "$REFINES" "$REPS" "$WARMUP" "$BATCH" "$PARTITIONS" "$SUB_VECTORS" "$FL_STORE_VECTORS" > "$OUT/framelake.tsv.tmp"
    mv "$OUT/framelake.tsv.tmp" "$OUT/framelake.tsv"
    rm -f "$OUT"/profile-*.txt
    for p in $PROFILE; do
        log "framelake: phase profile at nprobes ${p%:*}, refine ${p#*:}"
        "$OUT/vector_bench" profile "$OUT/framelake-db" "$DATA.query.f32" "$DIM" "$NQ" "${p%:*}" "${p#*:}" "$REPS" > "$OUT/profile-${p%:*}-${p#*:}.txt"
    done
fi

# ---- 3. FAISS ----
if has faiss; then
    log "FAISS: IVF${PARTITIONS},PQ${SUB_VECTORS}x8 trained on $TRAIN_N rows, queries"
    OPENBLAS_NUM_THREADS=$BUILD_THREADS "$OUT/faiss_bench" "$DATA.base.f32" "$DATA.query.f32" "$N" "$DIM" "$NQ" "$NPROBES" "$REFINES" "$REPS" "$WARMUP" \
        "$PARTITIONS" "$SUB_VECTORS" "$TRAIN_N" "$SEED" "$BUILD_THREADS" > "$OUT/faiss.tsv.tmp"
    mv "$OUT/faiss.tsv.tmp" "$OUT/faiss.tsv"
fi

# ---- 4. LanceDB ----
if has lancedb; then
    log "LanceDB: load, createIndex(ivfPq), queries (LANCE_CPU_THREADS=$LANCE_QUERY_THREADS)"
    rm -rf "$OUT/lancedb-db"
    node "$BENCH/lancedb_vector.mjs" build "$OUT/lancedb-db" "$DATA.base.f32" "$N" "$DIM" "$BATCH" "$PARTITIONS" "$SUB_VECTORS" > "$OUT/lancedb.tsv.tmp"
    LANCE_CPU_THREADS=$LANCE_QUERY_THREADS node "$BENCH/lancedb_vector.mjs" query "$OUT/lancedb-db" "$DATA.query.f32" "$DIM" "$NQ" "$NPROBES" "$REFINES" \
        "$REPS" "$WARMUP" >> "$OUT/lancedb.tsv.tmp"
    mv "$OUT/lancedb.tsv.tmp" "$OUT/lancedb.tsv"
fi

# ---- 5. report ----
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
FL_COMMIT=$(framelake_commit "$ROOT")
LANCE_VERSION=$(node -p 'require(process.argv[1]).version' "$BENCH/node_modules/@lancedb/lancedb/package.json" 2>/dev/null || echo '?')
FAISS_VERSION=$(dpkg-query -W -f '${Version}' libfaiss-dev 2>/dev/null || echo '?')
BLAS_VERSION=$(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo '?')
HEADER="framelake vector-index benchmark vs FAISS $FAISS_VERSION and LanceDB $LANCE_VERSION, $(date -u +%Y-%m-%dT%H:%MZ)
machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); OpenBLAS $BLAS_VERSION; load average $LOAD0 at start, $LOAD1 at end
framelake: $FL_COMMIT, ivf_pq store_vectors $FL_STORE_VECTORS
data: $N x $DIM float32 in $CLUSTERS clusters (seed $SEED), $NQ queries; index: $PARTITIONS partitions, $SUB_VECTORS sub-vectors x 8 bits, l2;
      trained on $TRAIN_N sampled rows (FAISS: the same count); appends of $BATCH rows; builds on $BUILD_THREADS threads
      (OPENBLAS_NUM_THREADS; FAISS also OpenMP; LanceDB its own pool); queries single-threaded (FAISS omp 1,
      LanceDB LANCE_CPU_THREADS=$LANCE_QUERY_THREADS); $WARMUP warm-up queries then $REPS timed passes per setting"
"$PYTHON" "$BENCH/vector_report.py" "$OUT" "$DATA.gt.i64" "$NQ" "$RECALLS" "$HEADER"
for p in $PROFILE; do
    f=$OUT/profile-${p%:*}-${p#*:}.txt
    [ -f "$f" ] || continue
    {
        echo
        echo "PROFILE  framelake, one query at nprobes ${p%:*}, refine ${p#*:} (ms, medians and means over $NQ queries x $REPS):"
        column -t -s "$(printf '\t')" "$f" | sed 's/^/  /'
    } | tee -a "$OUT/results.txt"
done
