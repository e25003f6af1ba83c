"""District compactness: Reock (area over the area of the minimum enclosing circle) and
Polsby-Popper (``4 pi A / P^2``, what the published ``evaluate_compactness.jl`` computes),
on the union of each district's BU polygons (local km)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import InvalidInputError
from .data import City

__all__ = ["district_compactness", "district_shape", "polsby_popper", "reock"]


def reock(shape: Any) -> float:
    """Reock compactness of a shapely polygon: ``A / (pi R^2)``, ``R`` the radius of the
    minimum enclosing circle (1 for a disc, ``2 / pi`` for a square)."""
    import shapely

    radius = float(shapely.minimum_bounding_radius(shape))
    if radius <= 0:
        raise InvalidInputError("Reock compactness of an empty or degenerate shape")
    return float(shape.area) / (math.pi * radius**2)


def polsby_popper(shape: Any) -> float:
    """Polsby-Popper compactness ``4 pi A / P^2`` (1 for a disc, ``pi / 4`` for a square)."""
    if shape.length <= 0:
        raise InvalidInputError("Polsby-Popper compactness of an empty shape")
    return 4 * math.pi * float(shape.area) / float(shape.length) ** 2


def district_shape(city: City, district: Sequence[int] | frozenset[int]) -> Any:
    """Union of the district's BU polygons (``buffer(0)`` repairs invalid rings, as the
    published script does)."""
    import shapely

    if city.rings is None:
        raise InvalidInputError(f"{city.name}: no BU polygons, compactness is undefined")
    polys = [shapely.Polygon(city.rings[b]) for b in sorted(district)]
    polys = [p if p.is_valid else p.buffer(0) for p in polys]
    return shapely.union_all(polys)


def district_compactness(city: City, districts: Sequence[Sequence[int] | frozenset[int]]
                         ) -> dict[str, float]:
    """Mean Reock and Polsby-Popper compactness over the districts."""
    shapes = [district_shape(city, d) for d in districts]
    r: NDArray[np.float64] = np.array([reock(s) for s in shapes])
    p: NDArray[np.float64] = np.array([polsby_popper(s) for s in shapes])
    return {"reock": float(r.mean()), "polsby_popper": float(p.mean())}
