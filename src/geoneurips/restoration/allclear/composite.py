"""Cloud-free compositing of a GeoTIFF time series with cloud masks, streamed by windows.

Folder convention of ``STACK_DIR`` (searched recursively), first match wins:

1. **AllClear naming**: every ``*s2_toa*.tif`` is an image, e.g.
   ``roi123/2022_3/s2_toa/roi123_s2_toa_2022_3_14_median.tif``; its mask is the same path
   with ``s2_toa`` replaced by ``cld_shdw`` (the 5-band AllClear product: band 2 is the
   cloud mask, band 5 the shadow mask). The date comes from the file name.
2. **Generic pairs**: every ``NAME.tif`` with a sibling ``NAME_mask.tif`` (1 band, non-zero
   = cloud or shadow; a 5-band mask is read the AllClear way). The date is the first
   ``YYYY-MM-DD``/``YYYY_MM_DD``/``YYYYMMDD`` in ``NAME``; files without one are ordered by
   name.

All images and masks must be co-registered (same CRS, transform and size, checked) and the
images must have the same band count. A pixel of a date is *clear* when its mask is 0 and
none of its bands is NaN or nodata (a NaN mask counts as cloudy, as in AllClear).

Methods (per pixel, over the clear dates): ``mosaic`` (mean, AllClear's mosaicing baseline),
``median``, or ``least_cloudy`` (the whole scene from the date with the smallest cloud
fraction, AllClear's least-cloudy baseline). Pixels with no clear date are taken from the
least cloudy date with valid data there (``fill="least_cloudy"``) or written as nodata
(``fill="nodata"``). The output is float32 in the input units, NaN nodata, on the input grid
(CRS and transform kept), written atomically: tiled window by window (``block`` pixels), so
memory is bounded by ``dates x bands x block^2`` floats whatever the raster size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from .data import parse_date_from_path

__all__ = ["StackItem", "composite", "find_stack"]

Method = Literal["mosaic", "median", "least_cloudy"]
Fill = Literal["least_cloudy", "nodata"]


@dataclass(frozen=True)
class StackItem:
    """One date of a stack: its image, its cloud/shadow mask and its date (if known)."""

    image: Path
    mask: Path
    date: datetime | None


_DATE_RE = re.compile(r"(\d{4})[-_]?(\d{2})[-_]?(\d{2})")


def _generic_date(name: str) -> datetime | None:
    for m in _DATE_RE.finditer(name):
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
    return None


def find_stack(stack_dir: str | Path) -> list[StackItem]:
    """The dated images and masks of ``stack_dir`` (see the module docstring), by date.

    Raises:
        InvalidInputError: the folder does not exist, holds fewer than one image, or an
            image lacks its mask.
    """
    root = Path(stack_dir)
    if not root.is_dir():
        raise InvalidInputError(f"stack folder {str(root)!r} does not exist")
    items: list[StackItem] = []
    s2 = sorted(p for p in root.rglob("*.tif") if "s2_toa" in p.name)
    if s2:
        for p in s2:
            mask = p.parent.parent / "cld_shdw" / p.name.replace("s2_toa", "cld_shdw")
            if not mask.is_file():
                mask = Path(str(p).replace("s2_toa", "cld_shdw"))
            if not mask.is_file():
                raise InvalidInputError(f"image {str(p)!r} has no cloud mask {str(mask)!r}")
            items.append(StackItem(p, mask, parse_date_from_path(p)))
    else:
        for p in sorted(root.rglob("*.tif")):
            if p.stem.endswith("_mask"):
                continue
            mask = p.with_name(p.stem + "_mask.tif")
            if not mask.is_file():
                raise InvalidInputError(
                    f"image {str(p)!r} has no cloud mask {mask.name!r} beside it (expected "
                    "NAME.tif + NAME_mask.tif, or AllClear s2_toa/cld_shdw naming)"
                )
            items.append(StackItem(p, mask, _generic_date(p.stem)))
    if not items:
        raise InvalidInputError(
            f"no image found in {str(root)!r}: expected AllClear '*s2_toa*.tif' files with "
            "'cld_shdw' masks, or NAME.tif + NAME_mask.tif pairs"
        )
    return sorted(items, key=lambda it: (it.date or datetime.max, str(it.image)))


def _cloudy(mask: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Cloud-or-shadow from a mask window ``(B, h, w)``; NaN counts as cloudy."""
    m = mask.astype(np.float32)
    bands = m[[1, 4]] if m.shape[0] == 5 else m
    out: npt.NDArray[np.bool_] = (np.nan_to_num(bands, nan=1.0) != 0).any(axis=0)
    return out


def _valid(img: npt.NDArray[Any], nodata: float | None) -> npt.NDArray[np.bool_]:
    a = img.astype(np.float32)
    ok = cast(npt.NDArray[np.bool_], ~np.isnan(a).any(axis=0))  # (B, h, w) -> (h, w) array
    if nodata is not None and not np.isnan(nodata):
        ok &= ~(a == nodata).any(axis=0)
    return ok


