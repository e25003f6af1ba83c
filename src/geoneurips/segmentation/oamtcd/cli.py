"""``geoneurips tcd-segment``: tree / canopy segmentation of an RGB GeoTIFF (OAM-TCD).

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["tcd_segment"]


def tcd_segment(
    image: Annotated[Path, typer.Argument(help="input RGB GeoTIFF (streamed by tiles)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output GeoTIFF")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="OAM-TCD checkpoint (config stored inside)")
    ],
    tile_size: Annotated[
        int | None, typer.Option("--tile-size", help="tile side (default: the config's)")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option("--overlap", help="tile overlap (default: the config's)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Segment IMAGE into 0 background / 1 tree / 2 canopy (uint8, 255 = nodata); a
    2-class checkpoint writes 0 background / 1 tree cover.

    The output keeps the input grid (CRS, transform) and is written atomically.
    """
    import time

    from ...errors import InvalidInputError
    from .inference import load_model, segment_raster

    if tile_size is not None and tile_size < 8:
        raise InvalidInputError(f"--tile-size must be at least 8, got {tile_size}")
    if overlap is not None and overlap < 0:
        raise InvalidInputError(f"--overlap must be >= 0, got {overlap}")
    if not image.is_file():
        raise InvalidInputError(f"input image {str(image)!r} does not exist")
    started = time.perf_counter()
    model, config = load_model(checkpoint)
    out = segment_raster(image, output, model, config, tile_size=tile_size, overlap=overlap)
    result = {"input": str(image), "output": str(out), "num_classes": config.num_classes,
              "classes": (["background", "tree", "canopy"] if config.num_classes == 3
                          else ["background", "tree_cover"]),
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {out} ({config.num_classes} classes)")
