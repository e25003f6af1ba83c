"""Cross-checks of geoneurips.metrics.geodesic (haversine_km, accuracy_at_km)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics.pairwise import haversine_distances

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.geodesic import accuracy_at_km, haversine_km

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)


def test_haversine_london_paris() -> None:
    d = haversine_km(LONDON[0], LONDON[1], PARIS[0], PARIS[1])
    assert d.shape == ()
    assert float(d) == pytest.approx(343.5, abs=0.5)
    assert float(haversine_km(PARIS[0], PARIS[1], LONDON[0], LONDON[1])) == pytest.approx(float(d))


def test_haversine_hand_values() -> None:
    r = 6371.0
    assert float(haversine_km(0, 0, 0, 0)) == 0.0
    assert float(haversine_km(0, 0, 0, 180)) == pytest.approx(math.pi * r)
    assert float(haversine_km(90, 0, -90, 0)) == pytest.approx(math.pi * r)
    assert float(haversine_km(0, 0, 1, 0)) == pytest.approx(r * math.pi / 180)
    # longitude conventions: 350 E == 10 W; and the radius scales linearly
    assert float(haversine_km(10, 350, 10, -10)) == pytest.approx(0.0, abs=1e-9)
    assert float(haversine_km(0, 0, 0, 90, radius_km=1.0)) == pytest.approx(math.pi / 2)


def test_haversine_matches_sklearn_and_broadcasts() -> None:
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(-90, 90, 50), rng.uniform(-180, 180, 50)])
    b = np.column_stack([rng.uniform(-90, 90, 40), rng.uniform(-180, 180, 40)])
    ref = haversine_distances(np.radians(a), np.radians(b)) * 6371.0
    ours = haversine_km(a[:, :1, None][:, 0], a[:, 1:], b[None, :, 0], b[None, :, 1])
    assert ours.shape == (50, 40)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-8)


def test_haversine_rejects_bad_latitudes() -> None:
    with pytest.raises(InvalidInputError, match="swapped"):
        haversine_km(np.array([45.0, 151.2]), 0.0, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="lat2"):
        haversine_km(0.0, 0.0, -90.5, 0.0)
    with pytest.raises(InvalidInputError, match="radius"):
        haversine_km(0.0, 0.0, 1.0, 0.0, radius_km=0.0)
    with pytest.raises(InvalidInputError, match="broadcast"):
        haversine_km(np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(4))
    assert np.isnan(haversine_km(np.nan, 0.0, 0.0, 0.0))


def test_accuracy_at_km_hand_values() -> None:
    km_per_deg = 6371.0 * math.pi / 180
    dist = np.array([0.5, 10.0, 100.0, 500.0, 1000.0, 3000.0, 24.999, 25.001])
    true = np.zeros((8, 2))
    pred = np.column_stack([dist / km_per_deg, np.zeros(8)])  # due north
    acc = accuracy_at_km(pred, true)
    assert list(acc) == ["acc@1km", "acc@25km", "acc@200km", "acc@750km", "acc@2500km"]
    expected = {"acc@1km": 1, "acc@25km": 3, "acc@200km": 5, "acc@750km": 6, "acc@2500km": 7}
    for key, count in expected.items():
        assert acc[key] == pytest.approx(count / 8), key
    assert accuracy_at_km(pred, true, thresholds_km=(0.5, 1e4)) == {
        "acc@0.5km": 0.0,
        "acc@10000km": 1.0,
    }


def test_accuracy_at_km_matches_independent_distances() -> None:
    rng = np.random.default_rng(1)
    true = np.column_stack([rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300)])
    pred = true + rng.normal(0, 3, true.shape)
    pred[:, 0] = np.clip(pred[:, 0], -90, 90)
    d = np.diag(haversine_distances(np.radians(pred), np.radians(true))) * 6371.0
    acc = accuracy_at_km(pred, true)
    for t in (1, 25, 200, 750, 2500):
        assert acc[f"acc@{t}km"] == pytest.approx(np.mean(d < t))
    assert 0.0 < acc["acc@200km"] < acc["acc@750km"] < 1.0


def test_accuracy_at_km_nan_is_a_miss_and_errors() -> None:
    true = np.zeros((4, 2))
    pred = np.zeros((4, 2))
    pred[1] = np.nan
    assert accuracy_at_km(pred, true, thresholds_km=(1,)) == {"acc@1km": 0.75}
    with pytest.raises(InvalidInputError, match="N, 2"):
        accuracy_at_km(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(InvalidInputError, match="shape"):
        accuracy_at_km(np.zeros((4, 2)), np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match="swapped"):
        # a [lon, lat] CSV read as [lat, lon]: Sydney (151.2 E) lands in the latitude column
        accuracy_at_km(np.array([[151.2, -33.9]]), np.array([[-33.9, 151.2]]))
    with pytest.raises(InvalidInputError, match="at least one"):
        accuracy_at_km(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(InvalidInputError, match=">= 0"):
        accuracy_at_km(true, true, thresholds_km=(-1,))
