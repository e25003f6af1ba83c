"""im2gps accuracy at 1/25/200/750/2500 km (G3's metric), cross-checked with pyproj's Geod.

G3 measures geopy's WGS84 geodesic; :mod:`geoneurips.metrics.geodesic` uses the haversine
on a 6371 km sphere, within 0.5 % of the ellipsoid, so the accuracies agree except for
pairs within 0.5 % of a threshold (none below).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.geodesic import IM2GPS_THRESHOLDS_KM, accuracy_at_km, haversine_km


def _geod_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from pyproj import Geod

    _, _, d = Geod(ellps="WGS84").inv(a[:, 1], a[:, 0], b[:, 1], b[:, 0])
    return np.asarray(d) / 1000.0


def test_haversine_close_to_wgs84_geodesic() -> None:
    rng = np.random.default_rng(0)
    a = np.stack([rng.uniform(-80, 80, 500), rng.uniform(-180, 180, 500)], 1)
    b = np.stack([rng.uniform(-80, 80, 500), rng.uniform(-180, 180, 500)], 1)
    ours = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    ref = _geod_km(a, b)
    np.testing.assert_allclose(ours, ref, rtol=6e-3)
    # London - Paris: 343.5 km on WGS84 (pyproj), hand value of the haversine 343.6 km
    lp = haversine_km(51.5074, -0.1278, 48.8566, 2.3522)
    assert float(lp) == pytest.approx(343.5, rel=2e-3)


def test_accuracy_at_thresholds_matches_geod() -> None:
    rng = np.random.default_rng(1)
    true = np.stack([rng.uniform(-60, 60, 400), rng.uniform(-180, 180, 400)], 1)
    # predictions at known distances: 0.5, 10, 100, 500, 2000, 5000 km (north/south offsets)
    dist = rng.choice([0.5, 10, 100, 500, 2000, 5000], 400)
    pred = true.copy()
    pred[:, 0] = true[:, 0] + np.where(true[:, 0] > 0, -1, 1) * dist / 111.2
    ref_d = _geod_km(pred, true)
    ours = accuracy_at_km(pred, true)
    for t in IM2GPS_THRESHOLDS_KM:
        assert ours[f"acc@{t:g}km"] == pytest.approx(float(np.mean(ref_d < t)))
    assert ours["acc@1km"] == pytest.approx(float(np.mean(dist == 0.5)))
    assert list(ours) == ["acc@1km", "acc@25km", "acc@200km", "acc@750km", "acc@2500km"]


def test_accuracy_hand_values_and_errors() -> None:
    t = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0]])
    p = np.array([[0.0, 0.0], [0.0, 1.0], [np.nan, 0.0]])  # 0 km, 111.2 km, failed
    acc = accuracy_at_km(p, t)
    assert acc["acc@1km"] == pytest.approx(1 / 3)
    assert acc["acc@200km"] == pytest.approx(2 / 3)
    assert acc["acc@2500km"] == pytest.approx(2 / 3)  # NaN counts as a miss
    with pytest.raises(InvalidInputError, match="swapped"):
        accuracy_at_km(np.array([[120.0, 30.0]]), np.array([[0.0, 0.0]]))
