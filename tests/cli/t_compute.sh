# CLI tests of UDF columns and backfill (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
# Summaries end with "(S s, R rows/s)": nodrift strips that wall-clock part before comparing.
CDB=$WORK/compute
nodrift() { "$@" 2>&1 | sed 's/ ([0-9.]* s, [0-9]* rows\/s)$//'; }
"$FL" ingest synthetic "$CDB" --n 30 --size 96x64 --quiet >/dev/null
expect udf-list 0 "has_person             1        bool                       ann_categories list<string>" -- sh -c "'$FL' udf list | sed -n 2p"
expect udf-list-count 0 "9" -- sh -c "'$FL' udf list | grep -c '^[a-z_][a-z_]* *[0-9]'"
expect backfill 0 "backfilled 'has_person' with udf has_person: 30 computed, 0 skipped, 0 failed, 3 checkpoints: version 7" -- \
    nodrift "$FL" backfill "$CDB" bdd100k has_person --udf has_person --checkpoint-size 12
expect backfill-again 0 "backfilled 'has_person' with udf has_person: 0 computed, 30 skipped, 0 failed, 0 checkpoints: version 7" -- \
    nodrift "$FL" backfill "$CDB" bdd100k has_person --udf has_person
expect backfill-nulls 0 "0" -- sh -c "'$FL' query '$CDB' bdd100k --select has_person --format csv | grep -c '^\$' || true"
"$FL" ingest synthetic "$CDB" --n 5 --size 96x64 --quiet >/dev/null
expect backfill-new-rows 0 "backfilled 'has_person' with udf has_person: 5 computed, 30 skipped, 0 failed, 1 checkpoints: version 10" -- \
    nodrift "$FL" backfill "$CDB" bdd100k has_person
expect backfill-dhash 0 "backfilled 'dhash' with udf dhash: 35 computed, 0 skipped, 0 failed, 1 checkpoints: version 13" -- \
    nodrift "$FL" backfill "$CDB" bdd100k dhash --udf dhash --quiet
expect backfill-schema 0 "dhash fixed_size_list<uint8, 8>" -- sh -c "'$FL' schema '$CDB' bdd100k | grep -o 'dhash fixed_size_list<[^>]*>'"
expect backfill-usage 2 "framelake backfill: name a COLUMN or pass --all" -- "$FL" backfill "$CDB" bdd100k
expect backfill-usage-both 2 "framelake backfill: name a COLUMN or pass --all" -- "$FL" backfill "$CDB" bdd100k x --all
expect backfill-not-udf 1 "framelake: error: backfill: column 'split' is not a UDF column (declare one with framelake add-column --udf)" -- \
    "$FL" backfill "$CDB" bdd100k split
expect backfill-missing 1 "framelake: error: backfill: column 'x' not found (declare it with framelake add-column --udf, or name a udf)" -- \
    "$FL" backfill "$CDB" bdd100k x
expect backfill-unknown 1 "framelake: error: backfill: unknown udf 'nope' (see framelake udf list; plugins are path.so:symbol, workers exec:command)" -- \
    "$FL" backfill "$CDB" bdd100k x --udf nope
expect backfill-wrong-udf 1 "framelake: error: backfill: column 'has_person' is computed by udf has_person, not has_rider" -- \
    "$FL" backfill "$CDB" bdd100k has_person --udf has_rider
expect backfill-on-error 2 "framelake: --on-error must be fail or null, not 'skip'" -- "$FL" backfill "$CDB" bdd100k x --udf dhash --on-error skip
expect backfill-timeout 2 "framelake: --timeout wants a duration such as 30s or 500ms, not 'soon'" -- "$FL" backfill "$CDB" bdd100k dhash --timeout soon
expect backfill-bad-where 1 "framelake: error: column \"widht\" not found; did you mean \"width\"? (position 1)" -- \
    "$FL" backfill "$CDB" bdd100k dhash --where "widht > 3"

# Declared UDF columns: the definition is stored, values start NULL, backfill --all computes them in dependency order.
expect add-udf 0 "added column 'rider' bool = udf has_rider v1(ann_categories), values NULL until backfill: version 14" -- \
    "$FL" add-column "$CDB" bdd100k rider --udf has_rider
expect add-udf-area 0 "added column 'area' float32 = udf person_bbox_area_pct v1(ann_categories, ann_bboxes, width, height), values NULL until backfill: version 15" -- \
    "$FL" add-column "$CDB" bdd100k area --udf person_bbox_area_pct --type float32
expect add-udf-desc 0 "added column 'desc' string = udf scene_description v1(timeofday, weather, scene), values NULL until backfill: version 16" -- \
    "$FL" add-column "$CDB" bdd100k desc --udf scene_description --param note=demo
expect add-udf-nulls 0 "35" -- sh -c "'$FL' count '$CDB' bdd100k --where 'rider IS NULL'"
expect add-udf-type 1 "framelake: error: udf has_rider returns bool, not int32" -- "$FL" add-column "$CDB" bdd100k r2 --udf has_rider --type int32
expect add-udf-inputs 1 "framelake: error: udf has_rider input 1 ('ann_categories') must be list<string>; column 'split' is string" -- \
    "$FL" add-column "$CDB" bdd100k r2 --udf has_rider --inputs split
