"""SolarCube metrics and the reference forecasts of solar forecasting.

Metrics (public code: MSE, MAE, RMSE in the training scripts; ``view_sample``: R2, bias,
RMSE and rRMSE = RMSE / mean(observed)), overall and per lead time. Arrays are
``(N, T_out, ...)``; an optional boolean ``mask`` of the same shape selects the points that
count (land pixels, valid steps).

Baselines: persistence (the last observed value for every lead) and smart persistence (the
last clear-sky index times the clear-sky irradiance at each lead), plus a ridge regression on
the same history window, the learned method a practitioner tries first.
"""

from __future__ import annotations

import numpy as np

from geoneurips.errors import InvalidInputError

__all__ = [
    "METRIC_DIRECTIONS",
    "fit_ridge",
    "forecast_metrics",
    "lead_metrics",
    "persistence",
    "predict_ridge",
    "smart_persistence",
]

METRIC_DIRECTIONS = {"mse": "min", "mae": "min", "rmse": "min", "rrmse": "min", "r2": "max",
                     "bias": "info"}


def _flat(pred: np.ndarray, obs: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    p, o = np.asarray(pred, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    if p.shape != o.shape:
        raise InvalidInputError(f"prediction shape {p.shape} != observation shape {o.shape}")
    m = np.isfinite(o) & np.isfinite(p)
    if mask is not None:
        m &= np.broadcast_to(np.asarray(mask, dtype=bool), o.shape)
    return p[m], o[m]


def forecast_metrics(pred: np.ndarray, obs: np.ndarray,
                     mask: np.ndarray | None = None) -> dict[str, float]:
    """MSE, MAE, RMSE, rRMSE (RMSE / mean obs), R2 (1 - SSE/SST) and bias (mean pred - obs)."""
    p, o = _flat(pred, obs, mask)
    if o.size == 0:
        raise InvalidInputError("no valid points to score")
    err = p - o
    mse = float(np.mean(err**2))
    sst = float(np.sum((o - o.mean()) ** 2))
    mean_obs = float(o.mean())
    return {
        "mse": mse,
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(mse)),
        "rrmse": float(np.sqrt(mse) / mean_obs) if mean_obs != 0 else float("nan"),
        "r2": float(1.0 - np.sum(err**2) / sst) if sst > 0 else float("nan"),
        "bias": float(np.mean(err)),
    }


def lead_metrics(pred: np.ndarray, obs: np.ndarray,
                 mask: np.ndarray | None = None) -> dict[str, list[float]]:
    """:func:`forecast_metrics` for each lead (axis 1): name -> list over leads."""
    out: dict[str, list[float]] = {k: [] for k in METRIC_DIRECTIONS}
    for k in range(np.asarray(obs).shape[1]):
        mk = None if mask is None else np.broadcast_to(mask, np.asarray(obs).shape)[:, k]
        m = forecast_metrics(np.asarray(pred)[:, k], np.asarray(obs)[:, k], mk)
        for name, v in m.items():
            out[name].append(v)
    return out


def persistence(history: np.ndarray, output_len: int) -> np.ndarray:
    """Repeat the last input step (axis 1) ``output_len`` times."""
    last = np.asarray(history)[:, -1:]
    return np.repeat(last, output_len, axis=1)


def smart_persistence(history_csi: np.ndarray, clear_future: np.ndarray) -> np.ndarray:
    """Clear-sky index persistence: last index x clear-sky irradiance at each lead.

    ``history_csi`` ``(N, T_in, ...)``, ``clear_future`` ``(N, T_out, ...)``.
    """
    out: np.ndarray = np.asarray(history_csi)[:, -1:] * np.asarray(clear_future)
    return out


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float = 1e-3) -> np.ndarray:
    """Closed-form ridge ``(X'X + alpha n I)^-1 X'Y`` with an unpenalised intercept.

    Returns the ``(F + 1, K)`` weights, the intercept last.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    mu_x, mu_y = x.mean(0), y.mean(0)
    xc, yc = x - mu_x, y - mu_y
    a = xc.T @ xc + alpha * len(x) * np.eye(x.shape[1])
    w = np.linalg.solve(a, xc.T @ yc)
    return np.vstack([w, mu_y - mu_x @ w])


def predict_ridge(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Apply :func:`fit_ridge` weights."""
    out: np.ndarray = np.asarray(features, dtype=np.float64) @ weights[:-1] + weights[-1]
    return out
