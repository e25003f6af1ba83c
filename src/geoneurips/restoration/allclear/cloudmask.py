"""Cloud and shadow masks for Sentinel-2 stacks that come without any (``declouds``).

Two detectors, both shipping their trained weights inside their pip packages (no download):

* :func:`allclear_cld_shdw` reproduces AllClear's 5-band ``cld_shdw`` product
  (``dataset_construction/gee_download``: ``add_cld_shdw_mask``) from a Sentinel-2 L1C image:

  1. ``s2_cld_prb_s2cloudless``: the s2cloudless cloud probability in percent. s2cloudless
     (Sentinel Hub, LightGBM pixel classifier) takes the 13 L1C bands B1..B12 (with B8A and
     B10) as top-of-atmosphere reflectance ``DN / 10000`` and uses B1, B2, B4, B5, B8, B8A,
     B9, B10, B11, B12; it is applied per 10 m pixel, as Earth Engine's
     ``COPERNICUS/S2_CLOUD_PROBABILITY`` is (bands resampled to 10 m, no averaging).
  2. ``clouds_30``: probability > 30 %, eroded by a disk of radius 2 pixels, then dilated
     twice by a disk of radius 4 (Earth Engine ``focalMin(2).focalMax(4, iterations=2)``).
  3-5. ``shadows_thres_20/25/30``: dark pixels (``B8 < 0.20 / 0.25 / 0.30`` reflectance, not
     water; ``focalMin(2).focalMax(5)``) that lie within 2 km of a ``clouds_30`` pixel in
     the direction of the sun (Earth Engine ``directionalDistanceTransform`` at 200 m scale
     with a 10-pixel reach, towards ``90 - sun azimuth``).

  Deliberate differences (no Earth Engine, L1C input): AllClear thresholds the NIR of the
  surface reflectance product (S2_SR B8) and excludes water by its scene classification
  (``SCL == 6``); neither exists for L1C, so the TOA B8 is thresholded and water is taken as
  ``NDWI = (B3 - B8) / (B3 + B8) > 0``. The sun azimuth comes from the caller, or is
  computed for the image centre at Sentinel-2's 10:30 local solar overpass on the image's
  date (:func:`sentinel2_sun_azimuth`). The 200 m cloud projection uses the fraction of
  cloudy 10 m pixels in each 200 m cell (> 0) instead of Earth Engine's default sampling.

* :func:`csmask_cld_shdw`: UKIS ``ukis-csmask`` (DLR, Apache-2.0), a U-Net for clouds and
  cloud shadows with ONNX weights. Its 6-band model takes ``blue, green, red, nir, swir16,
  swir22`` (S2 B2, B3, B4, B8, B11, B12) as float32 reflectance ``DN / 10000``
  (``product_level="l1c"`` or ``"l2a"``); classes 0 clear, 1 cloud, 2 shadow. Returned in
  the same 5-band layout (band 1 = 100 x cloud, band 2 = cloud, bands 3-5 = shadow) so
  that the rest of the pipeline reads it the AllClear way (bands 2 and 5).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ...errors import DependencyMissingError, InvalidInputError

__all__ = [
    "DETECTORS",
    "SHADOW_THRESHOLDS",
    "allclear_cld_shdw",
    "cloud_projection",
    "csmask_cld_shdw",
    "detect_cld_shdw",
    "s2cloudless_probability",
    "sentinel2_sun_azimuth",
    "write_cld_shdw",
]

Detector = Literal["s2cloudless", "ukis-csmask"]
DETECTORS: tuple[str, ...] = ("s2cloudless", "ukis-csmask")
#: NIR darkness thresholds (reflectance) of AllClear's three shadow bands.
SHADOW_THRESHOLDS = (0.20, 0.25, 0.30)
#: Band indices (0-based) of the 13-band L1C stack B1..B12 (B8A after B8, B10 included).
_B = {name: i for i, name in enumerate(
    ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"))}
F32 = npt.NDArray[np.float32]


def _check_toa(toa: npt.NDArray[Any]) -> F32:
    a = np.asarray(toa, dtype=np.float32)
    if a.ndim != 3 or a.shape[0] != 13:
        raise InvalidInputError(
            f"cloud detection needs a 13-band Sentinel-2 L1C image (B1..B12 with B8A and B10) "
            f"as (13, H, W) reflectance, got shape {a.shape}")
    return np.nan_to_num(a, nan=0.0)


def s2cloudless_probability(toa: npt.NDArray[Any]) -> F32:
    """s2cloudless cloud probability in ``[0, 1]`` of a ``(13, H, W)`` L1C reflectance
    image (``DN / 10000``), per pixel (no averaging, no dilation)."""
    try:
        from s2cloudless.cloud_detector import S2PixelCloudDetector
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DependencyMissingError("s2cloudless", "s2cloudless cloud masks") from exc
    a = _check_toa(toa)
    det = S2PixelCloudDetector(threshold=0.4, all_bands=True, average_over=None,
                               dilation_size=None)
    prob = det.get_cloud_probability_maps(np.moveaxis(a, 0, -1)[None])[0]
    out: F32 = prob.astype(np.float32)
    return out


def _disk(radius: int) -> npt.NDArray[np.bool_]:
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    out: npt.NDArray[np.bool_] = (x * x + y * y) <= radius * radius
    return out


def _erode(m: npt.NDArray[np.bool_], r: int) -> npt.NDArray[np.bool_]:
    from scipy.ndimage import binary_erosion

    out: npt.NDArray[np.bool_] = binary_erosion(m, _disk(r), border_value=1)
    return out


def _dilate(m: npt.NDArray[np.bool_], r: int, iterations: int = 1) -> npt.NDArray[np.bool_]:
    from scipy.ndimage import binary_dilation

    out: npt.NDArray[np.bool_] = binary_dilation(m, _disk(r), iterations=iterations)
    return out


def cloud_projection(clouds: npt.NDArray[np.bool_], sun_azimuth: float, *, cell: int = 20,
                     reach: int = 10) -> npt.NDArray[np.bool_]:
    """Pixels with a cloud within ``reach`` cells towards the sun (the cloud's possible
    shadow area): Earth Engine's ``directionalDistanceTransform(90 - azimuth, reach)``
    mask on a grid of ``cell x cell`` pixels (200 m for 10 m pixels).

    Args:
        clouds: ``(H, W)`` cloud mask, north up.
        sun_azimuth: degrees clockwise from north.
        cell: pixels per projection cell.
        reach: cells searched towards the sun.
    """
    h, w = clouds.shape
    hc, wc = -(-h // cell), -(-w // cell)
    pad = np.zeros((hc * cell, wc * cell), bool)
    pad[:h, :w] = clouds
    coarse = np.asarray(pad.reshape(hc, cell, wc, cell).any(axis=(1, 3)), dtype=bool)
    az = math.radians(sun_azimuth)
    d_row, d_col = -math.cos(az), math.sin(az)  # one step towards the sun (north up)
    proj = coarse.copy()
    for k in range(1, reach + 1):
        dr, dc = int(round(k * d_row)), int(round(k * d_col))
        shifted = np.zeros_like(coarse)
        # shadow candidate at p if cloud at p + k * d: shift the cloud map by -k * d
        src_r = slice(max(dr, 0), hc + min(dr, 0))
        dst_r = slice(max(-dr, 0), hc + min(-dr, 0))
        src_c = slice(max(dc, 0), wc + min(dc, 0))
        dst_c = slice(max(-dc, 0), wc + min(-dc, 0))
        shifted[dst_r, dst_c] = coarse[src_r, src_c]
        proj |= shifted
    full = np.repeat(np.repeat(proj, cell, 0), cell, 1)[:h, :w]
    return np.asarray(full, dtype=bool)


def allclear_cld_shdw(toa: npt.NDArray[Any], sun_azimuth: float, *,
                      cloud_threshold: float = 30.0,
                      shadow_thresholds: tuple[float, ...] = SHADOW_THRESHOLDS) -> F32:
    """AllClear's 5-band ``cld_shdw`` product from a ``(13, H, W)`` L1C reflectance image
    (module docstring): ``[probability %, clouds_30, shadows_20, shadows_25, shadows_30]``.
    """
    a = _check_toa(toa)
    prob = 100.0 * s2cloudless_probability(a)
    clouds = _dilate(_erode(prob > cloud_threshold, 2), 4, iterations=2)
    nir, green = a[_B["B8"]], a[_B["B3"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ndwi = np.where(green + nir > 0, (green - nir) / (green + nir), 0.0)
    not_water = ndwi <= 0
    proj = cloud_projection(clouds, sun_azimuth)
    bands = [prob.astype(np.float32), clouds.astype(np.float32)]
    for t in shadow_thresholds:
        dark = _dilate(_erode((nir < t) & not_water, 2), 5)
        bands.append((proj & dark & ~clouds).astype(np.float32))
    return np.stack(bands)


def csmask_cld_shdw(toa: npt.NDArray[Any], product_level: str = "l1c") -> F32:
    """ukis-csmask clouds and shadows of a ``(13, H, W)`` Sentinel-2 reflectance image, in
    the AllClear 5-band layout (module docstring)."""
    try:
        from ukis_csmask.mask import CSmask
    except ImportError as exc:
        raise DependencyMissingError("ukis-csmask[cpu]", "ukis-csmask cloud masks") from exc
    import warnings

    a = _check_toa(toa)
    img = np.ascontiguousarray(
        np.moveaxis(a[[_B["B2"], _B["B3"], _B["B4"], _B["B8"], _B["B11"], _B["B12"]]], 0, -1),
        dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "smaller than the 256 x 256 tiles"
        csm = CSmask(img, band_order=["blue", "green", "red", "nir", "swir16", "swir22"],
                     product_level=product_level, intra_op_num_threads=1,
                     inter_op_num_threads=1, providers=["CPUExecutionProvider"]).csm[..., 0]
    cloud = (csm == 1).astype(np.float32)
    shadow = (csm == 2).astype(np.float32)
    return np.stack([100.0 * cloud, cloud, shadow, shadow, shadow])


def detect_cld_shdw(toa: npt.NDArray[Any], detector: Detector = "s2cloudless", *,
                    sun_azimuth: float | None = None) -> F32:
    """``(5, H, W)`` AllClear-layout cloud/shadow bands from either detector."""
    if detector == "s2cloudless":
        if sun_azimuth is None:
            raise InvalidInputError("the s2cloudless shadow projection needs the sun azimuth")
        return allclear_cld_shdw(toa, sun_azimuth)
    if detector == "ukis-csmask":
        return csmask_cld_shdw(toa)
    raise InvalidInputError(f"unknown cloud detector {detector!r}; use one of {DETECTORS}")


def sentinel2_sun_azimuth(lat: float, lon: float, when: datetime) -> float:
    """Solar azimuth (degrees clockwise from north) at Sentinel-2's overpass, 10:30 local
    mean solar time, on ``when``'s date at ``(lat, lon)`` (NOAA low-accuracy solar position:
    declination and equation of time from the fractional year; good to about a degree)."""
    doy = when.timetuple().tm_yday
    g = 2 * math.pi / 365.0 * (doy - 1 + (10.5 - 12) / 24)
    eot = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    solar_minutes = 10.5 * 60 + eot  # true solar time at 10:30 mean solar time
    del lon  # local mean solar time is the same at every longitude
    ha = math.radians(solar_minutes / 4 - 180)
    phi = math.radians(lat)
    # Meeus: azimuth from south, westward; + 180 gives clockwise from north
    az = math.degrees(math.atan2(math.sin(ha),
                                 math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
    return (az + 180.0) % 360.0


def _centre_lat_lon(info: Any) -> tuple[float, float]:
    """Latitude and longitude of a raster's centre (its CRS transformed to EPSG:4326)."""
    from rasterio.warp import transform as warp

    if info.crs is None:
        raise InvalidInputError(
            f"{str(info.path)!r} has no CRS: pass the sun azimuth for the shadow projection")
    x, y = info.transform @ (info.width / 2, info.height / 2)
    lon, lat = warp(info.crs, "EPSG:4326", [x], [y])
    return float(lat[0]), float(lon[0])


