"""``geoneurips change``: AnyChange on two co-registered GeoTIFFs (no heavy import here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["change"]


def _parse_points(points: list[str] | None) -> list[tuple[float, float, int]] | None:
    if not points:
        return None
    out = []
    for p in points:
        parts = p.split(",")
        if len(parts) not in (2, 3):
            raise typer.BadParameter(f"point {p!r} must be 'x,y' or 'x,y,date'")
        try:
            x, y = float(parts[0]), float(parts[1])
            t = int(parts[2]) if len(parts) == 3 else 1
        except ValueError as exc:
            raise typer.BadParameter(f"point {p!r} must hold numbers") from exc
        out.append((x, y, t))
    return out


def change(
    before: Annotated[Path, typer.Argument(help="GeoTIFF of the first date")],
    after: Annotated[Path, typer.Argument(help="GeoTIFF of the second date (same grid)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output folder")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="local SAM checkpoint (sam_vit_b/l/h .pth)")
    ] = None,
    model_type: Annotated[
        str | None, typer.Option(help="vit_b, vit_l or vit_h (guessed when omitted)")
    ] = None,
    points: Annotated[
        list[str] | None,
        typer.Option("--points", help="point query 'col,row[,date]' in pixels (repeatable)"),
    ] = None,
    bands: Annotated[str, typer.Option(help="three 1-based bands used as RGB")] = "1,2,3",
    threshold: Annotated[
        float, typer.Option(help="change angle threshold theta in degrees (paper: 155)")
    ] = 155.0,
    otsu: Annotated[bool, typer.Option(help="choose the threshold by Otsu")] = False,
    tile_size: Annotated[int, typer.Option(help="tile edge in pixels")] = 512,
    overlap: Annotated[int, typer.Option(help="tile overlap in pixels")] = 64,
    points_per_side: Annotated[int, typer.Option(help="SAM prompt grid side")] = 32,
    tiny_sam: Annotated[
        bool, typer.Option(help="random tiny SAM (smoke tests only, meaningless output)")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Zero-shot change detection (AnyChange): probability/binary GeoTIFFs and polygons."""
    from .model import AnyChangeConfig
    from .pipeline import build_model, detect_change_geotiff

    try:
        band_list = [int(b) for b in bands.split(",")]
    except ValueError as exc:
        raise typer.BadParameter(f"bands {bands!r} must be comma-separated integers") from exc
    pts = _parse_points(points)
    base = AnyChangeConfig.tiny() if tiny_sam and checkpoint is None else AnyChangeConfig()
    from dataclasses import replace

    cfg = replace(
        base, change_confidence_threshold=threshold, auto_threshold=otsu,
        points_per_side=points_per_side if not (tiny_sam and checkpoint is None)
        else base.points_per_side,
    )
    model = build_model(checkpoint, model_type, tiny_sam=tiny_sam, config=cfg)
    res = detect_change_geotiff(
        before, after, output, model, bands=band_list, tile_size=tile_size, overlap=overlap,
        points=pts, progress=not json_output,
    )
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.items()}
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"changed {100 * res['changed_fraction']:.2f} % of pixels, "
            f"{res['n_polygons']} polygons -> {output}"
        )
