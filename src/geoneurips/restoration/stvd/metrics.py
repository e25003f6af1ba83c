"""Evaluation metrics of STVD (arXiv 2312.06071, section 4.2 "Metrics").

The public code has no metric code (it saves tensors); these follow the paper's text:

* :func:`mse`: mean squared error of the (ensemble-mean or deterministic) prediction.
* :func:`crps_ensemble`: continuous ranked probability score of an ensemble, per pixel,
  averaged: ``E|X - y| - 0.5 E|X - X'|`` with the empirical ensemble distribution (the
  ``properscoring.crps_ensemble`` convention; a deterministic forecast gives the MAE).
* :func:`emd`: earth mover's (1-Wasserstein) distance between the pixel-value distributions
  of prediction and truth (the paper compares precipitation histograms).
* :func:`percentile_error`: ``|P_q(pred) - P_q(target)|`` at ``q = 99.999`` (PE, extremes).
* :func:`spatial_autocorrelation_error`: SAE. The paper names it without a formula; here it is
  the mean absolute difference between the lag-``1..max_lag`` spatial autocorrelations
  (Pearson correlation of each frame with itself shifted along rows and along columns) of
  prediction and truth, averaged over frames, lags and both directions.

* :func:`spectrum_error`: power-spectrum error (not in the paper's list; the issue asks for
  it as the usual check of fine-scale variability): mean absolute difference of the
  ``log10`` radially averaged power spectra of prediction and truth over wavenumbers
  ``1..N/2``, spectra averaged over frames.

Arrays are NumPy-like; the last two axes are (H, W). Computed in float64; NaN propagates.
The functions are unit-agnostic; the published validation (mandt-lab/STVD ``model/model.py``,
``Trainer.train``) applies them to de-normalised precipitation (kg m-2 s-1) flattened over
all clips and frames, which is what ``pipeline.evaluate`` does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from ...metrics.regression import mse as _mse

__all__ = [
    "crps_ensemble",
    "emd",
    "mse",
    "PE_QUANTILE",
    "percentile_error",
    "spatial_autocorrelation",
    "spatial_autocorrelation_error",
    "spectrum_error",
    "radial_power_spectrum",
    "stvd_metrics",
]

#: The percentile of PE, the extremes metric (the paper's 99.999th).
PE_QUANTILE = 99.999


def _arr(x: npt.ArrayLike, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} is not numeric: {exc}") from exc
    if a.size == 0:
        raise InvalidInputError(f"{name} is empty")
    return a


def mse(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Mean squared error over all elements (shapes must match)."""
    return _mse(pred, target)


def crps_ensemble(ensemble: npt.ArrayLike, target: npt.ArrayLike, member_axis: int = 0) -> float:
    """Mean CRPS of an ensemble (members along ``member_axis``) against ``target``.

    Uses the sorted-ensemble identity ``sum_ij |x_i - x_j| = 2 sum_i (2i - M - 1) x_(i)``
    (O(M log M) per pixel). Equals ``properscoring.crps_ensemble(target, ens_last_axis)``
    averaged.
    """
    e = np.moveaxis(_arr(ensemble, "ensemble"), member_axis, 0)
    y = _arr(target, "target")
    if e.shape[1:] != y.shape:
        raise InvalidInputError(
            f"ensemble {e.shape[1:]} (members on axis {member_axis}) and target {y.shape} differ"
        )
    m = e.shape[0]
    skill = np.abs(e - y[None]).mean(axis=0)
    s = np.sort(e, axis=0)
    w = (2 * np.arange(1, m + 1) - m - 1).reshape((m,) + (1,) * y.ndim)
    spread = (w * s).sum(axis=0) / (m * m)  # = 0.5 * mean_ij |x_i - x_j|
    return float(np.mean(skill - spread))


