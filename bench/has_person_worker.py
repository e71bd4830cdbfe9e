"""has_person_worker.py — an external-process UDF worker for the backfill benchmark (bench/backfill.sh,
section "external worker overhead"): the built-in has_person rule in Python, over framelake's worker
protocol (python/framelake/udf.py), so that the difference to the built-in C UDF is the cost of running a
UDF in another process.

    framelake add-column DB q hp_ext --udf "exec:/usr/bin/python3 bench/has_person_worker.py" --param mode=rule
    framelake backfill DB q hp_ext --concurrency 1

--param mode=rule (default) computes 'pedestrian' or 'other person' in the list (NULL list: NULL);
mode=const answers False for every row without looking at it, which leaves the per-batch cost of the
protocol itself (framing, decoding the batch's list column in Python, encoding the answer).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from framelake import udf  # noqa: E402

PERSON = ("pedestrian", "other person")


class HasPerson(udf.UDF):
    name = "has_person_py"
    version = 1
    inputs = "ann_categories list<string>"
    output_type = "bool"
    description = "ann_categories holds 'pedestrian' or 'other person' (Python worker; benchmark)"

    def setup(self, params):
        self.mode = params.get("mode", "rule")
        if self.mode not in ("rule", "const"):
            raise ValueError("mode must be rule or const")

    def __call__(self, batch):
        cats = batch["ann_categories"]
        if self.mode == "const":
            return [False] * len(cats)
        return [None if c is None else any(x in PERSON for x in c) for c in cats]


if __name__ == "__main__":
    sys.exit(udf.run(HasPerson()))
