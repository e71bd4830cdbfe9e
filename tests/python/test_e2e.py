"""End to end: scripts/demo.sh (what `make demo` runs) on 100 + 100 frames with a few training steps, then
the facts it must leave behind:

- every view holds exactly the rows a direct SQL query on the source gives at the source version the view
  names (row ids and count);
- the second `backfill --all` computes exactly the new rows for every UDF column (and the HOG worker exactly
  the new frames of its sample);
- `view refresh --all` reports the right deltas (+ the new matching rows, nothing removed or updated) and the
  views' counts move by them;
- the two checkpoints record different view and source versions, tagged run1 and run2;
- reopening each recorded view version reproduces its training set (the rows fingerprint in metrics.json),
  also after the demo's tour compacted, restored and cleaned up the footage table.

Run: PYTHONPATH=python OMP_NUM_THREADS=2 /usr/bin/python3 -m pytest -q tests/python/test_e2e.py
"""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
FRAMELAKE = os.environ.get("FRAMELAKE", os.path.join(ROOT, "build", "framelake"))

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("cv2")  # the demo's HOG worker

import framelake  # noqa: E402
from framelake import train_detector  # noqa: E402

N, N2 = 100, 100
UDFS = ("has_person", "has_rider", "scene_description", "person_bbox_area_pct", "white_balance", "brightness", "dhash", "is_duplicate",
        "duplicate_of")
VIEWS = [f"bdd100k_{m}_{s}" for m in ("rider", "nighttime_person", "distant_person") for s in ("train", "val")]
TRAIN = "bdd100k_distant_person_train"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}  # the demo's own defaults, but for these
    env.update(FRAMELAKE=FRAMELAKE, DEMO_DB=str(base / "db"), DEMO_OUT=str(base / "out"), DEMO_FRAMES=str(N),
               DEMO_NEW_FRAMES=str(N2), DEMO_STEPS="3", DEMO_SIZE="320x180", OMP_NUM_THREADS="2")
    done = subprocess.run(["sh", os.path.join(ROOT, "scripts", "demo.sh")], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    stages = {m.group(1): m.start() for m in re.finditer(r"\n(?:\x1b\[1m)?== (\d+)\. ", out)}
    return {"db": str(base / "db"), "out": str(base / "out"), "stdout": out,
            "stage7": out[stages["7"]:stages["8"]], "metrics": [json.load(open(base / "out" / r / "metrics.json")) for r in ("run1", "run2")]}


def test_views_equal_sql_on_the_source(demo):
    db = framelake.connect(demo["db"])
    assert sorted(v for v in db.table_names() if v.startswith("bdd100k_")) == sorted(VIEWS)
    for name in VIEWS:
        view = db.open_table(name)
        meta = view.metadata
        source_version = int(meta["view.source_version"])
        source = db.open_table("bdd100k", version=source_version)
        want = source.query(where=meta["view.where"], columns=["image_id"], with_row_ids=True)
        got = view.query(columns=["image_id"], with_row_ids=True)
        assert sorted(got["_rowid"].tolist()) == sorted(want["_rowid"].tolist()), name
        assert len(view) == len(want["_rowid"]) == db.sql(f"SELECT count(*) AS n FROM bdd100k@{source_version} WHERE {meta['view.where']}")["n"][0]
        assert len(view) > 0, name


def test_second_backfill_computes_exactly_the_new_rows(demo):
    lines = dict(re.findall(r"backfilled '(\w+)' with udf .*?: (\d+ computed, \d+ skipped, \d+ failed)", demo["stage7"]))
    for udf in UDFS:
        assert lines[udf] == f"{N2} computed, {N} skipped, 0 failed", udf
    # The HOG worker: only the new frames of its sample (split = 'test').
    db = framelake.connect(demo["db"])
    run2_source = db.open_table("bdd100k", version=demo["metrics"][1]["train"]["source_version"])
    new_test = run2_source.count(f"split = 'test' AND image_id > '{_last_image_id(db, demo)}'")
    assert lines["hog_person_pct"].startswith(f"{new_test} computed, ") and new_test > 0


def _last_image_id(db, demo):
    first = db.open_table("bdd100k", version=demo["metrics"][0]["train"]["source_version"])
    return max(first.query(columns=["image_id"])["image_id"])


def test_refresh_deltas(demo):
    db = framelake.connect(demo["db"])
    pattern = r"(\w+): \+(\d+) −(\d+) rows \((\d+) updated\), (\d+) → (\d+), version (\d+) \(source v(\d+), was v(\d+)\)"
    seen = {}
    for name, added, removed, updated, old, new, version, source, was in re.findall(pattern, demo["stage7"]):
        added, removed, updated, old, new = int(added), int(removed), int(updated), int(old), int(new)
        where = db.open_table(name, version=int(version)).metadata["view.where"]
        before = db.sql(f"SELECT count(*) AS n FROM bdd100k@{was} WHERE {where}")["n"][0]
        after = db.sql(f"SELECT count(*) AS n FROM bdd100k@{source} WHERE {where}")["n"][0]
        assert (removed, updated) == (0, 0), name
        assert added == after - before and old == before and new == after, name
        assert len(db.open_table(name, version=int(version))) == new
        seen[name] = added
    assert sorted(seen) == sorted(VIEWS) and sum(seen.values()) > 0


def test_checkpoints_name_different_versions_and_reproduce(demo):
    run1, run2 = (m["train"] for m in demo["metrics"])
    assert run1["view"] == run2["view"] == TRAIN and run1["source"] == run2["source"] == "bdd100k"
    assert run2["view_version"] > run1["view_version"] and run2["source_version"] > run1["source_version"]
    assert run2["rows"] > run1["rows"] and run1["rows_sha256"] != run2["rows_sha256"]
    assert demo["metrics"][0]["steps"] == demo["metrics"][1]["steps"] == 3
    assert demo["metrics"][1]["weights"].endswith("run1/last.pt")
    db = framelake.connect(demo["db"])
    for tag, run in (("run1", run1), ("run2", run2)):
        pinned = db.open_table(TRAIN, version=run["view_version"])
        assert len(pinned) == run["rows"] and train_detector.rows_fingerprint(pinned) == run["rows_sha256"], tag
        # The tags the demo set name the same versions, and the footage version survived the tour's cleanup.
        assert db.open_table(TRAIN, tag=tag).version == run["view_version"]
        assert db.open_table("bdd100k", tag=tag).version == run["source_version"]
        where = pinned.metadata["view.where"]
        assert db.open_table("bdd100k", version=run["source_version"]).count(where) == run["rows"]


def test_outputs(demo):
    out = demo["out"]
    for run in ("run1", "run2"):
        result = json.load(open(os.path.join(out, run, "eval.json")))
        assert result["data"]["view"] == "bdd100k_distant_person_val"
    assert len([f for f in os.listdir(os.path.join(out, "viz")) if f.endswith(".png")]) > 0
    assert "Stage times:" in demo["stdout"] and "total" in demo["stdout"].split("Stage times:")[1]
