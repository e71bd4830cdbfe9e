#!/bin/sh
# The framelake demo: synthetic dashcam footage (drawn and JPEG-encoded in C, with exact annotations) goes
# into one versioned table, then the demo walks through idempotent ingest, new footage arriving, versions,
# time travel, stable row ids, schema evolution, compaction, tags, restore and cleanup, and the BDD100K
# path (a BDD100K-style folder written by `synthesize`, ingested as the real download would be), and
# training splits as materialized views refreshed incrementally. (Training joins this demo when it lands.)
# Re-running starts from a clean demo database.
set -eu
cd "$(dirname "$0")/.."
FL=${FRAMELAKE:-./build/framelake}
DB=${DEMO_DB:-demo-db}
N=${DEMO_FRAMES:-500}
start=$(date +%s%N)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# Python UDF workers (python/framelake) run under Debian's python3, which sees numpy and OpenCV.
PYTHONPATH="$(pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH

rm -rf "$DB" "$DB.bdd"

step "1. Footage arrives: $N synthetic frames (mixed splits) into table bdd100k"
run "$FL" ingest synthetic "$DB" --n "$N" --split mixed
run "$FL" count "$DB" bdd100k
run "$FL" query "$DB" bdd100k --select image_id,split,weather,scene,timeofday,num_annotations,ann_categories,image_bytes --limit 5 --with-row-id

step "2. Ingest is idempotent: the same BDD100K-style delivery twice adds it once"
run "$FL" synthesize "$DB.bdd" --n 100 --seed 2 --size 1280x720
run "$FL" ingest bdd100k "$DB" --root "$DB.bdd" --table bdd_folder
run "$FL" ingest bdd100k "$DB" --root "$DB.bdd" --table bdd_folder --quiet
run "$FL" take "$DB" bdd_folder --positions 0 --select image_id,width,height,weather,ann_categories,ann_bboxes

step "3. Features: declare UDF columns (values NULL, no data rewritten), then one parallel, checkpointed backfill"
run "$FL" udf list
for udf in has_person has_rider scene_description person_bbox_area_pct white_balance brightness dhash is_duplicate; do
    run "$FL" add-column "$DB" bdd100k "$udf" --udf "$udf"
done
run "$FL" udf columns "$DB" bdd100k
run "$FL" backfill "$DB" bdd100k --all --concurrency 2
run "$FL" query "$DB" bdd100k --select image_id,has_person,has_rider,person_bbox_area_pct,brightness,dhash,scene_description --limit 5

step "4. New footage arrives: the synthetic stream continues with new ids; backfill --all computes only the new rows"
run "$FL" ingest synthetic "$DB" --n 100 --quiet
run "$FL" backfill "$DB" bdd100k --all --concurrency 2
run "$FL" versions "$DB" bdd100k

step "4a. Near duplicates: is_duplicate keeps the first frame of every run of near-identical ones; injected copies are caught; image-to-image search"
run "$FL" dedup "$DB" bdd100k
run "$FL" dedup inject "$DB" bdd100k --n 20
run "$FL" backfill "$DB" bdd100k --all --quiet
run "$FL" count "$DB" bdd100k --where "is_duplicate AND image_id LIKE '%-copy-%'"
run "$FL" search vector "$DB" bdd100k --column dhash --like-row 120 --where "NOT is_duplicate" --limit 3 --select image_id,split,scene,timeofday

step "4b. Full-text search on the scene descriptions (BM25, stemming, phrases), and hybrid text + image search"
run "$FL" index create "$DB" bdd100k scene_description --type fts --stem english --stopwords english --positions
run "$FL" search fts "$DB" bdd100k '"city streets" +night -rainy' --where "NOT is_duplicate" --limit 3 --select image_id,scene_description
run "$FL" search hybrid "$DB" bdd100k --text "snowy highway" --column dhash --like-row 120 --where "NOT is_duplicate" --limit 3 --select image_id,scene_description

step "4c. An external UDF in Python: OpenCV's HOG person detector, only on frames without labels (split test)"
run "$FL" add-column "$DB" bdd100k hog_person_pct --udf "exec:/usr/bin/python3 -m framelake.workers.hog_person" --param max_side=480 --where "split = 'test'"
run "$FL" backfill "$DB" bdd100k hog_person_pct --concurrency 2
run "$FL" sql "$DB" "SELECT count(*) AS test_frames, count(hog_person_pct) AS computed, round(max(hog_person_pct), 2) AS largest_pct FROM bdd100k WHERE split = 'test'"
run "$FL" count "$DB" bdd100k --where "hog_person_pct > 0"

