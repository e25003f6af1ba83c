"""``geoneurips height``: nDSM and land cover from an RGB GeoTIFF (SynRS3D / RS3DAda model).

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["height"]


def height(
    image: Annotated[Path, typer.Argument(help="RGB GeoTIFF, 3 bands on 0-255")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output nDSM GeoTIFF (m)")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="SynRS3D checkpoint (config inside)")
    ],
    landcover: Annotated[
        Path | None,
        typer.Option("--landcover", help="land-cover GeoTIFF (default: <output>_landcover.tif)"),
    ] = None,
    tile_size: Annotated[int | None, typer.Option("--tile-size", help="tile side")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="progress bar")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Estimate a normalised DSM (metres above ground) and a land-cover map.

    Both outputs are on the input grid (CRS, transform kept) and written atomically:
    the nDSM as float32 (NaN = no data), land cover as uint8 class ids (255 = no data;
    the class names are printed and stored in the checkpoint).
    """
    import time

    from ...errors import InvalidInputError
    from .inference import height_map, load_model

    if tile_size is not None and tile_size < 16:
        raise InvalidInputError(f"--tile-size must be at least 16, got {tile_size}")
    started = time.perf_counter()
    lc = landcover or output.with_name(f"{output.stem}_landcover{output.suffix or '.tif'}")
    model, classes = load_model(checkpoint)
    h, c = height_map(image, output, lc, model, tile_size=tile_size,
                      progress=progress and not json_output)
    result = {"ndsm": str(h), "landcover": str(c), "classes": classes,
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        names = ", ".join(f"{i} {n}" for i, n in enumerate(classes))
        typer.echo(f"wrote {h} (nDSM, m) and {c} (land cover: {names}; 255 no data)")
