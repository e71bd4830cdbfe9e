"""Draw what people need to look at: ground truth and predictions on val frames, or duplicate pairs.

    python3 -m framelake.visualize --db DB --view W [--version N] (--checkpoint C [--baseline-weights W] | --duplicates)
        --out DIR [--limit 16] [--score 0.5] [--categories ...]

Frames: ground truth green, baseline red, fine-tuned blue, each box with its label (and score), one PNG per
frame named by row id. --duplicates: every flagged frame (is_duplicate) beside the frame it duplicates
(duplicate_of), with their Hamming distance over dhash in a banner.
"""

import argparse
import io
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import db as fldb
from .eval import add_detector_args, load_detector
from .torch import DetectionDataset
from .train_detector import data_record

GREEN, RED, BLUE = (40, 220, 60), (230, 40, 40), (40, 110, 255)


def draw_boxes(draw, boxes, labels, categories, color, scores=None, width=2):
    for k, box in enumerate(boxes):
        x1, y1, x2, y2 = [float(v) for v in box]
        draw.rectangle([x1, y1, x2, y2], outline=color, width=width)
        name = categories[int(labels[k]) - 1] if 0 < int(labels[k]) <= len(categories) else str(int(labels[k]))
        text = name if scores is None else f"{name} {float(scores[k]):.2f}"
        draw.text((x1 + 2, max(y1 - 11, 0)), text, fill=color)


def frames(args, categories):
    data = data_record(args.db, args.view, version=args.version)
    ds = DetectionDataset(args.db, args.view, version=data["view_version"], categories=categories)
    detectors = []
    if args.baseline_weights:
        detectors.append(("baseline", RED) + load_detector(weights=args.baseline_weights, model_name=args.model, categories=categories))
    if args.checkpoint:
        detectors.append(("fine-tuned", BLUE) + load_detector(checkpoint=args.checkpoint, categories=categories))
    written = []
    n = min(args.limit, len(ds))
    with torch.no_grad():
        for i in range(n):
            image, target = ds[i]
            pil = Image.fromarray((image.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(pil)
            draw_boxes(draw, target["boxes"].numpy(), target["labels"].numpy(), categories, GREEN)
            for name, color, model, label_map in detectors:
                model.eval()
                out = model([image])[0]
                keep = (out["scores"] >= args.score).numpy() & np.array([int(v) in label_map for v in out["labels"]], dtype=bool)
                labels = [label_map[int(v)] for v in out["labels"].numpy()[keep]]
                draw_boxes(draw, out["boxes"].numpy()[keep], labels, categories, color, out["scores"].numpy()[keep])
            draw.text((4, 4), "ground truth" + "".join(f" / {name}" for name, *_ in detectors), fill=(255, 255, 255))
            path = os.path.join(args.out, f"{args.view}-row{int(target['image_id'])}.png")
            pil.save(path)
            written.append(path)
    return written


def hamming(a, b):
    return int(np.unpackbits(np.bitwise_xor(np.asarray(a, np.uint8), np.asarray(b, np.uint8))).sum())


def duplicates(args):
    table = fldb.connect(args.db).open_table(args.view, version=args.version)
    flagged = table.query(where="is_duplicate AND duplicate_of IS NOT NULL", columns=["duplicate_of", "dhash", "image_bytes"],
                          with_row_ids=True, limit=args.limit)
    written = []
    for i, row in enumerate(flagged.get("_rowid", [])):
        kept = int(flagged["duplicate_of"][i])
        other = table.take([kept], columns=["dhash", "image_bytes"])
        a = Image.open(io.BytesIO(other["image_bytes"][0])).convert("RGB")
        b = Image.open(io.BytesIO(flagged["image_bytes"][i])).convert("RGB")
        d = hamming(other["dhash"][0], flagged["dhash"][i])
        h = max(a.height, b.height)
        canvas = Image.new("RGB", (a.width + b.width + 8, h + 28), (20, 20, 20))
        canvas.paste(a, (0, 28))
        canvas.paste(b, (a.width + 8, 28))
        ImageDraw.Draw(canvas).text((6, 8), f"row {kept} (kept)  |  row {int(row)} (duplicate)  |  Hamming distance {d} bits over dhash",
                                    fill=(255, 255, 0))
        path = os.path.join(args.out, f"duplicate-row{int(row)}-of-row{kept}.png")
        canvas.save(path)
        written.append(path)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m framelake.visualize", description=__doc__.split("\n\n")[0])
    add_detector_args(ap)
    ap.add_argument("--duplicates", action="store_true")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    written = duplicates(args) if args.duplicates else frames(args, categories)
    print(f"wrote {len(written)} images to {args.out}")
    return written


if __name__ == "__main__":
    main()
