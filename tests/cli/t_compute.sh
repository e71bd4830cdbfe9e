# CLI tests of UDF columns and backfill (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
CDB=$WORK/compute
"$FL" ingest synthetic "$CDB" --n 30 --size 96x64 --quiet >/dev/null
expect udf-list 0 "has_person             1        bool                       ann_categories list<string>" -- sh -c "'$FL' udf list | sed -n 2p"
expect udf-list-count 0 "7" -- sh -c "'$FL' udf list | grep -c '^[a-z_][a-z_]* *[0-9]'"
expect backfill 0 "backfilled 'has_person' with udf has_person: 30 computed, 0 skipped, 0 failed, 3 checkpoints: version 7" -- \
    "$FL" backfill "$CDB" bdd100k has_person --udf has_person --checkpoint-size 12
expect backfill-again 0 "backfilled 'has_person' with udf has_person: 0 computed, 30 skipped, 0 failed, 0 checkpoints: version 7" -- \
    "$FL" backfill "$CDB" bdd100k has_person --udf has_person
expect backfill-nulls 0 "0" -- sh -c "'$FL' query '$CDB' bdd100k --select has_person --format csv | grep -c '^\$' || true"
"$FL" ingest synthetic "$CDB" --n 5 --size 96x64 --quiet >/dev/null
expect backfill-new-rows 0 "backfilled 'has_person' with udf has_person: 5 computed, 30 skipped, 0 failed, 1 checkpoints: version 9" -- \
    "$FL" backfill "$CDB" bdd100k has_person --udf has_person
expect backfill-dhash 0 "backfilled 'dhash' with udf dhash: 35 computed, 0 skipped, 0 failed, 1 checkpoints: version 12" -- \
    "$FL" backfill "$CDB" bdd100k dhash --udf dhash --quiet
expect backfill-schema 0 "dhash fixed_size_list<uint8, 8>" -- sh -c "'$FL' schema '$CDB' bdd100k | grep -o 'dhash fixed_size_list<[^>]*>'"
expect backfill-no-udf 2 "framelake backfill: --udf NAME is required (see framelake udf list)" -- "$FL" backfill "$CDB" bdd100k x
expect backfill-unknown 1 "framelake: error: backfill: unknown udf 'nope' (see framelake udf list)" -- "$FL" backfill "$CDB" bdd100k x --udf nope
expect backfill-wrong-udf 1 "framelake: error: backfill: column 'has_person' is computed by udf has_person, not has_rider" -- \
    "$FL" backfill "$CDB" bdd100k has_person --udf has_rider
expect backfill-on-error 2 "framelake: --on-error must be fail or null, not 'skip'" -- "$FL" backfill "$CDB" bdd100k x --udf dhash --on-error skip
