"""``geoneurips downscale COARSE.tif -o FINE.tif --checkpoint CKPT``: STVD precipitation
downscaling of a GeoTIFF whose bands are consecutive coarse frames (kg m-2 s-1).

See :func:`geoneurips.restoration.stvd.pipeline.downscale_raster`. Nothing heavy is imported
at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .._cli import exit_on_error

__all__ = ["downscale"]


def downscale(
    coarse: Annotated[Path, typer.Argument(help="GeoTIFF, one band per coarse frame")],
    output: Annotated[Path, typer.Option("-o", "--output", help="fine GeoTIFF to write")],
    checkpoint: Annotated[Path, typer.Option(help="STVD checkpoint (save_model, with stats)")],
    members: Annotated[
        int, typer.Option(help="0: deterministic downscaler; N: N diffusion ensemble members")
    ] = 0,
    steps: Annotated[int, typer.Option(help="DDIM steps (paper: 20)")] = 20,
    seed: Annotated[int, typer.Option(help="random seed of the ensemble")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Downscale coarse precipitation frames with a trained STVD checkpoint."""
    from .pipeline import downscale_raster

    with exit_on_error(json_output):
        if members < 0 or steps < 1:
            from ...errors import InvalidInputError

            raise InvalidInputError(f"members must be >= 0 and steps >= 1, got {members}, {steps}")
        summary = downscale_raster(coarse, output, checkpoint, members=members, steps=steps,
                                   seed=seed)
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"wrote {summary['output']} ({summary['width']} x {summary['height']}, "
            f"{summary['frames']} frames, x{summary['scale']}, "
            f"{'deterministic' if not members else f'{members} members'}); "
            f"mean rate {summary['mean_rate']:.3g} kg m-2 s-1"
        )
