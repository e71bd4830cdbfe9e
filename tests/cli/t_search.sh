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
expect search-bad-vector 2 "framelake: search: --vector wants a list of numbers like \"[0.1, 0.2]\"" -- "$FL" search vector "$SDB" vt --column v --vector "1, 2"
expect search-type 1 "framelake: error: vector search: column 'grp' is not a vector (fixed_size_list<float32, N> or fixed_size_list<uint8, N>)" -- \
    "$FL" search vector "$SDB" vt --column grp --vector "[1]"
expect search-both 2 "framelake: search: give exactly one of --vector \"[...]\", --vector-file F or --like-row ROWID" -- "$FL" search vector "$SDB" vt --column v
expect search-kind 2 "framelake: search: kinds available: vector, fts, hybrid" -- "$FL" search images "$SDB" vt

# Full-text search: BM25 over a string column, with and without an fts index (same results).
"$FL" create "$SDB" docs --schema "id int64, txt string" >/dev/null
cat > "$WORK/docs.jsonl" <<'ROWS'
{"id": 0, "txt": "rainy night pedestrian"}
{"id": 1, "txt": "night"}
{"id": 2, "txt": "pedestrian crossing at night rainy night"}
{"id": 3, "txt": "sunny day"}
{"id": 4, "txt": null}
{"id": 5, "txt": "Rainy, rainy DAY!"}
ROWS
"$FL" append "$SDB" docs "$WORK/docs.jsonl" >/dev/null
FTS_NIGHT='{"id":1,"_score":0.74112016,"_rowid":1}
{"id":2,"_score":0.57843524,"_rowid":2}
{"id":0,"_score":0.5389965,"_rowid":0}'
expect fts-scan 0 "$FTS_NIGHT" -- "$FL" search fts "$SDB" docs night --column txt --select id --format jsonl
expect fts-no-index 1 "framelake: error: fts search: no column has an fts index; name the column to search (--column)" -- "$FL" search fts "$SDB" docs night
expect fts-index-create 0 "created index 'txt_idx' (fts on txt): version 3" -- "$FL" index create "$SDB" docs txt --type fts --positions
expect fts-indexed 0 "$FTS_NIGHT" -- "$FL" search fts "$SDB" docs night --select id --format jsonl
expect fts-phrase 0 '{"id":2,"_rowid":2}' -- sh -c "'$FL' search fts '$SDB' docs '\"night rainy\" -sunny' --select id --format jsonl | sed 's/\"_score\":[0-9.]*,//'"
expect fts-required 0 '{"id":0}
{"id":2}
{"id":5}' -- sh -c "'$FL' search fts '$SDB' docs '+rainy night' --select id,txt --format jsonl | sed 's/,\"txt.*//; s/$/}/'"
expect fts-where 0 '{"id":2,"_score":0.57843524,"_rowid":2}' -- "$FL" search fts "$SDB" docs night --where "id >= 2" --select id --format jsonl
expect fts-limit 0 '{"id":1,"_score":0.74112016,"_rowid":1}' -- "$FL" search fts "$SDB" docs night --limit 1 --select id --format jsonl
expect fts-k1-b 0 '{"id":2,"_score":0.74112016,"_rowid":2}' -- "$FL" search fts "$SDB" docs night --b 0 --k1 1.2 --limit 1 --select id --format jsonl
"$FL" append "$SDB" docs "$WORK/docs.jsonl" >/dev/null
expect fts-fresh 0 "$("$FL" search fts "$SDB" docs night --column txt --select id --format jsonl)" -- sh -c "'$FL' index update '$SDB' docs >/dev/null && '$FL' search fts '$SDB' docs night --select id --format jsonl"
expect fts-stem 0 "created index 'stemmed' (fts on txt): version 6" -- "$FL" index create "$SDB" docs txt --type fts --name stemmed --stem english --stopwords english
expect fts-list 0 "name                 type       column               created  fragments
txt_idx              fts        txt                  3        2/2
stemmed              fts        txt                  6        2/2" -- "$FL" index list "$SDB" docs
expect fts-empty 1 "framelake: error: fts query is empty" -- "$FL" search fts "$SDB" docs "  " --column txt
expect fts-unterminated 1 "framelake: error: fts query: unterminated phrase starting at position 1" -- "$FL" search fts "$SDB" docs '"rainy' --column txt
expect fts-not-string 1 "framelake: error: fts search: column 'id' is int64, not a string column" -- "$FL" search fts "$SDB" docs x --column id
expect fts-index-type 1 "framelake: error: table 'docs': a fts index needs a string column; column 'id' is int64" -- "$FL" index create "$SDB" docs id --type fts
expect fts-bad-stem 1 "framelake: error: stemmer 'latin' is not known (use english or none)" -- "$FL" index create "$SDB" docs txt --type fts --name x --stem latin
expect fts-opts 2 "framelake index: --stem, --stopwords and --positions go with create --type fts
usage: $("$FL" help index 2>&1 | head -1)" -- "$FL" index create "$SDB" docs txt --type btree --stem english
expect fts-query-arg 2 "framelake: search fts needs DB TABLE \"QUERY\"" -- "$FL" search fts "$SDB" docs
expect fts-bad-b 2 "framelake: search fts: --b wants a number in 0..1" -- "$FL" search fts "$SDB" docs x --b 2

