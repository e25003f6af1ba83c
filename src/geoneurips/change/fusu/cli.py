"""``geoneurips fusu-change``: FUSU-Net semantic change detection on GeoTIFFs.

Inputs (FUSU-Net's ``forward``, :class:`~geoneurips.change.fusu.model.FUSUNet`):

* ``BEFORE.tif`` and ``AFTER.tif``: the bi-temporal high-resolution (HR) RGB images, 3 bands
  in 0..255 like FUSU's PNGs (the images are scaled to [0, 1] and ImageNet-normalised as in
  training), co-registered (same CRS, transform and size;
  :func:`geoneurips.raster.io.check_coregistered`).
* the time series (required when the checkpoint has the U-TAE branch, refused otherwise):
  one GeoTIFF per date (``--series`` repeated, or folders of GeoTIFFs), ``ts_channels`` bands
  each, all on one grid in the HR images' CRS, coarser or equal pixels, covering the HR
  images. Dates are month indices (FUSU's ``month_index``: months since January of year
  ``A``), from ``--dates`` or the file names: FUSU's ``{id}_{Y}_{m}.tif`` (``Y`` = ``A``,
  ``B``, ``C``), ``YYYY-MM[-DD]`` / ``YYYYMM[DD]`` (then year ``A`` is the year of the earliest
  date), or plain integers (``--dates`` only). Dates are sorted, as in the FUSU reader.
* ``--checkpoint``: a file from :func:`geoneurips.change.fusu.pipeline.save_model` (the demo
  writes ``fusu_demo.pt``).

Processing streams HR tiles (:func:`geoneurips.raster.engine.predict_raster`, cosine blending
over ``--overlap``). Each tile gets a ``series_window`` x ``series_window`` window of the
series centred on the tile (nearest series pixel), as in training: with the config's
``crop_size`` the fusion crops the centre ``crop_size`` series pixels, which must match the
tile's footprint (``tile_size / ratio``) within one series pixel; without it the whole window
is the footprint. Per tile the class probabilities of both dates (softmax) and the change
probability (sigmoid) are blended, then ``finalize`` takes the argmax / ``> 0.5``.

Outputs in ``OUT_DIR`` (uint8, on the HR grid, CRS and transform kept, nodata 255, each
written atomically):

* ``landuse_t1.tif``, ``landuse_t2.tif``: FUSU land-use labels ``1..K`` (0 = background is
  never predicted);
* ``change.tif``: binary change, 1 = changed, 0 = unchanged (FUSU's SeK/SCD maps are the
  land-use map where ``change == 1`` and 0 elsewhere, :func:`~.metrics.scd_map`).

A pixel is nodata where BEFORE or AFTER is nodata/NaN or where the series pixel under it is
nodata/NaN at any date. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["OUTPUT_NAMES", "fusu_change", "parse_dates", "run_fusu_change"]

#: Files written into the output folder: land use of both dates, binary change.
OUTPUT_NAMES = ("landuse_t1.tif", "landuse_t2.tif", "change.tif")
_NODATA = 255
_LETTER_TOKEN = re.compile(r"([A-Za-z])_(\d{1,2})")
_ISO_TOKEN = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?|(\d{4})(\d{2})(\d{2})?")
_LETTER_NAME = re.compile(r"_([A-Z])_(\d{1,2})$")
_ISO_NAME = re.compile(r"(?<!\d)(\d{4})[-_]?(\d{2})(?:[-_]?(\d{2}))?(?!\d)")


def _month(year: int, month: int, what: str) -> int:
    from geoneurips.errors import InvalidInputError

    if not 1 <= month <= 12:
        raise InvalidInputError(f"{what}: month {month} is not in 1..12")
    return year * 12 + month - 1


def _parse_token(token: str) -> tuple[str, int]:
    """``("index", month index)`` or ``("month", absolute months)`` of one ``--dates`` item."""
    from geoneurips.errors import InvalidInputError

    t = token.strip()
    if re.fullmatch(r"\d{1,3}", t):
        return "index", int(t)
    m = _LETTER_TOKEN.fullmatch(t)
    if m:
        return "index", (ord(m[1].upper()) - ord("A")) * 12 + _month(0, int(m[2]), t)
    m = _ISO_TOKEN.fullmatch(t)
    if m:
        year, month = (m[1], m[2]) if m[1] else (m[4], m[5])
        return "month", _month(int(year), int(month), t)
    raise InvalidInputError(
        f"date {token!r} is not a month index, 'A_8'-style FUSU date, YYYY-MM[-DD] or "
        "YYYYMM[DD]")


def _date_from_name(path: Path) -> tuple[str, int]:
    from geoneurips.errors import InvalidInputError

    stem = path.name.split(".")[0]
    m = _LETTER_NAME.search(stem)
    if m:
        return "index", (ord(m[1]) - ord("A")) * 12 + _month(0, int(m[2]), path.name)
    m = _ISO_NAME.search(stem)
    if m and 1 <= int(m[2]) <= 12:
        return "month", _month(int(m[1]), int(m[2]), path.name)
    raise InvalidInputError(
        f"cannot read a date from the file name {path.name!r} (expected FUSU's "
        "'{id}_{A|B|C}_{month}.tif' or a YYYY-MM[-DD] / YYYYMMDD date); pass --dates")


def parse_dates(files: list[Path], dates: str | None) -> list[int]:
    """Month indices of the series files, from ``dates`` (comma-separated) or the names.

    ISO-style dates become months since January of the earliest date's year (FUSU's year
    ``A``); FUSU ``A_8``-style dates and integers are month indices already.

    Raises:
        InvalidInputError: unreadable dates, a count different from the files, or a mix of
            calendar dates and month indices.
    """
    from geoneurips.errors import InvalidInputError

    if dates is not None:
        tokens = [t for t in dates.split(",") if t.strip()]
        if len(tokens) != len(files):
            raise InvalidInputError(
                f"--dates gives {len(tokens)} date(s) for {len(files)} series file(s)")
        parsed = [_parse_token(t) for t in tokens]
    else:
        parsed = [_date_from_name(f) for f in files]
    kinds = {k for k, _ in parsed}
    if len(kinds) > 1:
        raise InvalidInputError(
            "the series dates mix calendar dates (YYYY-MM) with month indices / FUSU 'A_8' "
            "dates; use one kind")
    values = [v for _, v in parsed]
    if kinds == {"month"}:
        first_year = min(values) // 12
        values = [v - 12 * first_year for v in values]
    return values


def _collect_series(series: list[Path]) -> list[Path]:
    from geoneurips.errors import InvalidInputError

    files: list[Path] = []
    for p in series:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")
                           and q.suffix.lower() in (".tif", ".tiff"))
            if not found:
                raise InvalidInputError(f"series folder {str(p)!r} holds no .tif/.tiff file")
            files += found
        else:
            files.append(p)
    return files


def _geometry(
    cfg: Any, ratio: float | None, tile_size: int | None, series_window: int | None,
    meta: dict[str, Any], hr_div: int, ts_div: int,
) -> tuple[int, int | None]:
    """Choose and check the HR tile edge and the series window (see the module docstring)."""
    from geoneurips.errors import InvalidInputError

    tile = tile_size if tile_size is not None else meta.get("tile_size")
    if ratio is None:  # no time-series branch
        tile = int(tile) if tile is not None else 512
        if tile < hr_div or tile % hr_div:
            raise InvalidInputError(
                f"tile_size must be a positive multiple of {hr_div} for this checkpoint, got "
                f"{tile}")
        return tile, None
    crop = cfg.crop_size
    if tile is None:
        if crop is not None:
            tile = max(hr_div, round(crop * ratio / hr_div) * hr_div)
        else:
            ok = [t for t in range(hr_div, 4097, hr_div)
                  if abs(t / ratio - round(t / ratio)) < 1e-6 and round(t / ratio) % ts_div == 0]
            if not ok:
                raise InvalidInputError(
                    f"no tile size makes the tile footprint a whole number of series pixels "
                    f"divisible by {ts_div} at a resolution ratio of {ratio:.6g}; pass "
                    "--tile-size and --series-window")
            tile = min(ok, key=lambda t: abs(t - 512))
    tile = int(tile)
    if tile < hr_div or tile % hr_div:
        raise InvalidInputError(
            f"tile_size must be a positive multiple of {hr_div} for this checkpoint, got {tile}")
    footprint = tile / ratio
    window = series_window if series_window is not None else meta.get("series_window")
    if crop is not None:
        if abs(footprint - crop) > 1.0:
            raise InvalidInputError(
                f"a {tile} px tile covers {footprint:.3g} series pixels (resolution ratio "
                f"{ratio:.6g}), but the checkpoint fuses a {crop}-pixel centre crop of the "
                f"series: use --tile-size close to {crop * ratio:.0f} (a multiple of {hr_div})")
        if window is None:
            window = -(-crop // ts_div) * ts_div
        if window < crop:
            raise InvalidInputError(
                f"series_window {window} is smaller than the checkpoint's crop_size {crop}")
    else:
        if window is None:
            window = round(footprint)
        if abs(window - footprint) > 0.5:
            raise InvalidInputError(
                f"this checkpoint fuses the whole series window onto the tile, so the window "
                f"({window} px) must cover the tile's footprint ({footprint:.3g} series pixels "
                f"for a {tile} px tile at ratio {ratio:.6g}); change --tile-size or "
                "--series-window")
    window = int(window)
    if window < ts_div or window % ts_div:
        raise InvalidInputError(
            f"series_window must be a positive multiple of {ts_div} (U-TAE levels), got "
            f"{window}")
    return tile, window


def run_fusu_change(
    before: Path,
    after: Path,
    output: Path,
    checkpoint: Path,
    series: list[Path] | None = None,
    dates: str | None = None,
    tile_size: int | None = None,
    overlap: int | None = None,
    series_window: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run FUSU-Net on GeoTIFFs and write the land-use and change maps (module docstring).

    Args:
        before, after: co-registered 3-band HR RGB GeoTIFFs (0..255).
        output: output folder (created); gets :data:`OUTPUT_NAMES`.
        checkpoint: a FUSU-Net checkpoint from :func:`~.pipeline.save_model`.
        series: series GeoTIFFs and/or folders of them (needed iff the checkpoint has the
            time-series branch).
        dates: comma-separated dates of the series files in their given order (folders
            expanded in name order); default: from the file names.
        tile_size: HR tile edge (default: the checkpoint's training patch, else derived from
            ``crop_size`` and the resolution ratio, else 512).
        overlap: blended overlap in HR pixels (default ``tile_size // 8``).
        series_window: series window edge per tile (default: the checkpoint's, else the
            smallest U-TAE-compatible window holding the crop / footprint).
        progress: show a progress bar.

    Returns:
        A JSON-able summary dict.

    Raises:
        InvalidInputError / CoregistrationError: bad rasters, dates or arguments, or no valid
            pixel at all (nothing written).
        CheckpointError: not a FUSU-Net checkpoint.
    """
    import contextlib
    import tempfile

    import numpy as np
    import rasterio
    import torch
    from rasterio.windows import Window

    from geoneurips.errors import CoregistrationError, InvalidInputError
    from geoneurips.io import atomic_path
    from geoneurips.raster.engine import predict_raster
    from geoneurips.raster.io import check_coregistered, raster_info

    from .pipeline import load_model

    started = time.perf_counter()
    before, after, out_dir = Path(before), Path(after), Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"output {str(out_dir)!r} exists and is not a folder")
    outs = [out_dir / n for n in OUTPUT_NAMES]
    info = check_coregistered([before, after])
    task, meta = load_model(checkpoint)
    cfg = task.model.config
    for name, p in (("BEFORE", before), ("AFTER", after)):
        count = raster_info(p).count
        if count != 3:
            raise InvalidInputError(
                f"{name} {str(p)!r} has {count} band(s); FUSU-Net's HR encoder takes 3 (RGB)")
    hr_t = info.transform
    if hr_t.b != 0 or hr_t.d != 0:
        raise InvalidInputError(f"rotated grids are not supported ({str(before)!r})")

    files = _collect_series(list(series or []))
    ts_info = None
    ratio: float | None = None
    month_idx: list[int] = []
    if cfg.use_time_series:
        if not files:
            raise InvalidInputError(
                "this checkpoint has FUSU-Net's time-series (U-TAE) branch: pass the series "
                "GeoTIFFs with --series (files or a folder)")
        ts_info = check_coregistered(files)
        for f in files:
            c = raster_info(f).count
            if c != cfg.ts_channels:
                raise InvalidInputError(
                    f"series file {str(f)!r} has {c} band(s), the checkpoint expects "
                    f"{cfg.ts_channels}")
        a, b = str(files[0]), str(before)
        if (ts_info.crs is None) != (info.crs is None) or (
                ts_info.crs is not None and ts_info.crs != info.crs):
            raise CoregistrationError(
                f"series {a!r} and BEFORE {b!r} have different CRS ({ts_info.crs} vs "
                f"{info.crs}); reproject the series first")
        st = ts_info.transform
        if st.b != 0 or st.d != 0:
            raise InvalidInputError(f"rotated grids are not supported ({a!r})")
        rx, ry = st.a / hr_t.a, st.e / hr_t.e
        if not (rx > 0 and ry > 0) or abs(rx - ry) > 1e-6 * max(rx, ry):
            raise CoregistrationError(
                f"series {a!r} pixels ({st.a}, {st.e}) must be square multiples of the HR "
                f"pixels ({hr_t.a}, {hr_t.e}) with the same orientation")
        if rx < 1 - 1e-9:
            raise InvalidInputError(
                f"series {a!r} pixels ({st.a}) are finer than the HR pixels ({hr_t.a})")
        ratio = float(rx)
        hb, sb = info.bounds, ts_info.bounds
        tol = 1e-6 * abs(st.a)
        if (sb.left > hb.left + tol or sb.right < hb.right - tol or sb.bottom > hb.bottom + tol
                or sb.top < hb.top - tol):
            raise CoregistrationError(
                f"the series {a!r} (bounds {tuple(round(v, 6) for v in sb)}) does not cover "
                f"BEFORE {b!r} (bounds {tuple(round(v, 6) for v in hb)})")
        month_idx = parse_dates(files, dates)
    elif files:
        raise InvalidInputError(
            "this checkpoint has no time-series branch (use_time_series=False): drop --series")
    elif dates is not None:
        raise InvalidInputError("--dates given without --series")
    assert task.model.utae is not None or not cfg.use_time_series
    ts_div = task.model.utae.divisor if task.model.utae is not None else 1
    hr_div = int(getattr(task.model, "_divisor", 1))
    tile, window = _geometry(cfg, ratio, tile_size, series_window, meta, hr_div, ts_div)
    ovl = tile // 8 if overlap is None else int(overlap)
    if ovl < 0 or 2 * ovl >= tile:
        raise InvalidInputError(f"overlap must be in 0..{(tile - 1) // 2}, got {ovl}")
    for p in outs:
        if p.resolve() in {x.resolve() for x in (before, after, *files)}:
            raise InvalidInputError(f"output {str(p)!r} would overwrite an input")

    order = sorted(range(len(files)), key=lambda i: month_idx[i]) if files else []
    files = [files[i] for i in order]
    month_idx = [month_idx[i] for i in order]
    k = cfg.num_classes
    n_out = 2 * k + 1
    counter = {"valid": 0}
    mean_fill = task.ts_mean.reshape(-1).numpy().astype(np.float32)
    datasets: list[Any] = []

    def read_series(r0: int, c0: int, h: int, w: int) -> tuple[Any, Any]:
        """Series window ``(T, C, h, w)`` (invalid/outside = the band means) and validity."""
        assert ts_info is not None
        data = np.empty((len(datasets), cfg.ts_channels, h, w), np.float32)
        data[:] = mean_fill[None, :, None, None]
        valid = np.zeros((h, w), bool)
        rr0, rr1 = max(r0, 0), min(r0 + h, ts_info.height)
        cc0, cc1 = max(c0, 0), min(c0 + w, ts_info.width)
        if rr0 >= rr1 or cc0 >= cc1:
            return data, valid
        ok = np.ones((rr1 - rr0, cc1 - cc0), bool)
        sr, sc = slice(rr0 - r0, rr1 - r0), slice(cc0 - c0, cc1 - c0)
        for t, (f, ds) in enumerate(zip(files, datasets, strict=True)):
            try:
                arr = ds.read(window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0)).astype(np.float32)
            except Exception as exc:  # rasterio raises several types for corrupt data
                raise InvalidInputError(
                    f"cannot read rows {rr0}:{rr1} of series file {str(f)!r} (corrupt or "
                    f"truncated?): {exc}") from exc
            ok &= np.isfinite(arr).all(axis=0)
            for bi, nd in enumerate(ds.nodatavals):
                if nd is not None and not np.isnan(nd):
                    ok &= arr[bi] != np.float32(nd)
            data[t, :, sr, sc] = arr
        valid[sr, sc] = ok
        if not valid.all():
            data[:, :, ~valid] = mean_fill[None, :, None]
        return data, valid

    def kernel(tile_arr: Any, ctx: Any) -> Any:
        t = tile_arr.shape[-1]
        hr_ok = np.isfinite(tile_arr).all(axis=0)
        ts_ok = np.ones_like(hr_ok)
        ts_in = None
        if ts_info is not None and window is not None:
            st = ts_info.transform
            cols = hr_t.c + (ctx.col_off + np.arange(t) + 0.5) * hr_t.a
            rows = hr_t.f + (ctx.row_off + np.arange(t) + 0.5) * hr_t.e
            sc = np.floor((cols - st.c) / st.a).astype(np.int64)
            sr = np.floor((rows - st.f) / st.e).astype(np.int64)
            _, fvalid = read_series(int(sr.min()), int(sc.min()),
                                    int(sr.max() - sr.min() + 1), int(sc.max() - sc.min() + 1))
            ts_ok = fvalid[np.ix_(sr - sr.min(), sc - sc.min())]
            xc = hr_t.c + (ctx.col_off + t / 2) * hr_t.a
            yc = hr_t.f + (ctx.row_off + t / 2) * hr_t.e
            c0 = int(np.floor((xc - st.c) / st.a - window / 2 + 0.5))
            r0 = int(np.floor((yc - st.f) / st.e - window / 2 + 0.5))
            ts_in, _ = read_series(r0, c0, window, window)
        ok = hr_ok & ts_ok
        counter["valid"] += int(ok.sum())
        if not ok.any():
            return np.full((n_out, t, t), np.nan, np.float32)
        img = tile_arr.astype(np.float32, copy=True)
        if not hr_ok.all():
            for bi in range(img.shape[0]):
                vals = img[bi][hr_ok]
                img[bi][~hr_ok] = vals.mean() if vals.size else 0.0
        batch = {"image": torch.from_numpy(img.reshape(1, 2, 3, t, t))}
        if ts_in is not None:
            batch["time_series"] = torch.from_numpy(ts_in[None])
            batch["dates"] = torch.tensor([month_idx], dtype=torch.long)
        with torch.inference_mode():
            out = task(batch)
        res = np.empty((n_out, t, t), np.float32)
        res[:k] = torch.softmax(out["seg1"][0], dim=0).numpy()
        res[k:2 * k] = torch.softmax(out["seg2"][0], dim=0).numpy()
        res[2 * k] = torch.sigmoid(out["change"][0]).numpy()
        if not ts_ok.all():
            res[:, ~ts_ok] = np.nan  # series nodata: the same pixels in every tile
        return res

    def finalize(p: Any) -> Any:
        bad = ~np.isfinite(p).all(axis=0)
        q = np.nan_to_num(p, nan=0.0)
        block = np.stack([q[:k].argmax(axis=0) + 1, q[k:2 * k].argmax(axis=0) + 1,
                          (q[2 * k] > 0.5).astype(np.int64)]).astype(np.uint8)
        block[:, bad] = _NODATA
        return block

    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    n_changed = n_nodata = 0
    try:
        with contextlib.ExitStack() as stack:
            for f in files:
                datasets.append(stack.enter_context(rasterio.open(f)))
            tmpdir = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix=".fusu-change-", dir=out_dir)))
            combined = predict_raster(
                [before, after], tmpdir / "combined.tif", kernel, out_bands=n_out,
                tile_size=tile, overlap=ovl, blend="cosine", out_dtype="uint8",
                out_nodata=_NODATA, finalize=finalize, final_bands=3,
                fill_value=float("nan"), progress=progress)
            if counter["valid"] == 0:
                raise InvalidInputError(
                    f"no valid pixel: BEFORE {str(before)!r}, AFTER {str(after)!r}"
                    + (" and the series" if files else "")
                    + " are nodata/NaN everywhere (at least one input is empty)")
            profile = raster_info(combined).profile()
            profile.update(count=1, dtype="uint8", nodata=_NODATA, interleave="band")
            descriptions = (f"land use t1 (FUSU class 1..{k})", f"land use t2 (FUSU class 1..{k})",
                            "change (1 = changed)")
            with contextlib.ExitStack() as writers, rasterio.open(combined) as src:
                dsts = []
                for p, d in zip(outs, descriptions, strict=True):
                    tmp = writers.enter_context(atomic_path(p))
                    dst = writers.enter_context(rasterio.open(tmp, "w", **profile))
                    dst.set_band_description(1, d)
                    dsts.append(dst)
                for r0 in range(0, info.height, 256):
                    h = min(256, info.height - r0)
                    win = Window(0, r0, info.width, h)
                    block = src.read(window=win)
                    for bi, dst in enumerate(dsts):
                        dst.write(block[bi], 1, window=win)
                    n_changed += int((block[2] == 1).sum())
                    n_nodata += int((block[2] == _NODATA).sum())
                for dst in dsts:
                    dst.close()  # flush before atomic_path renames
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    n_pix = info.height * info.width
    n_valid = n_pix - n_nodata
    return {
        "outputs": {n.removesuffix(".tif"): str(p) for n, p in zip(OUTPUT_NAMES, outs,
                                                                   strict=True)},
        "height": info.height, "width": info.width, "crs": str(info.crs),
        "num_classes": k, "tile_size": tile, "overlap": ovl, "series_window": window,
        "ratio": ratio, "series_files": len(files), "dates": month_idx,
        "nodata_fraction": round(n_nodata / n_pix, 6),
        "changed_fraction": round(n_changed / n_valid, 6) if n_valid else 0.0,
        "seconds": round(time.perf_counter() - started, 3),
    }


