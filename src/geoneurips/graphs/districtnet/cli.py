"""``geoneurips district``: districts for a city GeoJSON of basic units.

No heavy import at module level: torch is imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["district"]


def district(
    units: Annotated[Path, typer.Argument(help="city GeoJSON of basic units (DistrictNet layout)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output GeoJSON")],
    size: Annotated[int, typer.Option("--size", help="target district size t (in BUs)")] = 3,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="DistrictNet checkpoint (save_model)")
    ] = None,
    solver: Annotated[str, typer.Option("--solver", help="auto, exact or ils")] = "auto",
    iterations: Annotated[int, typer.Option("--iterations", help="ILS iterations")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Split the basic units into connected districts of floor(0.8t) to ceil(1.2t) units
    each.

    Edge costs come from the DistrictNet checkpoint, or (without one) from a small model
    trained on the spot on two synthetic 30-BU cities (about 15 s of CPU). Instances with
    at most 20000 candidate districts are solved exactly (set partitioning, HiGHS); larger ones by
    the iterated local search. The output copies the input BUs with a DISTRICT property,
    written atomically.
    """
    import time

    from ...errors import InvalidInputError
    from .data import read_city, write_districts
    from .model import build_graph
    from .pipeline import default_model, district_city, load_districtnet

    if solver not in ("auto", "exact", "ils"):
        raise InvalidInputError(f"--solver must be auto, exact or ils, got {solver!r}")
    started = time.perf_counter()
    city = read_city(units)
    if size < 1 or size > city.n:
        raise InvalidInputError(f"--size must be in 1..{city.n}, got {size}")
    model = load_districtnet(checkpoint) if checkpoint else default_model(seed)
    g = build_graph(city, size)
    if solver == "exact" and g.candidates is None:
        raise InvalidInputError("too many candidate districts for --solver exact; use ils")
    districts = district_city(model, g, solver, iterations, seed)
    out = write_districts(city, [sorted(d) for d in districts], output)
    result = {"output": str(out), "units": city.n, "districts": len(districts),
              "sizes": sorted(len(d) for d in districts),
              "solver": "exact" if solver != "ils" and g.candidates is not None else "ils",
              "seconds": round(time.perf_counter() - started, 3)}
    if json_output:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"wrote {out}: {len(districts)} districts of {city.n} basic units "
                   f"({result['solver']} solver)")
