# CLI tests of the query engine: sql, explain, query --where/--order-by (sourced by tests/cli/run.sh: expect,
# $FL and $WORK come from there).
QDB=$WORK/sql
cat > "$WORK/sql-rows.jsonl" <<'ROWS'
{"id": 1, "name": "alpha", "tags": ["x", "y"], "note": "plain", "score": 0.5}
{"id": 2, "name": "beta, with comma", "tags": [], "note": "say \"hi\"", "score": 2}
{"id": 3, "name": "gamma", "tags": ["x"], "note": null, "score": null}
{"id": 4, "name": "a very long name that goes on and on and on past the table width", "tags": ["y", "x"], "note": "n", "score": 1.25}
ROWS
"$FL" create "$QDB" items --schema "id int64, name string, tags list<string>, note string, score float64" >/dev/null
"$FL" append "$QDB" items "$WORK/sql-rows.jsonl" >/dev/null
expect sql-table 0 'id  name                                              note
--  ------------------------------------------------  --------
4   a very long name that goes on and on and on p...  n
2   beta, with comma                                  say "hi"
1   alpha                                             plain' -- "$FL" sql "$QDB" "SELECT id, name, note FROM items WHERE note IS NOT NULL ORDER BY id DESC"
expect sql-jsonl 0 '{"id":2,"name":"beta, with comma","note":"say \"hi\"","score":2}
{"id":3,"name":"gamma","note":null,"score":null}' -- "$FL" sql "$QDB" "SELECT id, name, note, score FROM items WHERE id IN (2, 3)" --format jsonl
expect sql-csv 0 'id,name,note
2,"beta, with comma","say ""hi"""
4,a very long name that goes on and on and on past the table width,n' -- "$FL" sql "$QDB" "SELECT id, name, note FROM items WHERE id % 2 = 0" --format csv
expect sql-aggregate 0 'tag,n
x,3
y,2' -- "$FL" sql "$QDB" "SELECT t AS tag, count(*) AS n FROM (SELECT unnest(tags) AS t FROM items) GROUP BY t ORDER BY n DESC, tag" --format csv
expect sql-empty 0 'id  name
--  ----' -- "$FL" sql "$QDB" "SELECT id, name FROM items WHERE id > 10"
expect sql-count 0 '{"count(*)":4,"avg(score)":1.25}' -- "$FL" sql "$QDB" "SELECT count(*), avg(score) FROM items" --format jsonl
expect sql-version 0 '0' -- sh -c "'$FL' sql '$QDB' 'SELECT count(*) FROM items' --version 1 --format csv | tail -n 1"
expect sql-at-version 0 '0' -- sh -c "'$FL' sql '$QDB' 'SELECT count(*) FROM items@1' --format csv | tail -n 1"
expect sql-bad-column 1 'framelake: error: column "nme" not found; did you mean "name"? (position 8)' -- "$FL" sql "$QDB" "SELECT nme FROM items"
expect sql-syntax 1 'framelake: error: syntax error at or near "FROM" (position 12)' -- "$FL" sql "$QDB" "SELECT id, FROM items"
expect sql-not-select 1 'framelake: error: only SELECT statements are supported, not DELETE (position 1)' -- "$FL" sql "$QDB" "DELETE FROM items"
expect sql-no-table 1 'framelake: error: table "itemz" not found; did you mean "items"? (position 16)' -- "$FL" sql "$QDB" "SELECT id FROM itemz"
expect sql-bad-format 2 "framelake: --format must be table, jsonl or csv, not 'xml'" -- "$FL" sql "$QDB" "SELECT id FROM items" --format xml
expect sql-version-zero 2 'framelake: --version must be at least 1' -- "$FL" sql "$QDB" "SELECT id FROM items" --version 0
expect sql-version-and-tag 2 'framelake: give --version or --tag, not both' -- "$FL" sql "$QDB" "SELECT id FROM items" --version 1 --tag x
expect sql-arity 2 'framelake sql: expected 2 arguments
usage: framelake sql DB "SELECT ..."|- [--format table|jsonl|csv] [--version N|--tag T] [--blob base64]' -- "$FL" sql "$QDB"
expect sql-stdin 0 '{"n":4}' -- sh -c "printf 'SELECT count(*) AS n\nFROM items\n' | '$FL' sql '$QDB' - --format jsonl"
expect sql-stdin-error 1 'framelake: error: column "nope" not found; did you mean "note"? (position 39)' -- sh -c "printf 'SELECT count(*) AS n\nFROM items WHERE nope\n' | '$FL' sql '$QDB' -"
expect explain 0 'Limit 2
  TopK 2: score DESC
    Project id, score
      Filter note IS NOT NULL (in the scan)
        Scan items@v2 columns=[id, score]' -- "$FL" explain "$QDB" "SELECT id, score FROM items WHERE note IS NOT NULL ORDER BY score DESC LIMIT 2"
expect explain-analyze 0 'Limit 1 (rows=1)
  Project id (rows=1)
    Scan items@v2 columns=[id] (rows=1)
      fragments: 1, pruned 0; pages: 0, pruned 0; index: none; rows read 1, matched 1
result: 1 rows' -- "$FL" explain "$QDB" "SELECT id FROM items LIMIT 1" --analyze
expect explain-error 1 'framelake: error: aggregate functions are not allowed in WHERE (position 28)' -- "$FL" explain "$QDB" "SELECT id FROM items WHERE max(id) > 1"
expect query-where 0 '{"_rowid":3,"id":4,"score":1.25}
{"_rowid":0,"id":1,"score":0.5}' -- "$FL" query "$QDB" items --select id,score --where "score < 2" --order-by "score DESC" --format jsonl --with-row-id
expect query-order-hidden 0 'id
3
2
1
4' -- "$FL" query "$QDB" items --select id --order-by "note DESC, id" --format csv
expect query-where-limit 0 'id,name
3,gamma' -- "$FL" query "$QDB" items --select id,name --where "array_has(tags, 'x')" --offset 1 --limit 1 --format csv
expect query-where-error 1 'framelake: error: where: cannot compare string with integer (position 6)' -- "$FL" query "$QDB" items --where "name = 1"
expect query-order-error 1 'framelake: error: order_by: column "nam" not found; did you mean "name"? (position 1)' -- "$FL" query "$QDB" items --order-by "nam"
