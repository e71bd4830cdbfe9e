#!/bin/sh
# CLI tests: run the real framelake binary and compare its output and exit codes exactly.
# Usage: FRAMELAKE=/path/to/framelake tests/cli/run.sh
set -u
FL=${FRAMELAKE:-$(pwd)/build/framelake}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fl-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DB=$WORK/db
passed=0
failed=0

# expect NAME EXPECTED_EXIT EXPECTED_OUTPUT -- COMMAND...  (stdout and stderr are compared together)
expect() {
    name=$1 want_code=$2 want_out=$3
    shift 4
    got_out=$("$@" 2>&1)
    got_code=$?
    if [ "$got_code" = "$want_code" ] && [ "$got_out" = "$want_out" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $got_code (want $want_code)"
        printf '%s\n' "--- got:" "$got_out" "--- want:" "$want_out" | sed 's/^/    /'
    fi
}

cat > "$WORK/rows.jsonl" <<'ROWS'
{"image_id": "a", "split": "train", "width": 1280, "cats": ["car", "pedestrian"], "img": "/9j/4AAQ", "ts": 1700000000000}
{"image_id": "b", "split": "val", "width": 640, "cats": [], "img": null, "ts": 1700000001000}

{"image_id": "c", "split": "train", "width": null, "cats": ["rider"], "img": "/9j/4AAR", "ts": null}
ROWS

expect version 0 "framelake 0.1.0" -- "$FL" --version
expect no-args 2 "$("$FL" 2>&1)" -- "$FL"
expect create 0 "created table 'frames' (version 1)" -- "$FL" create "$DB" frames --schema "image_id string not null, split string, width int32, cats list<string>, img binary, ts timestamp"
expect create-again 1 "framelake: error: table 'frames' already exists" -- "$FL" create "$DB" frames --schema "x int32"
expect create-bad-schema 1 "framelake: error: schema: unknown type 'strin' at position 3" -- "$FL" create "$DB" t2 --schema "a strin"
expect append 0 "appended 3 rows: version 2, 3 rows" -- "$FL" append "$DB" frames "$WORK/rows.jsonl"
expect tables 0 "frames" -- "$FL" tables "$DB"
expect count 0 "3" -- "$FL" count "$DB" frames
expect count-v1 0 "0" -- "$FL" count "$DB" frames --version 1
expect query-jsonl 0 '{"_rowid":0,"image_id":"a","split":"train","width":1280,"cats":["car","pedestrian"],"img":"<6 bytes ffd8ffe00010>","ts":1700000000000}
{"_rowid":1,"image_id":"b","split":"val","width":640,"cats":[],"img":null,"ts":1700000001000}
{"_rowid":2,"image_id":"c","split":"train","width":null,"cats":["rider"],"img":"<6 bytes ffd8ffe00011>","ts":null}' -- "$FL" query "$DB" frames --format jsonl --with-row-id
expect query-csv 0 'image_id,img
b,
c,/9j/4AAR' -- "$FL" query "$DB" frames --format csv --select image_id,img --blob base64 --offset 1
expect query-table 0 'image_id  width  cats
--------  -----  --------------------
a         1280   ["car","pedestrian"]' -- "$FL" query "$DB" frames --select image_id,width,cats --limit 1
expect query-bad-column 1 "framelake: error: table 'frames': column 'widht' not found (did you mean 'width'?)" -- "$FL" query "$DB" frames --select widht
expect query-bad-format 2 "framelake: --format must be table, jsonl or csv, not 'xml'" -- "$FL" query "$DB" frames --format xml
expect query-unknown-option 2 "framelake query: unknown option '--filter' (see 'framelake help query')" -- "$FL" query "$DB" frames --filter "x"
expect take 0 '{"_rowid":2,"image_id":"c"}
{"_rowid":0,"image_id":"a"}' -- "$FL" take "$DB" frames --row-ids 2,0 --select image_id --format jsonl
expect take-positions 0 '{"_rowid":1,"split":"val"}' -- "$FL" take "$DB" frames --positions 1 --select split --format jsonl
expect take-missing 1 "framelake: error: table 'frames': row id 9 not found at version 2" -- "$FL" take "$DB" frames --row-ids 9
expect take-bad-ids 2 "framelake: expected comma-separated integers, got '1,x'" -- "$FL" take "$DB" frames --row-ids 1,x
expect append-bad-json 1 "framelake: error: -: line 1, column 28: column 'width' (int32) expects an integer" -- sh -c "echo '{\"image_id\": \"d\", \"width\": 1.5}' | '$FL' append '$DB' frames -"
expect append-missing-required 1 "framelake: error: table 'frames': column 'image_id' is not nullable but the batch has 1 NULLs" -- sh -c "echo '{\"split\": \"x\"}' | '$FL' append '$DB' frames -"
expect count-unchanged 0 "3" -- "$FL" count "$DB" frames
expect delete 0 "deleted 1 rows: version 3, 2 rows" -- "$FL" delete "$DB" frames --row-ids 1
expect add-column 0 "added column 'score' float32: version 4" -- "$FL" add-column "$DB" frames score --type float32
expect rename 0 "renamed 'split' to 'subset': version 5" -- "$FL" rename-column "$DB" frames split subset
expect drop 0 "dropped 1 column: version 6" -- "$FL" drop-column "$DB" frames ts
expect schema 0 "image_id string not null, subset string, width int32, cats list<string>, img binary, score float32" -- "$FL" schema "$DB" frames
expect schema-v2 0 "image_id string not null, split string, width int32, cats list<string>, img binary, ts timestamp" -- "$FL" schema "$DB" frames --version 2
expect tag 0 "tagged version 2 as 'before-delete'" -- "$FL" tag "$DB" frames before-delete 2
expect tag-list 0 "before-delete	2" -- "$FL" tag "$DB" frames --list
expect count-tag 0 "3" -- "$FL" count "$DB" frames --tag before-delete
expect count-bad-tag 1 "framelake: error: table 'frames': tag 'nope' not found" -- "$FL" count "$DB" frames --tag nope
expect append-more 0 "appended 3 rows: version 7, 5 rows" -- sh -c "sed 's/\"split\"/\"subset\"/; s/, \"ts\": [0-9a-z]*//' '$WORK/rows.jsonl' | '$FL' append '$DB' frames -"
expect compact 0 "compacted 2 fragments into 1 (5 rows rewritten, 1 deleted rows dropped): version 8" -- "$FL" compact "$DB" frames
expect compact-noop 0 "nothing to compact" -- "$FL" compact "$DB" frames
expect rowids-survive 0 '{"_rowid":0,"image_id":"a"}
{"_rowid":2,"image_id":"c"}
{"_rowid":3,"image_id":"a"}
{"_rowid":4,"image_id":"b"}
{"_rowid":5,"image_id":"c"}' -- "$FL" query "$DB" frames --select image_id --format jsonl --with-row-id
expect restore 0 "restored version 2 as version 9 (3 rows)" -- "$FL" restore "$DB" frames 2
expect versions 0 'create,0,
append,3,before-delete
delete,2,
add_columns,2,
rename_column,2,
drop_columns,2,
append,5,
compact,5,
restore,3,' -- sh -c "'$FL' versions '$DB' frames --format csv | tail -n +2 | cut -d, -f3-5"
expect cleanup-grace 0 "removed 0 versions and 0 files (0 bytes)" -- "$FL" cleanup "$DB" frames --keep-versions 1
expect cleanup 0 "removed 7 versions and 3 files (SIZE bytes)" -- sh -c "'$FL' cleanup '$DB' frames --keep-versions 1 --grace 0s | sed 's/([0-9]* bytes)/(SIZE bytes)/'"
expect after-cleanup 0 "3" -- "$FL" count "$DB" frames
expect old-version-gone 1 "framelake: error: table 'frames': version 3 not found" -- "$FL" count "$DB" frames --version 3
expect tagged-kept 0 "3" -- "$FL" count "$DB" frames --version 2
expect info-json 0 '"num_rows":3' -- sh -c "'$FL' info '$DB' frames --json | grep -o '\"num_rows\":3'"
expect help-take 0 "framelake take DB TABLE (--row-ids 1,5,9 | --positions 0,1) [--select a,b] [--version N|--tag T] [--format F] [--blob base64]

  print rows by stable row id or position" -- "$FL" help take
expect wrong-arity 2 "framelake count: expected 2 arguments
usage: framelake count DB TABLE [--where SQL] [--version N|--tag T]" -- "$FL" count "$DB"
expect missing-db 1 "framelake: error: database $WORK/nope does not exist" -- "$FL" tables "$WORK/nope"
expect drop-table 0 "dropped table 'frames'" -- "$FL" drop-table "$DB" frames
expect tables-empty 0 "" -- "$FL" tables "$DB"

# ingest images: the fuzz seeds are real JPEGs (tests/fuzz/make_jpeg_seeds.c); bad.jpg is not a JPEG.
IMG=$WORK/img
mkdir -p "$IMG/sub"
cp "$(dirname "$0")"/../fuzz/corpus/fuzz_jpeg/*.jpg "$IMG/"
cp "$IMG/gray-17x9.jpg" "$IMG/sub/gray-17x9.jpg"
cp "$IMG/baseline-64x48.jpg" "$IMG/sub/x.JPEG"
echo "not an image" > "$IMG/bad.jpg"
echo "ignored" > "$IMG/notes.txt"
expect ingest-images 0 "failed: $IMG/bad.jpg: byte 0: not a JPEG (no SOI marker)
ingested 4 images (0 skipped, 1 failed): version 2" -- "$FL" ingest images "$DB" shots "$IMG" --split train
expect ingest-query 0 "image_id,split,width,height,source
baseline-64x48,train,64,48,$IMG/baseline-64x48.jpg
gray-17x9,train,17,9,$IMG/gray-17x9.jpg
progressive-40x30,train,40,30,$IMG/progressive-40x30.jpg
subsampled-33x17,train,33,17,$IMG/subsampled-33x17.jpg" -- "$FL" query "$DB" shots --format csv --select image_id,split,width,height,source
expect ingest-bytes-exact 0 "$(base64 -w0 < "$IMG/gray-17x9.jpg")" -- sh -c "'$FL' query '$DB' shots --format csv --select image_bytes --blob base64 --offset 1 --limit 1 | tail -n 1"
expect ingest-again 0 "ingested 0 images (4 skipped, 1 failed): version 2" -- "$FL" ingest images "$DB" shots "$IMG" --quiet
expect ingest-recursive 0 "ingested 1 images (5 skipped, 1 failed): version 3" -- "$FL" ingest images "$DB" shots "$IMG" --recursive --quiet
expect ingest-skip-lines 0 "skipped: $IMG/sub/gray-17x9.jpg: image_id 'gray-17x9' is already in table 'shots'
skipped: $IMG/sub/x.JPEG: image_id 'x' is already in table 'shots'" -- sh -c "'$FL' ingest images '$DB' shots '$IMG' --recursive 2>&1 | grep /sub/"
expect ingest-strict 1 "framelake: error: strict: $IMG/bad.jpg: byte 0: not a JPEG (no SOI marker)" -- "$FL" ingest images "$DB" strict "$IMG" --strict
expect ingest-strict-nothing 1 "framelake: error: table 'strict' not found in $DB" -- "$FL" count "$DB" strict
expect ingest-overwrite 0 "ingested 4 images (0 skipped, 1 failed): version 7" -- "$FL" ingest images "$DB" shots "$IMG" --mode overwrite --split val --commit-every 2 --quiet
expect ingest-overwrite-rows 0 "5 4" -- sh -c "echo \$('$FL' count '$DB' shots) \$('$FL' query '$DB' shots --format csv --select split | grep -c val)"
expect ingest-bad-mode 2 "framelake: --mode must be skip-existing, append or overwrite, not 'upsert'" -- "$FL" ingest images "$DB" shots "$IMG" --mode upsert
expect ingest-unknown-source 2 "framelake ingest: unknown source 'videos' (available: images, bdd100k, synthetic)" -- "$FL" ingest videos "$DB" shots "$IMG"
expect ingest-missing-dir 1 "framelake: error: ingest images: cannot read directory $WORK/none: No such file or directory" -- "$FL" ingest images "$DB" shots "$WORK/none"

# More tests, one file per area (t_*.sh), sourced so they share expect(), $FL and $WORK; each uses its own
# database under $WORK.
for more in "$(dirname "$0")"/t_*.sh; do
    [ -f "$more" ] || continue
    # shellcheck disable=SC1090
    . "$more"
done

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
