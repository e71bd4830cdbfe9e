"""framelake.metrics against hand-computed cases: IoU, greedy matching by score, all-point interpolated AP,
precision/recall at a score threshold, classes without ground truth left out of the mean."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
from framelake import metrics  # noqa: E402


def test_iou():
    m = metrics.iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]])
    # identical; half overlap: 50 / 150; disjoint; contained: 25 / 100
    assert m[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0, 0.25])


def test_perfect_and_empty():
    gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [1, 2]}]
    pred = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [1, 2], "scores": [0.9, 0.8]}]
    r = metrics.evaluate(pred, gt, num_classes=3)
    assert r["ap"] == {1: 1.0, 2: 1.0, 3: None}
    assert r["map"] == 1.0 and r["precision"] == 1.0 and r["recall"] == 1.0
    none = metrics.evaluate([{"boxes": [], "labels": [], "scores": []}], gt, num_classes=2)
    assert none["ap"] == {1: 0.0, 2: 0.0} and none["map"] == 0.0 and none["precision"] is None and none["recall"] == 0.0


def test_hand_computed_ap():
    # One class, 3 ground-truth boxes over two images; 5 detections by descending score:
    #   0.9 TP (img A, gt a1), 0.8 FP (img A, duplicate of a1), 0.7 TP (img B, gt b1), 0.6 FP (nothing), 0.5 TP (img A, gt a2)
    # precision 1, 1/2, 2/3, 2/4, 3/5 at recall 1/3, 1/3, 2/3, 2/3, 1
    # monotone precision at recall 1/3: max(1, .5, .667, .5, .6) = 1; at 2/3: max(.667, .5, .6) = .667; at 1: .6
    # AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 0.6 = 0.75555...
    gt = [{"boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "labels": [1, 1]}, {"boxes": [[0, 0, 20, 20]], "labels": [1]}]
    pred = [{"boxes": [[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 61]], "labels": [1, 1, 1], "scores": [0.9, 0.8, 0.5]},
            {"boxes": [[0, 0, 20, 19], [100, 100, 110, 110]], "labels": [1, 1], "scores": [0.7, 0.6]}]
    r = metrics.evaluate(pred, gt, num_classes=1, score_threshold=0.65)
    assert r["ap"][1] == pytest.approx(1 / 3 + (1 / 3) * (2 / 3) + (1 / 3) * 0.6)
    # at score >= 0.65: 0.9 TP, 0.8 FP, 0.7 TP -> precision 2/3, recall 2/3
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert (r["tp"], r["fp"], r["n_gt"]) == (2, 1, 3)


def test_iou_threshold_and_labels():
    gt = [{"boxes": [[0, 0, 10, 10]], "labels": [2]}]
    # right place, wrong class; and right class at IoU 0.4 (below 0.5)
    pred = [{"boxes": [[0, 0, 10, 10], [0, 0, 10, 4]], "labels": [1, 2], "scores": [0.9, 0.8]}]
    r = metrics.evaluate(pred, gt, num_classes=2)
    assert r["ap"] == {1: None, 2: 0.0}
    assert metrics.evaluate(pred, gt, num_classes=2, iou_threshold=0.4)["ap"][2] == 1.0
