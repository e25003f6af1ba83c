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

from typing import TYPE_CHECKING

import numpy as np

from geoneurips.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

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


def _shift_frames(frames: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Translate ``frames`` ``(B, H, W)`` by ``(dy, dx)`` pixels (bilinear, edge values
    continue beyond the tile): ``out[y, x] = frames[y - dy, x - dx]``."""
    import torch
    import torch.nn.functional as F

    b, h, w = frames.shape
    ys = torch.arange(h, dtype=frames.dtype)[None, :, None] - dy[:, None, None]
    xs = torch.arange(w, dtype=frames.dtype)[None, None, :] - dx[:, None, None]
    grid = torch.stack(
        [2 * xs.expand(b, h, w) / max(w - 1, 1) - 1, 2 * ys.expand(b, h, w) / max(h - 1, 1) - 1],
        dim=-1,
    )
    out: torch.Tensor = F.grid_sample(
        frames[:, None], grid, mode="bilinear", padding_mode="border", align_corners=True
    )[:, 0]
    return out


def cloud_motion_vectors(
    history: np.ndarray, *, lag: int = 3, max_speed: float = 1.0, resolution: float = 0.05
) -> np.ndarray:
    """One cloud motion vector per window, in pixels per step: the translation ``v`` that
    best maps frame ``t - lag`` onto frame ``t`` (the last), ``argmin_v MSE(shift(f_{t-lag},
    lag v), f_t)`` over a grid of step ``resolution`` in ``[-max_speed, max_speed]^2``,
    scored on the pixels at least ``ceil(lag max_speed)`` from the border.

    ``history`` ``(N, T, H, W)`` -> ``(N, 2)`` ``(vy, vx)``. The classic satellite
    cloud-motion-vector estimate (block matching of consecutive images), here one block:
    the whole tile.
    """
    import math

    import torch

    x = torch.as_tensor(np.asarray(history, dtype=np.float32))
    n, t, h, w = x.shape
    if t <= lag:
        raise ValueError(f"need more than lag={lag} input steps, got {t}")
    grid = torch.arange(-max_speed, max_speed + 1e-9, resolution, dtype=torch.float32)
    vy, vx = torch.meshgrid(grid, grid, indexing="ij")
    vy, vx = vy.reshape(-1), vx.reshape(-1)
    m = min(math.ceil(lag * max_speed), (min(h, w) - 1) // 2)
    out = np.zeros((n, 2), np.float32)
    for i in range(n):
        src = x[i, -1 - lag].expand(len(vy), h, w)
        moved = _shift_frames(src, lag * vy, lag * vx)
        err = ((moved - x[i, -1]) ** 2)[:, m : h - m, m : w - m].mean((1, 2))
        k = int(err.argmin())
        out[i] = (float(vy[k]), float(vx[k]))
    return out


def advection_forecast(
    history: np.ndarray, output_len: int, *, lag: int = 3, max_speed: float = 1.0,
    resolution: float = 0.05,
) -> np.ndarray:
    """Cloud-motion-vector nowcast: the last frame advected by the window's motion vector
    (:func:`cloud_motion_vectors`), ``k`` steps for lead ``k``; cloud entering the tile
    continues the upwind edge. ``history`` ``(N, T, H, W)`` -> ``(N, output_len, H, W)``.

    The operational first try of satellite solar nowcasting (cloud motion vectors applied
    to the clear-sky index), given the same frames as the ConvLSTM.
    """
    import torch

    v = torch.as_tensor(
        cloud_motion_vectors(history, lag=lag, max_speed=max_speed, resolution=resolution)
    )
    last = torch.as_tensor(np.asarray(history, dtype=np.float32)[:, -1])
    leads = [_shift_frames(last, k * v[:, 0], k * v[:, 1]) for k in range(1, output_len + 1)]
    return torch.stack(leads, dim=1).numpy()
