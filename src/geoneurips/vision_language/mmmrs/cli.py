"""``geoneurips mmmrs-build``: MMM-RS text-image pairs from a folder of GeoTIFFs.

No heavy import at module level: numpy, rasterio and PIL are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["mmmrs_build"]


def mmmrs_build(
    folder: Annotated[Path, typer.Argument(help="folder of GeoTIFFs (*.tif, *.tiff)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output folder")],
    tile: Annotated[int, typer.Option("--tile", help="output image side (paper: 512)")] = 512,
    weather: Annotated[
        list[str] | None,
        typer.Option("--weather", help="conditions to write (repeat): clear fog low_light snow"),
    ] = None,
    caption: Annotated[
        str, typer.Option("--caption", help="caption field of the prompts (no VLM is run)")
    ] = "a satellite image",
    satellite: Annotated[str, typer.Option("--satellite", help="satellite field")] = "",
    gsd: Annotated[
        float | None, typer.Option("--gsd", help="GSD in m/pixel (default: from the transform)")
    ] = None,
    bands: Annotated[
        str | None, typer.Option("--bands", help="1-based RGB bands, e.g. 4,3,2")
    ] = None,
    image_format: Annotated[str, typer.Option("--format", help="jpg (paper) or png")] = "jpg",
    max_crop: Annotated[int, typer.Option("--max-crop", help="largest nested crop")] = 4096,
    seed: Annotated[int, typer.Option("--seed", help="weather randomness")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUTPUT")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Build MMM-RS-style text-image pairs from GeoTIFFs.

    Each file's centre square gives nested multi-GSD crops resized to TILE plus native-GSD
    tiles (when it has at least 2*TILE px a side), else one standardised image (bicubic
    resize); every image is written clear and under fog / low light / snow, with the prompt
    "{GSD phrase}, {weather}, {caption}, {satellite}" (GSD read from the transform).
    OUTPUT holds annotations.json, images/ and weather/; it is written atomically.
    """
    import time

    from ...errors import InvalidInputError
    from .builder import WEATHERS
    from .data import build_from_geotiffs, read_annotations

    started = time.perf_counter()
    band_list = None
    if bands:
        try:
            band_list = [int(b) for b in bands.split(",")]
        except ValueError:
            raise InvalidInputError(f"--bands must be comma-separated integers, got {bands!r}"
                                    ) from None
    out = build_from_geotiffs(folder, output, tile=tile, weathers=weather or list(WEATHERS),
                              caption=caption, satellite=satellite, gsd=gsd, bands=band_list,
                              image_format=image_format, max_crop=max_crop, seed=seed,
                              overwrite=overwrite)
    recs = read_annotations(out / "annotations.json")
    levels = sorted({str(r["gsd_level"]) for r in recs})
    result = {"output": str(out), "pairs": len(recs), "sources": len({r["source"] for r in recs}),
              "gsd_levels": levels, "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {len(recs)} text-image pairs to {out} (GSD levels: "
                   f"{', '.join(levels)})")
