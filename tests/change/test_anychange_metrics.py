"""AnyChange metrics cross-checked against torchmetrics and hand values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
)

from geoneurips.change.anychange.metrics import ChangeMetric, MaskRecall, instances_from_mask


def test_pixel_metrics_match_torchmetrics() -> None:
    rng = np.random.default_rng(0)
    preds = [rng.random((20, 30)) > 0.6 for _ in range(3)]
    gts = [rng.random((20, 30)) > 0.7 for _ in range(3)]
    m = ChangeMetric()
    for p, g in zip(preds, gts, strict=True):
        m.update(p, g)
    out = m.compute()
    p = torch.from_numpy(np.stack(preds)).long()
    g = torch.from_numpy(np.stack(gts)).long()
    assert out["precision"] == pytest.approx(BinaryPrecision()(p, g).item(), abs=1e-6)
    assert out["recall"] == pytest.approx(BinaryRecall()(p, g).item(), abs=1e-6)
    assert out["f1"] == pytest.approx(BinaryF1Score()(p, g).item(), abs=1e-6)
    assert out["iou"] == pytest.approx(BinaryJaccardIndex()(p, g).item(), abs=1e-6)


def test_mask_recall_hand_values() -> None:
    gt = np.zeros((10, 10), np.uint8)
    gt[0:4, 0:5] = 1  # instance A: 20 px
    gt[6:10, 6:10] = 1  # instance B: 16 px
    inst = instances_from_mask(gt)
    assert len(inst) == 2
    p1 = np.zeros((10, 10), bool)
    p1[0:4, 0:4] = True  # IoU with A = 16/20 = 0.8
    p2 = np.zeros((10, 10), bool)
    p2[6:10, 6:8] = True  # IoU with B = 8/16 = 0.5
    m = MaskRecall(k=1000)
    m.update(np.stack([p1, p2]), np.array([0.9, 0.8]), inst)
    out = m.compute()
    # thresholds 0.50..0.95: A is matched at 0.50..0.80 (7 thresholds), B only at 0.50
    assert out["recall@0.50"] == 1.0 and out["recall@0.80"] == 0.5
    assert out["recall@0.85"] == 0.0
    assert out["ar"] == pytest.approx((7 + 1) / 2 / 10)
    # top-k: with k=1 only the higher-scored p1 counts
    m1 = MaskRecall(k=1)
    m1.update(np.stack([p1, p2]), np.array([0.9, 0.8]), inst)
    assert m1.compute()["ar"] == pytest.approx(7 / 2 / 10)
    # a duplicate detection cannot match the same instance twice
    m2 = MaskRecall()
    m2.update(np.stack([p1, p1]), np.array([0.9, 0.8]), inst)
    assert m2.compute()["recall@0.50"] == 0.5
