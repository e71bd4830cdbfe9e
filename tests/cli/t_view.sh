# CLI tests of materialized views (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
VDB=$WORK/views
"$FL" ingest synthetic "$VDB" --n 60 --seed 7 --size 96x64 --quiet >/dev/null
"$FL" backfill "$VDB" bdd100k has_person --udf has_person --quiet >/dev/null
# Timings vary: the tests compare everything else.
vrun() { "$@" 2>&1 | sed 's/ in [0-9.]* s/ in T s/'; }
W="has_person AND split = 'train'"
N=$("$FL" count "$VDB" bdd100k --where "$W")
S=$("$FL" versions "$VDB" bdd100k --format csv | tail -1 | cut -d, -f1)
expect view-create 0 "person_train: rebuilt: +$N −0 rows (0 updated), 0 → $N, version 2 (source v$S); read 60 source rows in T s" -- \
    vrun "$FL" view create "$VDB" person_train --from bdd100k --where "$W" --select "image_id, timeofday, num_annotations, width * height AS area"
expect view-count 0 "$N" -- "$FL" count "$VDB" person_train
expect view-sql 0 "$N" -- sh -c "\"$FL\" sql \"$VDB\" 'SELECT count(*) FROM person_train WHERE area = 96 * 64' --format csv | tail -1"
expect view-schema 0 "image_id string not null, timeofday string, num_annotations int32, area int64" -- "$FL" schema "$VDB" person_train
expect view-up-to-date 0 "person_train: up to date with source v$S (version 2, $N rows)" -- "$FL" view refresh "$VDB" person_train
# New footage arrives and is backfilled: only the new rows are read.
"$FL" ingest synthetic "$VDB" --n 20 --seed 7 --size 96x64 --quiet >/dev/null
"$FL" backfill "$VDB" bdd100k has_person --quiet >/dev/null
N2=$("$FL" count "$VDB" bdd100k --where "$W")
S2=$("$FL" versions "$VDB" bdd100k --format csv | tail -1 | cut -d, -f1)
expect view-refresh-append 0 "person_train: +$((N2 - N)) −0 rows (0 updated), $N → $N2, version 3 (source v$S2, was v$S); read 20 source rows in T s" -- \
    vrun "$FL" view refresh "$VDB" person_train
# Rows leave when the filter's column changes; a projected column's change updates rows in place. The
# refresh reads exactly the rows the two updates wrote.
M=$("$FL" count "$VDB" bdd100k --where "$W AND num_annotations % 2 = 0")
K=$("$FL" count "$VDB" bdd100k --where "$W AND num_annotations > 3 AND num_annotations % 2 = 1")
R=$("$FL" count "$VDB" bdd100k --where "($W AND num_annotations % 2 = 0) OR num_annotations > 3")
"$FL" update "$VDB" bdd100k --set "split = 'val'" --where "$W AND num_annotations % 2 = 0" >/dev/null
"$FL" update "$VDB" bdd100k --set "num_annotations = num_annotations + 100" --where "num_annotations > 3" >/dev/null
S3=$("$FL" versions "$VDB" bdd100k --format csv | tail -1 | cut -d, -f1)
expect view-refresh-change 0 "person_train: +0 −$M rows ($K updated), $N2 → $((N2 - M)), version 4 (source v$S3, was v$S2); read $R source rows in T s" -- \
    vrun "$FL" view refresh "$VDB" person_train
expect view-values 0 "$K" -- "$FL" count "$VDB" person_train --where "num_annotations > 103"
expect view-values-source 0 "$K" -- "$FL" count "$VDB" bdd100k --where "$W AND num_annotations > 103"
expect view-time-travel 0 "$N" -- "$FL" count "$VDB" person_train --version 2
expect view-versions 0 "refresh,$N2
refresh,$((N2 - M))" -- sh -c "\"$FL\" versions \"$VDB\" person_train --format csv | tail -2 | cut -d, -f3,4"
# A view is read like any table but written only by refresh.
expect view-no-delete 1 "framelake: error: table 'person_train' is a materialized view of 'bdd100k': it cannot be changed by delete; change 'bdd100k' and run \`framelake view refresh\`" -- \
    "$FL" delete "$VDB" person_train --where "true"