def composite(
    stack_dir: str | Path,
    output: str | Path,
    *,
    method: Method = "mosaic",
    fill: Fill = "least_cloudy",
    block: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """Build a cloud-free composite of the time series in ``stack_dir`` (see module doc).

    Returns:
        A summary: output path, dates used, method, per-date cloud fractions, the fraction
        of output pixels that had at least one clear date, and of nodata pixels.

    Raises:
        InvalidInputError: bad folder, missing masks, band-count mismatch, bad method.
        CoregistrationError: the rasters do not share one grid.
    """
    import rasterio
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    from ...io import atomic_path
    from ...raster.io import check_coregistered, raster_info, read_raster

    if method not in ("mosaic", "median", "least_cloudy"):
        raise InvalidInputError(f"unknown method {method!r}; use mosaic, median or least_cloudy")
    if fill not in ("least_cloudy", "nodata"):
        raise InvalidInputError(f"unknown fill {fill!r}; use least_cloudy or nodata")
    if block < 16:
        raise InvalidInputError(f"block must be at least 16 pixels, got {block}")
    out_path = Path(output)
    items = find_stack(stack_dir)
    for it in items:
        if out_path.resolve() in (it.image.resolve(), it.mask.resolve()):
            raise InvalidInputError(f"output {str(out_path)!r} would overwrite an input")
    ref = check_coregistered([p for it in items for p in (it.image, it.mask)])
    infos = [raster_info(it.image) for it in items]
    counts = {i.count for i in infos}
    if len(counts) != 1:
        detail = ", ".join(f"{i.path.name}: {i.count}" for i in infos)
        raise InvalidInputError(f"images of the stack have different band counts ({detail})")
    mask_counts = {raster_info(it.mask).count for it in items}
    bad = [c for c in mask_counts if c not in (1, 5)]
    if bad:
        raise InvalidInputError(f"cloud masks must have 1 band (or 5, AllClear), found {bad}")
    n_bands, h, w = ref.count, ref.height, ref.width
    # "ref" is the first path given: the first image
    windows = [Window(c, r, min(block, w - c), min(block, h - r))
               for r in range(0, h, block) for c in range(0, w, block)]
    # pass 1: cloud fraction per date (masks only), for least-cloudy choice and fill order
    cloudy_px = np.zeros(len(items))
    for win in windows:
        for t, it in enumerate(items):
            cloudy_px[t] += _cloudy(read_raster(it.mask, window=win)[0]).sum()
    frac = cloudy_px / float(h * w)
    order = np.argsort(frac, kind="stable")
    profile = ref.profile()
    profile.update(count=n_bands, dtype="float32", nodata=float("nan"))
    n_clear = n_nodata = 0
    bar = tqdm(total=len(windows), desc="declouds", disable=not progress)
    with atomic_path(out_path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for i, desc in enumerate(infos[0].descriptions, start=1):
            if desc:
                dst.set_band_description(i, desc)
        for win in windows:
            imgs = np.empty((len(items), n_bands, win.height, win.width), np.float32)
            valid = np.empty((len(items), win.height, win.width), bool)
            clear = np.empty_like(valid)
            for t, (it, info) in enumerate(zip(items, infos, strict=True)):
                img = read_raster(it.image, window=win)[0].astype(np.float32)
                valid[t] = _valid(img, info.nodata)
                clear[t] = valid[t] & ~_cloudy(read_raster(it.mask, window=win)[0])
                imgs[t] = img
            any_clear = cast(npt.NDArray[np.bool_], clear.any(axis=0))
            out = np.full((n_bands, win.height, win.width), np.nan, np.float32)
            if method == "least_cloudy":
                t0 = int(order[0])
                out = np.where(valid[t0][None], imgs[t0], np.nan).astype(np.float32)
                todo = ~valid[t0]
            else:
                masked = np.where(clear[:, None], imgs, np.nan)
                with np.errstate(all="ignore"), _quiet():
                    agg = np.nanmean(masked, 0) if method == "mosaic" else np.nanmedian(masked, 0)
                out = np.where(any_clear[None], agg, np.nan).astype(np.float32)
                todo = ~any_clear
            if fill == "least_cloudy":
                for t in order:
                    take = todo & valid[t]
                    out[:, take] = imgs[t][:, take]
                    todo &= ~take
            n_clear += int(any_clear.sum())
            n_nodata += int(np.isnan(out).any(axis=0).sum())
            dst.write(out, window=win)
            bar.update(1)
    bar.close()
    return {
        "output": str(out_path),
        "method": method,
        "fill": fill,
        "dates": [it.date.strftime("%Y-%m-%d") if it.date else it.image.name for it in items],
        "cloud_fraction": {it.image.name: round(float(f), 4)
                           for it, f in zip(items, frac, strict=True)},
        "clear_fraction": n_clear / float(h * w),
        "nodata_fraction": n_nodata / float(h * w),
        "width": w,
        "height": h,
        "bands": n_bands,
        "crs": str(ref.crs) if ref.crs is not None else None,
    }


class _quiet:
    """Silence numpy's 'Mean of empty slice' warnings inside the block."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ctx.__exit__(exc_type, exc, tb)