def emd(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """1-Wasserstein distance between the value distributions of ``pred`` and ``target``
    (any sizes): the integral of ``|F_pred - F_target|`` over values."""
    a = np.sort(_arr(pred, "pred").ravel())
    b = np.sort(_arr(target, "target").ravel())
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    allv = np.concatenate([a, b])
    allv.sort(kind="mergesort")
    deltas = np.diff(allv)
    fa = np.searchsorted(a, allv[:-1], side="right") / a.size
    fb = np.searchsorted(b, allv[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * deltas))


def percentile_error(pred: npt.ArrayLike, target: npt.ArrayLike,
                     q: float = PE_QUANTILE) -> float:
    """``|percentile(pred, q) - percentile(target, q)|`` (linear interpolation)."""
    if not 0 <= q <= 100:
        raise InvalidInputError(f"q must be in [0, 100], got {q}")
    a, b = _arr(pred, "pred"), _arr(target, "target")
    return float(abs(np.percentile(a, q) - np.percentile(b, q)))


def spatial_autocorrelation(field: npt.ArrayLike, max_lag: int = 4) -> np.ndarray:
    """Lag-1..``max_lag`` autocorrelations ``(..., 2, max_lag)`` (rows, columns) of fields
    ``(..., H, W)``; a constant field has autocorrelation 0 by convention."""
    f = _arr(field, "field")
    if f.ndim < 2 or min(f.shape[-2:]) <= max_lag or max_lag < 1:
        raise InvalidInputError(f"field {f.shape} too small for max_lag={max_lag}")
    out = np.empty(f.shape[:-2] + (2, max_lag))
    for d, axis in enumerate((-2, -1)):
        n = f.shape[axis]
        for lag in range(1, max_lag + 1):
            a = np.take(f, np.arange(0, n - lag), axis=axis)
            b = np.take(f, np.arange(lag, n), axis=axis)
            a = a - a.mean(axis=(-2, -1), keepdims=True)
            b = b - b.mean(axis=(-2, -1), keepdims=True)
            num = (a * b).sum(axis=(-2, -1))
            den = np.sqrt((a * a).sum(axis=(-2, -1)) * (b * b).sum(axis=(-2, -1)))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[..., d, lag - 1] = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return out


def spatial_autocorrelation_error(pred: npt.ArrayLike, target: npt.ArrayLike,
                                  max_lag: int = 4) -> float:
    """SAE: mean ``|acf(pred) - acf(target)|`` over frames, lags 1..max_lag and directions."""
    p, t = _arr(pred, "pred"), _arr(target, "target")
    if p.shape != t.shape:
        raise InvalidInputError(f"pred {p.shape} and target {t.shape} differ")
    return float(np.mean(np.abs(spatial_autocorrelation(p, max_lag)
                                - spatial_autocorrelation(t, max_lag))))


def radial_power_spectrum(field: npt.ArrayLike) -> np.ndarray:
    """Radially averaged power spectrum ``(K,)`` of square fields ``(..., N, N)``, averaged
    over the leading axes: ``|FFT|^2 / N^2`` binned by integer wavenumber ``round(|k|)`` for
    ``k = 1..N//2`` (the mean is removed, so wavenumber 0 is left out)."""
    f = _arr(field, "field")
    if f.ndim < 2 or f.shape[-1] != f.shape[-2] or f.shape[-1] < 4:
        raise InvalidInputError(f"fields must be square (..., N, N) with N >= 4, got {f.shape}")
    n = f.shape[-1]
    f = f.reshape(-1, n, n)
    p = np.abs(np.fft.fft2(f - f.mean(axis=(-2, -1), keepdims=True))) ** 2 / n**2
    k = np.fft.fftfreq(n) * n
    radius = np.rint(np.hypot(k[:, None], k[None, :])).astype(int)
    mean_p = p.mean(axis=0)
    return np.array([mean_p[radius == r].mean() for r in range(1, n // 2 + 1)])


def spectrum_error(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Mean ``|log10 P_pred(k) - log10 P_target(k)|`` over wavenumbers ``1..N/2``
    (:func:`radial_power_spectrum`; a floor of 1e-20 keeps flat fields finite)."""
    p, t = _arr(pred, "pred"), _arr(target, "target")
    if p.shape != t.shape:
        raise InvalidInputError(f"pred {p.shape} and target {t.shape} differ")
    a = np.log10(np.maximum(radial_power_spectrum(p), 1e-20))
    b = np.log10(np.maximum(radial_power_spectrum(t), 1e-20))
    return float(np.mean(np.abs(a - b)))


def stvd_metrics(ensemble: npt.ArrayLike, target: npt.ArrayLike,
                 q: float = PE_QUANTILE) -> dict[str, float]:
    """All five metrics for an ensemble ``(S, ..., H, W)`` (``S = 1`` for a deterministic
    prediction): MSE of the ensemble mean, CRPS, and EMD/PE/SAE/power-spectrum error of
    the first member."""
    e, y = _arr(ensemble, "ensemble"), _arr(target, "target")
    if e.shape[1:] != y.shape:
        raise InvalidInputError(f"ensemble {e.shape} does not match target {y.shape}")
    return {
        "mse": mse(e.mean(axis=0), y),
        "crps": crps_ensemble(e, y),
        "emd": emd(e[0], y),
        "pe": percentile_error(e[0], y, q),
        "sae": spatial_autocorrelation_error(e[0], y),
        "psd": spectrum_error(e[0], y),
    }
