#!/bin/sh
# The framelake demo: builds a small table of synthetic dashcam frames through the CLI and walks through
# versions, time travel, stable row ids, schema evolution, compaction, tags, restore and cleanup.
# (Ingest of BDD100K/synthetic footage, UDF backfills, search, views and training join this demo as those
# capabilities land.) Re-running starts from a clean demo database.
set -eu
cd "$(dirname "$0")/.."
FL=${FRAMELAKE:-./build/framelake}
DB=${DEMO_DB:-demo-db}
start=$(date +%s%N)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$DB"
mkdir -p "$DB"

# N synthetic frames as JSON Lines: id, split, weather, time of day, annotations and a fake JPEG blob.
frames() {
    awk -v first="$1" -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed);
        split("clear rainy snowy overcast foggy", weather, " ");
        split("daytime night dawn/dusk", tod, " ");
        split("car pedestrian rider truck bus bicycle traffic_light", cat, " ");
        b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (i = first; i < first + n; i++) {
            split_ = (i % 10 < 8) ? "train" : "val";
            k = int(rand() * 5);
            cats = ""; boxes = "";
            for (j = 0; j < k; j++) {
                x = int(rand() * 1200); y = int(rand() * 600);
                cats = cats (j ? "," : "") "\"" cat[1 + int(rand() * 7)] "\"";
                boxes = boxes (j ? "," : "") "[" x "," y "," x + 20 + int(rand() * 200) "," y + 20 + int(rand() * 100) "]";
            }
            img = "/9j/4AAQSkZJRgABAQAA";  # JPEG SOI + JFIF header, then a random payload
            len = 4 * (250 + int(rand() * 750));
            for (j = 0; j < len; j++) img = img substr(b64, 1 + int(rand() * 64), 1);
            img = img "/9k=";                # ... and an EOI marker (ff d9)
            printf "{\"image_id\":\"frame-%05d\",\"split\":\"%s\",\"weather\":\"%s\",\"timeofday\":\"%s\",\"timestamp\":%d,\"ann_categories\":[%s],\"ann_bboxes\":[%s],\"image_bytes\":\"%s\"}\n",
                i, split_, weather[1 + int(rand() * 5)], tod[1 + int(rand() * 3)], 1700000000000 + i * 33, cats, boxes, img;
        }
    }'
}

step "1. Create a table (version 1) and append footage in three deliveries (versions 2-4)"
run "$FL" create "$DB" frames --schema "image_id string not null, split string, weather string, timeofday string, timestamp timestamp, ann_categories list<string>, ann_bboxes list<list<float32>>, image_bytes binary"
frames 0 200 1 > "$DB/.batch1.jsonl"
frames 200 200 2 > "$DB/.batch2.jsonl"
frames 400 200 3 > "$DB/.batch3.jsonl"
for b in 1 2 3; do run "$FL" append "$DB" frames "$DB/.batch$b.jsonl"; done
run "$FL" count "$DB" frames

step "2. Look at the data"
run "$FL" query "$DB" frames --select image_id,split,weather,timeofday,ann_categories,image_bytes --limit 5 --with-row-id
run "$FL" take "$DB" frames --row-ids 599,0,317 --select image_id,ann_bboxes

step "3. Curate: drop bad frames, add a feature column without rewriting any data file"
run "$FL" delete "$DB" frames --row-ids 3,4,5,250
run "$FL" add-column "$DB" frames is_duplicate --type bool
run "$FL" tag "$DB" frames curated-v1
run "$FL" schema "$DB" frames

step "4. Time travel: every version stays readable"
run "$FL" versions "$DB" frames
run "$FL" count "$DB" frames --version 2
run "$FL" count "$DB" frames --tag curated-v1

step "5. Compaction merges fragments and drops deleted rows; row ids do not change"
run "$FL" compact "$DB" frames
run "$FL" take "$DB" frames --row-ids 599,0,317 --select image_id

step "6. Restore an old version as a new one, then clean up history"
run "$FL" restore "$DB" frames 3
run "$FL" cleanup "$DB" frames --keep-versions 2 --grace 0s   # --grace 0s: no other writer is running
run "$FL" versions "$DB" frames
run "$FL" info "$DB" frames

rm -f "$DB"/.batch*.jsonl
end=$(date +%s%N)
printf '\nDemo finished in %d ms. The database is in ./%s; try:  %s query %s frames --limit 3\n' $(( (end - start) / 1000000 )) "$DB" "$FL" "$DB"
