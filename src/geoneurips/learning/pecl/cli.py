"""``geoneurips pecl-detect``: object boxes on a GeoTIFF as georeferenced GeoJSON.

No heavy import at module level: torch and rasterio are imported when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

__all__ = ["detect_geotiff", "pecl_detect"]


def detect_geotiff(
    image: Path, checkpoint: Path, output: Path, *, min_score: float = 0.3,
    tile: int = 512, overlap: int = 32, bands: tuple[int, int, int] = (1, 2, 3),
    scale: float = 1.0,
) -> dict[str, object]:
    """Detect objects tile by tile (``tile`` px windows overlapping by ``overlap``), merge
    duplicates across tiles (same class, IoU > 0.5, the higher score kept), and write a
    GeoJSON FeatureCollection of box polygons in the raster's CRS, atomically.

    Pixel values are divided by ``scale`` and clipped to 0-255 (the detector's uint8 range).

    Raises:
        InvalidInputError: bad options, a raster with fewer bands than asked for.
        CheckpointError: an unreadable or foreign checkpoint.
    """
    from rasterio.windows import Window

    from geoneurips.errors import InvalidInputError
    from geoneurips.io import write_json
    from geoneurips.learning.pecl.detector import detect, load_detector
    from geoneurips.learning.pecl.metrics import hbb_iou
    from geoneurips.raster.io import raster_info, read_raster

    if not 0.0 <= min_score <= 1.0:
        raise InvalidInputError(f"--min-score must be in [0, 1], got {min_score}")
    if tile < 32 or overlap < 0 or overlap >= tile // 2:
        raise InvalidInputError(f"need --tile >= 32 and 0 <= --overlap < tile/2, got "
                                f"{tile}, {overlap}")
    if scale <= 0:
        raise InvalidInputError(f"--scale must be positive, got {scale}")
    info = raster_info(image)
    if max(bands) > info.count or min(bands) < 1:
        raise InvalidInputError(f"{str(image)!r} has {info.count} bands; asked for {bands}")
    model, classes = load_detector(checkpoint)
    step = tile - overlap
    boxes, scores, labels = [], [], []
    for r0 in range(0, max(info.height - overlap, 1), step):
        for c0 in range(0, max(info.width - overlap, 1), step):
            h, w = min(tile, info.height - r0), min(tile, info.width - c0)
            arr, _ = read_raster(image, list(bands), Window(c0, r0, w, h))
            x = np.clip(arr.astype(np.float64) / scale, 0, 255).astype(np.uint8)
            ph, pw = (-h) % 4, (-w) % 4  # the detector's stride
            x = np.pad(x.transpose(1, 2, 0), ((0, ph), (0, pw), (0, 0)))
            d = detect(model, x[None], max_candidates=200, min_score=min_score)[0]
            b = d.boxes + np.array([c0, r0, c0, r0])
            boxes.append(b)
            scores.append(d.scores)
            labels.append(d.labels)
    b_all = np.concatenate(boxes).reshape(-1, 4)
    s_all, l_all = np.concatenate(scores), np.concatenate(labels)
    keep: list[int] = []
    for i in np.argsort(-s_all):
        same = [j for j in keep if l_all[j] == l_all[i]]
        if same and hbb_iou(b_all[i], b_all[same], 0.0).max() > 0.5:
            continue
        keep.append(int(i))
    t = info.transform
    feats = []
    for i in keep:
        x0, y0, x1, y1 = np.clip(b_all[i], 0, [info.width, info.height] * 2)
        ring = [t @ (x0, y0), t @ (x1, y0), t @ (x1, y1), t @ (x0, y1), t @ (x0, y0)]
        feats.append({"type": "Feature",
                      "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                      "properties": {"class": classes[int(l_all[i])],
                                     "score": round(float(s_all[i]), 4),
                                     "pixel_box": [round(float(v), 2) for v in (x0, y0, x1, y1)]}})
    crs = info.crs.to_string() if info.crs is not None else None
    fc: dict[str, object] = {"type": "FeatureCollection", "features": feats}
    if crs:
        fc["crs"] = {"type": "name", "properties": {"name": crs}}
    write_json(output, fc)
    return {"output": str(output), "objects": len(feats), "crs": crs}


def pecl_detect(
    image: Annotated[Path, typer.Argument(help="GeoTIFF with RGB bands")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="PECL detector checkpoint")],
    output: Annotated[Path, typer.Option("-o", "--output", help="output GeoJSON")],
    min_score: Annotated[float, typer.Option("--min-score", help="score threshold")] = 0.3,
    tile: Annotated[int, typer.Option("--tile", help="window side in pixels")] = 512,
    scale: Annotated[float, typer.Option("--scale", help="divide pixels by this")] = 1.0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Detect objects on a GeoTIFF with a PECL-trained detector; write GeoJSON boxes."""
    res = detect_geotiff(image, checkpoint, output, min_score=min_score, tile=tile,
                         scale=scale)
    typer.echo(json.dumps(res) if json_output else
               f"wrote {res['objects']} boxes to {res['output']} (CRS {res['crs']})")
