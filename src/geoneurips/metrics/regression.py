"""Regression metrics: ``mae``, ``rmse`` and ``r2_score`` (TorchSpatial regression, AllClear).

Conventions shared by every function here:

- Arguments are ``(pred, target)``, in that order (note: scikit-learn uses
  ``(y_true, y_pred)``); both must have the same shape and are flattened, so every element
  counts once (no per-output averaging).
- Values are computed in float64 and returned as Python floats.
- NaN anywhere in the (masked) inputs propagates: the result is NaN. Nothing is dropped
  silently; pass ``mask`` to leave elements out.
- ``mask`` (where accepted) is broadcast to the input shape; only elements where it is true
  (non-zero) count. An all-false mask gives NaN.

Raises:
    InvalidInputError: shape mismatch, empty inputs, non-numeric inputs, or a mask that does
        not broadcast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._checks import FloatArray, broadcast_mask, float_pair

__all__ = ["mae", "mse", "r2_score", "rmse"]


def _masked_values(
    pred: npt.ArrayLike, target: npt.ArrayLike, mask: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray]:
    p, t = float_pair(pred, target)
    m = broadcast_mask(mask, p.shape)
    if m is None:
        return p.reshape(-1), t.reshape(-1)
    return p[m], t[m]


def mse(pred: npt.ArrayLike, target: npt.ArrayLike, *, mask: npt.ArrayLike | None = None) -> float:
    """Mean squared error ``mean((pred - target)**2)`` over all (masked) elements."""
    p, t = _masked_values(pred, target, mask)
    if p.size == 0:
        return float("nan")
    d = p - t
    return float(np.mean(d * d))


def mae(pred: npt.ArrayLike, target: npt.ArrayLike, *, mask: npt.ArrayLike | None = None) -> float:
    """Mean absolute error ``mean(|pred - target|)`` over all (masked) elements."""
    p, t = _masked_values(pred, target, mask)
    if p.size == 0:
        return float("nan")
    return float(np.mean(np.abs(p - t)))


def rmse(pred: npt.ArrayLike, target: npt.ArrayLike, *, mask: npt.ArrayLike | None = None) -> float:
    """Root mean squared error ``sqrt(mean((pred - target)**2))`` over all (masked) elements.

    This is the RMSE of the flattened arrays, not a mean of per-sample or per-band RMSEs.
    """
    return float(np.sqrt(mse(pred, target, mask=mask)))


def r2_score(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` of the flattened arrays.

    ``SS_res = sum((target - pred)**2)`` and ``SS_tot = sum((target - mean(target))**2)``, as
    in ``sklearn.metrics.r2_score(target.ravel(), pred.ravel())``. It can be negative
    (a prediction worse than the constant mean).

    Edge case: a constant ``target`` (``SS_tot == 0``) makes R² undefined and this returns
    NaN (scikit-learn would return 1.0 or 0.0 with ``force_finite=True``).
    """
    p, t = _masked_values(pred, target, None)
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum((t - np.mean(t)) ** 2))
    if np.isnan(ss_res) or np.isnan(ss_tot) or ss_tot == 0.0:
        return float("nan")
    return 1.0 - ss_res / ss_tot
