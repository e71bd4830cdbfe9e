#!/bin/sh
# The framelake demo (`make demo`): from raw footage to a trained detector, and again when new footage
# arrives, on one embedded database. Synthetic dashcam frames (drawn and JPEG-encoded in C, with exact
# annotations) go into one versioned table; feature columns are backfilled by UDFs (C built-ins and an
# OpenCV worker in Python); indexes, SQL, full-text, image and hybrid search explore it; training splits are
# materialized views; a Faster R-CNN (mobilenet) trains on one of them and is evaluated on its val view,
# with metrics.json naming the exact view and table versions. Then new footage arrives: backfill computes
# only the new rows, the views refresh incrementally, training continues, and the second checkpoint names
# the new versions. A short tour of curation, time travel, compaction and restore follows.
#
# Re-running starts from a clean demo database and output folder (it says so). Environment (defaults):
#   DEMO_DB [demo-db]  DEMO_OUT [demo-out]  DEMO_FRAMES [500] first delivery  DEMO_NEW_FRAMES [500] second
#   DEMO_STEPS [30] training steps per run  DEMO_SIZE [640x360] training image size  DEMO_VIEW [distant_person]
#   DEMO_TOUR [1] the curation / time travel tour at the end (0: skip)  FRAMELAKE [./build/framelake]
#   DEMO_BDD_ROOT: a BDD100K download (the folder holding its zips, or extracted) to use instead of synthetic
#   footage: the first DEMO_FRAMES frames, then the next DEMO_NEW_FRAMES as the new footage
set -eu
cd "$(dirname "$0")/.."
FL=${FRAMELAKE:-./build/framelake}
DB=${DEMO_DB:-demo-db}
OUT=${DEMO_OUT:-demo-out}
N=${DEMO_FRAMES:-500}
N2=${DEMO_NEW_FRAMES:-500}
STEPS=${DEMO_STEPS:-30}
SIZE=${DEMO_SIZE:-640x360}
MODE=${DEMO_VIEW:-distant_person}
TOUR=${DEMO_TOUR:-1}
BDD_ROOT=${DEMO_BDD_ROOT:-}
PY=${PYTHON:-/usr/bin/python3}
# Python (UDF workers, training) runs under Debian's python3, which sees numpy, OpenCV and torch;
# OpenBLAS with 2 threads keeps torch off the reference BLAS.
PYTHONPATH="$(pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export PYTHONPATH OMP_NUM_THREADS

BOLD="" PLAIN=""
[ -t 1 ] && BOLD=$(printf '\033[1m') && PLAIN=$(printf '\033[0m')
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
start=$(now_ms)
STAGES=""
stage_start=$start
stage_name=""
# stage NAME: ends the current stage (its time recorded) and starts the next.
stage() {
    t=$(now_ms)
    [ -n "$stage_name" ] && STAGES="$STAGES$stage_name|$(( t - stage_start ))
"
    stage_start=$t
    stage_name=$1
    printf '\n%s== %s%s\n' "$BOLD" "$1" "$PLAIN"
}
run() { printf '$ %s\n' "$*"; "$@"; }
# field FILE KEY...: a value of a JSON file (nested keys).
field() { "$PY" -c 'import json, sys; v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print(v)' "$@"; }

# Only what an earlier run made is removed: both folders carry a marker file.
for d in "$DB" "$OUT"; do
    if [ -e "$d" ] && [ ! -e "$d/.framelake-demo" ]; then
        echo "demo: $d exists and is not from an earlier demo run: not touching it (set DEMO_DB / DEMO_OUT)" >&2
        exit 1
    fi
done
if [ -e "$DB" ] || [ -e "$OUT" ]; then
    echo "demo: starting clean (removing $DB and $OUT from the previous run)"
fi
rm -rf "$DB" "$DB.bdd" "$OUT"
mkdir -p "$DB" "$OUT"
touch "$DB/.framelake-demo" "$OUT/.framelake-demo"

# footage COUNT [--quiet]: the next COUNT frames into table bdd100k (synthetic, or the BDD100K download:
# 70% train, 20% val, 10% test, like the download; repeated runs continue where the last stopped).
footage() {
    if [ -n "$BDD_ROOT" ]; then
        n=$1
        shift
        for part in "train $(( n * 7 / 10 ))" "val $(( n * 2 / 10 ))" "test $(( n - n * 7 / 10 - n * 2 / 10 ))"; do
            [ "${part#* }" -gt 0 ] || continue   # (--limit 0 would mean no limit)
            run "$FL" ingest bdd100k "$DB" --root "$BDD_ROOT" --splits "${part% *}" --limit "${part#* }" "$@"
        done
    else
        run "$FL" ingest synthetic "$DB" --split mixed --n "$@"
    fi
}

KIND=synthetic
[ -n "$BDD_ROOT" ] && KIND="BDD100K ($BDD_ROOT)"
stage "1. Footage arrives: $N $KIND frames into table bdd100k"
footage "$N"
run "$FL" query "$DB" bdd100k --select image_id,split,weather,scene,timeofday,num_annotations,ann_categories,image_bytes --limit 5 --with-row-id

