#!/bin/sh
# Differential test of search against LanceDB (docs/SEARCH.md, "Differential tests"). gen_search.mjs writes
# a seeded corpus (3000 short documents over a skewed 60-word vocabulary, 30 queries) and 2000 random
# 16-dimensional float32 vectors (20 query vectors); lancedb_search.mjs loads both into LanceDB (npm
# @lancedb/lancedb) and answers every query there; this script answers them with the framelake CLI and
# compares:
#   fts     the top-10 SET of ids of every query (words separated by spaces: OR in both engines), BM25 with
#           the default analyzer. Rows whose score equals framelake's 10th may differ (framelake breaks ties
#           by row id, LanceDB does not); any other difference fails, unless framelake's 10th and 11th scores
#           are within 1% of each other (a near-tie at the cut: then it is counted as excluded and both lists
#           are printed); at least 20 queries must be compared. The order (ties by id) and the largest
#           relative difference between the two engines' scores of the same row are reported (informative).
#   fresh   every fts query answered before the table has an fts index (two fragments analyzed at query
#           time) and after: byte-identical output (ids, scores, row ids).
#   vector  exact search for l2, cosine and dot, without and with the prefilter "id % 3 = 0": the same ids
#           in the same order and distances within 1e-5 relative (1e-6 absolute).
# Prints a one-line summary "search differential: N passed, M failed"; exit status 0 when nothing failed.
#   tests/differential/search.sh [SEED]      (FRAMELAKE: the CLI binary, default build/framelake)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FL=${FRAMELAKE:-$ROOT/build/framelake}
SEED=${1:-7}
WHERE='id % 3 = 0'
if [ ! -d "$ROOT/bench/node_modules/@lancedb/lancedb" ]; then
    (cd "$ROOT/bench" && npm install --no-audit --no-fund --no-package-lock --silent) || { echo "search differential: npm install of the LanceDB peer failed" >&2; exit 1; }
fi
[ -e "$HERE/node_modules" ] || ln -s ../../bench/node_modules "$HERE/node_modules"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
D=$WORK/data
node "$HERE/gen_search.mjs" "$D" "$SEED" || die "gen_search.mjs failed"
node "$HERE/lancedb_search.mjs" "$D" "$WORK/lance" > "$WORK/lance.txt" 2> "$WORK/lance.log" || {
    cat "$WORK/lance.log" >&2
    die "lancedb_search.mjs failed"
}

die() {
    echo "search differential: $1" >&2
    echo "search differential: 0 passed, 1 failed"
    exit 1
}
# fl_search OUT ARGS...: framelake search ARGS > OUT; an error is a failure (and an empty result)
fl_search() {
    out=$1
    shift
    if ! "$FL" search "$@" > "$out" 2> "$WORK/err" < /dev/null; then
        echo "FAIL framelake search $*: $(cat "$WORK/err")"
        fail=$((fail + 1))
        : > "$out"
    fi
}
# framelake JSONL results -> "id:value id:value ..." (value: _score or _distance, the second key)
pairs() {
    awk -F'[:,}]' '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $4 } END { printf "\n" }' "$1"
}

fail=0
# full-text: the table is appended in two commits (two fragments); every query runs before the index exists
# (analyzed at query time) and after it is built
head -n 1500 "$D/docs.jsonl" > "$WORK/docs1.jsonl"
tail -n +1501 "$D/docs.jsonl" > "$WORK/docs2.jsonl"
"$FL" create "$WORK/db" docs --schema "id int64, txt string" > /dev/null || die "framelake create failed"
"$FL" append "$WORK/db" docs "$WORK/docs1.jsonl" > /dev/null || die "framelake append failed"
"$FL" append "$WORK/db" docs "$WORK/docs2.jsonl" > /dev/null || die "framelake append failed"
q=0
while IFS= read -r query; do
    fl_search "$WORK/fts_noidx.$q" fts "$WORK/db" docs "$query" --column txt --limit 50 --select id --format jsonl
    q=$((q + 1))