# Hybrid: text and vector halves under one WHERE, fused by reciprocal rank fusion (or linearly).
"$FL" create "$SDB" hy --schema "id int64, txt string, v fixed_size_list<float32, 2>" >/dev/null
cat > "$WORK/hy.jsonl" <<'ROWS'
{"id": 0, "txt": "red car", "v": [0, 0]}
{"id": 1, "txt": "red truck", "v": [1, 0]}
{"id": 2, "txt": "blue car", "v": [5, 5]}
{"id": 3, "txt": "green bus", "v": [0, 1]}
{"id": 4, "txt": "red red car", "v": [9, 9]}
ROWS
"$FL" append "$SDB" hy "$WORK/hy.jsonl" >/dev/null
expect hybrid-rrf 0 '0
1
4
3
2' -- sh -c "'$FL' search hybrid '$SDB' hy --text red --text-column txt --column v --vector '[0, 0]' --select id --format csv | tail -n +2 | cut -d, -f1"
expect hybrid-linear 0 '0
1
3
2
4' -- sh -c "'$FL' search hybrid '$SDB' hy --text red --text-column txt --column v --vector '[0, 0]' --rerank linear --select id --format csv | tail -n +2 | cut -d, -f1"
expect hybrid-where 0 '{"id":1,"_score":0.5598161,"_distance":1,"_relevance_score":0.032522473,"_rowid":1}
{"id":4,"_score":0.6723565,"_distance":162,"_relevance_score":0.03201844,"_rowid":4}' -- "$FL" search hybrid "$SDB" hy --text red --text-column txt --column v --vector "[0, 0]" --where "id != 0" --limit 2 --select id --format jsonl
expect hybrid-no-text 2 "framelake: search hybrid: --text \"QUERY\" is required" -- "$FL" search hybrid "$SDB" hy --column v --vector "[0, 0]"
expect hybrid-rerank 2 "framelake: search hybrid: --rerank is rrf or linear" -- "$FL" search hybrid "$SDB" hy --text red --column v --vector "[0, 0]" --rerank max
expect hybrid-weight 2 "framelake: search hybrid: --weight (0..1, the vector half's share) goes with --rerank linear" -- "$FL" search hybrid "$SDB" hy --text red --column v --vector "[0, 0]" --weight 0.5
expect hybrid-text-error 1 "framelake: error: hybrid search, text half: fts search: no column has an fts index; name the column to search (--column)" -- "$FL" search hybrid "$SDB" hy --text red --column v --vector "[0, 0]"
expect hybrid-vector-error 1 "framelake: error: hybrid search, vector half: vector search: the query has 3 dimensions, column 'v' has 2" -- "$FL" search hybrid "$SDB" hy --text red --text-column txt --column v --vector "[0, 0, 1]"

