"""Cross-checks of geoneurips.metrics.regression against scikit-learn and torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torchmetrics.functional import r2_score as tm_r2

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.regression import mae, mse, r2_score, rmse


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    target = rng.normal(3.0, 2.0, (6, 7, 5))
    pred = target + rng.normal(0.5, 1.0, target.shape)
    return pred, target


def test_match_sklearn_flattened(pair: tuple) -> None:
    pred, target = pair
    t, p = target.ravel(), pred.ravel()
    assert mae(pred, target) == pytest.approx(skm.mean_absolute_error(t, p))
    assert mse(pred, target) == pytest.approx(skm.mean_squared_error(t, p))
    assert rmse(pred, target) == pytest.approx(math.sqrt(skm.mean_squared_error(t, p)))
    assert r2_score(pred, target) == pytest.approx(skm.r2_score(t, p))
    # argument order matters for R2 (pred, target), unlike MAE/RMSE
    assert r2_score(target, pred) != pytest.approx(r2_score(pred, target))
    tm = tm_r2(torch.from_numpy(p), torch.from_numpy(t))
    assert r2_score(torch.from_numpy(pred), torch.from_numpy(target)) == pytest.approx(float(tm))


def test_hand_values() -> None:
    target = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([2.0, 2.0, 3.0, 2.0])
    assert mae(pred, target) == pytest.approx(0.75)  # (1 + 0 + 0 + 2) / 4
    assert rmse(pred, target) == pytest.approx(math.sqrt(5 / 4))
    assert r2_score(pred, target) == pytest.approx(1 - 5 / 5)  # SS_tot = 5
    assert r2_score(target, target) == 1.0
    assert r2_score(np.full(4, 2.5), target) == pytest.approx(0.0)
    assert r2_score(-target, target) == pytest.approx(1 - 120 / 5)  # SS_res = 4 * 30


def test_mask(pair: tuple) -> None:
    pred, target = pair
    mask = np.zeros((7, 5), bool)
    mask[2:5, 1:4] = True
    assert mae(pred, target, mask=mask) == pytest.approx(np.abs(pred - target)[:, mask].mean())
    assert rmse(pred, target, mask=mask) == pytest.approx(
        math.sqrt(((pred - target)[:, mask] ** 2).mean())
    )
    assert math.isnan(mae(pred, target, mask=np.zeros((7, 5), bool)))
    with pytest.raises(InvalidInputError, match="mask"):
        mae(pred, target, mask=np.ones((3, 3), bool))


def test_nan_and_errors(pair: tuple) -> None:
    pred, target = pair
    bad = pred.copy()
    bad[0, 0, 0] = np.nan
    for fn in (mae, rmse, r2_score):
        assert math.isnan(fn(bad, target))
    assert math.isnan(r2_score(pred, np.full_like(target, 2.0)))  # constant reference
    with pytest.raises(InvalidInputError, match="shape"):
        mae(pred, target[:1])
    with pytest.raises(InvalidInputError, match="empty"):
        rmse(np.zeros(0), np.zeros(0))
    with pytest.raises(InvalidInputError, match="numeric"):
        r2_score(np.array(["a", "b"]), np.array(["a", "c"]))
