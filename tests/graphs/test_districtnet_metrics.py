"""District compactness (Reock, Polsby-Popper) against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geoneurips.errors import InvalidInputError
from geoneurips.graphs.districtnet.data import synthetic_city
from geoneurips.graphs.districtnet.metrics import (
    district_compactness,
    district_shape,
    polsby_popper,
    reock,
)


def test_reock_hand() -> None:
    # unit square: enclosing circle radius sqrt(2)/2 -> 1 / (pi / 2) = 2 / pi
    assert reock(shapely.box(0, 0, 1, 1)) == pytest.approx(2 / math.pi, rel=1e-9)
    # 2 x 1 rectangle: radius sqrt(5)/2 -> 2 / (5 pi / 4) = 8 / (5 pi)
    assert reock(shapely.box(0, 0, 2, 1)) == pytest.approx(8 / (5 * math.pi), rel=1e-9)
    # L of three unit squares: the circle through (2,0), (0,2) centred (1,1), radius
    # sqrt(2), holds every vertex -> 3 / (2 pi)
    ell = shapely.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    assert reock(ell) == pytest.approx(3 / (2 * math.pi), rel=1e-9)
    # regular 64-gon of circumradius 1: area 32 sin(2 pi / 64) -> that over pi
    ring = [(math.cos(2 * math.pi * k / 64), math.sin(2 * math.pi * k / 64)) for k in range(64)]
    assert reock(shapely.Polygon(ring)) == pytest.approx(32 * math.sin(math.pi / 32) / math.pi,
                                                          rel=1e-9)
    with pytest.raises(InvalidInputError):
        reock(shapely.Polygon())


def test_polsby_popper_hand() -> None:
    assert polsby_popper(shapely.box(0, 0, 1, 1)) == pytest.approx(math.pi / 4)
    ell = shapely.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    assert polsby_popper(ell) == pytest.approx(4 * math.pi * 3 / 64)  # perimeter 8


def test_district_union() -> None:
    city = synthetic_city(4, 0)
    city.rings = [np.array(r, dtype=float) for r in (
        [(0, 0), (1, 0), (1, 1), (0, 1)], [(1, 0), (2, 0), (2, 1), (1, 1)],
        [(0, 1), (1, 1), (1, 2), (0, 2)], [(1, 1), (2, 1), (2, 2), (1, 2)])]
    assert district_shape(city, [0, 1]).area == pytest.approx(2.0)
    got = district_compactness(city, [[0, 1], [2], [3]])
    assert got["reock"] == pytest.approx((8 / (5 * math.pi) + 2 * 2 / math.pi) / 3)
    assert got["polsby_popper"] == pytest.approx((4 * math.pi * 2 / 36 + 2 * math.pi / 4) / 3)
    city.rings = None
    with pytest.raises(InvalidInputError):
        district_compactness(city, [[0, 1]])