stage "2. Features: UDF columns declared (no data rewritten), then one parallel, checkpointed backfill"
for udf in has_person has_rider scene_description person_bbox_area_pct white_balance brightness dhash is_duplicate duplicate_of; do
    run "$FL" add-column "$DB" bdd100k "$udf" --udf "$udf"
done
run "$FL" backfill "$DB" bdd100k --all --concurrency 2
# An external UDF: OpenCV's HOG person detector in a Python worker process, on a sample (the test split).
run "$FL" add-column "$DB" bdd100k hog_person_pct --udf "exec:$PY -m framelake.workers.hog_person" --param max_side=480 --where "split = 'test'"
run "$FL" backfill "$DB" bdd100k hog_person_pct --concurrency 2
run "$FL" query "$DB" bdd100k --select image_id,has_person,has_rider,person_bbox_area_pct,white_balance,dhash,is_duplicate,scene_description --limit 4

stage "3. Indexes: bitmap (timeofday, split), label_list (ann_categories), full-text (scene_description), Hamming (dhash)"
run "$FL" index create "$DB" bdd100k timeofday --type bitmap
run "$FL" index create "$DB" bdd100k split --type bitmap
run "$FL" index create "$DB" bdd100k ann_categories --type label_list
run "$FL" index create "$DB" bdd100k scene_description --type fts --stem english --stopwords english --positions
run "$FL" index create "$DB" bdd100k dhash --type hamming

stage "4. Exploration: where the model fails, and what the footage holds"
NIGHT="has_person AND timeofday = 'night'"
RIDER="has_rider"
DISTANT="has_person AND person_bbox_area_pct < 30"
for c in "$NIGHT" "$RIDER" "$DISTANT"; do run "$FL" count "$DB" bdd100k --where "$c"; done
run "$FL" sql "$DB" "SELECT weather, timeofday, count(*) AS frames FROM bdd100k GROUP BY weather, timeofday ORDER BY frames DESC LIMIT 8"
run "$FL" search fts "$DB" bdd100k '"city street" +night' --limit 3 --select image_id,scene_description
run "$FL" search vector "$DB" bdd100k --column dhash --like-row 7 --limit 3 --select image_id,scene,timeofday
run "$FL" search hybrid "$DB" bdd100k --text "pedestrians at night" --column dhash --like-row 7 --where "split = 'train' AND NOT is_duplicate" \
    --limit 3 --select image_id,scene_description
run "$FL" dedup "$DB" bdd100k

