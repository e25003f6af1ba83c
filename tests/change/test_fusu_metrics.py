"""SECOND-style SCD metrics of FUSU: hand-worked values and an sklearn cross-check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, jaccard_score

from geoneurips.change.fusu.metrics import SCDMetric, scd_map, scd_scores
from geoneurips.errors import InvalidInputError


def test_hand_worked_matrix() -> None:
    # rows = reference (0 = no change), columns = prediction
    q = np.array([[5, 1, 0], [1, 2, 1], [0, 0, 2]])
    s = scd_scores(q)
    # IoU_nc = 5 / (6 + 6 - 5); IoU_c = (2+1+0+2) / (12 - 5)
    assert s["iou_nc"] == pytest.approx(5 / 7)
    assert s["iou_c"] == pytest.approx(5 / 7)
    assert s["miou_bin"] == pytest.approx(5 / 7)
    # Q' = q with q00 = 0: rho = 4/7, eta = (1*1 + 4*3 + 2*3)/49 = 19/49, kappa = 9/30
    assert s["kappa_sep"] == pytest.approx(0.3)
    assert s["sek"] == pytest.approx(0.3 * math.exp(5 / 7 - 1))
    assert s["score"] == pytest.approx(0.5 * 5 / 7 + 0.5 * 0.3 * math.exp(-2 / 7))
    second = scd_scores(q, score_weight=0.3)
    assert second["score"] == pytest.approx(0.3 * 5 / 7 + 0.7 * s["sek"])


def test_against_sklearn_on_random_maps() -> None:
    rng = np.random.default_rng(0)
    k = 5
    ref_sem = rng.integers(1, k + 1, (2, 2, 20, 20))
    pred_sem = np.where(rng.random(ref_sem.shape) < 0.6, ref_sem,
                        rng.integers(1, k + 1, ref_sem.shape))
    ref_ch = (rng.random((2, 20, 20)) < 0.3).astype(int)
    pred_ch = np.where(rng.random(ref_ch.shape) < 0.8, ref_ch, 1 - ref_ch)
    m = SCDMetric(num_classes=k)
    m.update(pred_sem, pred_ch, ref_sem, ref_ch)
    out = m.compute()
    # independent: flattened SCD maps of both dates
    r = np.concatenate([scd_map(ref_sem[:, t], ref_ch).ravel() for t in range(2)])
    p = np.concatenate([scd_map(pred_sem[:, t], pred_ch).ravel() for t in range(2)])
    keep = ~((r == 0) & (p == 0))  # separated kappa: q00 removed
    assert out["kappa_sep"] == pytest.approx(cohen_kappa_score(r[keep], p[keep]))
    assert out["iou_c"] == pytest.approx(jaccard_score(r > 0, p > 0))
    assert out["iou_nc"] == pytest.approx(jaccard_score(r == 0, p == 0))
    assert out["sek"] == pytest.approx(out["kappa_sep"] * math.exp(out["iou_c"] - 1))
    # per-class IoU of the land-use maps of both dates
    rs, ps = ref_sem.transpose(1, 0, 2, 3).ravel(), pred_sem.transpose(1, 0, 2, 3).ravel()
    ious = jaccard_score(rs, ps, labels=list(range(1, k + 1)), average=None)
    for c in range(1, k + 1):
        assert out[f"iou_{c}"] == pytest.approx(ious[c - 1])
    assert out["seg_miou"] == pytest.approx(ious.mean())


def test_perfect_and_background_handling() -> None:
    sem = np.array([[[[1, 2], [3, 0]], [[1, 4], [3, 0]]]])  # (1, 2, 2, 2)
    ch = np.array([[[0, 1], [0, 1]]])
    m = SCDMetric(num_classes=4)
    pred = np.where(sem == 0, 2, sem)  # background reference: any prediction is ignored
    m.update(pred, ch, sem, ch)
    out = m.compute()
    assert out["sek"] == pytest.approx(1.0) and out["score"] == pytest.approx(1.0)
    # the background pixel (changed, reference 0) is left out of both dates: 6 pixels counted
    assert m.hist.sum() == 6
    # no-change everywhere predicted: q' holds only changed references, kappa 0, SeK 0
    m2 = SCDMetric(num_classes=4)
    m2.update(pred, np.zeros_like(ch), sem, ch)
    assert m2.compute()["sek"] == pytest.approx(0.0)


def test_shape_errors() -> None:
    m = SCDMetric(4)
    with pytest.raises(InvalidInputError, match=r"\(\.\.\., 2, H, W\)"):
        m.update(np.zeros((1, 3, 2, 2)), np.zeros((1, 2, 2)), np.zeros((1, 3, 2, 2)),
                 np.zeros((1, 2, 2)))
    with pytest.raises(InvalidInputError, match="change maps"):
        m.update(np.zeros((1, 2, 2, 2)), np.zeros((1, 3, 2)), np.zeros((1, 2, 2, 2)),
                 np.zeros((1, 3, 2)))
    with pytest.raises(InvalidInputError, match="square"):
        scd_scores(np.zeros((3, 2)))
