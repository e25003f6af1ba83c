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
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="output GeoTIFF (with --instances: GeoJSON)")],
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="OAM-TCD checkpoint (config stored inside)")
    ],
    instances: Annotated[bool, typer.Option(
        "--instances", help="Mask R-CNN checkpoint: write instance polygons (GeoJSON in the "
        "raster's CRS) instead of a class raster")] = False,
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

    The output keeps the input grid (CRS, transform) and is written atomically. With
    ``--instances`` the checkpoint must be a Mask R-CNN one
    (``instance_raster.save_mask_rcnn``); each tree / canopy instance becomes a GeoJSON
    feature (``label``, ``class``, ``score``, ``area_px``) in the raster's CRS. Tiles
    default to the model's input size with a quarter overlap (paper: 1024 / 256).
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
    if instances:
        from .instance_raster import instances_to_geojson, load_mask_rcnn, mask_rcnn_predictor

        mrcnn, mcfg = load_mask_rcnn(checkpoint)
        t = int(tile_size or mcfg.min_size)
        fc = instances_to_geojson(image, output, mask_rcnn_predictor(mrcnn), tile_size=t,
                                  overlap=int(overlap if overlap is not None else t // 4))
        res = {"input": str(image), "output": str(output), "instances": len(fc["features"]),
               "crs": fc.get("crs", {}).get("properties", {}).get("name"),
               "seconds": round(time.perf_counter() - started, 3)}
        typer.echo(json.dumps(res) if json_output
                   else f"wrote {output} ({len(fc['features'])} instances)")
        return
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