stage "5. Training splits: materialized views of the failure modes (train views leave duplicates out)"
for mode in "rider:$RIDER" "nighttime_person:$NIGHT" "distant_person:$DISTANT"; do
    name=${mode%%:*}
    cond=${mode#*:}
    run "$FL" view create "$DB" "bdd100k_${name}_train" --from bdd100k --where "$cond AND split = 'train' AND NOT is_duplicate" \
        --select "image_id, image_bytes, ann_categories, ann_bboxes, timeofday, weather"
    run "$FL" view create "$DB" "bdd100k_${name}_val" --from bdd100k --where "$cond AND split = 'val'" \
        --select "image_id, image_bytes, ann_categories, ann_bboxes, timeofday, weather"
done
run "$FL" view list "$DB"

TRAIN="bdd100k_${MODE}_train"
VAL="bdd100k_${MODE}_val"
CATS="pedestrian,rider,car"
stage "6. Train: Faster R-CNN (mobilenet v3 FPN) on $TRAIN, $STEPS steps on CPU; eval on $VAL"
# No pretrained weights can be downloaded here: the first run starts from scratch (with torchvision's COCO
# weights, pass --weights; see README "Real data").
run "$PY" -m framelake.train_detector --db "$DB" --train-view "$TRAIN" --val-view "$VAL" --categories "$CATS" --size "$SIZE" \
    --max-steps "$STEPS" --epochs 100 --batch-size 2 --lr 0.01 --lr-step 100 --out "$OUT/run1"
run "$PY" -m framelake.eval --db "$DB" --view "$VAL" --categories "$CATS" --checkpoint "$OUT/run1/last.pt" --size "$SIZE" --sample 100 \
    --out "$OUT/run1/eval.json"
# The versions this checkpoint read, tagged so that cleaning up history keeps them.
run "$FL" tag "$DB" "$TRAIN" run1 "$(field "$OUT/run1/metrics.json" train view_version)"
run "$FL" tag "$DB" bdd100k run1 "$(field "$OUT/run1/metrics.json" train source_version)"

stage "7. New footage: $N2 more frames; backfill computes only them; the views refresh incrementally; training continues"
footage "$N2" --quiet
run "$FL" backfill "$DB" bdd100k --all --concurrency 2   # the HOG worker included: its new test frames only
run "$FL" view refresh "$DB" --all
run "$PY" -m framelake.train_detector --db "$DB" --train-view "$TRAIN" --val-view "$VAL" --categories "$CATS" --size "$SIZE" \
    --weights "$OUT/run1/last.pt" --max-steps "$STEPS" --epochs 100 --batch-size 2 --lr 0.005 --lr-step 100 --seed 1 --out "$OUT/run2"
run "$PY" -m framelake.eval --db "$DB" --view "$VAL" --categories "$CATS" --checkpoint "$OUT/run2/last.pt" --baseline-weights "$OUT/run1/last.pt" --size "$SIZE" \
    --sample 100 --out "$OUT/run2/eval.json"
run "$FL" tag "$DB" "$TRAIN" run2 "$(field "$OUT/run2/metrics.json" train view_version)"
run "$FL" tag "$DB" bdd100k run2 "$(field "$OUT/run2/metrics.json" train source_version)"
run "$PY" -m framelake.visualize --db "$DB" --view "$VAL" --categories "$CATS" --checkpoint "$OUT/run2/last.pt" --baseline-weights "$OUT/run1/last.pt" \
    --out "$OUT/viz" --limit 8
run "$PY" -m framelake.visualize --db "$DB" --view bdd100k --duplicates --out "$OUT/viz/duplicates" --limit 4
for run_dir in run1 run2; do
    "$PY" - "$OUT/$run_dir/metrics.json" "$run_dir" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
t = m["train"]
print(f"{sys.argv[2]}: trained on {t['view']}@v{t['view_version']} ({t['rows']} rows, from {t['source']}@v{t['source_version']}), "
      f"{m['steps']} steps, final loss {m['final_loss'] if m['final_loss'] is None else round(m['final_loss'], 3)}, "
      f"rows sha256 {t['rows_sha256'][:16]}...")
EOF
done

if [ "$TOUR" != 0 ]; then
    stage "8. Curation tour: idempotent folder ingest, deletes and fixes, time travel, compaction, restore, cleanup"
    run "$FL" synthesize "$DB.bdd" --n 50 --seed 2 --size 1280x720
    run "$FL" ingest bdd100k "$DB" --root "$DB.bdd" --table bdd_folder
    run "$FL" ingest bdd100k "$DB" --root "$DB.bdd" --table bdd_folder --quiet
    run "$FL" delete "$DB" bdd100k --where "brightness < 30 AND NOT has_person"
    run "$FL" update "$DB" bdd100k --set "timeofday = 'night'" --where "timeofday = 'dawn/dusk' AND brightness < 90"
    run "$FL" add-column "$DB" bdd100k person_or_rider --expr "has_person OR has_rider"
    run "$FL" tag "$DB" bdd100k curated-v1
    run "$FL" view refresh "$DB" --all
    run "$FL" count "$DB" bdd100k --tag run1
    run "$FL" count "$DB" "$TRAIN" --tag run1
    IDS=$("$FL" query "$DB" bdd100k --select image_id --with-row-id --where "split = 'val'" --limit 3 --format csv | tail -n +2 | cut -d, -f1 | paste -sd, -)
    run "$FL" take "$DB" bdd100k --row-ids "$IDS" --select image_id,split
    run "$FL" compact "$DB" bdd100k
    run "$FL" take "$DB" bdd100k --row-ids "$IDS" --select image_id,split   # the same rows: ids survive compaction
    run "$FL" restore "$DB" bdd100k "$(field "$OUT/run1/metrics.json" train source_version)"   # the footage as run 1 saw it
    # A view cannot follow a restore incrementally (values went back without new row versions): it says so,
    # and --full rebuilds it.
    run "$FL" view refresh "$DB" "$TRAIN" || true
    run "$FL" view refresh "$DB" --all --full
    run "$FL" cleanup "$DB" bdd100k --keep-versions 2 --grace 0s   # tagged versions (run1, run2, curated-v1) stay
    run "$FL" versions "$DB" bdd100k
    rm -rf "$DB.bdd"
fi

stage "done"
end=$(now_ms)
printf '\nOutputs:\n'
printf '  database          %s (try: %s query %s bdd100k --limit 3)\n' "$DB" "$FL" "$DB"
printf '  checkpoints       %s/run1/last.pt, %s/run2/last.pt (metrics.json beside each names db, views, versions)\n' "$OUT" "$OUT"
printf '  evaluations       %s/run1/eval.json, %s/run2/eval.json (run 2 beside run 1)\n' "$OUT" "$OUT"
printf '  visualizations    %s/viz (ground truth green, run 1 red, run 2 blue), %s/viz/duplicates\n' "$OUT" "$OUT"
printf '\nStage times:\n'
printf '%s' "$STAGES" | awk -F'|' -v total=$(( end - start )) '{ printf "  %-88.88s %7.1f s\n", $1, $2 / 1000 }
    END { printf "  %-88s %7.1f s\n", "total", total / 1000 }'
