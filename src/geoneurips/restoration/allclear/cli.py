"""``geoneurips declouds STACK_DIR -o COMPOSITE.tif``: cloud-free composite of a time series.

See :mod:`geoneurips.restoration.allclear.composite` for the folder convention (AllClear
``s2_toa``/``cld_shdw`` per-date naming, or ``NAME.tif`` + ``NAME_mask.tif`` pairs), the
methods and the output. ``--cloud-detector s2cloudless`` (or ``ukis-csmask``) computes the
masks of Sentinel-2 L1C images that have none. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._cli import exit_on_error

__all__ = ["declouds"]


def declouds(
    stack_dir: Annotated[Path, typer.Argument(help="folder with the dated images and masks")],
    output: Annotated[Path, typer.Option("-o", "--output", help="composite GeoTIFF to write")],
    method: Annotated[
        str, typer.Option(help="mosaic (mean of clear dates), median, or least_cloudy")
    ] = "mosaic",
    fill: Annotated[
        str, typer.Option(help="pixels without a clear date: least_cloudy or nodata")
    ] = "least_cloudy",
    block: Annotated[int, typer.Option(help="window edge in pixels (memory bound)")] = 256,
    cloud_detector: Annotated[
        str, typer.Option(help="images without a mask: none (error), s2cloudless (AllClear's "
                          "masks) or ukis-csmask; 13-band Sentinel-2 L1C only")
    ] = "none",
    sun_azimuth: Annotated[
        float | None, typer.Option(help="degrees from north for the s2cloudless shadow "
                                   "projection (default: from date and location)")
    ] = None,
    reflectance_scale: Annotated[
        float, typer.Option(help="image value of reflectance 1 (Sentinel-2 L1C DN: 10000)")
    ] = 1e4,
    masks_dir: Annotated[
        Path | None, typer.Option(help="keep the computed masks in this folder")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Build a cloud-free composite from a time series of GeoTIFFs with cloud masks."""
    from .composite import composite

    with exit_on_error(json_output):
        summary = composite(stack_dir, output, method=method,  # type: ignore[arg-type]
                            fill=fill, block=block, progress=not json_output,  # type: ignore[arg-type]
                            cloud_detector=None if cloud_detector == "none" else cloud_detector,
                            sun_azimuth=sun_azimuth, reflectance_scale=reflectance_scale,
                            masks_dir=masks_dir)
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"wrote {summary['output']} ({summary['width']} x {summary['height']}, "
            f"{summary['bands']} bands, {len(summary['dates'])} dates, method {method}); "
            f"{100 * summary['clear_fraction']:.1f}% of pixels had a clear date, "
            f"{100 * summary['nodata_fraction']:.1f}% nodata"
        )
