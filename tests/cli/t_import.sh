# framelake import: JSON Lines with an inferred or given schema, {"$file": path} values, atomic commits.
# Sourced by run.sh (uses expect, $FL, $WORK).
IDB=$WORK/importdb
IMP=$WORK/import
mkdir -p "$IMP/img" "$IMP/other"
printf 'abc' > "$IMP/img/a.bin"
printf 'hello' > "$IMP/other/c.bin"
cat > "$IMP/rows.jsonl" <<EOF
{"image_id": "a", "width": 1280, "ts": "2024-05-01T12:00:00Z", "cats": ["car"], "pos": {"x": 1.5}, "img": {"\$file": "img/a.bin"}}
{"image_id": "b", "width": 640, "ts": "2024-05-01T12:00:01.5Z", "cats": [], "pos": {"x": 2, "y": 1}, "img": null}

{"image_id": "c", "width": null, "ts": null, "cats": ["bus", "car"], "img": {"\$file": "$IMP/other/c.bin"}}
EOF

expect import-dry-run 0 "image_id string, width int64, ts timestamp, cats list<string>, pos struct<x: float64, y: int64>, img binary
dry run: 3 rows checked, nothing imported" -- "$FL" import "$IDB" objects "$IMP/rows.jsonl" --dry-run
expect import-dry-run-no-db 1 "framelake: error: database $IDB does not exist" -- "$FL" tables "$IDB"
expect import 0 "imported 3 rows into 'objects': version 2" -- "$FL" import "$IDB" objects "$IMP/rows.jsonl"
expect import-schema 0 "image_id string, width int64, ts timestamp, cats list<string>, pos struct<x: float64, y: int64>, img binary" -- "$FL" schema "$IDB" objects
expect import-rows 0 '{"image_id":"a","width":1280,"ts":1714564800000,"cats":["car"],"pos":{"x":1.5,"y":null},"img":"<3 bytes 616263>"}
{"image_id":"b","width":640,"ts":1714564801500,"cats":[],"pos":{"x":2,"y":1},"img":null}
{"image_id":"c","width":null,"ts":null,"cats":["bus","car"],"pos":null,"img":"<5 bytes 68656c6c6f>"}' -- "$FL" query "$IDB" objects --format jsonl
expect import-bytes-exact 0 "img
YWJj

aGVsbG8=" -- "$FL" query "$IDB" objects --format csv --select img --blob base64

# Appending into the existing table: the table's types rule (int64 data into an int32 column is fine if it fits).
"$FL" create "$IDB" sized --schema "image_id string not null, width int32, ts timestamp" > /dev/null
expect import-existing 0 "imported 2 rows into 'sized': version 2" -- sh -c "head -2 '$IMP/rows.jsonl' | sed 's/, \"cats.*}/}/' | '$FL' import '$IDB' sized -"
expect import-existing-dry-run 0 "image_id string not null, width int32, ts timestamp
dry run: 1 rows checked, nothing imported" -- sh -c "echo '{\"image_id\": \"z\", \"width\": 7}' | '$FL' import '$IDB' sized - --dry-run"
expect import-out-of-range 1 "framelake: error: -: line 2, column 28: value 3000000000 out of range for column 'width' (int32)" -- sh -c "printf '%s\n' '{\"image_id\": \"d\", \"width\": 1}' '{\"image_id\": \"e\", \"width\": 3000000000}' | '$FL' import '$IDB' sized -"
expect import-unknown-key 1 "framelake: error: -: line 1, column 19: key 'height' is not a column of table 'sized'" -- sh -c "echo '{\"image_id\": \"d\", \"height\": 3}' | '$FL' import '$IDB' sized -"
expect import-ignore-unknown 0 "imported 1 rows into 'sized': version 3" -- sh -c "echo '{\"image_id\": \"d\", \"height\": 3}' | '$FL' import '$IDB' sized - --ignore-unknown"
expect import-not-null 1 "framelake: error: -: line 1, column 1: column 'image_id' is not null, but this object has no value for it" -- sh -c "echo '{\"width\": 3}' | '$FL' import '$IDB' sized -"
expect import-existing-count 0 "3" -- "$FL" count "$IDB" sized