done < "$D/fts_queries.txt"
"$FL" index create "$WORK/db" docs txt --type fts > /dev/null || die "framelake index create failed"
: > "$WORK/fl.txt"
fresh_pass=0
q=0
while IFS= read -r query; do
    fl_search "$WORK/fts_idx.$q" fts "$WORK/db" docs "$query" --limit 50 --select id --format jsonl
    if cmp -s "$WORK/fts_noidx.$q" "$WORK/fts_idx.$q"; then
        fresh_pass=$((fresh_pass + 1))
    else
        echo "FAIL fts freshness, query \"$query\": results without and with the index differ"
        diff "$WORK/fts_noidx.$q" "$WORK/fts_idx.$q" | head -n 6
        fail=$((fail + 1))
    fi
    printf 'fts\t%s\t%s\n' "$q" "$(pairs "$WORK/fts_idx.$q")" >> "$WORK/fl.txt"
    q=$((q + 1))
done < "$D/fts_queries.txt"

# exact vector search, without and with the prefilter
"$FL" create "$WORK/db" vec --schema "id int64, v fixed_size_list<float32, 16>" > /dev/null || die "framelake create failed"
"$FL" append "$WORK/db" vec "$D/vecs.jsonl" > /dev/null || die "framelake append failed"
for metric in l2 cosine dot; do
    for filter in all where; do
        q=0
        while IFS= read -r vector; do
            if [ "$filter" = all ]; then
                fl_search "$WORK/vec.out" vector "$WORK/db" vec --column v --vector "$vector" --metric "$metric" --limit 10 --select id --format jsonl
            else
                fl_search "$WORK/vec.out" vector "$WORK/db" vec --column v --vector "$vector" --metric "$metric" --where "$WHERE" --limit 10 --select id --format jsonl
            fi
            printf 'vec\t%s\t%s\t%s\t%s\n' "$metric" "$filter" "$q" "$(pairs "$WORK/vec.out")" >> "$WORK/fl.txt"
            q=$((q + 1))
        done < "$D/vec_queries.txt"
    done
done

