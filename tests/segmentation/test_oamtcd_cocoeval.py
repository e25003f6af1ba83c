"""OAM-TCD mask mAP50 (metrics.mask_ap50 and the instance path evaluate_instances)
cross-checked against pycocotools' COCOeval (iouType "segm", AP at IoU 0.50, area "all",
maxDets 100) on hand-built cases and on randomly perturbed instances of the fixture."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_util  # a dev dependency: the independent reference
import pytest
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

from geoneurips.segmentation.oamtcd.instance import evaluate_instances
from geoneurips.segmentation.oamtcd.metrics import instances_to_masks, mask_ap50

Pred = tuple[np.ndarray, np.ndarray, np.ndarray]
Gt = tuple[np.ndarray, np.ndarray]


def _rle(m: np.ndarray) -> dict[str, Any]:
    r = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode("ascii")
    return dict(r)


def coco_ap50(preds: list[Pred], gts: list[Gt]) -> dict[str, float]:
    """AP50 per category (1 tree, 2 canopy) and their mean from pycocotools."""
    h, w = gts[0][0].shape[1:]
    images = [{"id": i, "height": h, "width": w} for i in range(len(gts))]
    anns = []
    for i, (gm, gl) in enumerate(gts):
        for m, lab in zip(gm, gl, strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(lab),
                         "segmentation": _rle(m), "area": float(m.sum()), "iscrowd": 0,
                         "bbox": list(mask_util.toBbox(_rle(m)))})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": 1, "name": "tree"}, {"id": 2, "name": "canopy"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dets = [{"image_id": i, "category_id": int(lab), "segmentation": _rle(m),
                 "score": float(s)}
                for i, (pm, ps, pl) in enumerate(preds)
                for m, s, lab in zip(pm, ps, pl, strict=True)]
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "segm")
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, 2]  # IoU 0.5, all recalls, cats, area all, 100
    out = {}
    for k, name in enumerate(("tree", "canopy")):
        p = prec[:, k]
        if (p > -1).any():
            out[f"ap50_{name}"] = float(p[p > -1].mean())
    out["map50"] = float(np.mean(list(out.values())))
    return out


def _box(h: int, w: int, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_hand_cases_match_cocoeval() -> None:
    """Two images, both categories: a perfect hit, a duplicate (FP), a miss, a shifted
    detection just above and one just below IoU 0.5, a high-score FP before TPs."""
    h = w = 20
    g0 = np.stack([_box(h, w, 0, 0, 10, 10), _box(h, w, 12, 12, 20, 20),
                   _box(h, w, 0, 12, 8, 20)])
    g1 = np.stack([_box(h, w, 2, 2, 12, 12), _box(h, w, 14, 0, 20, 6)])
    gts = [(g0, np.array([1, 1, 2])), (g1, np.array([1, 2]))]
    p0 = np.stack([_box(h, w, 0, 0, 10, 10), _box(h, w, 0, 0, 10, 9),   # hit, duplicate
                   _box(h, w, 12, 14, 20, 20),                           # IoU 0.75 hit
                   _box(h, w, 0, 16, 8, 20)])                            # IoU 0.5 canopy
    p1 = np.stack([_box(h, w, 5, 5, 15, 15),   # IoU 49/151 < 0.5 with g1[0]: FP
                   _box(h, w, 14, 0, 20, 5),   # canopy hit (IoU 5/6)
                   _box(h, w, 15, 15, 19, 19)])  # stray FP
    preds = [(p0, np.array([0.9, 0.8, 0.6, 0.7]), np.array([1, 1, 1, 2])),
             (p1, np.array([0.95, 0.5, 0.85]), np.array([1, 2, 1]))]
    ref = coco_ap50(preds, gts)
    ours = mask_ap50(preds, gts)
    assert ours == pytest.approx(ref, abs=1e-9)
    assert 0.2 < ref["ap50_tree"] < 0.9  # a case that exercises the curve, not 0 or 1
    # no detections at all: both give 0
    empty = [(np.zeros((0, h, w), bool), np.zeros(0), np.zeros(0, np.int64))] * 2
    assert mask_ap50(empty, gts)["map50"] == coco_ap50(empty, gts)["map50"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_cases_match_cocoeval(seed: int) -> None:
    """Random boxes (IoUs spread around 0.5), random scores and labels, 3 images."""
    rng = np.random.default_rng(seed)
    h = w = 24
    preds: list[Pred] = []
    gts: list[Gt] = []
    for _ in range(3):
        gm, gl = [], []
        for _ in range(int(rng.integers(1, 5))):
            y, x = rng.integers(0, 16, 2)
            gm.append(_box(h, w, y, x, y + int(rng.integers(4, 9)), x + int(rng.integers(4, 9))))
            gl.append(int(rng.integers(1, 3)))
        pm, pl = [], []
        for m, lab in zip(gm, gl, strict=True):
            for _ in range(int(rng.integers(0, 3))):
                pm.append(np.roll(m, tuple(rng.integers(-2, 3, 2)), (0, 1)))
                pl.append(lab if rng.random() < 0.8 else 3 - lab)
        gts.append((np.stack(gm), np.array(gl)))
        n = len(pm)
        preds.append((np.stack(pm) if n else np.zeros((0, h, w), bool),
                      rng.permutation(n) / max(n, 1) * 0.9 + rng.uniform(0, 0.05),
                      np.array(pl, np.int64)))
    assert mask_ap50(preds, gts) == pytest.approx(coco_ap50(preds, gts), abs=1e-9)


def test_instance_path_matches_cocoeval(tmp_path: Path) -> None:
    """evaluate_instances on the fixture (predictions = eroded / dropped / relabelled
    reference instances) equals pycocotools on the same masks."""
    from scipy import ndimage

    from geoneurips.segmentation.oamtcd.data import OAMTCD, write_fixture

    ds = OAMTCD(write_fixture(tmp_path, n_train=1, n_test=3, size=48, folds=1, seed=5),
                "test", instances=True)
    rng = np.random.default_rng(0)
    preds, gts = [], []
    for i in range(len(ds)):
        s = ds[i]
        gm, gl = instances_to_masks(s["instances"].numpy(), s["instance_labels"].numpy())
        gts.append((gm, gl))
        inst = [(ndimage.binary_erosion(m, iterations=int(rng.integers(0, 4))),
                 int(lab if rng.random() < 0.85 else 3 - lab), float(rng.uniform(0.2, 1)))
                for m, lab in zip(gm, gl, strict=True) if rng.random() < 0.8]
        preds.append(inst)
    ours = evaluate_instances(preds, ds)
    ref = coco_ap50([(np.stack([m for m, _, _ in p]) if p else np.zeros((0, 48, 48), bool),
                      np.array([sc for _, _, sc in p]), np.array([lb for _, lb, _ in p]))
                     for p in preds], gts)
    assert ours == pytest.approx(ref, abs=1e-9)
    assert 0.0 < ref["map50"] < 1.0
