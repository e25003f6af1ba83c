"""STVD metrics, cross-checked against properscoring, scipy and hand computations."""

from __future__ import annotations

import numpy as np
import properscoring as ps
import pytest
from scipy.stats import wasserstein_distance

from geoneurips.errors import InvalidInputError
from geoneurips.restoration.stvd.metrics import (
    crps_ensemble,
    emd,
    mse,
    percentile_error,
    radial_power_spectrum,
    spatial_autocorrelation,
    spatial_autocorrelation_error,
    spectrum_error,
    stvd_metrics,
)


def test_crps_matches_properscoring() -> None:
    rng = np.random.default_rng(0)
    ens = rng.gamma(2.0, size=(7, 3, 5, 6))
    y = rng.gamma(2.0, size=(3, 5, 6))
    ref = ps.crps_ensemble(y, np.moveaxis(ens, 0, -1)).mean()
    assert crps_ensemble(ens, y) == pytest.approx(ref, rel=1e-12)
    assert crps_ensemble(np.moveaxis(ens, 0, -1), y, member_axis=-1) == pytest.approx(ref)
    # a one-member ensemble scores its MAE; a hand value: members {0, 2}, y = 1 -> 1 - 0.5 = 0.5
    assert crps_ensemble(ens[:1], y) == pytest.approx(np.abs(ens[0] - y).mean())
    assert crps_ensemble(np.array([[0.0], [2.0]]), np.array([1.0])) == pytest.approx(0.5)
    with pytest.raises(InvalidInputError):
        crps_ensemble(ens, y[:2])


def test_emd_matches_scipy_and_hand() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 3)), rng.normal(0.5, 2.0, size=77)
    assert emd(a, b) == pytest.approx(wasserstein_distance(a.ravel(), b), rel=1e-10)
    assert emd([0.0, 1.0], [2.0, 3.0]) == pytest.approx(2.0)
    assert emd(a, a) == 0.0
    assert np.isnan(emd([np.nan, 1.0], [1.0, 2.0]))


def test_percentile_error_by_hand() -> None:
    x = np.arange(100001, dtype=float)  # P99.999 = 0.99999 * 100000 = 99999
    assert percentile_error(x, x + 3.0) == pytest.approx(3.0)
    assert percentile_error(x, np.zeros(10)) == pytest.approx(99999.0)
    assert percentile_error([0.0, 10.0], [0.0, 0.0], q=50) == pytest.approx(5.0)
    with pytest.raises(InvalidInputError):
        percentile_error(x, x, q=101)


def test_spatial_autocorrelation_by_hand() -> None:
    rng = np.random.default_rng(2)
    f = rng.normal(size=(9, 11))
    acf = spatial_autocorrelation(f, max_lag=2)
    assert acf.shape == (2, 2)
    assert acf[0, 0] == pytest.approx(np.corrcoef(f[:-1].ravel(), f[1:].ravel())[0, 1])
    assert acf[1, 1] == pytest.approx(np.corrcoef(f[:, :-2].ravel(), f[:, 2:].ravel())[0, 1])
    smooth = np.add.outer(np.arange(9.0), np.arange(11.0))
    assert spatial_autocorrelation(smooth, 1)[..., 0] == pytest.approx([1.0, 1.0])
    assert spatial_autocorrelation(np.ones((5, 5)), 1).tolist() == [[0.0], [0.0]]
    assert spatial_autocorrelation_error(f, f) == 0.0
    # SAE = mean |1 - acf(noise)| over 2 directions x 1 lag
    want = np.mean(np.abs(1.0 - spatial_autocorrelation(f, 1)))
    assert spatial_autocorrelation_error(smooth, f, max_lag=1) == pytest.approx(want)
    with pytest.raises(InvalidInputError):
        spatial_autocorrelation(np.ones((3, 3)), max_lag=3)


def test_stvd_metrics_bundle() -> None:
    rng = np.random.default_rng(3)
    y = rng.random((2, 5, 1, 8, 8))
    ens = y[None] + 0.1 * rng.normal(size=(4,) + y.shape)
    m = stvd_metrics(ens, y)
    assert set(m) == {"mse", "crps", "emd", "pe", "sae", "psd"}
    assert m["mse"] == pytest.approx(mse(ens.mean(0), y))
    assert m["crps"] < stvd_metrics(ens[:1], y)["crps"]  # a spread ensemble beats one member
    with pytest.raises(InvalidInputError):
        stvd_metrics(ens, y[0])


def test_power_spectrum_by_hand() -> None:
    """A cosine of wavenumber 2 on an 8x8 grid: all power at radius 2, Parseval by hand."""
    n = 8
    x = np.arange(n)
    f = np.cos(2 * np.pi * 2 * x / n)[None, :] * np.ones((n, 1))  # varies along columns
    p = radial_power_spectrum(f)
    # |FFT|^2 = (N^2 / 2)^2 at (0, +-2); / N^2 -> N^2 / 4 = 16 each. The radius-2 bin
    # (round(|k|) = 2) has 12 cells: (0, +-2), (+-2, 0), (+-1, +-2), (+-2, +-1); mean 32 / 12
    assert p[1] == pytest.approx(32 / 12)
    assert np.allclose(np.delete(p, 1), 0)
    assert p[1] * 12 == pytest.approx((f**2).sum())  # Parseval: 64 * 1/2
    # scaling a field by c shifts log10 power by 2 log10(c) at every wavenumber
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 16, 16))
    assert spectrum_error(3.0 * g, g) == pytest.approx(2 * np.log10(3.0))
    # the spectrum ignores where features are (periodic shift) and the mean level
    assert spectrum_error(np.roll(g, 5, axis=-1) + 7.0, g) == pytest.approx(0.0, abs=1e-12)
    # smoothing removes high-wavenumber power: a bigger error than the field itself
    smooth = (g + np.roll(g, 1, -1) + np.roll(g, 1, -2) + np.roll(g, (1, 1), (-2, -1))) / 4
    assert spectrum_error(smooth, g) > 0.3
    with pytest.raises(InvalidInputError, match="square"):
        radial_power_spectrum(np.zeros((4, 6)))
