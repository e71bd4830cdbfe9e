# CLI tests of scalar indexes (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
IDB=$WORK/index
"$FL" create "$IDB" frames --schema "id int64, weather string, cats list<string>, score float64, ok bool" >/dev/null
cat > "$WORK/index_rows.jsonl" <<'ROWS'
{"id": 1, "weather": "rainy", "cats": ["car", "person"], "score": 0.5, "ok": true}
{"id": 2, "weather": null, "cats": [], "score": null, "ok": null}
{"id": 3, "weather": "clear", "cats": null, "score": 2.5, "ok": false}
ROWS
"$FL" append "$IDB" frames "$WORK/index_rows.jsonl" >/dev/null
expect index-create-bitmap 0 "created index 'weather_idx' (bitmap on weather): version 3" -- \
    "$FL" index create "$IDB" frames weather --type bitmap
expect index-create-label 0 "created index 'labels' (label_list on cats): version 4" -- \
    "$FL" index create "$IDB" frames cats --type label_list --name labels
expect index-create-btree 0 "created index 'score_idx' (btree on score): version 5" -- "$FL" index create "$IDB" frames score --type btree
expect index-create-exists 1 "framelake: error: table 'frames': index 'labels' already exists" -- \
    "$FL" index create "$IDB" frames weather --type bitmap --name labels
expect index-create-unknown-column 1 "framelake: error: table 'frames': column 'wheather' not found" -- \
    "$FL" index create "$IDB" frames wheather --type bitmap
expect index-create-wrong-kind 1 "framelake: error: table 'frames': a label_list index needs a list<string> column; column 'weather' is string" -- \
    "$FL" index create "$IDB" frames weather --type label_list
expect index-create-float-bitmap 1 "framelake: error: table 'frames': a bitmap index needs an integer, boolean, string or timestamp column; column 'score' is float64" -- \
    "$FL" index create "$IDB" frames score --type bitmap
expect index-create-no-type 2 "framelake index: --type btree|bitmap|label_list|fts|ivf_pq|ivf_flat|hamming is required
usage: $("$FL" help index 2>&1 | head -1)" -- \
    "$FL" index create "$IDB" frames weather
expect index-create-bad-type 2 "framelake: --type must be btree, bitmap, label_list, fts, ivf_pq, ivf_flat or hamming, not 'hash'" -- \
    "$FL" index create "$IDB" frames weather --type hash
expect index-unknown-sub 2 "framelake index: unknown subcommand 'rebuild' (available: create, update, list, drop)" -- \
    "$FL" index rebuild "$IDB" frames
expect index-too-few 2 "framelake index: expected 3 or more arguments
usage: $("$FL" help index 2>&1 | head -1)" -- \
    "$FL" index list "$IDB"
expect index-list 0 "name                 type       column               created  fragments
weather_idx          bitmap     weather              3        1/1
labels               label_list cats                 4        1/1
score_idx            btree      score                5        1/1" -- "$FL" index list "$IDB" frames
"$FL" append "$IDB" frames "$WORK/index_rows.jsonl" >/dev/null
expect index-list-uncovered 0 "name                 type       column               created  fragments
weather_idx          bitmap     weather              3        1/2
labels               label_list cats                 4        1/2
score_idx            btree      score                5        1/2" -- "$FL" index list "$IDB" frames
expect index-update-one 0 "updated labels: version 7" -- "$FL" index update "$IDB" frames labels
expect index-update-all 0 "updated every index: version 8" -- "$FL" index update "$IDB" frames
expect index-update-current 0 "indexes are current: version 8" -- "$FL" index update "$IDB" frames
expect index-update-missing 1 "framelake: error: table 'frames': index 'nope' not found" -- "$FL" index update "$IDB" frames nope
expect index-list-v4 0 "name                 type       column               created  fragments
weather_idx          bitmap     weather              3        1/1
labels               label_list cats                 4        1/1" -- "$FL" index list "$IDB" frames --version 4
expect index-list-v2 0 "name                 type       column               created  fragments" -- "$FL" index list "$IDB" frames --version 2
expect index-drop 0 "dropped index 'score_idx': version 9" -- "$FL" index drop "$IDB" frames score_idx
expect index-drop-missing 1 "framelake: error: table 'frames': index 'score_idx' not found" -- "$FL" index drop "$IDB" frames score_idx
expect index-versions 0 "create weather_idx (bitmap on weather, 1 fragments)
update all
drop score_idx" -- sh -c "'$FL' versions '$IDB' frames | sed -n 's/.* index  *[0-9][0-9]*  *//p' | sed -n '1p;5,6p'"
expect index-count-after 0 "6" -- "$FL" count "$IDB" frames
