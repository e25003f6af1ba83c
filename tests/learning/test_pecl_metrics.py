"""PECL metrics: DOTA-devkit VOC AP@0.5 on oriented and horizontal boxes.

Cross-checks: hand-worked AP values (11-point and all-point), hand-worked polygon IoUs, and
pycocotools' COCOeval at IoU 0.5 on horizontal boxes (COCO convention: no +1 pixel, with a
fine recall grid so that its interpolated AP equals the all-point area).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.learning.pecl.metrics import evaluate_detections, hbb_iou, poly_iou, voc_ap


def test_voc_ap_hand_values() -> None:
    # 3 objects; detections by score: TP, FP, TP
    rec = np.array([1 / 3, 1 / 3, 2 / 3])
    prec = np.array([1.0, 0.5, 2 / 3])
    assert voc_ap(rec, prec, use_07_metric=False) == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)
    # 11-point: t = 0..0.3 -> 1; t = 0.4..0.6 -> 2/3; t >= 0.7 -> 0
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx((4 + 3 * 2 / 3) / 11)


def test_evaluate_hand_example_with_difficult() -> None:
    gt = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]),
           "labels": np.array([0, 0, 0]), "difficult": np.array([0, 0, 1])}]
    det = [{"boxes": np.array([[0, 0, 10, 10], [60, 60, 70, 70], [20, 20, 30, 31],
                               [40, 40, 50, 50], [0, 0, 10, 10]]),
            "scores": np.array([0.9, 0.8, 0.7, 0.95, 0.6]), "labels": np.zeros(5, int)}]
    r = evaluate_detections(det, gt, 1, use_07_metric=False)
    pc = r["per_class"][0]  # type: ignore[index]
    # order 0.95 (difficult: neither TP nor FP; the devkit keeps its (0, 0) point),
    # 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP (duplicate)
    assert pc.n_gt == 2
    np.testing.assert_allclose(pc.recall, [0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(pc.precision, [0.0, 1.0, 0.5, 2 / 3, 0.5])
    assert r["map"] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)


def test_poly_iou_hand_values() -> None:
    sq = np.array([-1, -1, 1, -1, 1, 1, -1, 1], float)
    diamond = np.array([1, 0, 0, 1, -1, 0, 0, -1], float)
    shifted = sq + np.array([1, 0] * 4)
    np.testing.assert_allclose(poly_iou(sq, np.stack([diamond, shifted, sq])),
                               [0.5, 1 / 3, 1.0])
    # the devkit's +1 pixel horizontal IoU: [0,0,9,9] vs [5,0,14,9] = 50 / 150
    assert hbb_iou(np.array([0, 0, 9, 9.]), np.array([[5, 0, 14, 9.]]))[0] == pytest.approx(
        1 / 3)


def _random_set(rng: np.random.Generator, n_img: int, n_cls: int) -> tuple[list, list]:
    gts, dets = [], []
    for _ in range(n_img):
        # ground truth on a grid (no two boxes overlap, so VOC and COCO matching agree)
        cells = rng.choice(16, size=rng.integers(1, 7), replace=False)
        gb = np.array([[(c % 4) * 30 + 2, (c // 4) * 30 + 2, (c % 4) * 30 + 2 + rng.uniform(8, 20),
                        (c // 4) * 30 + 2 + rng.uniform(8, 20)] for c in cells])
        gl = rng.integers(0, n_cls, len(gb))
        db, dl = [], []
        for b, lab in zip(gb, gl, strict=True):
            for _ in range(rng.integers(0, 3)):
                db.append(b + rng.normal(0, 2.0, 4))
                dl.append(lab if rng.random() < 0.8 else rng.integers(0, n_cls))
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 100, 2)
            db.append([x, y, x + rng.uniform(5, 20), y + rng.uniform(5, 20)])
            dl.append(rng.integers(0, n_cls))
        gts.append({"boxes": gb, "labels": gl})
        dets.append({"boxes": np.array(db).reshape(-1, 4), "labels": np.array(dl, int),
                     "scores": rng.random(len(dl))})
    return dets, gts


def test_horizontal_ap_matches_pycocotools() -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(0)
    n_cls = 3
    dets, gts = _random_set(rng, 25, n_cls)
    ours = evaluate_detections(dets, gts, n_cls, use_07_metric=False, pixel_offset=0.0)

    images = [{"id": i + 1, "width": 200, "height": 200} for i in range(len(gts))]
    anns, res = [], []
    for i, (g, d) in enumerate(zip(gts, dets, strict=True)):
        for b, lab in zip(g["boxes"], g["labels"], strict=True):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab) + 1,
                         "bbox": [b[0], b[1], w, h], "area": w * h, "iscrowd": 0})
        for b, lab, s in zip(d["boxes"], d["labels"], d["scores"], strict=True):
            res.append({"image_id": i + 1, "category_id": int(lab) + 1, "score": float(s),
                        "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns,
                    "categories": [{"id": k + 1, "name": str(k)} for k in range(n_cls)]}
    coco.createIndex()
    ev = COCOeval(coco, coco.loadRes(res), "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.recThrs = np.linspace(0, 1, 100001)
    ev.params.maxDets = [1000]
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ["all"]
    ev.evaluate()
    ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, 0]  # [rec, cls]
    coco_ap = [float(np.mean(np.where(prec[:, k] < 0, 0, prec[:, k]))) for k in range(n_cls)]
    np.testing.assert_allclose(ours["ap"], coco_ap, atol=2e-4)


def test_oriented_equals_horizontal_on_axis_aligned_boxes() -> None:
    rng = np.random.default_rng(1)
    dets, gts = _random_set(rng, 10, 2)

    def poly(b: np.ndarray) -> np.ndarray:
        return np.stack([b[:, 0], b[:, 1], b[:, 2], b[:, 1], b[:, 2], b[:, 3], b[:, 0],
                         b[:, 3]], 1)

    pd = [{**d, "boxes": poly(d["boxes"])} for d in dets]
    pg = [{**g, "boxes": poly(g["boxes"])} for g in gts]
    h = evaluate_detections(dets, gts, 2, pixel_offset=0.0)
    o = evaluate_detections(pd, pg, 2, oriented=True)
    np.testing.assert_allclose(h["ap"], o["ap"], atol=1e-9)
    # a rotated detection is matched by polygon IoU, not by its enclosing box
    gt = [{"boxes": np.array([[-1, -1, 1, -1, 1, 1, -1, 1.]]), "labels": np.array([0])}]
    det = [{"boxes": np.array([[1, 0, 0, 1, -1, 0, 0, -1.]]), "scores": np.array([1.0]),
            "labels": np.array([0])}]
    assert evaluate_detections(det, gt, 1, oriented=True)["map"] == 0.0  # IoU 0.5, not > 0.5