def fusu_change(
    before: Annotated[Path, typer.Argument(help="HR RGB GeoTIFF of date 1 (0..255)")],
    after: Annotated[Path, typer.Argument(help="HR RGB GeoTIFF of date 2 (same grid)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output folder")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="FUSU-Net checkpoint (.pt)")],
    series: Annotated[
        list[Path] | None,
        typer.Option("--series", help="series GeoTIFF or folder of them (repeatable)"),
    ] = None,
    dates: Annotated[
        str | None,
        typer.Option("--dates", help="comma-separated series dates (YYYY-MM, A_8 or month "
                     "index); default: from file names"),
    ] = None,
    tile_size: Annotated[
        int | None, typer.Option("--tile-size", help="HR tile edge (default: checkpoint's)")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option("--overlap", help="blended overlap (default tile/8)")
    ] = None,
    series_window: Annotated[
        int | None, typer.Option("--series-window", help="series window edge per tile")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """FUSU-Net semantic change: land use of both dates + change map (GeoTIFFs).

    Inputs: the bi-temporal RGB pair and, for checkpoints with the U-TAE branch, the
    Sentinel time series (see ``geoneurips.change.fusu.cli``'s module docstring)."""
    summary = run_fusu_change(before, after, output, checkpoint, series=series, dates=dates,
                              tile_size=tile_size, overlap=overlap, series_window=series_window,
                              progress=not json_output)
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"changed {100 * summary['changed_fraction']:.2f} % of valid pixels, "
                   f"{summary['height']} x {summary['width']} px -> {output}")
