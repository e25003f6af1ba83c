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

Stacks without masks (a user rarely has them): with ``cloud_detector="s2cloudless"`` (or
``"ukis-csmask"``) every 13-band Sentinel-2 L1C image that lacks a mask gets one computed
(:mod:`.cloudmask`: AllClear's own 5-band ``cld_shdw`` product from s2cloudless, or the UKIS
cloud/shadow U-Net), window by window, before compositing.

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
    mask: Path | None
    date: datetime | None


_DATE_RE = re.compile(r"(\d{4})[-_]?(\d{2})[-_]?(\d{2})")


def _generic_date(name: str) -> datetime | None:
    for m in _DATE_RE.finditer(name):
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
    return None


def find_stack(stack_dir: str | Path, *, allow_missing_masks: bool = False) -> list[StackItem]:
    """The dated images and masks of ``stack_dir`` (see the module docstring), by date.

    Args:
        stack_dir: the folder (searched recursively).
        allow_missing_masks: images without a mask get ``mask=None`` (a cloud detector
            will make one) instead of an error.

    Raises:
        InvalidInputError: the folder does not exist, holds fewer than one image, or an
            image lacks its mask (unless ``allow_missing_masks``).
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
                if not allow_missing_masks:
                    raise InvalidInputError(
                        f"image {str(p)!r} has no cloud mask {str(mask)!r} (or compute one: "
                        "--cloud-detector s2cloudless)")
                items.append(StackItem(p, None, parse_date_from_path(p)))
                continue
            items.append(StackItem(p, mask, parse_date_from_path(p)))
    else:
        for p in sorted(root.rglob("*.tif")):
            if p.stem.endswith("_mask"):
                continue
            mask = p.with_name(p.stem + "_mask.tif")
            if not mask.is_file():
                if not allow_missing_masks:
                    raise InvalidInputError(
                        f"image {str(p)!r} has no cloud mask {mask.name!r} beside it (expected "
                        "NAME.tif + NAME_mask.tif, or AllClear s2_toa/cld_shdw naming; or "
                        "compute masks: --cloud-detector s2cloudless)"
                    )
                items.append(StackItem(p, None, _generic_date(p.stem)))
                continue
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
    cloud_detector: str | None = None,
    sun_azimuth: float | None = None,
    reflectance_scale: float = 1e4,
    masks_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build a cloud-free composite of the time series in ``stack_dir`` (see module doc).

    Args:
        stack_dir: the time series (module docstring).
        output: the composite GeoTIFF.
        method: ``mosaic``, ``median`` or ``least_cloudy``.
        fill: ``least_cloudy`` or ``nodata`` for pixels without a clear date.
        block: window edge in pixels.
        progress: show a progress bar.
        cloud_detector: ``None`` (every image needs its mask file), ``"s2cloudless"``
            (AllClear's own masks, :func:`~.cloudmask.write_cld_shdw`) or ``"ukis-csmask"``:
            images without a mask get one computed (13-band Sentinel-2 L1C images only).
        sun_azimuth: for the s2cloudless shadow projection (default: from each image's
            date and centre, Sentinel-2's 10:30 overpass).
        reflectance_scale: image value of reflectance 1 (AllClear/GEE/Sen1Floods11: 1e4).
        masks_dir: keep the computed masks there (``NAME_cld_shdw.tif``); default a
            temporary folder removed afterwards.

    Returns:
        A summary: output path, dates used, method, per-date cloud fractions, the fraction
        of output pixels that had at least one clear date, and of nodata pixels (and, with a
        detector, what it computed for each image).

    Raises:
        InvalidInputError: bad folder, missing masks, band-count mismatch, bad method.
        CoregistrationError: the rasters do not share one grid.
    """
    if method not in ("mosaic", "median", "least_cloudy"):
        raise InvalidInputError(f"unknown method {method!r}; use mosaic, median or least_cloudy")
    if fill not in ("least_cloudy", "nodata"):
        raise InvalidInputError(f"unknown fill {fill!r}; use least_cloudy or nodata")
    if block < 16:
        raise InvalidInputError(f"block must be at least 16 pixels, got {block}")
    out_path = Path(output)
    if cloud_detector is not None and cloud_detector not in ("s2cloudless", "ukis-csmask"):
        raise InvalidInputError(
            f"unknown cloud detector {cloud_detector!r}; use s2cloudless or ukis-csmask")
    items = find_stack(stack_dir, allow_missing_masks=cloud_detector is not None)
    for it in items:
        paths = [it.image.resolve()] + ([it.mask.resolve()] if it.mask else [])
        if out_path.resolve() in paths:
            raise InvalidInputError(f"output {str(out_path)!r} would overwrite an input")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="declouds_masks_") as tmp_masks:
        detected: dict[str, Any] = {}
        if any(it.mask is None for it in items):
            from .cloudmask import write_cld_shdw

            mdir = Path(masks_dir) if masks_dir is not None else Path(tmp_masks)
            mdir.mkdir(parents=True, exist_ok=True)
            done = []
            for it in items:
                if it.mask is None:
                    mpath = mdir / f"{it.image.stem}_cld_shdw.tif"
                    detected[it.image.name] = write_cld_shdw(
                        it.image, mpath, detector=cloud_detector,  # type: ignore[arg-type]
                        when=it.date, sun_azimuth=sun_azimuth, scale=reflectance_scale)
                    it = StackItem(it.image, mpath, it.date)
                done.append(it)
            items = done
        summary = _composite(items, out_path, method, fill, block, progress)
    if detected:
        summary["cloud_detector"] = cloud_detector
        summary["detected_masks"] = detected
    return summary


def _composite(items: list[StackItem], out_path: Path, method: Method, fill: Fill, block: int,
               progress: bool) -> dict[str, Any]:
    import rasterio
    from rasterio.windows import Window
    from tqdm.auto import tqdm

    from ...io import atomic_path
    from ...raster.io import check_coregistered, raster_info, read_raster

    masks: list[Path] = []
    for it in items:
        assert it.mask is not None
        masks.append(it.mask)
    ref = check_coregistered([p for it, m in zip(items, masks, strict=True)
                              for p in (it.image, m)])
    infos = [raster_info(it.image) for it in items]
    counts = {i.count for i in infos}
    if len(counts) != 1:
        detail = ", ".join(f"{i.path.name}: {i.count}" for i in infos)
        raise InvalidInputError(f"images of the stack have different band counts ({detail})")
    mask_counts = {raster_info(m).count for m in masks}
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
        for t, m in enumerate(masks):
            cloudy_px[t] += _cloudy(read_raster(m, window=win)[0]).sum()
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
                clear[t] = valid[t] & ~_cloudy(read_raster(masks[t], window=win)[0])
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
