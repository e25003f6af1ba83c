"""``geoneurips lanes``: lane-line and curb polylines of an RGB GeoTIFF (OpenSatMap).

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["lanes"]


def lanes(
    image: Annotated[Path, typer.Argument(help="input RGB GeoTIFF (streamed by tiles)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output .geojson")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="OpenSatMap checkpoint (config inside)")
    ],
    mask_output: Annotated[
        Path | None, typer.Option("--mask-output", help="also write the class GeoTIFF")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Segment IMAGE into lane lines / curbs / virtual lines, extract instances by
    watershed and write them as GeoJSON LineStrings in the image's CRS (atomic).

    Instances are extracted per tile of the checkpoint's tile size (the paper evaluates
    per tile), so a line crossing a tile border becomes two features.
    """
    import time

    from ...errors import InvalidInputError
    from .inference import lanes_raster, load_model

    if not image.is_file():
        raise InvalidInputError(f"input image {str(image)!r} does not exist")
    if not checkpoint.is_file():
        raise InvalidInputError(f"checkpoint {str(checkpoint)!r} does not exist")
    started = time.perf_counter()
    model, config = load_model(checkpoint)
    summary = lanes_raster(image, output, model, config, mask_output=mask_output)
    result = {"input": str(image), "output": str(output), **summary,
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {output} ({summary['features']} lines)")
