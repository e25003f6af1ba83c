"""``geoneurips segment``: SGNet or plain sliding-window segmentation of a GeoTIFF.

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["segment"]

#: the checkpoint `geoneurips demo sgnet` writes for each method
_DEMO_FILES = {"sgnet": "sgnet_model.pt", "sliding": "sliding_window_model.pt",
               "global_local": "global_local_model.pt"}


def segment(
    image: Annotated[Path, typer.Argument(help="input GeoTIFF (any size; streamed by windows)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output GeoTIFF")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="SGNet/sliding checkpoint (config stored inside)")
    ],
    method: Annotated[
        str | None,
        typer.Option("--method", help="sgnet | sliding | global_local (default: the checkpoint's)"),
    ] = None,
    tile_size: Annotated[
        int | None, typer.Option("--tile-size", help="tile side (default: training patch size)")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option("--overlap", help="tile overlap (default: tile/4)")
    ] = None,
    probabilities: Annotated[
        bool, typer.Option("--probabilities", help="write class probabilities, not class ids")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="progress bar")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Segment IMAGE with SGNet (surrounding context per tile) or the plain sliding window.

    The output is on the input grid (CRS and transform kept): one uint8 band of class ids
    (255 where the input is nodata), or one float32 band per class with --probabilities.
    It is written atomically: on any error no output file is left behind.
    """
    import time

    from ...errors import CheckpointError, InvalidInputError
    from .inference import load_model, segment_raster

    if method is not None and method not in ("sgnet", "sliding", "global_local"):
        raise InvalidInputError(
            f"--method must be 'sgnet', 'sliding' or 'global_local', got {method!r}")
    if tile_size is not None and tile_size < 8:
        raise InvalidInputError(f"--tile-size must be at least 8, got {tile_size}")
    if overlap is not None and (overlap < 0 or (tile_size is not None and overlap >= tile_size)):
        raise InvalidInputError(f"--overlap must be in [0, tile size), got {overlap}")
    started = time.perf_counter()
    model, config = load_model(checkpoint)
    if method is not None and method != config.method:
        raise CheckpointError(
            f"--method {method} asked for, but {str(checkpoint)!r} holds a {config.method!r} "
            f"model; pass a {method} checkpoint (e.g. from `geoneurips demo sgnet`: "
            f"{_DEMO_FILES[method]})"
        )
    out = segment_raster(image, output, model, config, tile_size=tile_size, overlap=overlap,
                         probabilities=probabilities, progress=progress and not json_output)
    result = {"input": str(image), "output": str(out), "method": config.method,
              "num_classes": config.num_classes, "probabilities": probabilities,
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {out} ({config.method}, {config.num_classes} classes)")
