"""TorchSpatial task commands (typer-style; no heavy import at module level).

``geoneurips torchspatial geobias RESULTS.csv --value hit@1`` computes the Geo-Bias Score
(TorchSpatial, arXiv 2406.15658, Sec. 4; PyGBS) of a per-sample results table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from geoneurips.errors import InvalidInputError

__all__ = ["geobias"]


def geobias(
    results: Annotated[
        Path, typer.Argument(help="per-sample results CSV with lon/lat (TorchSpatial eval_*.csv)")
    ],
    value: Annotated[
        str | None,
        typer.Option("--value", help="performance column for the marked score, e.g. hit@1"),
    ] = None,
    radius_km: Annotated[
        float, typer.Option("--radius-km", help="neighbourhood radius (paper: 100 km)")
    ] = 100.0,
    lon_col: Annotated[str, typer.Option("--lon-col", help="longitude column")] = "lon",
    lat_col: Annotated[str, typer.Option("--lat-col", help="latitude column")] = "lat",
    k: Annotated[int, typer.Option("--k", help="nearest neighbours of the weights")] = 4,
    drop_nan: Annotated[
        bool, typer.Option("--drop-nan", help="drop rows with NaN lon/lat/value")
    ] = False,
    ties: Annotated[
        str,
        typer.Option("--ties", help="pygbs: PyGBS's exact values; average: tied neighbours "
                     "share places (order-free, ~4x faster on duplicate-heavy files)"),
    ] = "pygbs",
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Geo-Bias Score (unmarked and, with --value, marked) of a results table.

    The score is the mean spatial self-information over test points (100 km neighbourhoods,
    4-nearest-neighbour weights, analytical null of PyGBS); higher means more geo-biased.
    """
    import pandas as pd

    from .geobias import geobias_score

    if not results.is_file():
        raise InvalidInputError(f"results file {str(results)!r} does not exist")
    if not math.isfinite(radius_km) or radius_km <= 0:
        raise InvalidInputError(f"--radius-km must be a positive number, got {radius_km}")
    try:
        frame = pd.read_csv(results)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {str(results)!r} as CSV: {exc}") from exc
    score = geobias_score(
        frame, value, radius_km=radius_km, k=k, lon_col=lon_col, lat_col=lat_col,
        dropna=drop_nan, ties=ties,  # type: ignore[arg-type]
    )
    score["file"] = str(results)
    if json_output:
        typer.echo(json.dumps(score))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Geo-Bias Score of {results.name}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("unmarked GBS", f"{score['unmarked']:.4f}")
    if score["marked"] is not None:
        table.add_row(f"marked GBS ({value})", f"{score['marked']:.4f}")
    table.add_row("test points", str(score["n"]))
    table.add_row("dropped rows", str(score["dropped"]))
    table.add_row("radius", f"{radius_km:g} km ({score['radius_rad']:.5f} rad)")
    table.add_row("k (weights)", str(k))
    Console().print(table)
