"""SynRS3D height metrics against hand-worked values and scikit-learn.

Conventions (public ``utils/metrics.py``): heights <= 0 -> 1e-6; pixels where target or
prediction exceed the threshold; >= 49 pixels; per-image values averaged over images.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.segmentation.synrs3d.metrics import (
    HeightMetrics,
    f1_height,
    image_height_metrics,
    mean_of_datasets,
)


def _pair() -> tuple[np.ndarray, np.ndarray]:
    t = np.zeros((8, 8), np.float32)
    p = np.zeros((8, 8), np.float32)
    t[:2] = 10.0          # 16 tall pixels
    p[:1] = 11.0          # 8 of them within 1.25 (ratio 1.1)
    p[1, :4] = 18.0       # 4 at ratio 1.8 (within 1.25^3 = 1.95 only)
    t[7, :2] = 0.5        # 2 low pixels, not significant
    p[6, :3] = 2.0        # 3 false positives (significant prediction, target 0)
    return p, t


def test_f1_by_hand_and_sklearn() -> None:
    from sklearn.metrics import f1_score

    p, t = _pair()
    # delta < 1.25: TP 8, FP 3, FN 4 (the 4 predicted 0); the 4 at ratio 1.8 are neither
    tp, fp, fn = 8, 3, 4
    prec, rec = tp / (tp + fp), tp / (tp + fn)
    assert f1_height(p, t, 1.25) == pytest.approx(2 * prec * rec / (prec + rec))
    # with an unbounded tolerance F1^HE is the plain F1 of "height > 1 m"
    assert f1_height(p, t, np.inf) == pytest.approx(f1_score((t > 1).ravel(),
                                                             (p > 1).ravel()))
    assert f1_height(p, t, 1.25 ** 2) == pytest.approx(2 * prec * rec / (prec + rec))
    tp3 = 12
    assert f1_height(p, t, 1.25 ** 3) == pytest.approx(2 * tp3 / (2 * tp3 + 3 + 4))


def test_image_metrics_by_hand() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    p, t = _pair()
    m = image_height_metrics(p, t)
    whole = m["whole"]
    assert whole is not None
    # after the 1e-6 clamp every pixel is > 0: "whole" is the whole image
    pc, tc = np.maximum(p, 1e-6).astype(np.float64), np.maximum(t, 1e-6).astype(np.float64)
    assert whole["mae"] == pytest.approx(mean_absolute_error(tc.ravel(), pc.ravel()))
    assert whole["rmse"] == pytest.approx(np.sqrt(mean_squared_error(tc.ravel(), pc.ravel())))
    r = np.maximum(pc / tc, tc / pc)
    assert whole["delta1"] == pytest.approx((r < 1.25).mean())
    # "high" (> 3 m): 16 tall target pixels only (no prediction above 3 elsewhere): 8 at
    # |11-10|, 4 at |18-10|, 4 at |0-10| -> MAE (8 + 32 + 40) / 16, but 16 < 49 -> skipped
    assert m["high"] is None
    big_p, big_t = np.tile(p, (2, 2)), np.tile(t, (2, 2))
    high = image_height_metrics(big_p, big_t)["high"]
    assert high is not None and high["mae"] == pytest.approx((8 + 32 + 40) / 16, rel=1e-6)
    assert image_height_metrics(np.zeros((8, 8)), t)["low"] is None  # no prediction > 1


def test_per_image_mean_not_pooled() -> None:
    t1 = np.full((8, 8), 10.0)
    t2 = np.full((16, 16), 10.0)
    hm = HeightMetrics()
    hm.update(t1 + 1.0, t1)     # MAE 1 on 64 pixels
    hm.update(t2 + 3.0, t2)     # MAE 3 on 256 pixels
    out = hm.compute()
    assert out["mae_whole"] == pytest.approx(2.0)    # pooled would be 2.6
    assert out["f1he_1"] == pytest.approx((1.0 + 0.0) / 2)  # 13/10 > 1.25 -> no TP
    assert np.isnan(HeightMetrics().compute().get("mae_whole", np.nan))
    assert mean_of_datasets([{"a": 1.0}, {"a": 3.0, "b": 2.0}]) == {"a": 2.0, "b": 2.0}
