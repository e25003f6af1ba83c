"""Turning a class/instance mask into GeoJSON polygons.

One polygon (with holes) per connected component of equal-valued pixels, exactly as GDAL's
polygonize (``rasterio.features.shapes``) draws it along pixel edges, in the raster's CRS.
Components are found with the same connectivity as the polygons (4: edge neighbours only;
8: corners too), so each polygon's ``area_pixels`` and ``score`` are exact per-pixel
statistics of the component it outlines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.features
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import MultiPolygon, mapping, shape
from shapely.geometry.polygon import orient

from ..errors import InvalidInputError
from ..io import write_json

__all__ = ["crs_member", "mask_to_geojson"]

PathLike = str | os.PathLike[str]


def crs_member(crs: CRS | str | None) -> dict[str, Any] | None:
    """The GeoJSON (2008) ``crs`` member: ``urn:ogc:def:crs:EPSG::<code>`` when the CRS has
    an EPSG code, else its WKT; ``None`` for no CRS."""
    if crs is None:
        return None
    obj = CRS.from_user_input(crs)
    epsg = obj.to_epsg()
    name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg is not None else obj.to_wkt()
    return {"type": "name", "properties": {"name": name}}


def mask_to_geojson(
    mask: np.ndarray,
    transform: Affine,
    crs: CRS | str | None,
    *,
    path: PathLike | None = None,
    values: Sequence[int] | None = None,
    scores: np.ndarray | None = None,
    min_pixels: int = 0,
    connectivity: int = 8,
) -> dict[str, Any]:
    """Polygonize the non-zero (or the listed) values of a mask into a FeatureCollection.

    Args:
        mask: 2-D integer or boolean array ``(H, W)`` (a leading band axis of size 1 is
            dropped).
        transform: affine transform of the mask's upper-left pixel corner (rasterio
            convention); coordinates are written in the units of ``crs``.
        crs: the mask's CRS, written as the collection's ``crs`` member (omitted if None).
        path: when given, the GeoJSON is also written there atomically.
        values: the pixel values to polygonize (default: every non-zero value).
        scores: optional float ``(H, W)`` array (e.g. a class probability); each feature
            gets ``score`` = mean of its finite scores inside the polygon (``None`` if none).
            A component GDAL draws as several polygons becomes one MultiPolygon.
        min_pixels: drop polygons with fewer pixels.
        connectivity: 4 or 8, both for grouping pixels and for polygon drawing.

    Returns:
        ``{"type": "FeatureCollection", "crs": ..., "features": [...]}``; each feature has
        ``id`` (0, 1, ... in value then raster scan order), a Polygon ``geometry``
        (exterior counter-clockwise) and properties ``value`` (int), ``area_pixels`` (int)
        and, with ``scores``, ``score``.

    Raises:
        InvalidInputError: mask not 2-D or not integer/boolean, scores of another shape,
            connectivity not 4/8, negative min_pixels.
    """
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InvalidInputError(f"mask must be 2-D (H, W), got shape {np.shape(mask)}")
    if arr.dtype.kind not in "biu":
        raise InvalidInputError(f"mask must hold integers or booleans, got dtype {arr.dtype}")
    if connectivity not in (4, 8):
        raise InvalidInputError(f"connectivity must be 4 or 8, got {connectivity}")
    if min_pixels < 0:
        raise InvalidInputError(f"min_pixels must be >= 0, got {min_pixels}")
    score_arr: np.ndarray | None = None
    if scores is not None:
        score_arr = np.asarray(scores, dtype=np.float64)
        if score_arr.ndim == 3 and score_arr.shape[0] == 1:
            score_arr = score_arr[0]
        if score_arr.shape != arr.shape:
            raise InvalidInputError(
                f"scores have shape {np.shape(scores)} but the mask has shape {arr.shape}"
            )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    wanted = sorted({int(v) for v in values}) if values is not None else \
        [int(v) for v in np.unique(arr) if v != 0]

    from scipy import ndimage  # imported here: scipy.ndimage takes ~1 s to import

    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    labels = np.zeros(arr.shape, dtype=np.int32)
    label_value: list[int] = [0]
    for v in wanted:
        lab, n = ndimage.label(arr == v, structure=structure)
        if n == 0:
            continue
        offset = len(label_value) - 1
        labels[lab > 0] = lab[lab > 0] + offset
        label_value.extend([v] * n)
    nlab = len(label_value)
    counts = np.bincount(labels.ravel(), minlength=nlab)
    mean_scores: np.ndarray | None = None
    if score_arr is not None:
        finite = np.isfinite(score_arr)
        sums = np.bincount(labels[finite], weights=score_arr[finite], minlength=nlab)
        nfin = np.bincount(labels[finite], minlength=nlab)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_scores = sums / nfin

    geoms: dict[int, list[Any]] = {}
    if nlab > 1:
        for geom, lab_value in rasterio.features.shapes(
            labels, mask=labels > 0, connectivity=connectivity, transform=transform
        ):
            geoms.setdefault(int(lab_value), []).append(orient(shape(geom), sign=1.0))

    features: list[dict[str, Any]] = []
    for lab_id in range(1, nlab):
        npx = int(counts[lab_id])
        if npx < min_pixels or lab_id not in geoms:
            continue
        parts = geoms[lab_id]
        poly = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        props: dict[str, Any] = {"value": label_value[lab_id], "area_pixels": npx}
        if mean_scores is not None:
            s = float(mean_scores[lab_id])
            props["score"] = s if np.isfinite(s) else None
        features.append({
            "type": "Feature",
            "id": len(features),
            "geometry": json.loads(json.dumps(mapping(poly))),
            "properties": props,
        })
    collection: dict[str, Any] = {"type": "FeatureCollection"}
    member = crs_member(crs)
    if member is not None:
        collection["crs"] = member
    collection["features"] = features
    if path is not None:
        write_json(Path(path), collection)
    return collection
