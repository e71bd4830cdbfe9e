"""Training from the table: a smoke fine-tune of the mobilenet Faster R-CNN from generated COCO-shaped weights
(the real loading path: 91 classes in, predictor replaced), a loss that is finite and falls on a fixed small
set, metrics.json naming the data versions and the framelake commit, --resume, reopening the recorded
version after the view moved on, eval with a baseline beside the fine-tuned model, and the visualizations.

Run: PYTHONPATH=python OMP_NUM_THREADS=2 /usr/bin/python3 -m pytest -q tests/python
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
FRAMELAKE = os.environ.get("FRAMELAKE", os.path.join(ROOT, "build", "framelake"))

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
torch.set_num_threads(2)

import framelake  # noqa: E402
from framelake import eval as fleval  # noqa: E402
from framelake import train_detector, visualize  # noqa: E402
from framelake.torch import DetectionDataset  # noqa: E402


def cli(*args):
    return subprocess.run([FRAMELAKE, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("training")
    db = str(base / "db")
    cli("ingest", "synthetic", db, "--n", "24", "--seed", "6", "--size", "320x192", "--quiet")
    for col in ("dhash", "is_duplicate", "duplicate_of"):
        cli("backfill", db, "bdd100k", col, "--udf", col, "--quiet")
    select = "image_id, image_bytes, ann_categories, ann_bboxes"
    cli("view", "create", db, "train_v", "--from", "bdd100k", "--where", "split = 'train'", "--select", select)
    cli("view", "create", db, "val_v", "--from", "bdd100k", "--select", select)
    cli("permutation", "create", db, "two", "--from", "train_v", "--split", "sequential:2:small")
    # Generated weights in COCO's shape (91 classes): the path real pretrained weights take.
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=91)
    weights = str(base / "coco-shaped.pt")
    torch.save(model.state_dict(), weights)
    return {"db": db, "weights": weights, "base": base}


def test_loss_falls_on_a_fixed_set(setup):
    out = str(setup["base"] / "overfit")
    record = train_detector.main(["--db", setup["db"], "--train-view", "train_v", "--permutation", "two", "--split", "small", "--weights",
                                  setup["weights"], "--categories", "car,pedestrian", "--epochs", "12", "--batch-size", "2", "--lr", "0.005",
                                  "--lr-step", "100", "--out", out, "--threads", "1"])
    losses = record["losses"]
    assert record["train"]["permutation"] == "two" and "--split" in record["train"]["permutation_spec"]
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_checkpoint_records_the_data_and_resumes(setup):
    db = setup["db"]
    out = str(setup["base"] / "run")
    args = ["--db", db, "--train-view", "train_v", "--val-view", "val_v", "--weights", setup["weights"], "--categories", "car,pedestrian",
            "--batch-size", "2", "--max-steps", "3", "--out", out, "--seed", "4"]
    record = train_detector.main(args)
    with open(os.path.join(out, "metrics.json")) as f:
        saved = json.load(f)
    assert saved["train"]["db"] == os.path.abspath(db)
    assert saved["train"]["view"] == "train_v" and saved["train"]["view_version"] == 2
    assert saved["train"]["source"] == "bdd100k" and saved["train"]["source_version"] == record["train"]["source_version"] > 0
    assert saved["val"]["view"] == "val_v" and saved["seed"] == 4 and saved["steps"] == 3
    commit = saved["framelake_commit"]
    assert commit == "unknown" or (len(commit) == 40 and int(commit, 16) >= 0)
    rows = saved["train"]["rows"]
    trained_on = framelake.connect(db).open_table("train_v", version=2).row_ids()
    # New footage arrives and the view is refreshed: the recorded version still reads the same rows.
    cli("ingest", "synthetic", db, "--n", "10", "--seed", "6", "--size", "320x192", "--quiet")
    cli("view", "refresh", db, "--all")
    latest = framelake.connect(db).open_table("train_v")
    assert latest.version > 2 and len(latest) > rows
    pinned = DetectionDataset(db, "train_v", version=saved["train"]["view_version"], categories=["car", "pedestrian"])
    assert len(pinned) == rows and sorted(pinned.row_ids.tolist()) == sorted(trained_on.tolist())
    # The recorded fingerprint: the same at the recorded version, different at the latest.
    fp = train_detector.rows_fingerprint
    assert len(saved["train"]["rows_sha256"]) == 64
    assert fp(framelake.connect(db).open_table("train_v", version=2)) == saved["train"]["rows_sha256"] != fp(latest)
    # --resume continues from last.pt on the recorded data versions, into epoch 1.
    resumed = train_detector.main(args[:-4] + ["--out", out, "--resume", "--epochs", "2", "--max-steps", "5"])
    assert resumed["steps"] == 5 and resumed["train"]["view_version"] == 2
    assert os.path.exists(os.path.join(out, "checkpoint_epoch1.pt"))


def test_eval_and_visualize(setup):
    db = setup["db"]
    out = str(setup["base"] / "run")
    ckpt = os.path.join(out, "last.pt")
    if not os.path.exists(ckpt):
        train_detector.main(["--db", db, "--train-view", "train_v", "--categories", "car,pedestrian", "--max-steps", "2", "--out", out])
    result = fleval.main(["--db", db, "--view", "val_v", "--version", "2", "--checkpoint", ckpt, "--baseline-weights", setup["weights"],
                          "--categories", "car,pedestrian", "--out", os.path.join(out, "eval.json")])
    names = [r["name"] for r in result["results"]]
    assert names == ["baseline", "fine-tuned"]
    for r in result["results"]:
        assert r["map"] is not None and 0.0 <= r["map"] <= 1.0
        assert set(r["ap"]) == {"car", "pedestrian"}
    assert result["data"]["view_version"] == 2 and result["frames"] == result["data"]["rows"] == 24
    # --sample: N frames spread evenly over the view.
    sampled = fleval.main(["--db", db, "--view", "val_v", "--version", "2", "--checkpoint", ckpt, "--categories", "car,pedestrian", "--sample",
                           "5", "--out", os.path.join(out, "eval5.json")])
    assert sampled["frames"] == 5 and sampled["data"]["rows"] == 24
    pictures = visualize.main(["--db", db, "--view", "val_v", "--version", "2", "--checkpoint", ckpt, "--baseline-weights",
                               setup["weights"], "--categories", "car,pedestrian", "--limit", "3", "--out", os.path.join(out, "viz")])
    assert len(pictures) == 3 and all(os.path.getsize(p) > 1000 for p in pictures)
    pairs = visualize.main(["--db", db, "--view", "bdd100k", "--duplicates", "--limit", "2", "--out", os.path.join(out, "dups")])
    flagged = framelake.connect(db).open_table("bdd100k").count("is_duplicate AND duplicate_of IS NOT NULL")
    assert len(pairs) == min(2, flagged)
