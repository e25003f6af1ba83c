"""``geoneurips pansharpen``: fuse an MS GeoTIFF and a PAN GeoTIFF onto the PAN grid.

The MS raster must cover the same bounds as the PAN at ``ratio`` times coarser resolution
(``ratio`` a power of 2, read from the two transforms), in the same CRS. The output is a
float32 GeoTIFF with the MS bands on the PAN grid (PAN CRS and transform), in the MS units
(digital numbers), NaN as nodata where the PAN or the MS is nodata.

Processing streams tiles of the PAN (:func:`geoneurips.raster.engine.predict_raster`); each
tile reads the matching MS window plus a margin of
:data:`~geoneurips.metrics.mtf.INTERP23_MARGIN` low-resolution pixels, so
interp23 sees real context across tile seams; at the raster edges the MS is mirrored
(``interp23(..., mode="symmetric")`` instead of the toolbox's circular borders, which would
mix opposite edges of a map). Brovey, IHS and Gram-Schmidt use scene-wide statistics computed
in a first streamed pass, as the toolbox computes them: from the MS upsampled to the PAN grid
(the same interp23) and the PAN, so tiles agree and the output equals the in-memory
methods on the whole image. ``--method ssdiff`` runs a trained SSDiff checkpoint through
``geoneurips.restoration.ssdiff.pipeline:load_pansharpener`` on inputs divided by
``--max-value`` (sensor default: 2047, GF2 1023): each output tile is the matching window of
the pansharpener's global patch grid (``fuse_region``, reading MS and PAN context around the
tile), so the result does not depend on ``--tile-size``.

Nothing heavy is imported at module level.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from geoneurips.raster.io import RasterInfo

__all__ = ["check_ms_pan_grid", "pansharpen", "run_pansharpen"]

_METHODS = ("brovey", "gs", "ihs", "interp", "ssdiff")


def check_ms_pan_grid(ms: RasterInfo, pan: RasterInfo) -> int:
    """Check that the MS covers the PAN's bounds at an integer power-of-2 coarser grid.

    Returns:
        The resolution ratio.

    Raises:
        InvalidInputError: the PAN has more than one band, a grid is rotated, or the
            pixel sizes are not in a power-of-2 ratio.
        CoregistrationError: different CRS, or different bounds (origin or extent).
    """
    from geoneurips.errors import CoregistrationError, InvalidInputError

    a, b = str(ms.path), str(pan.path)
    if pan.count != 1:
        raise InvalidInputError(f"PAN raster {b!r} must have 1 band, it has {pan.count}")
    if ms.count < 2:
        raise InvalidInputError(f"MS raster {a!r} must have at least 2 bands, it has {ms.count}")
    if (ms.crs is None) != (pan.crs is None) or (ms.crs is not None and ms.crs != pan.crs):
        raise CoregistrationError(
            f"MS {a!r} and PAN {b!r} have different CRS ({ms.crs} vs {pan.crs}); reproject "
            "one of them first"
        )
    tm, tp = ms.transform, pan.transform
    if tm.b != 0 or tm.d != 0 or tp.b != 0 or tp.d != 0:
        raise InvalidInputError(f"rotated grids are not supported ({a!r}, {b!r})")
    rx, ry = tm.a / tp.a, tm.e / tp.e
    ratio = round(rx)
    if abs(rx - ratio) > 1e-6 * ratio or abs(ry - ratio) > 1e-6 * ratio or ratio < 2 or \
            ratio & (ratio - 1):
        raise InvalidInputError(
            f"the MS pixel size ({tm.a}, {tm.e}) of {a!r} must be a power-of-2 multiple (2, 4, "
            f"8...) of the PAN pixel size ({tp.a}, {tp.e}) of {b!r}; got ratios {rx:.6g}, "
            f"{ry:.6g}"
        )
    tol_x, tol_y = 0.01 * abs(tp.a), 0.01 * abs(tp.e)
    if abs(tm.c - tp.c) > tol_x or abs(tm.f - tp.f) > tol_y or \
            ms.width * ratio != pan.width or ms.height * ratio != pan.height:
        raise CoregistrationError(
            f"MS {a!r} (bounds {tuple(round(v, 6) for v in ms.bounds)}, {ms.width} x "
            f"{ms.height} px) must cover the same bounds as PAN {b!r} (bounds "
            f"{tuple(round(v, 6) for v in pan.bounds)}, {pan.width} x {pan.height} px) at "
            f"{ratio} times coarser resolution"
        )
    return int(ratio)


def _valid_mask(data: Any, nodata: float | None) -> Any:
    import numpy as np

    ok = np.ones(data.shape[1:], dtype=bool)
    if data.dtype.kind == "f":
        ok &= ~np.isnan(data).any(axis=0)
    if nodata is not None and not np.isnan(nodata):
        ok &= ~(data == nodata).any(axis=0)
    return ok


def _read_ms_block(src: Any, path: Path, rows: Any, cols: Any, nodata: float | None) -> Any:
    """MS at (reflected, in-range) LR indices ``rows`` x ``cols``: ``(float64 block, valid)``;
    invalid pixels are filled with the block's valid mean (before interpolation)."""
    import numpy as np
    from rasterio.windows import Window

    from geoneurips.errors import InvalidInputError

    r_a, r_b, c_a, c_b = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    try:
        raw = src.read(window=Window(c_a, r_a, c_b - c_a, r_b - r_a))
    except Exception as exc:  # rasterio raises several types for corrupt data
        raise InvalidInputError(
            f"cannot read the MS window rows {r_a}:{r_b}, cols {c_a}:{c_b} of "
            f"{str(path)!r} (corrupt or truncated?): {exc}"
        ) from exc
    block = raw[:, rows - r_a][:, :, cols - c_a].astype(np.float64)
    ok = _valid_mask(block, nodata)
    if not ok.all():
        fill = block[:, ok].mean(axis=1) if ok.any() else np.zeros(block.shape[0])
        block[:, ~ok] = fill[:, None]
    return block, ok


