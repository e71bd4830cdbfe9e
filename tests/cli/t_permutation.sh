# CLI tests of permutations (sourced by tests/cli/run.sh: expect, $FL and $WORK come from there).
PDB=$WORK/perm
"$FL" ingest synthetic "$PDB" --n 200 --seed 3 --size 96x64 --quiet >/dev/null
expect perm-create 0 "created permutation 'p1' of 'bdd100k' version 2: 200 rows (train 160, val 40)" -- \
    "$FL" permutation create "$PDB" p1 --from bdd100k --split random:0.8,0.2:train,val --shuffle-seed 5 --select image_id,image_bytes
expect perm-show 0 "permutation 'p1' of 'bdd100k' version 2: 200 rows (train 160, val 40)
made by: --from bdd100k@2 --split \"random:0.8,0.2:train,val\" --shuffle-seed \"5\" --select \"image_id,image_bytes\"
columns: image_id, image_bytes" -- "$FL" permutation show "$PDB" p1
# The same seed gives the same list; the permutation is a table like any other.
"$FL" permutation create "$PDB" p1b --from bdd100k --split random:0.8,0.2:train,val --shuffle-seed 5 >/dev/null
expect perm-deterministic 0 "$("$FL" query "$PDB" p1 --format csv)" -- "$FL" query "$PDB" p1b --format csv
TRAIN=$("$FL" count "$PDB" bdd100k --where "split = 'train'")
VAL=$("$FL" count "$PDB" bdd100k --where "split = 'val'")
expect perm-calculated 0 "created permutation 'p2' of 'bdd100k' version 2: $((TRAIN + VAL)) rows (train $TRAIN, val $VAL)" -- \
    "$FL" permutation create "$PDB" p2 --from bdd100k --split "calculated:split:train,val"
expect perm-sequential 0 "created permutation 'p3' of 'bdd100k' version 2: 150 rows (split0 100, split1 50)" -- \
    "$FL" permutation create "$PDB" p3 --from bdd100k --split sequential:100,50
expect perm-seq-order 0 "99,0" -- sh -c "\"$FL\" query \"$PDB\" p3 --format csv | sed -n 101p"
expect perm-ratios 1 "framelake: error: permutation: the split ratios add up to 1.2, more than 1" -- \
    "$FL" permutation create "$PDB" p4 --from bdd100k --split random:0.8,0.4
expect perm-hash-counts 2 "framelake permutation: --split hash takes ratios (0.9,0.1), not row counts
usage: $("$FL" help permutation 2>&1 | head -1)" -- "$FL" permutation create "$PDB" p4 --from bdd100k --split hash:image_id:90,10
expect perm-filter 1 "framelake: error: permutation: filter: column \"splt\" not found; did you mean \"split\"? (position 1)" -- \
    "$FL" permutation create "$PDB" p4 --from bdd100k --filter "splt = 'train'"
expect perm-exists 1 "framelake: error: table 'p1' already exists" -- "$FL" permutation create "$PDB" p1 --from bdd100k
expect perm-not-one 1 "framelake: error: table 'bdd100k' is not a permutation" -- "$FL" permutation show "$PDB" bdd100k