# Vector indexes: an ivf_flat probing every partition answers as the exact search; options and errors.
expect ivf-create 0 "created index 'v_idx' (ivf_flat on v): version 3" -- "$FL" index create "$SDB" vt v --type ivf_flat --partitions 2
expect ivf-search 0 '{"id":1,"_distance":1,"_rowid":1}
{"id":0,"_distance":2,"_rowid":0}
{"id":2,"_distance":2,"_rowid":2}' -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --limit 3 --nprobes 2 --select id --format jsonl
printf '[1, 1]\n' > "$WORK/q.json"
expect ivf-vector-file 0 '{"id":1,"_distance":1,"_rowid":1}' -- "$FL" search vector "$SDB" vt --column v --vector-file "$WORK/q.json" --limit 1 --select id --format jsonl
expect ivf-prefilter 0 '{"id":2,"_distance":2,"_rowid":2}
{"id":0,"_distance":2,"_rowid":0}' -- sh -c "'$FL' search vector '$SDB' vt --column v --vector '[1, 1]' --nprobes 1 --where \"grp = 'a'\" --select id --format jsonl | sort -r"
expect ivf-exact 0 '{"id":1,"_distance":1,"_rowid":1}' -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --exact --limit 1 --select id --format jsonl
expect ivf-sub-vectors 2 "framelake index: --sub-vectors and --store-vectors go with --type ivf_pq
usage: $("$FL" help index 2>&1 | head -1)" -- "$FL" index create "$SDB" vt v --type ivf_flat --sub-vectors 2
expect ivf-metric 1 "framelake: error: vector index: metric must be l2, cosine or dot, not 'jaccard'" -- "$FL" index create "$SDB" vt v --type ivf_pq --name x --metric jaccard
expect ivf-type 1 "framelake: error: table 'vt': a ivf_pq index needs a fixed_size_list<float32, N> column; column 'h' is fixed_size_list<uint8, 2>" -- "$FL" index create "$SDB" vt h --type ivf_pq
expect ivf-both-filters 2 "framelake: search: --prefilter and --postfilter exclude each other" -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --prefilter --postfilter
expect ivf-nprobes 2 "framelake: search: --nprobes must be within 1..65536" -- "$FL" search vector "$SDB" vt --column v --vector "[1, 1]" --nprobes 0
expect ivf-no-file 1 "framelake: error: --vector-file $WORK/nope.json: cannot open it" -- "$FL" search vector "$SDB" vt --column v --vector-file "$WORK/nope.json"
"$FL" create "$SDB" ht --schema "id int64, h fixed_size_list<uint8, 8>" >/dev/null
cat > "$WORK/ht.jsonl" <<'ROWS'
{"id": 0, "h": [0, 0, 0, 0, 0, 0, 0, 0]}
{"id": 1, "h": [1, 0, 0, 0, 0, 0, 0, 0]}
{"id": 2, "h": [3, 0, 0, 0, 0, 0, 0, 0]}
{"id": 3, "h": [255, 255, 255, 255, 255, 255, 255, 255]}
{"id": 4, "h": null}
ROWS
"$FL" append "$SDB" ht "$WORK/ht.jsonl" >/dev/null
expect ham-create 0 "created index 'h_idx' (hamming on h): version 3" -- "$FL" index create "$SDB" ht h --type hamming
expect ham-like-row 0 '{"id":1,"_distance":1,"_rowid":1}
{"id":2,"_distance":2,"_rowid":2}' -- "$FL" search vector "$SDB" ht --column h --like-row 0 --limit 2 --select id --format jsonl
expect ham-range 0 '{"id":2,"_distance":2,"_rowid":2}' -- "$FL" search vector "$SDB" ht --column h --vector '[0, 0, 0, 0, 0, 0, 0, 0]' --distance-range 2,3 --select id --format jsonl
expect ham-type 1 "framelake: error: table 'vt': a hamming index needs a fixed_size_list<uint8, 8> column (64-bit hashes); column 'h' is fixed_size_list<uint8, 2>" -- "$FL" index create "$SDB" vt h --type hamming

# Full-text over several columns: one document per row, the values in column order.
"$FL" create "$SDB" two --schema "id int64, title string, caption string" >/dev/null
cat > "$WORK/two.jsonl" <<'ROWS'
{"id": 0, "title": "red car", "caption": "parked at night"}
{"id": 1, "title": null, "caption": "red light"}
{"id": 2, "title": "car", "caption": null}
ROWS
"$FL" append "$SDB" two "$WORK/two.jsonl" >/dev/null
expect fts-multi-scan 0 '{"id":1,"_score":0.52354836,"_rowid":1}
{"id":0,"_score":0.34611145,"_rowid":0}' -- "$FL" search fts "$SDB" two red --column title,caption --select id --format jsonl
expect fts-multi-create 0 "created index 'title_caption_idx' (fts on title,caption): version 3" -- "$FL" index create "$SDB" two title,caption --type fts
expect fts-multi-index 0 '{"id":1,"_score":0.52354836,"_rowid":1}
{"id":0,"_score":0.34611145,"_rowid":0}' -- "$FL" search fts "$SDB" two red --select id --format jsonl
expect fts-multi-gap 0 "" -- "$FL" search fts "$SDB" two '"car parked"' --select id --format jsonl