def _scene_stats(ms_path: Path, pan_path: Path, ratio: int, rows: int = 256) -> Any:
    """Scene-wide :class:`FusionStats` from a streamed pass over both rasters.

    As the toolbox (and :func:`~.classical.fusion_stats` on the in-memory arrays), the MS
    statistics are those of the MS **upsampled to the PAN grid** (interp23 with symmetric
    borders, as the fusion pass), computed strip by strip with
    :data:`~geoneurips.metrics.mtf.INTERP23_MARGIN` rows of context, so they equal the
    statistics of the whole upsampled image.
    """
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    from geoneurips.metrics.mtf import INTERP23_MARGIN, interp23, reflect_index
    from geoneurips.raster.io import raster_info, read_raster
    from geoneurips.restoration.pansharpening.classical import StatsAccumulator

    m = INTERP23_MARGIN
    ms_info = raster_info(ms_path)
    bands, ms_h, ms_w = ms_info.count, ms_info.height, ms_info.width
    # LR rows per strip: about 64 MiB of upsampled float64 (and at most ``rows``)
    step = int(max(1, min(rows, 2**26 // (8 * bands * ratio * ratio * (ms_w + 2 * m)))))
    acc = StatsAccumulator(bands)
    cols = reflect_index(np.arange(-m, ms_w + m), ms_w)
    with rasterio.open(ms_path) as src:
        for r0 in range(0, ms_h, step):
            h = min(step, ms_h - r0)
            lr_rows = reflect_index(np.arange(r0 - m, r0 + h + m), ms_h)
            block, ok = _read_ms_block(src, ms_path, lr_rows, cols, ms_info.nodata)
            up = interp23(block, ratio)[:, m * ratio : (m + h) * ratio,
                                        m * ratio : (m + ms_w) * ratio]
            core_ok = ok[m : m + h, m : m + ms_w]
            acc.add_ms(up, np.kron(core_ok, np.ones((ratio, ratio), dtype=bool)))
    pan_info = raster_info(pan_path)
    pan_step = rows * ratio
    for r0 in range(0, pan_info.height, pan_step):
        h = min(pan_step, pan_info.height - r0)
        data, _ = read_raster(pan_path, window=Window(0, r0, pan_info.width, h))
        acc.add_pan(data[0], _valid_mask(data, pan_info.nodata))
    return acc.result()


def run_pansharpen(
    ms: Path,
    pan: Path,
    output: Path,
    method: str = "brovey",
    checkpoint: Path | None = None,
    sensor: str = "WV3",
    max_value: float | None = None,
    tile_size: int = 512,
    progress: bool = True,
) -> dict[str, Any]:
    """Fuse ``ms`` and ``pan`` GeoTIFFs into ``output`` (see the module docstring).

    Returns:
        A summary dict (output path, method, ratio, size, bands, seconds).

    Raises:
        InvalidInputError / CoregistrationError: bad rasters or arguments (nothing written).
        CheckpointError: ``method="ssdiff"`` without a usable checkpoint.
    """
    import numpy as np
    import rasterio

    from geoneurips.errors import InvalidInputError
    from geoneurips.metrics.mtf import (
        INTERP23_MARGIN,
        interp23,
        reflect_index,
        sensor_max_value,
    )
    from geoneurips.raster.engine import predict_raster
    from geoneurips.raster.io import raster_info
    from geoneurips.restoration.pansharpening import classical

    started = time.perf_counter()
    name = method.lower()
    if name not in _METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose from {', '.join(_METHODS)}")
    if name == "ssdiff" and checkpoint is None:
        raise InvalidInputError("--method ssdiff needs --checkpoint PATH (a trained SSDiff model)")
    if Path(output).exists() and Path(output).resolve() in (Path(ms).resolve(),
                                                            Path(pan).resolve()):
        raise InvalidInputError(f"output {str(output)!r} would overwrite an input")
    ms_info, pan_info = raster_info(ms), raster_info(pan)
    ratio = check_ms_pan_grid(ms_info, pan_info)
    if tile_size < 4 * ratio or tile_size % ratio:
        raise InvalidInputError(
            f"tile_size must be a multiple of the ratio {ratio} and >= {4 * ratio}, got "
            f"{tile_size}"
        )
    top = float(max_value) if max_value is not None else sensor_max_value(sensor)
    if not top > 0:
        raise InvalidInputError(f"max_value must be > 0, got {max_value}")
    bands = ms_info.count

    fn: Any = None
    stats = None
    blend: Literal["none"]
    if name == "ssdiff":
        from .pipeline import load_pansharpener

        assert checkpoint is not None
        fn = load_pansharpener(Path(checkpoint))
    elif name != "interp":
        stats = _scene_stats(Path(ms), Path(pan), ratio)
    overlap, blend = 0, "none"
    m = INTERP23_MARGIN
    ms_h, ms_w = ms_info.height, ms_info.width
    ms_nodata = ms_info.nodata

    pan_h, pan_w = pan_info.height, pan_info.width

    with rasterio.open(ms) as src, rasterio.open(pan) as pan_src:

        def read_ms(rows: Any, cols: Any) -> Any:
            return _read_ms_block(src, Path(ms), rows, cols, ms_nodata)[0] / top

        def read_pan(rows: Any, cols: Any) -> Any:
            block, _ = _read_ms_block(pan_src, Path(pan), rows, cols, pan_info.nodata)
            return block[0] / top

        def kernel(tile: Any, ctx: Any) -> Any:
            t = tile.shape[-1]
            lr0, lc0 = ctx.row_off // ratio - m, ctx.col_off // ratio - m
            n_lr = t // ratio + 2 * m
            rows = reflect_index(np.arange(lr0, lr0 + n_lr), ms_h)
            cols = reflect_index(np.arange(lc0, lc0 + n_lr), ms_w)
            block, ok = _read_ms_block(src, Path(ms), rows, cols, ms_nodata)
            core = (slice(m, m + t // ratio), slice(m, m + t // ratio))
            pan_t = tile[0].astype(np.float64)
            if name == "ssdiff":
                # the pansharpener's own global patch grid, read with context from both
                # rasters (mirrored at their edges): equal to an untiled run everywhere
                h_c, w_c = min(t, pan_h - ctx.row_off), min(t, pan_w - ctx.col_off)
                region = (ctx.row_off, ctx.row_off + h_c, ctx.col_off, ctx.col_off + w_c)
                part = np.asarray(fn.fuse_region(read_ms, read_pan, (pan_h, pan_w), region),
                                  dtype=np.float64) * top
                if part.shape != (bands, h_c, w_c):
                    raise InvalidInputError(
                        f"the SSDiff pansharpener returned shape {part.shape}, expected "
                        f"{(bands, h_c, w_c)}"
                    )
                fused = np.full((bands, t, t), np.nan)
                fused[:, :h_c, :w_c] = part
            else:
                up = interp23(block, ratio)[:, m * ratio : m * ratio + t, m * ratio : m * ratio + t]
                if name == "interp":
                    fused = up
                else:
                    fuse_fn = {"brovey": classical.brovey, "gs": classical.gram_schmidt,
                               "ihs": classical.ihs}[name]
                    fused = fuse_fn(up, pan_t, stats)
            bad = ~ok[core[0], core[1]]
            if bad.any():
                fused[:, np.kron(bad, np.ones((ratio, ratio), dtype=bool))] = np.nan
            return fused.astype(np.float32)

        descriptions = ms_info.descriptions if any(ms_info.descriptions) else None
        predict_raster(
            pan, output, kernel, out_bands=bands, tile_size=tile_size, overlap=overlap,
            blend=blend, out_dtype="float32", out_nodata=float("nan"),
            band_descriptions=[d or f"band {i + 1}" for i, d in enumerate(descriptions)]
            if descriptions else None,
            progress=progress,
        )
    return {
        "output": str(output), "method": name, "sensor": sensor, "ratio": ratio,
        "bands": bands, "height": pan_info.height, "width": pan_info.width,
        "max_value": top, "seconds": round(time.perf_counter() - started, 3),
    }


def pansharpen(
    ms: Annotated[Path, typer.Option("--ms", help="multispectral GeoTIFF (coarse grid)")],
    pan: Annotated[Path, typer.Option("--pan", help="panchromatic GeoTIFF (1 band)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="fused GeoTIFF to write")],
    method: Annotated[
        str, typer.Option("--method", help="brovey | gs | ihs | interp | ssdiff")
    ] = "brovey",
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="SSDiff checkpoint (method ssdiff)")
    ] = None,
    sensor: Annotated[
        str, typer.Option("--sensor", help="WV3, WV2, QB, GF2, IKONOS, GeoEye1 or none")
    ] = "WV3",
    max_value: Annotated[
        float | None,
        typer.Option("--max-value", help="radiometric maximum (default: 2047, GF2 1023)"),
    ] = None,
    tile_size: Annotated[
        int, typer.Option("--tile-size", help="PAN tile edge in pixels (multiple of ratio)")
    ] = 512,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Pansharpen an MS GeoTIFF with a PAN GeoTIFF; the output lies on the PAN grid."""
    summary = run_pansharpen(ms, pan, output, method=method, checkpoint=checkpoint,
                             sensor=sensor, max_value=max_value, tile_size=tile_size,
                             progress=not json_output)
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"wrote {summary['output']}: {summary['bands']} bands, {summary['height']} x "
            f"{summary['width']} px (ratio {summary['ratio']}, {summary['method']}) in "
            f"{summary['seconds']} s"
        )