expect view-no-backfill 1 "framelake: error: table 'person_train' is a materialized view of 'bdd100k': it cannot be changed by adding columns; change 'bdd100k' and run \`framelake view refresh\`" -- \
    "$FL" add-column "$VDB" person_train z --type int32
# A view of a view, refreshed in order by --all.
E=$("$FL" count "$VDB" person_train --where "num_annotations % 2 = 0")
expect view-of-view 0 "even_people: rebuilt: +$E −0 rows (0 updated), 0 → $E, version 2 (source v4); read $((N2 - M)) source rows in T s" -- \
    vrun "$FL" view create "$VDB" even_people --from person_train --where "num_annotations % 2 = 0"
"$FL" update "$VDB" bdd100k --set "split = 'train'" --where "has_person AND num_annotations % 2 = 0" >/dev/null
S4=$("$FL" versions "$VDB" bdd100k --format csv | tail -1 | cut -d, -f1)
expect view-refresh-all 0 "person_train: +$M −0 rows (0 updated), $((N2 - M)) → $N2, version 5 (source v$S4, was v$S3); read $M source rows in T s
even_people: +$M −0 rows (0 updated), $E → $((E + M)), version 3 (source v5, was v4); read $M source rows in T s" -- \
    vrun "$FL" view refresh "$VDB" --all
expect view-list 0 "name,source,rows,version,source_version,source_latest,stale,where,select
even_people,person_train,$((E + M)),3,5,5,false,num_annotations % 2 = 0,\"image_id, timeofday, num_annotations, area\"
person_train,bdd100k,$N2,5,$S4,$S4,false,$W,\"image_id, timeofday, num_annotations, width * height AS area\"" -- \
    "$FL" view list "$VDB" --format csv
expect view-show 0 "view:           person_train
source:         bdd100k
where:          $W
select:         image_id, timeofday, num_annotations, width * height AS area
rows:           $N2
version:        5
source version: $S4
source latest:  $S4" -- "$FL" view show "$VDB" person_train
expect view-full 0 "person_train: rebuilt: +0 −0 rows (0 updated), $N2 → $N2, version 6 (source v$S4, was v$S4); read 80 source rows in T s" -- \
    vrun "$FL" view refresh "$VDB" person_train --full
expect view-bad-where 1 "framelake: error: view 'x': where (on 'bdd100k' version $S4): column \"has_persn\" not found; did you mean \"has_person\"? (position 1)" -- \
    "$FL" view create "$VDB" x --from bdd100k --where "has_persn"
expect view-bad-select 1 "framelake: error: view 'x': select (on 'bdd100k' version $S4): an expression in the select list needs a name: write it as \`expression AS name\` (position 11)" -- \
    "$FL" view create "$VDB" x --from bdd100k --select "image_id, width + 1"
expect view-not-a-view 1 "framelake: error: table 'bdd100k' is not a materialized view" -- "$FL" view refresh "$VDB" bdd100k
expect view-missing 1 "framelake: error: table 'nope' not found in $VDB" -- "$FL" view show "$VDB" nope
expect view-usage 2 "framelake view: refresh needs DB NAME, or DB --all
usage: $("$FL" help view 2>&1 | head -1)" -- "$FL" view refresh "$VDB"
"$FL" restore "$VDB" bdd100k "$S" >/dev/null
expect view-restored 1 "framelake: error: view 'person_train': 'bdd100k' was restored at version $((S4 + 1)), after the version $S4 the view reflects, so its changes cannot be followed; rebuild with \`framelake view refresh --full\`" -- \
    "$FL" view refresh "$VDB" person_train