expect add-udf-param 2 "framelake: --param wants key=value, not 'oops'" -- "$FL" add-column "$CDB" bdd100k r2 --udf has_rider --param oops
expect add-udf-usage 2 "framelake: add-column: --inputs, --param, --timeout and --where go with --udf" -- "$FL" add-column "$CDB" bdd100k r2 --type int32 --inputs a
expect backfill-all 0 "backfilled 'has_person' with udf has_person: 0 computed, 35 skipped, 0 failed, 0 checkpoints: version 16
backfilled 'dhash' with udf dhash: 0 computed, 35 skipped, 0 failed, 0 checkpoints: version 16
backfilled 'rider' with udf has_rider: 35 computed, 0 skipped, 0 failed, 1 checkpoints: version 18
backfilled 'area' with udf person_bbox_area_pct: 35 computed, 0 skipped, 0 failed, 1 checkpoints: version 20
backfilled 'desc' with udf scene_description: 35 computed, 0 skipped, 0 failed, 1 checkpoints: version 22
backfilled 5 UDF columns: 105 rows computed" -- nodrift "$FL" backfill "$CDB" bdd100k --all --concurrency 2
expect udf-columns 0 "column                 udf                          version  inputs                             params
has_person             has_person                   1        ann_categories
dhash                  dhash                        2        image_bytes
rider                  has_rider                    1        ann_categories
area                   person_bbox_area_pct         1        ann_categories, ann_bboxes, width, height
desc                   scene_description            1        timeofday, weather, scene          note=demo" -- "$FL" udf columns "$CDB" bdd100k
expect udf-usage 2 "framelake udf: usage: framelake udf list | framelake udf columns DB TABLE" -- "$FL" udf show
expect backfill-all-udf 2 "framelake backfill: --udf names one column's UDF; --all uses each column's declared one" -- "$FL" backfill "$CDB" bdd100k --all --udf dhash
expect backfill-rider-count 0 "$("$FL" count "$CDB" bdd100k --where "array_has(ann_categories, 'rider')")" -- "$FL" count "$CDB" bdd100k --where "rider"
"$FL" ingest synthetic "$CDB" --n 4 --size 96x64 --quiet >/dev/null
expect backfill-all-new 0 "backfilled 5 UDF columns: 20 rows computed" -- sh -c "'$FL' backfill '$CDB' bdd100k --all | tail -1"
expect backfill-where 0 "backfilled 'dhash' with udf dhash: 7 computed, 32 skipped, 0 failed, 1 checkpoints: version 34" -- \
    nodrift "$FL" backfill "$CDB" bdd100k dhash --overwrite --where "width = 96 AND height = 64 AND image_id >= '$("$FL" sql "$CDB" "SELECT image_id FROM bdd100k ORDER BY image_id LIMIT 1 OFFSET 32" --format csv | tail -1)'"

# A C plugin (examples/plugins/saturation.c, built next to the binary): declared, backfilled on two workers.
PLUGIN=$(dirname "$FL")/plugins/saturation.so
expect plugin-add 0 "added column 'sat' float32 = udf $(cd "$(dirname "$PLUGIN")" && pwd)/saturation.so:fl_saturation v1(image_bytes), values NULL until backfill: version 35" -- \
    "$FL" add-column "$CDB" bdd100k sat --udf "$PLUGIN:fl_saturation" --param min_value=24
expect plugin-backfill 0 "39 computed, 0 failed" -- sh -c "'$FL' backfill '$CDB' bdd100k sat --concurrency 2 | grep -o '[0-9]* computed, [0-9]* skipped, [0-9]* failed' | sed 's/, 0 skipped//'"
expect plugin-values 0 "39" -- "$FL" count "$CDB" bdd100k --where "sat > 0 AND sat < 1"
expect plugin-missing-symbol 1 "framelake: error: udf $PLUGIN:nope: no such symbol in the plugin: $PLUGIN: undefined symbol: nope" -- \
    "$FL" add-column "$CDB" bdd100k s2 --udf "$PLUGIN:nope"
expect plugin-bad-param 1 "framelake: error: backfill s3: udf saturation: init failed: min_value must be an integer 0..255, not 'x'" -- \
    sh -c "'$FL' add-column '$CDB' bdd100k s3 --udf '$PLUGIN:fl_saturation' --param min_value=x >/dev/null && '$FL' backfill '$CDB' bdd100k s3"

# An external worker (any language; here tests/workers/echo.py through /usr/bin/python3): declared from
# its handshake, backfilled by two processes, its parameter applied; a worker failing rows; a hang.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ECHO_W="exec:/usr/bin/python3 $ROOT/tests/workers/echo.py"
expect exec-add 0 "added column 'ts2' int64 = udf $ECHO_W v2(timestamp), values NULL until backfill: version 39" -- \
    "$FL" add-column "$CDB" bdd100k ts2 --udf "$ECHO_W" --inputs timestamp --param scale=2
