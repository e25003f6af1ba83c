"""SECOND-style SCD metrics of FUSU: hand-worked values and an sklearn cross-check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, jaccard_score

from geoneurips.change.fusu.metrics import SCDMetric, published_scores, scd_map, scd_scores
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
    ref_sem[rng.random(ref_sem.shape) < 0.15] = 0  # background references count (row 0)
    pred_sem = np.where((rng.random(ref_sem.shape) < 0.6) & (ref_sem > 0), ref_sem,
                        rng.integers(1, k + 1, ref_sem.shape))
    ref_ch = (rng.random((2, 20, 20)) < 0.3).astype(int)
    pred_ch = np.where(rng.random(ref_ch.shape) < 0.8, ref_ch, 1 - ref_ch)
    m = SCDMetric(num_classes=k)
    m.update(pred_sem, pred_ch, ref_sem, ref_ch)
    out = m.compute()
    # independent: flattened SCD maps of both dates, every pixel (background included)
    r = np.concatenate([scd_map(ref_sem[:, t], ref_ch).ravel() for t in range(2)])
    p = np.concatenate([scd_map(pred_sem[:, t], pred_ch).ravel() for t in range(2)])
    keep = ~((r == 0) & (p == 0))  # separated kappa: q00 removed
    assert out["kappa_sep"] == pytest.approx(cohen_kappa_score(r[keep], p[keep]))
    assert out["iou_c"] == pytest.approx(jaccard_score(r > 0, p > 0))
    assert out["iou_nc"] == pytest.approx(jaccard_score(r == 0, p == 0))
    assert out["sek"] == pytest.approx(out["kappa_sep"] * math.exp(out["iou_c"] - 1))
    assert m.hist.sum() == r.size
    # per-class IoU of the land-use maps of both dates (background references left out)
    rs, ps = ref_sem.transpose(1, 0, 2, 3).ravel(), pred_sem.transpose(1, 0, 2, 3).ravel()
    rs, ps = rs[rs > 0], ps[rs > 0]
    ious = jaccard_score(rs, ps, labels=list(range(1, k + 1)), average=None)
    for c in range(1, k + 1):
        assert out[f"iou_{c}"] == pytest.approx(ious[c - 1])
    assert out["seg_miou"] == pytest.approx(ious.mean())


def test_background_references_count_as_in_the_published_metric() -> None:
    """Hand-worked: the published histogram keeps reference label 0 (background) in row 0.

    The old SCDMetric dropped background reference pixels and scored this case SeK 1.0.
    """
    ref = np.array([[[[1, 2, 0, 1]], [[1, 1, 0, 2]]]])  # (1, 2, 1, 4); pixel 2 background
    ref_ch = (ref[:, 0] != ref[:, 1]).astype(int)  # [0, 1, 0, 1]
    pred = np.array([[[[1, 2, 1, 1]], [[1, 1, 2, 2]]]])
    pred_ch = np.array([[[0, 1, 1, 1]]])  # change predicted on the background pixel
    m = SCDMetric(num_classes=2)
    m.update(pred, pred_ch, ref, ref_ch)
    # SCD pairs (ref, pred): t1 (0,0) (2,2) (0,1) (1,1); t2 (0,0) (1,1) (0,2) (2,2)
    assert m.hist.tolist() == [[2, 1, 1], [0, 2, 0], [0, 0, 2]]
    out = m.compute()
    # IoU_nc = 2 / (2 + 4 - 2); IoU_c = 4 / (8 - 2)
    assert out["iou_nc"] == pytest.approx(0.5)
    assert out["iou_c"] == pytest.approx(2 / 3)
    # Q': rho = 4/6, rows (2, 2, 2), cols (0, 3, 3): eta = 12/36, kappa = (1/3) / (2/3)
    assert out["kappa_sep"] == pytest.approx(0.5)
    assert out["sek"] == pytest.approx(0.5 * math.exp(-1 / 3))
    assert out["score"] == pytest.approx(0.5 * (0.5 + 2 / 3) / 2 + 0.5 * out["sek"])
    # land-use IoUs leave background out (public IOUandSek.miou uses hist[1:, 1:])
    assert out["iou_1"] == pytest.approx(1.0) and out["iou_2"] == pytest.approx(1.0)


def test_published_scores_on_raw_maps() -> None:
    """The public validation loop (raw maps, change unused), hand-worked."""
    ref = np.array([[[[1, 2, 0, 1]], [[1, 1, 0, 2]]]])
    pred = np.array([[[[1, 2, 1, 1]], [[1, 1, 2, 2]]]])
    out = published_scores(pred, ref, num_classes=2)
    # hist: q11 = 4, q22 = 2, q01 = 1, q02 = 1; q00 = 0 -> IoU_nc = 0, IoU_c = 6 / 8
    assert out["iou_nc"] == 0.0 and out["iou_c"] == pytest.approx(0.75)
    # rho = 6/8, rows (2, 4, 2), cols (0, 5, 3): eta = 26/64, kappa = (22/64) / (38/64)
    assert out["kappa_sep"] == pytest.approx(11 / 19)
    assert out["sek"] == pytest.approx(11 / 19 * math.exp(-0.25))
    assert out["score"] == pytest.approx(0.5 * 0.375 + 0.5 * out["sek"])
    with pytest.raises(InvalidInputError, match="size"):
        published_scores(pred[..., :2], ref)


def test_perfect_prediction() -> None:
    sem = np.array([[[[1, 2], [3, 0]], [[1, 4], [3, 0]]]])  # (1, 2, 2, 2)
    ch = (sem[:, 0] != sem[:, 1]).astype(int)
    m = SCDMetric(num_classes=4)
    m.update(np.where(sem == 0, 2, sem), ch, sem, ch)
    out = m.compute()
    assert out["sek"] == pytest.approx(1.0) and out["score"] == pytest.approx(1.0)
    assert m.hist.sum() == 8  # every pixel of both dates, background included
    # no change predicted anywhere: Q' holds only the changed references, kappa 0, SeK 0
    m2 = SCDMetric(num_classes=4)
    m2.update(sem, np.zeros_like(ch), sem, ch)
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
