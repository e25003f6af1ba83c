"""Reading, writing and checking georeferenced rasters (GeoTIFF through rasterio).

Conventions used throughout :mod:`geoneurips.raster`:

* arrays are band-first, ``(C, H, W)``; a 2-D ``(H, W)`` array is one band;
* band numbers are **1-based**, like rasterio and GDAL (``bands=[1, 3]`` is the first and
  third band);
* a :class:`RasterInfo` describes a raster's grid (CRS, affine transform, width, height) and
  its bands (count, dtype, nodata, descriptions) and can produce a rasterio profile for
  writing another raster on the same grid;
* rasters are written as tiled (256 x 256), deflate-compressed GeoTIFFs (BigTIFF when
  needed), always atomically: to a temporary file next to the destination, renamed into
  place only once complete (:func:`geoneurips.io.atomic_path`);
* every problem with a user's file raises :class:`~geoneurips.errors.InvalidInputError`
  (or its subclass :class:`~geoneurips.errors.CoregistrationError`) naming the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.coords import BoundingBox
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import CoregistrationError, InvalidInputError
from ..io import atomic_path

__all__ = [
    "BLOCK_SIZE",
    "RasterInfo",
    "check_coregistered",
    "raster_info",
    "read_raster",
    "write_raster",
]

PathLike = str | os.PathLike[str]

#: Tile (block) edge of every GeoTIFF written by geoneurips.
BLOCK_SIZE = 256


@dataclass(frozen=True)
class RasterInfo:
    """The grid and band description of a raster file.

    Attributes:
        path: the file.
        crs: its coordinate reference system (``None`` when the file has none).
        transform: the affine transform from pixel (col, row) to CRS coordinates of the
            pixel's upper-left corner.
        width: number of columns.
        height: number of rows.
        count: number of bands.
        dtype: numpy name of the band data type, e.g. ``"uint8"``.
        nodata: the nodata value of the bands (``None`` when not set).
        descriptions: one description (or ``None``) per band.
    """

    path: Path
    crs: CRS | None
    transform: Affine
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def bounds(self) -> BoundingBox:
        """``(left, bottom, right, top)`` in CRS units."""
        left, bottom, right, top = rasterio.transform.array_bounds(
            self.height, self.width, self.transform
        )
        return BoundingBox(float(left), float(bottom), float(right), float(top))

    def profile(self) -> dict[str, Any]:
        """A rasterio profile for writing a raster on the same grid with the same bands.

        Tiled (256 x 256) deflate GeoTIFF; change ``count``, ``dtype``, ``nodata`` to write
        different bands on the same grid.
        """
        return _gtiff_profile(
            width=self.width, height=self.height, count=self.count, dtype=self.dtype,
            crs=self.crs, transform=self.transform, nodata=self.nodata,
        )


def _gtiff_profile(
    *, width: int, height: int, count: int, dtype: str, crs: CRS | None, transform: Affine,
    nodata: float | None, zlevel: int = 6,
) -> dict[str, Any]:
    """The profile of a tiled deflate GeoTIFF (BigTIFF only when it may exceed 4 GiB).

    ``zlevel`` is the deflate level (1: fastest, about 4x faster than the default 6 on
    float data for a similar size; used by the streaming engine).
    """
    return {
        "driver": "GTiff",
        "width": int(width),
        "height": int(height),
        "count": int(count),
        "dtype": str(dtype),
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": BLOCK_SIZE,
        "blockysize": BLOCK_SIZE,
        "compress": "deflate",
        "zlevel": int(zlevel),
        "interleave": "pixel" if count > 1 else "band",
        "BIGTIFF": "IF_SAFER",
    }


def _check_blocks_present(ds: Any, path: Path) -> None:
    """Detect a truncated GeoTIFF: some data block lies (partly) beyond the end of the file.

    Uses GDAL's ``BLOCK_OFFSET_x_y``/``BLOCK_SIZE_x_y`` items of the ``TIFF`` metadata
    domain. Every block is checked when there are at most 4096 per band; otherwise the
    blocks of the last block row and column (where GDAL writes last) are checked.
    """
    if ds.driver != "GTiff":
        return
    size = path.stat().st_size
    bh, bw = ds.block_shapes[0]
    nrows = math.ceil(ds.height / bh)
    ncols = math.ceil(ds.width / bw)
    if nrows * ncols <= 4096:
        cells = [(r, c) for r in range(nrows) for c in range(ncols)]
    else:
        cells = sorted({(nrows - 1, c) for c in range(ncols)} | {(r, ncols - 1)
                                                                 for r in range(nrows)})
    interleaved = ds.interleaving is not None and ds.interleaving.name == "PIXEL"
    bands = [1] if interleaved else list(range(1, ds.count + 1))
    for band in bands:
        for row, col in cells:
            off = ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
            if off is None:
                return  # not a plain TIFF layout GDAL can describe; reading will tell
            nbytes = ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
            if int(off) and int(off) + int(nbytes or 0) > size:
                raise InvalidInputError(
                    f"raster {str(path)!r} is truncated: band {band} block ({row}, {col}) "
                    f"ends at byte {int(off) + int(nbytes or 0)} but the file has {size} bytes"
                )


def _open(path: Path) -> Any:
    """Open ``path`` with rasterio, turning every failure into InvalidInputError."""
    if not path.exists():
        raise InvalidInputError(f"raster {str(path)!r} does not exist")
    if not path.is_file():
        raise InvalidInputError(f"raster {str(path)!r} is not a file")
    try:
        return rasterio.open(path)
    except (RasterioError, OSError) as exc:
        raise InvalidInputError(
            f"cannot read {str(path)!r} as a raster (unreadable, truncated or not a raster "
            f"format GDAL knows): {exc}"
        ) from exc


def _info_from_dataset(ds: Any, path: Path) -> RasterInfo:
    dtypes = set(ds.dtypes)
    if len(dtypes) != 1:
        raise InvalidInputError(
            f"raster {str(path)!r} mixes band data types {sorted(dtypes)}; geoneurips needs "
            "one dtype for all bands"
        )
    nodata = ds.nodata
    return RasterInfo(
        path=path,
        crs=ds.crs,
        transform=ds.transform,
        width=int(ds.width),
        height=int(ds.height),
        count=int(ds.count),
        dtype=str(ds.dtypes[0]),
        nodata=None if nodata is None else float(nodata),
        descriptions=tuple(ds.descriptions),
    )


def raster_info(path: PathLike) -> RasterInfo:
    """Read the grid and band description of a raster without reading its pixels.

    Raises:
        InvalidInputError: the file does not exist, is not a raster GDAL can read, is
            truncated (a data block lies past the end of the file), or mixes band dtypes.
    """
    p = Path(path)
    with _open(p) as ds:
        _check_blocks_present(ds, p)
        return _info_from_dataset(ds, p)


def _check_bands(bands: Sequence[int] | None, count: int, path: Path) -> list[int]:
    if bands is None:
        return list(range(1, count + 1))
    out = [int(b) for b in bands]
    if not out:
        raise InvalidInputError(f"no band requested from {str(path)!r}")
    for b in out:
        if b < 1 or b > count:
            raise InvalidInputError(
                f"band {b} does not exist in {str(path)!r}, which has {count} band(s); "
                f"bands are numbered 1..{count}"
            )
    return out


def read_raster(
    path: PathLike,
    bands: Sequence[int] | None = None,
    window: Window | None = None,
) -> tuple[np.ndarray, RasterInfo]:
    """Read bands (1-based) of a raster, optionally a window, as a ``(C, H, W)`` array.

    The array keeps the file's dtype. The returned :class:`RasterInfo` describes the whole
    file (its ``transform`` is the file's, not the window's; use
    ``rasterio.windows.transform(window, info.transform)`` for the window's).

    Raises:
        InvalidInputError: unreadable/truncated/non-raster file, a band number outside
            ``1..count``, a window outside the raster, or a corrupt data block.
    """
    p = Path(path)
    with _open(p) as ds:
        info = _info_from_dataset(ds, p)
        idx = _check_bands(bands, info.count, p)
        if window is not None:
            w = window
            if (w.col_off < 0 or w.row_off < 0 or w.width <= 0 or w.height <= 0
                    or w.col_off + w.width > info.width or w.row_off + w.height > info.height):
                raise InvalidInputError(
                    f"window {w} is not inside {str(p)!r} ({info.width} x {info.height} pixels)"
                )
            window = w
        try:
            arr = ds.read(idx, window=window)
        except (RasterioError, OSError) as exc:
            raise InvalidInputError(
                f"cannot read the pixels of {str(p)!r} (corrupt or truncated data): {exc}"
            ) from exc
    return np.asarray(arr), info


def _nodata_fits(nodata: float, dtype: np.dtype[Any]) -> bool:
    if math.isnan(nodata):
        return dtype.kind == "f"
    if dtype.kind in "iu":
        ii = np.iinfo(dtype)
        return float(nodata).is_integer() and ii.min <= nodata <= ii.max
    if dtype.kind == "f":
        return math.isinf(nodata) or abs(nodata) <= float(np.finfo(dtype).max)
    return False


def write_raster(
    path: PathLike,
    array: np.ndarray,
    *,
    crs: CRS | str | None = None,
    transform: Affine | None = None,
    nodata: float | None = None,
    descriptions: Sequence[str | None] | None = None,
    dtype: str | None = None,
    like: RasterInfo | None = None,
) -> Path:
    """Write a ``(C, H, W)`` or ``(H, W)`` array as a tiled deflate GeoTIFF, atomically.

    Args:
        path: destination (parents are created). Written to a temporary file first and
            renamed into place on success; on any error nothing is left behind.
        array: the pixels; booleans are written as uint8.
        crs: CRS (object or anything ``CRS.from_user_input`` takes, e.g. ``"EPSG:4326"``).
        transform: the affine transform of the array's upper-left pixel corner.
        nodata: the nodata value (must be representable in the output dtype).
        descriptions: one description per band.
        dtype: output dtype (default: the array's). Values are cast with numpy ``astype``.
        like: a raster to copy the grid from: ``crs`` and ``transform`` default to its
            values and the array's height/width must match it. ``nodata`` and
            ``descriptions`` are copied from it only when not given and when the output
            has its dtype (nodata) or its band count (descriptions).

    Returns:
        ``Path(path)``.

    Raises:
        InvalidInputError: wrong array rank, shape different from ``like``, no transform,
            a nodata value the dtype cannot hold, or a wrong number of descriptions.
    """
    dest = Path(path)
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise InvalidInputError(
            f"array to write to {str(dest)!r} must be (C, H, W) or (H, W), got shape "
            f"{tuple(np.shape(array))}"
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    out_dtype = np.dtype(dtype) if dtype is not None else arr.dtype
    count, height, width = arr.shape
    if like is not None:
        if (height, width) != (like.height, like.width):
            raise InvalidInputError(
                f"array to write to {str(dest)!r} has shape {height} x {width} but the "
                f"reference raster {str(like.path)!r} is {like.height} x {like.width}"
            )
        crs = like.crs if crs is None else crs
        transform = like.transform if transform is None else transform
        if nodata is None and like.nodata is not None and np.dtype(like.dtype) == out_dtype:
            nodata = like.nodata
        if descriptions is None and like.count == count:
            descriptions = like.descriptions
    if transform is None:
        raise InvalidInputError(f"no transform given for {str(dest)!r} (pass transform= or like=)")
    crs_obj = CRS.from_user_input(crs) if crs is not None else None
    if nodata is not None and not _nodata_fits(float(nodata), out_dtype):
        raise InvalidInputError(
            f"nodata {nodata} cannot be stored in dtype {out_dtype} (writing {str(dest)!r})"
        )
    if descriptions is not None and len(descriptions) != count:
        raise InvalidInputError(
            f"{len(descriptions)} band descriptions given for {count} band(s) ({str(dest)!r})"
        )
    profile = _gtiff_profile(
        width=width, height=height, count=count, dtype=out_dtype.name, crs=crs_obj,
        transform=transform, nodata=None if nodata is None else float(nodata),
    )
    data = arr.astype(out_dtype, copy=False)
    with atomic_path(dest) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        if descriptions is not None:
            for i, desc in enumerate(descriptions, start=1):
                if desc is not None:
                    dst.set_band_description(i, str(desc))
    return dest


def _same_transform(a: Affine, b: Affine, width: int, height: int) -> bool:
    """Transforms equal up to 1e-6 pixel over the whole raster."""
    if a == b:
        return True
    tol = 1e-6 * max(abs(a.a), abs(a.e), abs(a.b), abs(a.d), 1e-300)
    coeff_tol = tol / max(width, height, 1)
    return all(
        abs(x - y) <= (tol if i in (2, 5) else coeff_tol)
        for i, (x, y) in enumerate(zip(tuple(a)[:6], tuple(b)[:6], strict=True))
    )


def check_coregistered(paths: Sequence[PathLike]) -> RasterInfo:
    """Check that rasters share one grid: same CRS, transform and shape.

    Transforms are compared up to 1e-6 pixel (floating-point noise in the file metadata).

    Returns:
        The :class:`RasterInfo` of the first raster.

    Raises:
        InvalidInputError: no path given, or a file is missing/unreadable.
        CoregistrationError: two rasters differ; the message names both files, which
            property differs (``CRS``, ``transform`` or ``shape``) and both values.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if len(paths) == 0:
        raise InvalidInputError("check_coregistered needs at least one raster path")
    infos = [raster_info(p) for p in paths]
    ref = infos[0]
    for other in infos[1:]:
        a, b = str(ref.path), str(other.path)
        if (ref.crs is None) != (other.crs is None) or (
            ref.crs is not None and other.crs is not None and ref.crs != other.crs
        ):
            raise CoregistrationError(
                f"rasters {a!r} and {b!r} are not co-registered: CRS differs "
                f"({_crs_name(ref.crs)} vs {_crs_name(other.crs)})"
            )
        if (ref.height, ref.width) != (other.height, other.width):
            raise CoregistrationError(
                f"rasters {a!r} and {b!r} are not co-registered: shape differs "
                f"({ref.height} x {ref.width} vs {other.height} x {other.width} pixels, "
                "rows x columns)"
            )
        if not _same_transform(ref.transform, other.transform, ref.width, ref.height):
            raise CoregistrationError(
                f"rasters {a!r} and {b!r} are not co-registered: transform differs "
                f"({tuple(ref.transform)[:6]} vs {tuple(other.transform)[:6]})"
            )
    return ref


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "no CRS"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_string()
