"""Fine-tune a torchvision Faster R-CNN on a framelake view; every checkpoint names the exact data.

    python3 -m framelake.train_detector --db DB --train-view V --val-view W [--model fasterrcnn_mobilenet_v3_large_320_fpn]
        [--weights PATH] [--permutation P --split train] [--epochs 1 --batch-size 2 --lr 0.01 --workers 0 --max-steps N]
        [--categories pedestrian,rider] [--size 640x360] --out DIR [--resume]

With --weights the model is built for COCO's 91 classes, the weights loaded, and the box predictor replaced
for our categories (a checkpoint of this script with the same categories loads as is); without, it trains
from scratch (no download ever). SGD (momentum 0.9, weight decay 1e-4) with StepLR and gradient clipping;
AMP when CUDA is available. Data comes from the C loader's threads (FastLoader), or with --workers > 0 from a
DetectionDataset in DataLoader worker processes. Each epoch writes DIR/checkpoint_epochN.pt and DIR/last.pt;
DIR/metrics.json records the database, the views and their versions, the view's source table version, the
permutation and seed, the git commit of framelake, and the losses. --resume continues from DIR/last.pt on the
data versions it recorded.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import time

import numpy as np
import torch
import torchvision
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

from . import db as fldb
from .torch import CATEGORIES, DetectionDataset, FastLoader

MODELS = ("fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_resnet50_fpn")


def framelake_commit():
    """The git commit of the framelake tree this package belongs to (or of a COMMIT file), else "unknown"."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    commit = os.path.join(root, "COMMIT")
    return open(commit).read().strip() if os.path.exists(commit) else "unknown"


def build_model(name, num_classes, weights=None):
    """The detector for num_classes + 1 labels (0: background), from scratch or from `weights`."""
    if name not in MODELS:
        raise SystemExit(f"--model must be one of {', '.join(MODELS)}")
    make = getattr(torchvision.models.detection, name)
    if not weights:
        return make(weights=None, weights_backbone=None, num_classes=num_classes + 1)
    state = torch.load(weights, map_location="cpu")
    state = state.get("model", state) if isinstance(state, dict) else state
    predictor = state.get("roi_heads.box_predictor.cls_score.weight")
    if predictor is not None and predictor.shape[0] == num_classes + 1:
        model = make(weights=None, weights_backbone=None, num_classes=num_classes + 1)
        model.load_state_dict(state)
        return model
    classes = predictor.shape[0] if predictor is not None else 91
    model = make(weights=None, weights_backbone=None, num_classes=classes)
    model.load_state_dict(state)
    in_features = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes + 1)
    return model


def data_record(db, view, version=None, permutation=None, permutation_version=None, split=None):
    """What a run reads: the view (at a version), its source and the source version it reflects."""
    database = fldb.connect(db)
    perm = None
    if permutation:
        perm = database.permutation(permutation, version=permutation_version)
        version = version or perm.source_version
    table = database.open_table(view, version=version)
    meta = table.metadata
    record = {"db": os.path.abspath(db), "view": view, "view_version": table.version, "source": meta.get("view.source"),
              "source_version": int(meta["view.source_version"]) if "view.source_version" in meta else None, "rows": len(table)}
    rows = None
    if perm is not None:
        ptable = database.open_table(permutation, version=permutation_version)
        rows = perm.split(split)
        record.update(permutation=permutation, permutation_version=ptable.version, permutation_spec=perm.spec, split=split, rows=len(rows))
    record["rows_sha256"] = rows_fingerprint(table, rows)
    table.close()
    return record


def rows_fingerprint(table, row_ids=None):
    """SHA-256 over "row_id image_id" lines, in row id order, of the rows a run reads (all of the table's, or
    the given ids): reopening the recorded version must give the same value."""
    got = table.query(columns=["image_id"], with_row_ids=True)
    ids, names = np.asarray(got["_rowid"], dtype=np.uint64), got["image_id"]
    keep = np.isin(ids, np.asarray(row_ids, dtype=np.uint64)) if row_ids is not None else np.ones(len(ids), dtype=bool)
    order = np.argsort(ids[keep], kind="stable")
    h = hashlib.sha256()
    for i, name in zip(ids[keep][order], np.asarray(names, dtype=object)[keep][order]):
        h.update(f"{int(i)} {name}\n".encode())
    return h.hexdigest()


