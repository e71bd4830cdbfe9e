# CLI tests of search (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
SDB=$WORK/search
"$FL" create "$SDB" vt --schema "id int64, grp string, v fixed_size_list<float32, 2>, h fixed_size_list<uint8, 2>" >/dev/null
cat > "$WORK/vt.jsonl" <<'ROWS'
{"id": 0, "grp": "a", "v": [0, 0], "h": [0, 0]}
{"id": 1, "grp": "b", "v": [1, 0], "h": [1, 0]}
{"id": 2, "grp": "a", "v": [0, 2], "h": [3, 0]}
{"id": 3, "grp": "b", "v": [3, 3], "h": [255, 255]}
{"id": 4, "grp": "a", "v": null, "h": null}
ROWS
"$FL" append "$SDB" vt "$WORK/vt.jsonl" >/dev/null
expect search-l2 0 '{"id":1,"_distance":1,"_rowid":1}
{"id":0,"_distance":2,"_rowid":0}
{"id":2,"_distance":2,"_rowid":2}' -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --limit 3 --select id --format jsonl
expect search-cosine 0 '{"id":3,"_distance":0,"_rowid":3}' -- "$FL" search vector "$SDB" vt --column v --vector "[1,1]" --metric cosine --limit 1 --select id --format jsonl
expect search-dot 0 '{"id":3,"_distance":-5,"_rowid":3}' -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --metric dot --limit 1 --select id --format jsonl
expect search-prefilter 0 '{"id":2,"_distance":2,"_rowid":2}
{"id":0,"_distance":2,"_rowid":0}' -- sh -c "'$FL' search vector '$SDB' vt --column v --vector '[1, 1]' --where \"grp = 'a'\" --select id --format jsonl | sort -r"
expect search-like-row 0 '{"id":1,"_distance":1,"_rowid":1}
{"id":2,"_distance":2,"_rowid":2}' -- "$FL" search vector "$SDB" vt --column h --like-row 0 --limit 2 --select id --format jsonl
expect search-range 0 '{"id":2,"_rowid":2}' -- sh -c "'$FL' search vector '$SDB' vt --column h --vector '[0, 0]' --distance-range 2,3 --select id --format jsonl | sed 's/\"_distance\":[0-9]*,//'"
expect search-dim 1 "framelake: error: vector search: the query has 3 dimensions, column 'v' has 2" -- "$FL" search vector "$SDB" vt --column v --vector "[1, 2, 3]"
expect search-bad-vector 2 "framelake: search vector: --vector wants a list of numbers like \"[0.1, 0.2]\"" -- "$FL" search vector "$SDB" vt --column v --vector "1, 2"
expect search-type 1 "framelake: error: vector search: column 'grp' is not a vector (fixed_size_list<float32, N> or fixed_size_list<uint8, N>)" -- \
    "$FL" search vector "$SDB" vt --column grp --vector "[1]"
expect search-both 2 "framelake: search vector: give exactly one of --vector \"[...]\" or --like-row ROWID" -- "$FL" search vector "$SDB" vt --column v
expect search-kind 2 "framelake: search: kinds available: vector (fts and hybrid are to come)" -- "$FL" search fts "$SDB" vt
