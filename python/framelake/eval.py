"""Evaluate detectors on a framelake view: mAP@0.5 per class and mean, precision and recall at score >= 0.3.

    python3 -m framelake.eval --db DB --view W [--version N] (--checkpoint C | --baseline-weights PATH | both)
        [--categories ...] [--size WxH] [--sample N] [--out eval.json]

A checkpoint of framelake.train_detector brings its model name and categories. Baseline weights are a
torchvision state dict: with 91 classes they are read as COCO's labels (person counts as pedestrian, and so
on; classes COCO lacks get no detections), otherwise as our categories. Both given: printed side by side.
Metrics: framelake.metrics (written here, tested against hand-computed cases).
"""

import argparse
import json
import os

import numpy as np
import torch

from . import metrics
from .torch import CATEGORIES, DetectionDataset
from .train_detector import MODELS, build_model, data_record, parse_size

# COCO label ids (torchvision's 91-class numbering) of our categories; rider has no COCO class.
COCO = {"pedestrian": 1, "bicycle": 2, "car": 3, "motorcycle": 4, "bus": 6, "train": 7, "truck": 8, "traffic light": 10,
        "traffic sign": 13}


def load_detector(checkpoint=None, weights=None, model_name=MODELS[0], categories=CATEGORIES):
    """(model, label_map): label_map turns the model's labels into our 1-based category labels (None: drop)."""
    if checkpoint:
        state = torch.load(checkpoint, map_location="cpu")
        record = state.get("record", {})
        cats = record.get("categories", list(categories))
        model = build_model(record.get("model", model_name), len(cats))
        model.load_state_dict(state["model"])
        return model, {i + 1: list(categories).index(c) + 1 for i, c in enumerate(cats) if c in categories}
    state = torch.load(weights, map_location="cpu")
    state = state.get("model", state)
    classes = state["roi_heads.box_predictor.cls_score.weight"].shape[0]
    model = getattr(__import__("torchvision").models.detection, model_name)(weights=None, weights_backbone=None, num_classes=classes)
    model.load_state_dict(state)
    if classes == 91:
        return model, {COCO[c]: i + 1 for i, c in enumerate(categories) if c in COCO}
    return model, {i + 1: i + 1 for i in range(len(categories))}


@torch.no_grad()
def predict(model, label_map, dataset, batch_size=4):
    model.eval()
    preds, gts = [], []
    for start in range(0, len(dataset), batch_size):
        items = dataset.__getitems__(list(range(start, min(start + batch_size, len(dataset)))))
        outs = model([img for img, _ in items])
        for (img, target), out in zip(items, outs):
            labels = out["labels"].numpy()
            keep = np.array([int(lab) in label_map for lab in labels], dtype=bool)
            preds.append({"boxes": out["boxes"].numpy()[keep], "scores": out["scores"].numpy()[keep],
                          "labels": np.array([label_map[int(lab)] for lab in labels[keep]], dtype=np.int64)})
            gts.append({"boxes": target["boxes"].numpy(), "labels": target["labels"].numpy()})
    return preds, gts


def report(name, result, categories):
    return {"name": name, "map": result["map"], "precision": result["precision"], "recall": result["recall"],
            "ap": {categories[c - 1]: v for c, v in result["ap"].items()}}


def fmt(v):
    return "   -  " if v is None else f"{v:6.3f}"


def add_detector_args(ap):
    """The options eval and visualize share: the data and the detectors."""
    ap.add_argument("--db", required=True)
    ap.add_argument("--view", required=True)
    ap.add_argument("--version", type=int)
    ap.add_argument("--checkpoint")
    ap.add_argument("--baseline-weights")
    ap.add_argument("--model", default=MODELS[0], choices=MODELS, help="the baseline's architecture")
    ap.add_argument("--categories", default=",".join(CATEGORIES))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m framelake.eval", description=__doc__.split("\n\n")[0])
    add_detector_args(ap)
    ap.add_argument("--size")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--score", type=float, default=0.3)
    ap.add_argument("--sample", type=int, default=0, help="evaluate N frames spread evenly over the view (0: all)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if not args.checkpoint and not args.baseline_weights:
        raise SystemExit("give --checkpoint, --baseline-weights or both")
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    data = data_record(args.db, args.view, version=args.version)
    dataset = DetectionDataset(args.db, args.view, version=data["view_version"], categories=categories, size=parse_size(args.size))
    if 0 < args.sample < len(dataset):
        dataset.row_ids = dataset.row_ids[np.arange(args.sample) * len(dataset) // args.sample]
    results = []
    for name, kw in (("baseline", {"weights": args.baseline_weights, "model_name": args.model}), ("fine-tuned", {"checkpoint": args.checkpoint})):
        if not (kw.get("weights") or kw.get("checkpoint")):
            continue
        model, label_map = load_detector(categories=categories, **kw)
        preds, gts = predict(model, label_map, dataset, args.batch_size)
        results.append(report(name, metrics.evaluate(preds, gts, len(categories), score_threshold=args.score), categories))
    out = {"data": data, "frames": len(dataset), "score_threshold": args.score, "iou_threshold": 0.5, "results": results}
    of = f"{len(dataset)} of {data['rows']}" if len(dataset) < data["rows"] else f"{data['rows']}"
    print(f"{args.view}@v{data['view_version']} ({of} frames; source {data['source']}@v{data['source_version']})")
    print(f"{'class':16s}" + "".join(f"{r['name']:>12s}" for r in results))
    for c in categories:
        print(f"{c:16s}" + "".join(f"{fmt(r['ap'][c]):>12s}" for r in results))
    for key in ("map", "precision", "recall"):
        label = {"map": "mAP@0.5", "precision": f"precision@{args.score}", "recall": f"recall@{args.score}"}[key]
        print(f"{label:16s}" + "".join(f"{fmt(r[key]):>12s}" for r in results))
    path = args.out or (os.path.join(os.path.dirname(args.checkpoint), "eval.json") if args.checkpoint else "eval.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
