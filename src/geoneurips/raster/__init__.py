"""Raster layer: GeoTIFF I/O, streaming tiled inference and vectorization.

* :mod:`geoneurips.raster.io`: :func:`raster_info`, :func:`read_raster`,
  :func:`write_raster` (atomic, tiled deflate GeoTIFF), :func:`check_coregistered`;
* :mod:`geoneurips.raster.engine`: :func:`predict_raster` (local and Dask drivers);
* :mod:`geoneurips.raster.vectorize`: :func:`mask_to_geojson`.

Arrays are ``(C, H, W)``, band numbers 1-based. No torch import anywhere in this package;
Dask is imported only when the Dask driver is used.
"""

from __future__ import annotations

from .engine import WindowContext, default_out_nodata, predict_raster
from .io import RasterInfo, check_coregistered, raster_info, read_raster, write_raster
from .vectorize import crs_member, mask_to_geojson

__all__ = [
    "RasterInfo",
    "WindowContext",
    "check_coregistered",
    "crs_member",
    "default_out_nodata",
    "mask_to_geojson",
    "predict_raster",
    "raster_info",
    "read_raster",
    "write_raster",
]