# compare: first file framelake's lines, second LanceDB's; the last line of output is "passed failed"
awk -F'\t' -v queries="$D/fts_queries.txt" '
function abs(x) { return x < 0 ? -x : x }
function show(label, list, max,    n, i, a, out) {
    n = split(list, a, " ")
    out = ""
    for (i = 1; i <= n && i <= max; i++) out = out " " a[i]
    print "    " label ":" out (n > max ? " ..." : "")
}
BEGIN { nq = 0; while ((getline line < queries) > 0) text[nq++] = line; maxdiff = 0; maxrel = 0 }
FNR == 1 { file++ }
file == 1 && $1 == "fts" { fl_fts[$2] = $3; next }
file == 1 && $1 == "vec" { fl_vec[$2 "\t" $3 "\t" $4] = $5; next }
file == 2 && $1 == "fts" {
    q = $2
    seen["fts\t" q] = 1
    nf = split(fl_fts[q], f, " ")
    nl = split($3, l, " ")
    delete fpos
    delete inl
    for (i = 1; i <= nf; i++) { split(f[i], p, ":"); fid[i] = p[1]; fsc[i] = p[2]; fpos[p[1]] = i }
    for (j = 1; j <= nl; j++) { split(l[j], p, ":"); lid[j] = p[1]; lsc[j] = p[2]; inl[p[1]] = 1 }
    k = nf < 10 ? nf : 10
    cut = k ? fsc[k] + 0 : 0
    # scores of the rows both returned (informative)
    for (j = 1; j <= nl; j++) if (lid[j] in fpos && fsc[fpos[lid[j]]] > 0) {
        d = abs(lsc[j] / fsc[fpos[lid[j]]] - 1)
        if (d > maxdiff) maxdiff = d
        ratios++
    }
    # exact: the same top-k set; valid: LanceDB returned a top-k that differs only among rows tied with
    # framelake 10th score (framelake breaks ties by row id, LanceDB does not)
    exact = (nl == k)
    for (i = 1; i <= k; i++) if (!(fid[i] in inl)) exact = 0
    valid = (nl == k)
    for (j = 1; j <= nl; j++) if (!(lid[j] in fpos) || (fpos[lid[j]] > k && fsc[fpos[lid[j]]] + 0 != cut)) valid = 0
    for (i = 1; i <= k; i++) if (fsc[i] + 0 != cut && !(fid[i] in inl)) valid = 0
    if (valid) {
        fts_pass++
        if (exact) fts_exact++
        # order, LanceDB ties put in id order (framelake row ids follow ids here), rows tied at the cut skipped
        for (j = 1; j <= nl; j++) { sid[j] = lid[j]; ssc[j] = lsc[j] }
        for (j = 2; j <= nl; j++) for (i = j; i > 1 && (ssc[i] + 0 > ssc[i - 1] + 0 || (ssc[i] + 0 == ssc[i - 1] + 0 && sid[i] + 0 < sid[i - 1] + 0)); i--) {
            t = sid[i]; sid[i] = sid[i - 1]; sid[i - 1] = t
            t = ssc[i]; ssc[i] = ssc[i - 1]; ssc[i - 1] = t
        }
        order = 1
        for (i = 1; i <= k; i++) if (fsc[i] + 0 != cut && sid[i] != fid[i]) order = 0
        fts_order += order
        next
    }
    if (nf > k && nl == k) {
        if (cut - fsc[k + 1] <= 0.01 * cut) { # framelake 10th and 11th within 1%
            excluded++
            print "EXCLUDED fts \"" text[q] "\": top-10 sets differ at a near-tie (framelake 10th " cut ", 11th " fsc[k + 1] ")"
            show("framelake", fl_fts[q], 11)
            show("LanceDB  ", $3, 10)
            next
        }
    }
    failed++
    fts_failed++
    print "FAIL fts \"" text[q] "\": top-10 sets differ"
    show("framelake", fl_fts[q], 11)
    show("LanceDB  ", $3, 10)
    next
}
file == 2 && $1 == "vec" {
    key = $2 "\t" $3 "\t" $4
    seen["vec\t" key] = 1
    nf = split(fl_vec[key], f, " ")
    nl = split($5, l, " ")
    ok = (nf == nl && nf == 10)
    for (i = 1; ok && i <= nl; i++) {
        split(f[i], a, ":")
        split(l[i], b, ":")
        d = abs(a[2] - b[2])
        m = abs(a[2]) > abs(b[2]) ? abs(a[2]) : abs(b[2])
        if (a[1] != b[1] || (d > 1e-5 * m && d > 1e-6)) ok = 0
        if (d > 0 && m > 0 && d / m > maxrel) maxrel = d / m
    }
    if (ok) { vec_pass[$2 " " $3]++; vp++; next }
    failed++
    print "FAIL vector " $2 " " ($3 == "where" ? "prefiltered " : "") "query " $4 ": ids or distances differ"
    show("framelake", fl_vec[key], 10)
    show("LanceDB  ", $5, 10)
}
END {
    for (q in fl_fts) if (!(("fts\t" q) in seen)) { print "FAIL fts query " q ": no LanceDB answer"; failed++ }
    for (key in fl_vec) if (!(("vec\t" key) in seen)) { print "FAIL vector " key ": no LanceDB answer"; failed++ }
    printf "fts: %d of %d queries agree (%d with the same top-10 set, %d differing only among rows tied at the 10th score; %d in the same order, ties by id), %d excluded at a near-tie, %d differ\n", fts_pass, nq, fts_exact, fts_pass - fts_exact, fts_order, excluded, fts_failed
    printf "fts: LanceDB and framelake scores of the %d rows both returned differ by at most %.2g relative (informative)\n", ratios, maxdiff
    printf "vector: %d of 120 searches agree (l2 %d+%d, cosine %d+%d, dot %d+%d without+with prefilter); largest relative distance difference %.2g\n", vp, vec_pass["l2 all"], vec_pass["l2 where"], vec_pass["cosine all"], vec_pass["cosine where"], vec_pass["dot all"], vec_pass["dot where"], maxrel
    if (fts_pass + fts_failed < 20) { print "FAIL fts: fewer than 20 queries compared"; failed++ }
    if (nq == 0 || vp + failed == 0) failed++
    print fts_pass + vp, failed + 0
}' "$WORK/fl.txt" "$WORK/lance.txt" > "$WORK/compare.txt"
sed '$d' "$WORK/compare.txt"
set -- $(tail -n 1 "$WORK/compare.txt")
pass=$(($1 + fresh_pass))
fail=$(($2 + fail))
echo "search differential: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
