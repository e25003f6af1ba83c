"""``geoneurips idee-generate``: write an IDEE synthetic cube in the published layout.

No heavy import at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["idee_generate"]


def idee_generate(
    output: Annotated[Path, typer.Argument(help="folder for datacube_<exp>.nc and its files")],
    exp: Annotated[
        str, typer.Option("--exp", help="exp_1 (artificial), exp_2 (NOAA), exp_3 (CERRA)")
    ] = "exp_1",
    time_steps: Annotated[int, typer.Option("--time", help="time steps (published: 2392)")] = 2392,
    size: Annotated[int, typer.Option("--size", help="grid side (published: 200)")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="generator seed (published: 44)")] = 44,
    data_base: Annotated[
        Path, typer.Option("--data-base", help="folder with NOAA.nc / CERRA climatology (exp_2/3)")
    ] = Path("data_base"),
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Generate a cube with the published generator (scaled when smaller than 2392 x 200 x 200)
    and write datacube / climatology netCDF, coupling matrix and statistics, atomically."""
    from ...errors import InvalidInputError
    from .data import write_datacube
    from .generator import exp_config, generate

    if time_steps < 52 or size < 1:
        raise InvalidInputError("--time must be at least 52 (one year) and --size positive")
    cfg = exp_config(exp, (time_steps, size, size), seed=seed, data_base=data_base)
    cube = generate(cfg)
    files = write_datacube(output, cube, exp)
    result = {
        "files": {k: str(v) for k, v in files.items()},
        "extreme_fraction": float((cube.extreme == 1).mean()),
        "driver_fraction": float(cube.anomaly_extreme.mean()),
    }
    typer.echo(json.dumps(result) if json_output else f"wrote {files['cube']}")