step "5. Explore with SQL: failure modes, a GROUP BY, indexes, the plan"
run "$FL" count "$DB" bdd100k --where "timeofday = 'night' AND has_person"
run "$FL" count "$DB" bdd100k --where "has_rider"
run "$FL" count "$DB" bdd100k --where "has_person AND person_bbox_area_pct < 30"
run "$FL" sql "$DB" "SELECT weather, timeofday, count(*) AS frames, round(avg(brightness), 1) AS brightness FROM bdd100k GROUP BY weather, timeofday ORDER BY frames DESC LIMIT 8"
run "$FL" sql "$DB" "SELECT c AS category, count(*) AS boxes FROM (SELECT unnest(ann_categories) AS c FROM bdd100k) GROUP BY c ORDER BY boxes DESC"
run "$FL" index create "$DB" bdd100k timeofday --type bitmap
run "$FL" index create "$DB" bdd100k ann_categories --type label_list
run "$FL" explain "$DB" "SELECT image_id FROM bdd100k WHERE timeofday = 'night' AND array_has(ann_categories, 'rider') LIMIT 5" --analyze

step "5a. Training splits: materialized views of the failure modes (train views leave duplicates out)"
for mode in "rider:has_rider" "nighttime_person:has_person AND timeofday = 'night'" "distant_person:has_person AND person_bbox_area_pct < 30"; do
    name=${mode%%:*}
    cond=${mode#*:}
    run "$FL" view create "$DB" "bdd100k_${name}_train" --from bdd100k --where "$cond AND split = 'train' AND NOT is_duplicate" \
        --select "image_id, image_bytes, ann_categories, ann_bboxes, timeofday, weather"
    run "$FL" view create "$DB" "bdd100k_${name}_val" --from bdd100k --where "$cond AND split = 'val'" \
        --select "image_id, image_bytes, ann_categories, ann_bboxes, timeofday, weather"
done
run "$FL" view list "$DB"

step "6. Curate: drop bad frames, fix labels, add a feature column without rewriting any data file"
run "$FL" delete "$DB" bdd100k --row-ids 3,4,5,250
run "$FL" delete "$DB" bdd100k --where "brightness < 30 AND NOT has_person"
run "$FL" update "$DB" bdd100k --set "weather = 'clear'" --where "weather = 'undefined' AND timeofday = 'daytime'"
run "$FL" update "$DB" bdd100k --set "timeofday = 'night'" --where "timeofday = 'dawn/dusk' AND brightness < 90"   # dark dusk frames are night
run "$FL" delete "$DB" bdd100k --where "has_rider AND weather = 'snowy'"   # riders in snow: boxes unreliable
run "$FL" add-column "$DB" bdd100k person_or_rider --expr "has_person OR has_rider"
run "$FL" add-column "$DB" bdd100k reviewed --type bool
run "$FL" tag "$DB" bdd100k curated-v1
run "$FL" schema "$DB" bdd100k
# The splits follow: each refresh reads only the rows the curation touched.
run "$FL" view refresh "$DB" --all
run "$FL" versions "$DB" bdd100k_rider_train

step "7. Time travel: every version stays readable"
run "$FL" versions "$DB" bdd100k
run "$FL" count "$DB" bdd100k --version 2
run "$FL" count "$DB" bdd100k --tag curated-v1

step "8. Compaction merges fragments and drops deleted rows; row ids do not change"
run "$FL" take "$DB" bdd100k --row-ids 599,0,317 --select image_id,split
run "$FL" compact "$DB" bdd100k
run "$FL" take "$DB" bdd100k --row-ids 599,0,317 --select image_id,split

step "9. Restore an old version as a new one (the curated-v1 tag), then clean up history"
CURATED=$("$FL" tag "$DB" bdd100k --list | awk '$1 == "curated-v1" { print $2 }')
run "$FL" restore "$DB" bdd100k "$CURATED"
# A view cannot follow a restore incrementally (values went back without new row versions): it says so,
# and --full rebuilds it.
run "$FL" view refresh "$DB" bdd100k_rider_train || true
run "$FL" view refresh "$DB" --all --full
run "$FL" cleanup "$DB" bdd100k --keep-versions 2 --grace 0s   # --grace 0s: no other writer is running
run "$FL" versions "$DB" bdd100k
run "$FL" info "$DB" bdd100k

rm -rf "$DB.bdd"
end=$(date +%s%N)
printf '\nDemo finished in %d ms. The database is in ./%s; try:  %s query %s bdd100k --limit 3\n' $(( (end - start) / 1000000 )) "$DB" "$FL" "$DB"
