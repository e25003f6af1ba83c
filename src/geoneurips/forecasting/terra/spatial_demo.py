"""The spatial-task part of the Terra demo: location embeddings compared on the REAL global
1-degree temperature file (``temperature_avg_day.csv``, Terra's ``Spatial_Task/data``).

Embeddings (see :mod:`.spatial`): raw ``(lat, lon)`` (the baseline), the project's
TorchSpatial encodings ``xyz``, ``sphere_c`` and ``sphere_m`` (Sphere2Vec), GeoCLIP's
pretrained location encoder, and the weight-free ``spherical`` features. Each trains the
published MLP (hidden 64, MSE on the z-scored target, 80/20 random split, early stopping)
on the same random cells (quick: 3,000, full: 6,000 of 64,800).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data import read_grid_csv
from .spatial import spatial_regression

__all__ = ["SPATIAL_ENCODERS", "spatial_comparison"]

SPATIAL_ENCODERS: tuple[str, ...] = ("raw", "xyz", "sphere_c", "sphere_m", "geoclip", "spherical")


def spatial_comparison(root: Path, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Test MSE/MAE (degC) per embedding, and the best TorchSpatial sphere encoder's MSE ratio
    to raw lon/lat (``sphere_vs_raw_mse``)."""
    lat, lon, v = read_grid_csv(root / "temperature_avg_day.csv")
    cells = 3000 if quick else 6000
    res = {
        k: spatial_regression(lat, lon, v, k, seed=seed, cells=cells, steps=300)
        for k in SPATIAL_ENCODERS
    }
    best = min(("xyz", "sphere_c", "sphere_m"), key=lambda k: res[k]["mse"])
    return {
        "data": str(root / "temperature_avg_day.csv"),
        "cells": cells,
        "mse": {k: r["mse"] for k, r in res.items()},
        "mae": {k: r["mae"] for k, r in res.items()},
        "best_sphere_encoder": best,
        "sphere_vs_raw_mse": res[best]["mse"] / res["raw"]["mse"],
    }
