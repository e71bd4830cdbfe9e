#!/usr/bin/env bash
# fts.sh — the full-text search benchmark (see bench/README.md, "Full-text search"): framelake vs SQLite FTS5
# vs LanceDB on one generated corpus, in one run:
#   1. DOCS dashcam captions and 30 queries (term, OR, phrase) from SEED (bench/fts_corpus.py), one JSONL file
#      fed to every engine
#   2. framelake: create + append (CLI), `index create --type fts --positions` timed REPS times (wall and CPU
#      time of the CLI; dropped in between), queries through fl_fts_search in one process (bench/fts_bench.c)
#   3. SQLite FTS5 through /usr/bin/python3's sqlite3 (bench/fts_sqlite.py): external-content rebuild +
#      optimize, queries ORDER BY bm25(t) LIMIT 10
#   4. LanceDB 0.37.1 (bench/lancedb_fts.mjs): createIndex(Index.fts({withPosition: true})), MatchQuery and
#      PhraseQuery through query().fullTextSearch()
#   5. bench/fts_report.py: framelake's top 10 checked against a reference BM25 (a mismatch fails the run),
#      top-10 overlaps of the peers, p50/p95 per class and ratios; $OUT/results.txt and $OUT/results.tsv
# Nothing else is asserted: the figures and ratios are only reported.
#
# Environment (defaults in brackets): DOCS [200000]  REPS [5]  SEED [1]  OUT [bench/out/fts]
#   PYTHON [/usr/bin/python3: its sqlite3 module needs FTS5]
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/common.sh"
ROOT=$(cd "$BENCH/.." && pwd)
DOCS=${DOCS:-200000}
REPS=${REPS:-5}
SEED=${SEED:-1}
OUT=${OUT:-$BENCH/out/fts}
PYTHON=${PYTHON:-/usr/bin/python3}
FL=$ROOT/build/framelake

log() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"${2:-%g}\", $1 }"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

command -v node >/dev/null || { echo "fts.sh: node (>= 20) is required" >&2; exit 1; }
"$PYTHON" -c 'import sqlite3; sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")' 2>/dev/null ||
    { echo "fts.sh: $PYTHON's sqlite3 has no FTS5" >&2; exit 1; }
(cd "$ROOT" && make -s all)
[ -d "$BENCH/node_modules/@lancedb/lancedb" ] || (cd "$BENCH" && npm install --no-audit --no-fund --no-package-lock --silent)
mkdir -p "$OUT"
fl_cc "$OUT/fts_bench" "$BENCH/fts_bench.c"

# ---- 1. corpus and queries ----
CORPUS=$OUT/corpus-$DOCS-$SEED.jsonl
QUERIES=$OUT/queries-$DOCS-$SEED.tsv
if [ ! -s "$CORPUS" ] || [ ! -s "$QUERIES" ]; then
    log "generating $DOCS captions and the queries (seed $SEED)"
    "$PYTHON" "$BENCH/fts_corpus.py" "$DOCS" "$SEED" "$CORPUS.tmp" "$QUERIES.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
    mv "$QUERIES.tmp" "$QUERIES"
fi

# ---- 2. framelake ----
DB=$OUT/framelake
rm -rf "$DB"
log "framelake: create + append $DOCS rows"
"$FL" create "$DB" caps --schema "id int64, caption string" > /dev/null
a=$(now)
"$FL" append "$DB" caps "$CORPUS" > /dev/null
fl_load=$(calc "$(now) - $a" %.4f)
fl_builds="" fl_cpu=""
TIMEFORMAT='%R %U %S'
for r in $(seq 1 "$REPS"); do
    log "framelake: index create --type fts --positions, $r/$REPS"
    [ "$r" = 1 ] || "$FL" index drop "$DB" caps caption_idx > /dev/null
    if ! { time "$FL" index create "$DB" caps caption --type fts --positions > /dev/null; } 2> "$OUT/time.txt"; then
        cat "$OUT/time.txt" >&2
        exit 1
    fi
    read -r wall user sys < "$OUT/time.txt"
    fl_builds="$fl_builds $wall" fl_cpu="$fl_cpu $(calc "$user + $sys" %.3f)"
done
log "framelake: queries, $REPS rounds"
{
    printf 'build\t-\t%s\t%s\t%s\t%s\n' "$(echo "$fl_builds" | median)" "$fl_load" "$(echo $fl_builds | tr ' ' ,)" "$(echo "$fl_cpu" | median)"
    "$OUT/fts_bench" "$DB" caps "$QUERIES" "$REPS" 2> "$OUT/framelake.log"
} > "$OUT/framelake.tsv"

# ---- 3. SQLite FTS5 ----
log "SQLite FTS5: load, $REPS index builds, queries"
"$PYTHON" "$BENCH/fts_sqlite.py" "$CORPUS" "$QUERIES" "$OUT" "$REPS" > "$OUT/fts5.tsv"

# ---- 4. LanceDB ----
log "LanceDB: load, $REPS index builds, queries"
rm -rf "$OUT/lance"
node "$BENCH/lancedb_fts.mjs" "$CORPUS" "$QUERIES" "$OUT/lance" "$REPS" > "$OUT/lancedb.tsv" 2> "$OUT/lancedb.log" || {
    cat "$OUT/lancedb.log" >&2
    exit 1
}

# ---- 5. report ----
{
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'load\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'node\t%s\n' "$(node --version)"
    printf 'python\t%s\n' "$("$PYTHON" -c 'import platform; print(platform.python_version())')"
    printf 'sqlite\t%s\n' "$("$PYTHON" -c 'import sqlite3; print(sqlite3.sqlite_version)')"
    printf 'lancedb\t%s\n' "$(node -p 'require(process.argv[1]).version' "$BENCH/node_modules/@lancedb/lancedb/package.json")"
    printf 'seed\t%s\n' "$SEED"
    printf 'reps\t%s\n' "$REPS"
} > "$OUT/meta.tsv"
"$PYTHON" "$BENCH/fts_report.py" "$CORPUS" "$QUERIES" "$OUT" | tee "$OUT/results.txt"
