#!/bin/sh
# Differential test of SQL filters against LanceDB: the same rows (gen_rows.mjs) are imported into framelake
# and loaded into LanceDB (npm @lancedb/lancedb, lancedb_count.mjs), and every filter of filters.txt must
# count the same rows in both. A filter one side rejects fails the test too: filters.txt lists only what
# both support. Installs the npm peer into bench/node_modules when missing. Then runs search.sh (full-text
# and vector search against LanceDB); both must pass.
#   tests/differential/run.sh [ROWS] [SEED]      (FRAMELAKE: the CLI binary, default build/framelake)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FL=${FRAMELAKE:-$ROOT/build/framelake}
ROWS=${1:-4000}
SEED=${2:-11}
if [ ! -d "$ROOT/bench/node_modules/@lancedb/lancedb" ]; then
    (cd "$ROOT/bench" && npm install --no-audit --no-fund --no-package-lock --silent) || { echo "differential: npm install of the LanceDB peer failed" >&2; exit 1; }
fi
[ -e "$HERE/node_modules" ] || ln -s ../../bench/node_modules "$HERE/node_modules"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
node "$HERE/gen_rows.mjs" "$ROWS" "$SEED" > "$WORK/rows.jsonl"
"$FL" import "$WORK/db" t "$WORK/rows.jsonl" --schema "$HERE/schema.txt" --commit-every 1500 > /dev/null
node "$HERE/lancedb_count.mjs" "$WORK/rows.jsonl" "$HERE/filters.txt" "$WORK/lance" > "$WORK/lance.txt" 2> "$WORK/lance.log" || {
    cat "$WORK/lance.log" >&2
    exit 1
}
pass=0
fail=0
while IFS='	' read -r want filter message; do
    if [ "$want" = error ]; then
        echo "FAIL LanceDB rejects: $filter: $message"
        fail=$((fail + 1))
        continue
    fi
    got=$("$FL" count "$WORK/db" t --where "$filter" 2>&1) || true
    if [ "$got" = "$want" ]; then
        pass=$((pass + 1))
    else
        echo "FAIL $filter: framelake $got, LanceDB $want"
        fail=$((fail + 1))
    fi
done < "$WORK/lance.txt"
echo "differential (LanceDB, $ROWS rows): $pass filters agree, $fail differ"
status=0
[ "$fail" -eq 0 ] && [ "$pass" -ge 50 ] || status=1
FRAMELAKE=$FL "$HERE/search.sh" || status=1
exit "$status"