expect exec-backfill 0 "backfilled 'ts2' with udf $ECHO_W: 39 computed, 0 skipped, 0 failed, 1 checkpoints: version 41" -- \
    nodrift "$FL" backfill "$CDB" bdd100k ts2 --concurrency 2
expect exec-values 0 "39" -- "$FL" count "$CDB" bdd100k --where "ts2 = 2 * timestamp"
expect exec-type 1 "framelake: error: udf echo returns int64, not float32" -- \
    "$FL" add-column "$CDB" bdd100k ts4 --udf "$ECHO_W" --inputs timestamp --type float32
expect exec-fail-rows 1 "framelake: error: backfill mis: row id 0: udf misbehave: row id 0 is a multiple of 4" -- \
    sh -c "'$FL' add-column '$CDB' bdd100k mis --udf 'exec:/usr/bin/python3 $ROOT/tests/workers/misbehave.py fail_row' --inputs timestamp >/dev/null && '$FL' backfill '$CDB' bdd100k mis"
expect exec-null-rows 0 "39 computed, 10 failed" -- \
    sh -c "'$FL' backfill '$CDB' bdd100k mis --on-error null | grep -o '[0-9]* computed, [0-9]* skipped, [0-9]* failed' | sed 's/, 0 skipped//'"
expect exec-hang 1 "framelake: error: backfill hang: row id 0: udf misbehave: worker exec:/usr/bin/python3 $ROOT/tests/workers/misbehave.py hang did not answer within 300 ms (killed); failed again after a restart" -- \
    sh -c "'$FL' add-column '$CDB' bdd100k hang --udf 'exec:/usr/bin/python3 $ROOT/tests/workers/misbehave.py hang' --inputs timestamp >/dev/null && '$FL' backfill '$CDB' bdd100k hang --timeout 300ms --checkpoint-size 1"

# A standing filter: the column is only ever computed where it holds (--all included); done rows stay done.
expect standing-add 0 "added column 'night_len' int64 = udf $ECHO_W v2(timestamp), values NULL until backfill: version 46" -- \
    "$FL" add-column "$CDB" bdd100k night_len --udf "$ECHO_W" --inputs timestamp --where "timeofday = 'night'"
expect standing-columns 0 "night_len              $ECHO_W 2        timestamp                          where timeofday = 'night'" -- \
    sh -c "'$FL' udf columns '$CDB' bdd100k | grep '^night_len'"
expect standing-backfill 0 "$("$FL" count "$CDB" bdd100k --where "timeofday = 'night'")" -- \
    sh -c "'$FL' backfill '$CDB' bdd100k night_len | grep -o '[0-9]* computed' | cut -d' ' -f1"
expect standing-nulls 0 "$("$FL" count "$CDB" bdd100k --where "timeofday <> 'night' OR timeofday IS NULL")" -- "$FL" count "$CDB" bdd100k --where "night_len IS NULL"
expect standing-again 0 "0" -- sh -c "'$FL' backfill '$CDB' bdd100k night_len | grep -o '[0-9]* computed' | cut -d' ' -f1"
expect standing-bad 1 "framelake: error: column \"nite\" not found (position 1)" -- \
    "$FL" add-column "$CDB" bdd100k x9 --udf has_person --where "nite = 1"

# Near duplicates: is_duplicate as a UDF column after dhash (--all orders them), dedup and injected copies.
DDB=$WORK/dedup
"$FL" ingest synthetic "$DDB" --n 60 --size 160x96 --quiet >/dev/null
"$FL" add-column "$DDB" bdd100k dhash --udf dhash >/dev/null
expect dedup-add 0 "added column 'is_duplicate' bool = udf is_duplicate v1(dhash), values NULL until backfill: version 4" -- \
    "$FL" add-column "$DDB" bdd100k is_duplicate --udf is_duplicate
"$FL" backfill "$DDB" bdd100k --all >/dev/null
DUPS=$("$FL" count "$DDB" bdd100k --where "is_duplicate")
expect dedup-agrees 0 "60 frames with a hash: $DUPS duplicates" -- sh -c "'$FL' dedup '$DDB' bdd100k | cut -d' ' -f1-7 | tr -d ','"
expect dedup-inject 0 "appended 5 exact copies of random rows (UDF columns NULL, new image_id)" -- "$FL" dedup inject "$DDB" bdd100k --n 5 --seed 3
expect dedup-new-rows 0 "backfilled 2 UDF columns: 10 rows computed" -- sh -c "'$FL' backfill '$DDB' bdd100k --all | tail -1"
expect dedup-copies-flagged 0 "5" -- "$FL" count "$DDB" bdd100k --where "is_duplicate AND image_id LIKE '%-copy-%'"
expect dedup-report 0 "0" -- sh -c "'$FL' dedup '$DDB' bdd100k --report | grep -c -- '-copy-.*(row' || true"
expect dedup-usage 2 "framelake dedup inject: --n N is required" -- "$FL" dedup inject "$DDB" bdd100k
expect dedup-threshold 2 "framelake dedup: --threshold must be 0..64 bits" -- "$FL" dedup "$DDB" bdd100k --threshold 65
