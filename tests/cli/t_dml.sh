# CLI tests of count/delete by SQL predicate (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
QDB=$WORK/dml
"$FL" ingest synthetic "$QDB" --n 40 --seed 7 --size 96x64 --quiet >/dev/null
"$FL" backfill "$QDB" bdd100k has_person --udf has_person --quiet >/dev/null
# Expected counts come from the rows themselves (jsonl), so they check the engine against a second path.
ALL_NIGHT=$("$FL" query "$QDB" bdd100k --select timeofday --format csv | grep -c '^night$')
PERSON_NIGHT=$("$FL" query "$QDB" bdd100k --select timeofday,has_person --format csv | grep -c '^night,true$')
expect count-where 0 "$ALL_NIGHT" -- "$FL" count "$QDB" bdd100k --where "timeofday = 'night'"
expect count-where-bare-bool 0 "$PERSON_NIGHT" -- "$FL" count "$QDB" bdd100k --where "has_person AND timeofday = 'night'"
expect count-where-none 0 "0" -- "$FL" count "$QDB" bdd100k --where "width > 100000"
expect count-where-typo 1 "framelake: error: column \"has_persn\" not found; did you mean \"has_person\"? (position 1)" -- \
    "$FL" count "$QDB" bdd100k --where "has_persn"
expect count-where-type 1 "framelake: error: cannot compare string with integer (position 9)" -- \
    "$FL" count "$QDB" bdd100k --where "weather > 3"
expect count-where-syntax 1 "framelake: error: syntax error at or near \"AND\" (position 15)" -- \
    "$FL" count "$QDB" bdd100k --where "width > 3 AND AND"
V=$("$FL" versions "$QDB" bdd100k --format csv | tail -1 | cut -d, -f1)
expect delete-where 0 "deleted $ALL_NIGHT rows: version $((V + 1)), $((40 - ALL_NIGHT)) rows" -- \
    "$FL" delete "$QDB" bdd100k --where "timeofday = 'night'"
expect delete-where-gone 0 "0" -- "$FL" count "$QDB" bdd100k --where "timeofday = 'night'"
expect delete-where-time-travel 0 "$ALL_NIGHT" -- "$FL" count "$QDB" bdd100k --where "timeofday = 'night'" --version "$V"
expect delete-where-nothing 0 "deleted 0 rows: version $((V + 1)), $((40 - ALL_NIGHT)) rows" -- \
    "$FL" delete "$QDB" bdd100k --where "timeofday = 'night'"
expect delete-needs-one 2 "framelake: delete needs exactly one of --where SQL or --row-ids 1,2,3" -- "$FL" delete "$QDB" bdd100k
V=$((V + 1))
# The most frequent weather of what is left, and how many rows have it.
TOP=$("$FL" sql "$QDB" "SELECT weather, count(*) FROM bdd100k WHERE weather IS NOT NULL GROUP BY weather ORDER BY 2 DESC, 1 LIMIT 1" --format csv | tail -1)
W=${TOP%,*}
N=${TOP#*,}
expect update-where 0 "updated $N rows: version $((V + 1))" -- \
    "$FL" update "$QDB" bdd100k --set "weather = 'wet', scene = scene || ' (re-labelled)'" --where "weather = '$W'"
expect update-where-result 0 "$N" -- "$FL" count "$QDB" bdd100k --where "weather = 'wet' AND ends_with(scene, ' (re-labelled)')"
expect update-where-old 0 "$N" -- "$FL" count "$QDB" bdd100k --where "weather = '$W'" --version "$V"
expect update-bad-column 1 "framelake: error: column \"wether\" not found; did you mean \"weather\"? (position 1)" -- \
    "$FL" update "$QDB" bdd100k --set "wether = 'x'"
expect update-bad-type 1 "framelake: error: cannot assign string to column \"width\" (int32) (position 9)" -- \
    "$FL" update "$QDB" bdd100k --set "width = 'wide'"
expect update-no-set 2 "framelake: update needs --set \"col = expr, ...\"" -- "$FL" update "$QDB" bdd100k --where "true"
expect add-column-expr 0 "added column 'area' int64 = width * height: version $((V + 2)), $((40 - ALL_NIGHT)) rows" -- \
    "$FL" add-column "$QDB" bdd100k area --expr "width * height"
expect add-column-expr-values 0 "$((40 - ALL_NIGHT))" -- "$FL" count "$QDB" bdd100k --where "area = width * height"
expect add-column-expr-null 1 "framelake: error: the expression is the constant NULL: CAST it to give the column a type (CAST(NULL AS int))" -- \
    "$FL" add-column "$QDB" bdd100k nothing --expr "NULL"
expect add-column-both 2 "framelake: add-column needs exactly one of --type T, --expr SQL or --udf SPEC" -- "$FL" add-column "$QDB" bdd100k y --type int32 --expr "1"
