"""Terra's spatial task on the REAL global 1-degree temperature CSV (Spatial_Task/data).

Weight-free location features stand in for the pretrained encoders. Measured test MSE
(6,000 random cells, 80/20 split, 300 full-batch Adam steps, MLP hidden 64), raw vs
spherical, seeds 0/1/2:

=============  ====================  ====================  ====================
variable       seed 0                seed 1                seed 2
=============  ====================  ====================  ====================
temperature    9.584 vs 3.008        8.438 vs 2.914        10.632 vs 2.150
precipitation  0.620 vs 0.179        0.730 vs 0.119        0.687 vs 0.104
wind           1.502 vs 0.639        1.207 vs 0.511        1.408 vs 0.587
=============  ====================  ====================  ====================

The largest spherical/raw ratio measured is 0.43 (wind, seed 1); the test asserts < 0.6 on
temperature, seed 0 (measured 0.31).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import InvalidInputError
from geoneurips.forecasting.terra.data import read_grid_csv
from geoneurips.forecasting.terra.spatial import location_features, spatial_regression


def test_spherical_features_are_continuous_across_the_antimeridian() -> None:
    lat = np.array([10.0, 10.0])
    lon = np.array([179.5, -179.5])
    sph = location_features(lat, lon, "spherical")
    raw = location_features(lat, lon, "raw")
    assert sph.shape == (2, 3 + 16)
    np.testing.assert_allclose(np.linalg.norm(sph[:, :3], axis=1), 1.0, rtol=1e-6)
    assert np.abs(sph[0] - sph[1]).max() < 0.15  # 1 degree apart on the sphere
    assert np.abs(raw[0] - raw[1]).max() > 1.9  # raw longitude jumps by 2
    with pytest.raises(InvalidInputError, match="unknown"):
        location_features(lat, lon, "h3")  # type: ignore[arg-type]


def test_spherical_beats_raw_lonlat_on_real_temperature(real_data: Path) -> None:
    torch.set_num_threads(1)
    lat, lon, v = read_grid_csv(real_data / "terra" / "temperature_avg_day.csv")
    raw = spatial_regression(lat, lon, v, "raw", seed=0, cells=6000, steps=300)
    sph = spatial_regression(lat, lon, v, "spherical", seed=0, cells=6000, steps=300)
    assert sph["mse"] < 0.6 * raw["mse"]
    assert sph["mae"] < raw["mae"]
    with pytest.raises(InvalidInputError, match="same length"):
        spatial_regression(lat[:3], lon[:2], v[:3], "raw")