def parse_size(text):
    if not text:
        return None
    w, h = text.lower().split("x")
    return int(w), int(h)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m framelake.train_detector", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--train-view", required=True)
    ap.add_argument("--val-view")
    ap.add_argument("--permutation", help="a saved permutation of the train view (framelake permutation create)")
    ap.add_argument("--split", help="the permutation's split to train on")
    ap.add_argument("--model", default=MODELS[0], choices=MODELS)
    ap.add_argument("--weights", help="a state dict or checkpoint to start from")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--lr-step", type=int, default=3, help="epochs between learning-rate drops (x0.1)")
    ap.add_argument("--workers", type=int, default=0, help="0: the C loader's threads; N: a Dataset in N worker processes")
    ap.add_argument("--threads", type=int, default=0, help="C loader decoding threads (0: one per core)")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--size", help="resize every image to WxH before the model (default: as stored)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    last = os.path.join(args.out, "last.pt")
    state = torch.load(last, map_location="cpu") if args.resume and os.path.exists(last) else None
    if args.resume and state is None:
        raise SystemExit(f"--resume: no {last}")
    if state is not None:
        train = state["data"]["train"]
        val = state["data"].get("val")
    else:
        train = data_record(args.db, args.train_view, permutation=args.permutation, split=args.split)
        val = data_record(args.db, args.val_view) if args.val_view else None

    model = build_model(args.model, len(categories), args.weights if state is None else None).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(args.lr_step, 1), gamma=0.1)
    scaler = torch.cuda.amp.GradScaler() if device.type == "cuda" else None
    start_epoch, step, losses = 0, 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step, losses = state["epoch"] + 1, state["step"], state["losses"]

    size = parse_size(args.size)
    record = {"db": train["db"], "train": train, "val": val, "model": args.model, "weights": args.weights, "categories": categories,
              "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr, "framelake_commit": framelake_commit(),
              "framelake_version": fldb.N.lib.fl_version().decode(), "device": device.type}
    print(f"training {args.model} on {train['view']}@v{train['view_version']} (source {train['source']}@v{train['source_version']}, "
          f"{train['rows']} rows) on {device.type}")
    model.train()
    done = False
    for epoch in range(start_epoch, args.epochs):
        if args.workers > 0:
            ds = DetectionDataset(args.db, train["view"], permutation=train.get("permutation"), split=train.get("split"),
                                  version=train["view_version"], categories=categories, size=size)
            gen = torch.Generator().manual_seed(args.seed + epoch)
            batches = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, generator=gen,
                                                  collate_fn=lambda items: ([i for i, _ in items], [t for _, t in items]))
        else:
            batches = FastLoader(args.db, train["view"], permutation=train.get("permutation"), split=train.get("split"),
                                 version=train["view_version"], categories=categories, batch_size=args.batch_size, threads=args.threads,
                                 shuffle=True, seed=args.seed, size=size, start_epoch=epoch)
        t0 = time.time()
        for images, targets in batches:
            if isinstance(images, torch.Tensor):
                images = list(images.unbind(0))
            images = [i.to(device) for i in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            with torch.autocast(device.type, enabled=scaler is not None):
                loss_dict = model(images, targets)
                loss = sum(loss_dict.values())
            if not math.isfinite(float(loss)):
                raise SystemExit(f"step {step}: loss is {float(loss)}: stopping")
            optimizer.zero_grad()
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                optimizer.step()
            losses.append(float(loss))
            step += 1
            if step % 10 == 0 or step == 1:
                print(f"epoch {epoch} step {step}: loss {float(loss):.4f} ({time.time() - t0:.1f} s)", flush=True)
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if hasattr(batches, "close"):
            batches.close()
        scheduler.step()
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                      "step": step, "losses": losses, "data": {"train": train, "val": val}, "record": record}
        path = os.path.join(args.out, f"checkpoint_epoch{epoch}.pt")
        torch.save(checkpoint, path)
        torch.save(checkpoint, last)
        record.update(epochs_done=epoch + 1, steps=step, losses=losses, final_loss=losses[-1] if losses else None, checkpoint=path)
        with open(os.path.join(args.out, "metrics.json"), "w") as f:
            json.dump(record, f, indent=2)
        print(f"epoch {epoch}: {step} steps, last loss {losses[-1] if losses else float('nan'):.4f}; wrote {path}")
        if done:
            break
    return record


if __name__ == "__main__":
    main()