# Conflicts and missing files: nothing is committed, a missing table is not created.
printf '%s\n' '{"id": "x", "width": "wide"}' '{"id": "y"}' '{"id": "z", "width": 14}' > "$IMP/conflict.jsonl"
expect import-conflict 1 "framelake: error: $IMP/conflict.jsonl: line 3, column 22: field 'width' is a number here but a string on line 1" -- "$FL" import "$IDB" conflict "$IMP/conflict.jsonl"
expect import-conflict-dry-run 1 "framelake: error: $IMP/conflict.jsonl: line 3, column 22: field 'width' is a number here but a string on line 1" -- "$FL" import "$IDB" conflict "$IMP/conflict.jsonl" --dry-run
printf '%s\n' '{"id": 1, "img": {"$file": "img/a.bin"}}' '{"id": 2, "img": {"$file": "img/none.bin"}}' > "$IMP/missing.jsonl"
expect import-missing-file 1 "framelake: error: $IMP/missing.jsonl: line 2, column 18: column 'img': cannot read \$file 'img/none.bin' ($IMP/img/none.bin): No such file or directory" -- "$FL" import "$IDB" missing "$IMP/missing.jsonl" --commit-every 1
expect import-nothing-created 1 "framelake: error: table 'missing' not found in $IDB" -- "$FL" count "$IDB" missing
expect import-file-and-keys 1 "framelake: error: -: line 1, column 26: an object with \"\$file\" must have no other keys" -- sh -c "echo '{\"img\": {\"\$file\": \"a.bin\", \"n\": 1}}' | '$FL' import '$IDB' bad -"
expect import-bad-name 1 "framelake: error: -: line 1, column 2: 'has person' is not a valid column name (use 1 to 128 letters, digits, '_', '-', '.'; not starting with '.')" -- sh -c "echo '{\"has person\": true}' | '$FL' import '$IDB' bad -"
expect import-no-rows 1 "framelake: error: -: no rows to infer a schema from" -- sh -c "printf '\n' | '$FL' import '$IDB' bad -"
expect import-no-file 1 "framelake: error: import: $IMP/nope.jsonl does not exist" -- "$FL" import "$IDB" bad "$IMP/nope.jsonl"

# stdin: relative $file paths resolve against the current directory.
expect import-stdin-file 0 "imported 1 rows into 'fromstdin': version 2" -- sh -c "cd '$IMP' && echo '{\"img\": {\"\$file\": \"img/a.bin\"}}' | '$FL' import '$IDB' fromstdin -"

# Given schemas: text syntax and JSON, detected by the first character.
echo "image_id string not null, width int32, img binary" > "$IMP/schema.txt"
cat > "$IMP/schema.json" <<'EOF'
{"fields": [
  {"name": "image_id", "type": "string", "nullable": false},
  {"name": "width", "type": "int32"},
  {"name": "img", "type": "binary"}
]}
EOF
printf '%s\n' '{"image_id": "a", "width": 3, "img": {"$file": "img/a.bin"}}' '{"image_id": "b", "img": "AAE="}' > "$IMP/given.jsonl"
expect import-schema-text 0 "imported 2 rows into 'given': version 2" -- "$FL" import "$IDB" given "$IMP/given.jsonl" --schema "$IMP/schema.txt"
expect import-schema-text-result 0 "image_id string not null, width int32, img binary" -- "$FL" schema "$IDB" given
expect import-schema-json-dry-run 0 "image_id string not null, width int32, img binary
dry run: 2 rows checked, nothing imported" -- "$FL" import "$IDB" given2 "$IMP/given.jsonl" --schema "$IMP/schema.json" --dry-run
expect import-schema-json 0 "imported 2 rows into 'given2': version 3" -- "$FL" import "$IDB" given2 "$IMP/given.jsonl" --schema "$IMP/schema.json" --commit-every 1
expect import-schema-json-rows 0 'image_id,width,img
a,3,YWJj
b,,AAE=' -- "$FL" query "$IDB" given2 --format csv --blob base64
echo "image_id strin" > "$IMP/bad-schema.txt"
expect import-bad-schema 1 "framelake: error: $IMP/bad-schema.txt: schema: unknown type 'strin' at position 10" -- "$FL" import "$IDB" given3 "$IMP/given.jsonl" --schema "$IMP/bad-schema.txt"
expect import-unknown-in-schema 1 "framelake: error: $IMP/rows.jsonl: line 1, column 19: key 'width' is not a column of the given schema" -- sh -c "echo 'image_id string' > '$IMP/id.txt' && '$FL' import '$IDB' given4 '$IMP/rows.jsonl' --schema '$IMP/id.txt'"

# --commit-every: one version per batch (after the one that creates the table).
expect import-commit-every 0 "imported 3 rows into 'batched': version 3" -- "$FL" import "$IDB" batched "$IMP/rows.jsonl" --commit-every 2
expect import-commit-every-bad 2 "framelake: --commit-every expects a non-negative integer, got 'x'" -- "$FL" import "$IDB" batched "$IMP/rows.jsonl" --commit-every x
expect import-help 0 "framelake import DB TABLE FILE.jsonl|- [--schema FILE] [--ignore-unknown] [--commit-every N] [--dry-run]

  import JSON Lines, inferring the schema ({\"\$file\": path} loads a file)" -- "$FL" help import
