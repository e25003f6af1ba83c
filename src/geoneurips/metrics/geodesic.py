"""Great-circle distances and the im2gps accuracy-at-distance metric (G3, GeoCLIP).

Conventions:

- Coordinates are in **degrees**, latitude first: ``(lat, lon)`` pairs, columns
  ``[:, 0] = lat`` and ``[:, 1] = lon``. Latitudes must lie in ``[-90, 90]``: anything else
  raises ``InvalidInputError``, which catches the swapped ``LAT``/``LON`` columns of some
  im2gps3k CSVs. Longitudes are taken as they are (any real value works, e.g. 0..360).
- Distances use the haversine formula on a sphere of radius ``radius_km`` (mean Earth
  radius 6371.0 km by default), in kilometres. The spherical model differs from the WGS84
  geodesic (geopy's default in G3's code) by at most about 0.5 %.
- NaN coordinates give NaN distances; in :func:`accuracy_at_km` a NaN distance counts as a
  miss (a failed prediction is wrong), and it stays in the denominator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ._checks import FloatArray, as_float

__all__ = ["EARTH_RADIUS_KM", "IM2GPS_THRESHOLDS_KM", "accuracy_at_km", "haversine_km"]

EARTH_RADIUS_KM = 6371.0
#: street, city, region, country and continent scales of im2gps (Hays & Efros 2008).
IM2GPS_THRESHOLDS_KM: tuple[float, ...] = (1, 25, 200, 750, 2500)


def _check_lat(lat: FloatArray, name: str) -> None:
    bad = np.abs(lat) > 90.0  # NaN compares false and is let through
    if bad.any():
        value = float(lat[bad].reshape(-1)[0])
        raise InvalidInputError(
            f"{name} must lie in [-90, 90] degrees; found {value} "
            f"({int(bad.sum())} value(s) out of range). Are latitude and longitude swapped?"
        )


def haversine_km(
    lat1: npt.ArrayLike,
    lon1: npt.ArrayLike,
    lat2: npt.ArrayLike,
    lon2: npt.ArrayLike,
    radius_km: float = EARTH_RADIUS_KM,
) -> FloatArray:
    """Great-circle distance in km between points given in degrees (arrays broadcast).

    ``d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))``, with the argument of
    ``asin`` clipped to 1 against rounding. Returns a float64 array of the broadcast shape
    (a 0-d array for scalars).

    Raises:
        InvalidInputError: a latitude outside ``[-90, 90]``, a non-positive radius, or shapes
            that do not broadcast.
    """
    if not radius_km > 0:
        raise InvalidInputError(f"radius_km must be > 0, got {radius_km}")
    la1, lo1 = as_float(lat1, "lat1"), as_float(lon1, "lon1")
    la2, lo2 = as_float(lat2, "lat2"), as_float(lon2, "lon2")
    _check_lat(la1, "lat1")
    _check_lat(la2, "lat2")
    try:
        la1, lo1, la2, lo2 = np.broadcast_arrays(la1, lo1, la2, lo2)
    except ValueError as err:
        raise InvalidInputError(f"coordinate shapes do not broadcast: {err}") from err
    p1, p2 = np.radians(la1), np.radians(la2)
    dphi = p2 - p1
    dlam = np.radians(lo2 - lo1)
    h = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    out: FloatArray = 2.0 * radius_km * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return out


def accuracy_at_km(
    pred_latlon: npt.ArrayLike,
    true_latlon: npt.ArrayLike,
    thresholds_km: Sequence[float] = IM2GPS_THRESHOLDS_KM,
    radius_km: float = EARTH_RADIUS_KM,
) -> dict[str, float]:
    """Fraction of predictions within each distance threshold of the truth.

    Args:
        pred_latlon: ``(N, 2)`` predicted ``(lat, lon)`` in degrees.
        true_latlon: ``(N, 2)`` true ``(lat, lon)`` in degrees.
        thresholds_km: distance thresholds in km; a sample counts if its distance is
            **strictly less** than the threshold (G3's and GeoCLIP's ``distance < t``).
        radius_km: sphere radius for :func:`haversine_km`.

    Returns:
        ``{"acc@1km": ..., "acc@25km": ..., ...}`` (keys formatted ``f"acc@{t:g}km"``, in the
        order given), fractions in ``[0, 1]`` (multiply by 100 for the papers' percents).

    Raises:
        InvalidInputError: shapes other than ``(N, 2)``, different ``N``, ``N == 0``,
            latitudes outside ``[-90, 90]`` or a negative threshold.
    """
    p = as_float(pred_latlon, "pred_latlon")
    t = as_float(true_latlon, "true_latlon")
    for name, arr in (("pred_latlon", p), ("true_latlon", t)):
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise InvalidInputError(f"{name} must be (N, 2) [lat, lon], got shape {arr.shape}")
    if p.shape != t.shape:
        raise InvalidInputError(f"pred_latlon shape {p.shape} != true_latlon shape {t.shape}")
    if p.shape[0] == 0:
        raise InvalidInputError("accuracy_at_km needs at least one sample")
    for thr in thresholds_km:
        if not thr >= 0:
            raise InvalidInputError(f"thresholds must be >= 0 km, got {thr}")
    d = haversine_km(p[:, 0], p[:, 1], t[:, 0], t[:, 1], radius_km=radius_km)
    return {f"acc@{float(thr):g}km": float(np.mean(d < thr)) for thr in thresholds_km}