def write_cld_shdw(image: Any, output: Any, *, detector: Detector = "s2cloudless",
                   when: datetime | None = None, sun_azimuth: float | None = None,
                   scale: float = 1e4, block: int = 1000, halo: int = 260) -> dict[str, Any]:
    """Detect clouds and shadows in a 13-band Sentinel-2 L1C GeoTIFF and write the AllClear
    5-band ``cld_shdw`` GeoTIFF (float32, same grid), window by window.

    Args:
        image: the S2 raster (bands B1..B12 with B8A and B10, values ``scale`` x reflectance,
            AllClear ``s2_toa`` / Sen1Floods11 ``S2Hand`` / Earth Engine L1C exports).
        output: the mask file to write (atomically).
        detector: ``"s2cloudless"`` (AllClear's masks) or ``"ukis-csmask"``.
        when: acquisition date (for the sun azimuth, s2cloudless only).
        sun_azimuth: degrees clockwise from north; default :func:`sentinel2_sun_azimuth` at
            the image centre on ``when``.
        scale: divisor giving reflectance.
        block: window edge (a multiple of the 20-pixel projection cell).
        halo: context read around each window (covers the 2 km shadow reach and the
            morphology; a multiple of 20).

    Returns:
        ``{"cloud_fraction", "shadow_fraction", "sun_azimuth", "detector"}``.
    """
    import rasterio
    from rasterio.windows import Window

    from ...io import atomic_path
    from ...raster.io import raster_info, read_raster

    if detector not in DETECTORS:
        raise InvalidInputError(f"unknown cloud detector {detector!r}; use one of {DETECTORS}")
    info = raster_info(image)
    if info.count != 13:
        raise InvalidInputError(
            f"{str(info.path)!r} has {info.count} bands; cloud detection needs the 13 "
            "Sentinel-2 L1C bands B1..B12 (with B8A and B10) in this order")
    if detector == "s2cloudless" and sun_azimuth is None:
        if when is None:
            raise InvalidInputError(
                f"no date for {str(info.path)!r}: pass the sun azimuth (degrees from north) "
                "for the s2cloudless shadow projection")
        lat, lon = _centre_lat_lon(info)
        sun_azimuth = sentinel2_sun_azimuth(lat, lon, when)
    h, w = info.height, info.width
    profile = {"driver": "GTiff", "height": h, "width": w, "count": 5, "dtype": "float32",
               "crs": info.crs, "transform": info.transform, "nodata": None,
               "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256}
    n_cloud = n_shadow = 0
    with atomic_path(output) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for i, name in enumerate(("s2_cld_prb_" + detector, "clouds_30", "shadows_thres_20",
                                  "shadows_thres_25", "shadows_thres_30"), start=1):
            dst.set_band_description(i, name)
        for r0 in range(0, h, block):
            for c0 in range(0, w, block):
                rr, cc = max(r0 - halo, 0), max(c0 - halo, 0)
                r1, c1 = min(r0 + block + halo, h), min(c0 + block + halo, w)
                arr, _ = read_raster(info.path, window=Window(cc, rr, c1 - cc, r1 - rr))
                toa = arr.astype(np.float32) / np.float32(scale)
                if info.nodata is not None and not np.isnan(info.nodata):
                    toa[:, (arr == info.nodata).all(axis=0)] = 0.0
                m = detect_cld_shdw(toa, detector, sun_azimuth=sun_azimuth)
                bh, bw = min(block, h - r0), min(block, w - c0)
                core = m[:, r0 - rr:r0 - rr + bh, c0 - cc:c0 - cc + bw]
                dst.write(core, window=Window(c0, r0, bw, bh))
                n_cloud += int(core[1].sum())
                n_shadow += int((core[4] * (1 - core[1])).sum())
    return {"cloud_fraction": n_cloud / float(h * w), "shadow_fraction": n_shadow / float(h * w),
            "sun_azimuth": sun_azimuth, "detector": detector}
