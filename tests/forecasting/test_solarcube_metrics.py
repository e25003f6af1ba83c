"""SolarCube metrics and reference forecasts, cross-checked with scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from geoneurips.errors import InvalidInputError
from geoneurips.forecasting.solarcube.metrics import (
    fit_ridge,
    forecast_metrics,
    lead_metrics,
    persistence,
    predict_ridge,
    smart_persistence,
)


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    obs = rng.uniform(0, 900, (20, 12))
    pred = obs + rng.normal(15, 60, obs.shape)
    m = forecast_metrics(pred, obs)
    assert m["mse"] == pytest.approx(mean_squared_error(obs.ravel(), pred.ravel()))
    assert m["mae"] == pytest.approx(mean_absolute_error(obs.ravel(), pred.ravel()))
    assert m["r2"] == pytest.approx(r2_score(obs.ravel(), pred.ravel()))
    assert m["rmse"] == pytest.approx(np.sqrt(m["mse"]))
    assert m["rrmse"] == pytest.approx(m["rmse"] / obs.mean())
    assert m["bias"] == pytest.approx((pred - obs).mean())


def test_metrics_by_hand_with_mask() -> None:
    obs = np.array([[100.0, 200.0], [300.0, 999.0]])
    pred = np.array([[110.0, 190.0], [330.0, 0.0]])
    mask = np.array([[True, True], [True, False]])
    m = forecast_metrics(pred, obs, mask)
    assert m["mse"] == pytest.approx((100 + 100 + 900) / 3)
    assert m["bias"] == pytest.approx((10 - 10 + 30) / 3)
    assert m["rrmse"] == pytest.approx(np.sqrt(1100 / 3) / 200.0)
    per = lead_metrics(pred, obs, mask)
    assert per["mae"] == pytest.approx([20.0, 10.0])
    with pytest.raises(InvalidInputError):
        forecast_metrics(pred[:, :1], obs)
    with pytest.raises(InvalidInputError):
        forecast_metrics(pred, obs, np.zeros_like(mask))


def test_persistence_and_smart_persistence() -> None:
    hist = np.array([[[1.0], [2.0], [3.0]]])  # (N=1, T=3, 1)
    np.testing.assert_array_equal(persistence(hist, 2)[0, :, 0], [3.0, 3.0])
    csi = np.array([[0.2, 0.5]])
    clear = np.array([[800.0, 600.0, 400.0]])
    np.testing.assert_allclose(smart_persistence(csi, clear), [[400.0, 300.0, 200.0]])


def test_ridge_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6))
    y = x @ rng.normal(size=(6, 3)) + 2.0 + rng.normal(0, 0.1, (200, 3))
    w = fit_ridge(x, y, alpha=0.01)
    ref = Ridge(alpha=0.01 * len(x)).fit(x, y)
    np.testing.assert_allclose(predict_ridge(w, x), ref.predict(x), rtol=1e-6, atol=1e-8)


def test_cloud_motion_vectors_recover_a_known_translation() -> None:
    """A smooth field translated by (0.35, -0.2) px per step (scipy's shift, an independent
    resampler): the block-matched vector is exact on the 0.05 grid, and advecting the last
    frame beats persistence by a factor of 5 at every lead."""
    from scipy.ndimage import gaussian_filter, shift

    from geoneurips.forecasting.solarcube.metrics import advection_forecast, cloud_motion_vectors

    rng = np.random.default_rng(0)
    big = gaussian_filter(rng.random((64, 64)), 3)
    frames = np.stack([shift(big, (0.35 * t, -0.2 * t), order=1, mode="nearest")[24:40, 24:40]
                       for t in range(16)])
    still = np.repeat(frames[:1], 16, axis=0)  # a second window that does not move
    hist = np.stack([frames[:12], still[:12]])
    v = cloud_motion_vectors(hist)
    np.testing.assert_allclose(v, [[0.35, -0.2], [0.0, 0.0]], atol=1e-6)
    f = advection_forecast(hist, 4)
    assert f.shape == (2, 4, 16, 16)
    adv = np.abs(f[0] - frames[12:16]).mean((1, 2))
    pers = np.abs(frames[11] - frames[12:16]).mean((1, 2))
    assert (adv * 5 < pers).all()
    np.testing.assert_allclose(f[1], still[12:16], atol=1e-6)
    with pytest.raises(ValueError, match="lag=3"):
        cloud_motion_vectors(hist[:, :3])
