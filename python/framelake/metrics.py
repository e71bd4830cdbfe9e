"""Detection metrics: average precision at an IoU threshold per class and its mean, and precision/recall at
a score threshold (what framelake.eval reports). Written here (pycocotools is not in Debian); tests check it
against hand-computed cases.

Matching, per image and class: detections in descending score order each take the unmatched ground-truth box
of that class with the highest IoU, if that IoU >= the threshold (true positive); otherwise they are false
positives. AP is the area under the precision/recall curve with precision made monotone (all-point
interpolation, as PASCAL VOC 2010+): sum over recall steps of (r_i - r_{i-1}) * max precision at recall >= r_i.
A class without ground truth boxes has no AP (left out of the mean).
"""

import numpy as np


def iou_matrix(a, b):
    """IoU of every box of a [n, 4] against every box of b [m, 4] (x1 y1 x2 y2)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(pred_boxes, pred_scores, gt_boxes, iou_threshold):
    """True-positive flags of the detections (in descending score order) and their scores, for one image and class."""
    order = np.argsort(-np.asarray(pred_scores, dtype=np.float64), kind="stable")
    ious = iou_matrix(np.asarray(pred_boxes).reshape(-1, 4)[order], gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    tp = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):
        if not len(gt_boxes):
            break
        candidates = np.where(taken, -1.0, ious[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_threshold:
            taken[j] = True
            tp[i] = True
    return tp, np.asarray(pred_scores, dtype=np.float64)[order]


def average_precision(tp, scores, n_gt):
    """All-point interpolated AP of detections (tp flags, scores) against n_gt ground-truth boxes."""
    if n_gt == 0:
        return None
    if not len(tp):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.asarray(tp)[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1)
    r = np.concatenate([[0.0], recall])
    p = np.concatenate([[0.0], precision])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def evaluate(predictions, ground_truth, num_classes, iou_threshold=0.5, score_threshold=0.3):
    """predictions and ground_truth: lists (one entry per image) of dicts with "boxes" [n, 4], "labels" [n]
    (1..num_classes) and, for predictions, "scores" [n]. Returns {"ap": {class: AP or None}, "map": mean of the
    defined APs (None if none), "precision", "recall" (over all classes, detections with score >= score_threshold),
    "tp", "fp", "n_gt"}."""
    per_class_tp = {c: [] for c in range(1, num_classes + 1)}
    per_class_scores = {c: [] for c in range(1, num_classes + 1)}
    n_gt = {c: 0 for c in range(1, num_classes + 1)}
    tp_at, fp_at, gt_total = 0, 0, 0
    for pred, gt in zip(predictions, ground_truth):
        pb = np.asarray(pred["boxes"], dtype=np.float64).reshape(-1, 4)
        pl = np.asarray(pred["labels"]).reshape(-1)
        ps = np.asarray(pred["scores"], dtype=np.float64).reshape(-1)
        gb = np.asarray(gt["boxes"], dtype=np.float64).reshape(-1, 4)
        gl = np.asarray(gt["labels"]).reshape(-1)
        for c in range(1, num_classes + 1):
            g = gb[gl == c]
            n_gt[c] += len(g)
            sel = pl == c
            tp, scores = _match(pb[sel], ps[sel], g, iou_threshold)
            per_class_tp[c].append(tp)
            per_class_scores[c].append(scores)
            # Precision and recall at the score threshold: the same matching among confident detections.
            keep = ps[sel] >= score_threshold
            tp_c, _ = _match(pb[sel][keep], ps[sel][keep], g, iou_threshold)
            tp_at += int(tp_c.sum())
            fp_at += int((~tp_c).sum())
            gt_total += len(g)
    ap = {}
    for c in range(1, num_classes + 1):
        tp = np.concatenate(per_class_tp[c]) if per_class_tp[c] else np.zeros(0, bool)
        scores = np.concatenate(per_class_scores[c]) if per_class_scores[c] else np.zeros(0)
        ap[c] = average_precision(tp, scores, n_gt[c])
    defined = [v for v in ap.values() if v is not None]
    return {"ap": ap, "map": float(np.mean(defined)) if defined else None,
            "precision": tp_at / (tp_at + fp_at) if tp_at + fp_at else None, "recall": tp_at / gt_total if gt_total else None,
            "tp": tp_at, "fp": fp_at, "n_gt": gt_total}
