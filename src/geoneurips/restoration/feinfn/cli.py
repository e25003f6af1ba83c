"""``geoneurips hsi-fusion``: fuse an LR hyperspectral GeoTIFF with an HR RGB GeoTIFF.

The LR-HSI must cover the same bounds as the RGB at an integer ``ratio`` times coarser
resolution, in the same CRS; band counts must match the checkpoint (31 and 3 for CAVE).
The output is a float32 GeoTIFF with the HSI bands on the RGB grid (the RGB's CRS and
transform), in the input units, NaN as nodata where the RGB or the LR-HSI is nodata.

Processing streams tiles of the RGB (:func:`geoneurips.raster.engine.predict_raster`, cosine
blending over an overlap of ``tile_size / 8``); each tile reads the matching LR-HSI window,
is divided by ``--scale`` (e.g. 65535 for 16-bit data; the model works on ``[0, 1]``
reflectance), fused by FeINFN (bicubic ``HSI_up`` computed on the tile) and rescaled.
Nothing heavy is imported at module level.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from geoneurips.raster.io import RasterInfo

__all__ = ["check_hsi_msi_grid", "hsi_fusion", "run_hsi_fusion"]


def check_hsi_msi_grid(hsi: RasterInfo, msi: RasterInfo) -> int:
    """Check that the LR-HSI covers the MSI bounds on an integer coarser grid.

    Returns:
        The resolution ratio (>= 2).

    Raises:
        InvalidInputError: rotated grids or a non-integer pixel-size ratio.
        CoregistrationError: different CRS, or different bounds.
    """
    from geoneurips.errors import CoregistrationError, InvalidInputError

    a, b = str(hsi.path), str(msi.path)
    if (hsi.crs is None) != (msi.crs is None) or (hsi.crs is not None and hsi.crs != msi.crs):
        raise CoregistrationError(
            f"LR-HSI {a!r} and RGB {b!r} have different CRS ({hsi.crs} vs {msi.crs}); "
            "reproject one of them first")
    th, tm = hsi.transform, msi.transform
    if th.b != 0 or th.d != 0 or tm.b != 0 or tm.d != 0:
        raise InvalidInputError(f"rotated grids are not supported ({a!r}, {b!r})")
    rx, ry = th.a / tm.a, th.e / tm.e
    ratio = round(rx)
    if ratio < 2 or abs(rx - ratio) > 1e-6 * ratio or abs(ry - ratio) > 1e-6 * ratio:
        raise InvalidInputError(
            f"the LR-HSI pixel size ({th.a}, {th.e}) of {a!r} must be an integer multiple "
            f"(>= 2) of the RGB pixel size ({tm.a}, {tm.e}) of {b!r}; got {rx:.6g}, {ry:.6g}")
    if abs(th.c - tm.c) > 0.01 * abs(tm.a) or abs(th.f - tm.f) > 0.01 * abs(tm.e) or \
            hsi.width * ratio != msi.width or hsi.height * ratio != msi.height:
        raise CoregistrationError(
            f"LR-HSI {a!r} ({hsi.width} x {hsi.height} px, bounds "
            f"{tuple(round(v, 6) for v in hsi.bounds)}) must cover the bounds of RGB {b!r} "
            f"({msi.width} x {msi.height} px, bounds {tuple(round(v, 6) for v in msi.bounds)}) "
            f"at {ratio} times coarser resolution")
    return int(ratio)


def _valid(data: Any, nodata: float | None) -> Any:
    import numpy as np

    ok = np.isfinite(data).all(axis=0)
    if nodata is not None and not np.isnan(nodata):
        ok &= ~(data == nodata).any(axis=0)
    return ok


def run_hsi_fusion(
    lrhsi: Path,
    rgb: Path,
    output: Path,
    checkpoint: Path,
    rgb_order: str = "rgb",
    scale: float = 1.0,
    tile_size: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """Fuse ``lrhsi`` and ``rgb`` GeoTIFFs into ``output`` (see the module docstring).

    Args:
        lrhsi: LR hyperspectral GeoTIFF (coarse grid).
        rgb: HR RGB / multispectral GeoTIFF (fine grid).
        output: GeoTIFF to write (atomically).
        checkpoint: a FeINFN checkpoint from :func:`~.pipeline.save_model`.
        rgb_order: band order of ``rgb`` (``"rgb"`` or ``"bgr"``); reordered to the order the
            checkpoint was trained with.
        scale: the inputs are divided by this before fusion and the output multiplied back.
        tile_size: RGB tile edge (a multiple of the ratio, >= 4 x ratio).
        progress: show a progress bar.

    Returns:
        A summary dict.

    Raises:
        InvalidInputError / CoregistrationError: bad rasters or arguments (nothing written).
        CheckpointError: unusable checkpoint.
    """
    import numpy as np
    import rasterio
    import torch
    from rasterio.windows import Window

    from geoneurips.errors import InvalidInputError
    from geoneurips.raster.engine import predict_raster
    from geoneurips.raster.io import raster_info
    from geoneurips.restoration.feinfn.pipeline import load_model

    started = time.perf_counter()
    if rgb_order not in ("rgb", "bgr"):
        raise InvalidInputError(f"rgb_order must be 'rgb' or 'bgr', got {rgb_order!r}")
    if not scale > 0:
        raise InvalidInputError(f"scale must be > 0, got {scale}")
    out = Path(output)
    if out.resolve() in (Path(lrhsi).resolve(), Path(rgb).resolve()):
        raise InvalidInputError(f"output {str(output)!r} would overwrite an input")
    h_info, m_info = raster_info(lrhsi), raster_info(rgb)
    ratio = check_hsi_msi_grid(h_info, m_info)
    model, trained_order = load_model(checkpoint)
    cfg = model.config
    if h_info.count != cfg.hsi_bands:
        raise InvalidInputError(
            f"LR-HSI {str(lrhsi)!r} has {h_info.count} bands, the checkpoint expects "
            f"{cfg.hsi_bands}")
    if m_info.count != cfg.msi_bands:
        raise InvalidInputError(
            f"RGB {str(rgb)!r} has {m_info.count} bands, the checkpoint expects {cfg.msi_bands}")
    if tile_size % ratio or tile_size < 4 * ratio:
        raise InvalidInputError(
            f"tile_size must be a multiple of the ratio {ratio} and >= {4 * ratio}, got "
            f"{tile_size}")
    overlap = (tile_size // 8) // ratio * ratio
    flip = rgb_order != trained_order
    bands = h_info.count

    with rasterio.open(lrhsi) as src:

        def kernel(tile: Any, ctx: Any) -> Any:
            hv = min(tile.shape[1], m_info.height - ctx.row_off)
            wv = min(tile.shape[2], m_info.width - ctx.col_off)
            r0, c0 = ctx.row_off // ratio, ctx.col_off // ratio
            try:
                lr = src.read(window=Window(c0, r0, wv // ratio, hv // ratio)).astype(np.float64)
            except Exception as exc:  # rasterio raises several types for corrupt data
                raise InvalidInputError(
                    f"cannot read rows {r0}:{r0 + hv // ratio} of {str(lrhsi)!r} (corrupt or "
                    f"truncated?): {exc}") from exc
            ok_lr = _valid(lr, h_info.nodata)
            if not ok_lr.all():
                fill = lr[:, ok_lr].mean(axis=1) if ok_lr.any() else np.zeros(bands)
                lr[:, ~ok_lr] = fill[:, None]
            msi = tile[:, :hv, :wv].astype(np.float64)
            if flip:
                msi = msi[::-1]
            with torch.no_grad():
                fused = model(torch.from_numpy(lr[None] / scale).float(),
                              torch.from_numpy(np.ascontiguousarray(msi)[None] / scale).float())
            res = np.zeros((bands,) + tile.shape[1:], dtype=np.float32)
            res[:, :hv, :wv] = fused[0].numpy() * scale
            if not ok_lr.all():
                bad = np.kron(~ok_lr, np.ones((ratio, ratio), dtype=bool))
                res[:, :hv, :wv][:, bad] = np.nan
            return res

        descriptions = list(h_info.descriptions) if any(h_info.descriptions) else None
        predict_raster(
            rgb, out, kernel, out_bands=bands, tile_size=tile_size, overlap=overlap,
            blend="cosine", out_dtype="float32", out_nodata=float("nan"),
            band_descriptions=[d or f"band {i + 1}" for i, d in enumerate(descriptions)]
            if descriptions else None, progress=progress)
    return {"output": str(out), "ratio": ratio, "bands": bands, "height": m_info.height,
            "width": m_info.width, "rgb_order": rgb_order, "scale": scale,
            "seconds": round(time.perf_counter() - started, 3)}


def hsi_fusion(
    lrhsi: Annotated[Path, typer.Option("--lrhsi", help="LR hyperspectral GeoTIFF")],
    rgb: Annotated[Path, typer.Option("--rgb", help="HR RGB / multispectral GeoTIFF")],
    output: Annotated[Path, typer.Option("-o", "--output", help="fused GeoTIFF to write")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="FeINFN checkpoint (.pt)")],
    rgb_order: Annotated[str, typer.Option("--rgb-order", help="rgb or bgr")] = "rgb",
    scale: Annotated[
        float, typer.Option("--scale", help="divide inputs by this (data in [0, scale])")
    ] = 1.0,
    tile_size: Annotated[int, typer.Option("--tile-size", help="RGB tile edge (pixels)")] = 256,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Fuse an LR hyperspectral GeoTIFF with an HR RGB GeoTIFF (FeINFN); output on the RGB
    grid."""
    summary = run_hsi_fusion(lrhsi, rgb, output, checkpoint, rgb_order=rgb_order, scale=scale,
                             tile_size=tile_size, progress=not json_output)
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"wrote {summary['output']}: {summary['bands']} bands, {summary['height']} x "
                   f"{summary['width']} px (ratio {summary['ratio']}) in {summary['seconds']} s")
