"""Terra's spatial task: location features -> MLP regression of a 1-degree climate field.

Published protocol (``Spatial_Task``): frozen location-encoder embeddings of each grid cell
feed an MLP (hidden 64) trained with MSE on the z-scored target, random 80/20 split, MSE
and MAE reported. The pretrained encoders (SatCLIP, GeoCLIP, CSP) need weights we do not
ship, so two weight-free encoders implemented here stand in for them:

* ``raw``: ``(lat / 90, lon / 180)``;
* ``spherical``: the unit vector ``(x, y, z)`` plus multi-scale sinusoids
  ``sin/cos(2^s * lat)``, ``sin/cos(2^s * lon)`` for ``s = 0..scales-1`` (radians), which is
  continuous across the antimeridian, unlike raw longitude.

Deliberate differences: full-batch Adam for a fixed number of steps instead of early
stopping with patience 100; plain torch (no Lightning) since it is one full-batch loop.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from geoneurips.errors import InvalidInputError

__all__ = ["location_features", "spatial_regression"]


def location_features(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    kind: Literal["raw", "spherical"],
    scales: int = 4,
) -> NDArray[np.float32]:
    """Encode (lat, lon) in degrees as ``raw`` (2 numbers) or ``spherical`` (3 + 4*scales)."""
    if kind == "raw":
        return np.stack([lat / 90.0, lon / 180.0], axis=1).astype(np.float32)
    if kind != "spherical":
        raise InvalidInputError(f"unknown location feature {kind!r} (raw or spherical)")
    phi, lam = np.radians(lat), np.radians(lon)
    cols = [np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)]
    for s in range(scales):
        f = 2.0**s
        cols += [np.sin(f * phi), np.cos(f * phi), np.sin(f * lam), np.cos(f * lam)]
    return np.stack(cols, axis=1).astype(np.float32)


def spatial_regression(
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    value: NDArray[np.float64],
    kind: Literal["raw", "spherical"],
    *,
    seed: int = 0,
    steps: int = 400,
    hidden: int = 64,
    cells: int | None = None,
) -> dict[str, float]:
    """Train the MLP on a random 80 % of cells; test MSE and MAE (target units) on the rest.

    ``cells`` draws that many cells at random first (for fast tests); ``None`` uses all.
    """
    if not len(lat) == len(lon) == len(value):
        raise InvalidInputError("lat, lon and value must have the same length")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(value))
    if cells is not None:
        idx = idx[:cells]
    n_train = int(0.8 * len(idx))
    tr, te = idx[:n_train], idx[n_train:]
    feats = torch.from_numpy(location_features(lat, lon, kind))
    mu, sd = float(value[tr].mean()), float(value[tr].std())
    y = torch.from_numpy(((value - mu) / sd).astype(np.float32))
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(feats.shape[1], hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss: torch.Tensor = torch.mean((net(feats[tr]).squeeze(1) - y[tr]) ** 2)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        opt.step()
    with torch.no_grad():
        pred = net(feats[te]).squeeze(1).numpy() * sd + mu
    err = pred - value[te]
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}
