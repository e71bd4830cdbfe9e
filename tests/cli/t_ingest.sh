# CLI tests of the footage sources (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
# `synthesize` makes a BDD100K folder, `ingest bdd100k` reads it back, `ingest synthetic` continues streams.
FDB=$WORK/footage
SYN=$WORK/syn

expect synthesize 0 "wrote 12 synthetic frames to $SYN" -- sh -c "'$FL' synthesize '$SYN' --n 12 --seed 3 --size 160x90 2>/dev/null"
expect synthesize-exists 1 "framelake: error: synthetic export: $SYN: File exists" -- "$FL" synthesize "$SYN" --n 1
expect synthesize-layout 0 "$(printf '%s\n' det_train.json det_val.json)" -- ls "$SYN/labels/det_20"
expect synthesize-images 0 "12" -- sh -c "ls '$SYN'/images/100k/*/ | grep -c '^synth-00000003-00000[01][0-9].jpg$'"
expect bdd-ingest 0 "ingested 12 frames into 'bdd100k' (0 skipped, 0 failed, 0 missing images, 0 labels skipped, 0 unlabeled): version 2" -- \
    "$FL" ingest bdd100k "$FDB" --root "$SYN" --quiet
expect bdd-again 0 "ingested 0 frames into 'bdd100k' (12 skipped, 0 failed, 0 missing images, 0 labels skipped, 0 unlabeled): version 2" -- \
    "$FL" ingest bdd100k "$FDB" --root "$SYN" --quiet
expect bdd-count 0 "12" -- "$FL" count "$FDB" bdd100k
expect bdd-schema 0 "image_id string not null, split string, image_bytes binary, width int32, height int32, weather string, scene string, timeofday string, timestamp int64, ann_categories list<string>, ann_bboxes list<list<float32>>, ann_occluded list<bool>, ann_truncated list<bool>, ann_traffic_light_colors list<string>, num_annotations int32, source string" -- \
    "$FL" schema "$FDB" bdd100k
expect bdd-sizes 0 "160 90" -- sh -c "'$FL' query '$FDB' bdd100k --select width,height --format csv --limit 1 | tail -n 1 | tr ',' ' '"

# problems: a truncated image, a non-JPEG, an image no label names, a label whose image is gone
cp -r "$SYN" "$WORK/bad"
first=$(ls "$WORK/bad/images/100k/train" | head -n 1)
second=$(ls "$WORK/bad/images/100k/train" | sed -n 2p)
cut=$(($(wc -c < "$SYN/images/100k/train/$first") - 2))
head -c "$cut" "$SYN/images/100k/train/$first" > "$WORK/bad/images/100k/train/$first"
rm "$WORK/bad/images/100k/train/$second"
printf 'hello' > "$WORK/bad/images/100k/val/zzz.jpg"
expect bdd-problems 0 "ingested 10 frames into 'bad' (0 skipped, 2 failed, 1 missing images, 0 labels skipped, 0 unlabeled): version 2" -- \
    sh -c "'$FL' ingest bdd100k '$FDB' --root '$WORK/bad' --table bad 2>/dev/null"
expect bdd-problem-lines 0 "failed: $WORK/bad/images/100k/train/$first: byte $cut: truncated: no EOI marker after the scan data
missing: $WORK/bad/labels/det_20/det_train.json: frame '$second': no image $second in images/100k/train/
failed: $WORK/bad/images/100k/val/zzz.jpg: byte 0: not a JPEG (no SOI marker)" -- \
    sh -c "'$FL' ingest bdd100k '$FDB' --root '$WORK/bad' --table bad2 2>&1 >/dev/null | grep -v '^framelake:' | sed 's/: byte [0-9]*: frame/: frame/'"
expect bdd-strict 1 "framelake: error: strict: $WORK/bad/images/100k/train/$first: byte $cut: truncated: no EOI marker after the scan data" -- \
    "$FL" ingest bdd100k "$FDB" --root "$WORK/bad" --table strict --strict --quiet
expect bdd-no-root 2 "framelake ingest bdd100k: --root DIR is required (the extracted download, or the folder holding its zips)" -- \
    "$FL" ingest bdd100k "$FDB"
expect bdd-bad-split 1 "framelake: error: ingest bdd100k: unknown split 'dev' (expected train, val or test)" -- \
    "$FL" ingest bdd100k "$FDB" --root "$SYN" --splits train,dev
expect bdd-limit 0 "ingested 5 frames into 'lim' (0 skipped, 0 failed, 0 missing images, 0 labels skipped, 0 unlabeled): version 2" -- \
    "$FL" ingest bdd100k "$FDB" --root "$SYN" --table lim --limit 5 --quiet

# synthetic straight into a table: new footage continues the stream
expect synth-ingest 0 "ingested 5 frames into 'syn' (0 skipped, 0 failed, 0 missing images, 0 labels skipped, 0 unlabeled): version 2" -- \
    "$FL" ingest synthetic "$FDB" --table syn --n 5 --seed 3 --size 160x90 --quiet
expect synth-more 0 "ingested 5 frames into 'syn' (0 skipped, 0 failed, 0 missing images, 0 labels skipped, 0 unlabeled): version 3" -- \
    "$FL" ingest synthetic "$FDB" --table syn --n 5 --seed 3 --size 160x90 --quiet --threads 1
expect synth-ids 0 "synth-00000003-0000000 synth-00000003-0000009" -- \
    sh -c "echo \$('$FL' query '$FDB' syn --select image_id --format csv | sed -n '2p;\$p')"
expect synth-same-bytes 0 "same" -- sh -c "'$FL' query '$FDB' syn --select image_bytes --blob base64 --format csv --limit 1 | tail -n 1 | base64 -d | cmp -s - '$SYN/images/100k/'\$('$FL' query '$FDB' syn --select split --format csv --limit 1 | tail -n 1)'/synth-00000003-0000000.jpg' && echo same"
expect synth-no-n 2 "framelake: --n (the number of frames) is required" -- "$FL" ingest synthetic "$FDB"
expect synth-bad-size 2 "framelake: --size must be WIDTHxHEIGHT (e.g. 1280x720), not '12x'" -- "$FL" ingest synthetic "$FDB" --n 1 --size 12x
expect synth-bad-split 2 "framelake: --split must be mixed, train or val, not 'dev'" -- "$FL" ingest synthetic "$FDB" --n 1 --split dev
