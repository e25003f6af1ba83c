"""``geoneurips flood-map``: flood map from post-event and pre-event Sentinel-1 GeoTIFFs.

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["flood_map"]


def flood_map(
    post: Annotated[Path, typer.Argument(help="post-event GeoTIFF, 2 bands: VV, VH")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output GeoTIFF")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="Kuro Siwo checkpoint (config inside)")
    ],
    pre: Annotated[
        list[Path] | None,
        typer.Argument(help="pre-event GeoTIFFs (two for a post+pre checkpoint), VV, VH"),
    ] = None,
    linear: Annotated[
        bool, typer.Option("--linear", help="inputs are linear backscatter, not dB")
    ] = False,
    tile_size: Annotated[int | None, typer.Option("--tile-size", help="tile side")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="progress bar")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Map permanent water and flood on co-registered VV/VH GeoTIFFs (Kuro Siwo model).

    Inputs in dB (the default, e.g. Sen1Floods11 S1) are converted to the linear
    backscatter Kuro Siwo uses (10 ** (dB / 10)); pass --linear when they already are.
    The output is uint8 on the input grid (CRS, transform kept): 0 no water, 1 permanent
    water, 2 flood, 255 no data; written atomically.
    """
    import time

    from ...errors import InvalidInputError
    from .inference import flood_map as run
    from .inference import load_model

    if tile_size is not None and tile_size < 16:
        raise InvalidInputError(f"--tile-size must be at least 16, got {tile_size}")
    started = time.perf_counter()
    model, config = load_model(checkpoint)
    out = run(post, list(pre or []), output, model, config, linear=linear,
              tile_size=tile_size, progress=progress and not json_output)
    unit = "linear backscatter" if linear else "dB, converted to linear backscatter"
    result = {"output": str(out), "dates": config.dates, "arch": config.arch,
              "input_unit": "linear" if linear else "dB",
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"inputs read as {unit}; wrote {out} (0 no water, 1 permanent water, "
                   "2 flood, 255 no data)")
