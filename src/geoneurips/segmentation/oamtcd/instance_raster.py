"""OAM-TCD instance inference on GeoTIFFs: Mask R-CNN checkpoints and GeoJSON polygons.

* :func:`save_mask_rcnn` / :func:`load_mask_rcnn`: state-dict checkpoints of
  :func:`.instance.build_mask_rcnn` with the :class:`.instance.MaskRCNNConfig` as JSON under
  ``"__maskrcnn_config__"``, loaded only through :func:`geoneurips.io.load_checkpoint`
  (``weights_only=True``).
* :func:`instances_to_geojson`: reads an RGB GeoTIFF in overlapping tiles (the paper's
  large-image setting: 1024 px tiles, 256 px overlap; smaller here when the model's input
  is smaller), predicts instances per tile and keeps each instance in exactly one tile: the
  tile whose core (the pixels nearer to its centre than to any neighbour's, along each
  axis) holds the instance's mask centroid. An instance smaller than half the overlap is
  therefore never cut by a tile edge. Masks become polygons
  (:func:`rasterio.features.shapes`) in the raster's CRS; the GeoJSON carries that CRS as a
  named ``crs`` member (GeoJSON 2008; RFC 7946 readers assume WGS 84 otherwise) and is
  written atomically.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError, InvalidInputError
from .instance import MaskRCNNConfig, build_mask_rcnn, predict_instances

__all__ = ["MRCNN_KEY", "instances_to_geojson", "load_mask_rcnn", "save_mask_rcnn",
           "tile_starts"]

MRCNN_KEY = "__maskrcnn_config__"
Predictor = Callable[[torch.Tensor], list[tuple[np.ndarray, int, float]]]
_NAMES = {1: "tree", 2: "canopy"}


def save_mask_rcnn(path: str | Path, model: nn.Module, config: MaskRCNNConfig) -> Path:
    """Write Mask R-CNN weights + config (atomic)."""
    from ...io import save_checkpoint

    state: dict[str, Any] = dict(model.state_dict())
    state[MRCNN_KEY] = json.dumps(asdict(config))
    return save_checkpoint(path, state)


def load_mask_rcnn(checkpoint: str | Path) -> tuple[nn.Module, MaskRCNNConfig]:
    """Rebuild the Mask R-CNN of a checkpoint (eval mode).

    Raises:
        CheckpointError: no Mask R-CNN config inside (e.g. a semantic checkpoint), a bad
            config, or weights that do not fit it.
    """
    from ...io import load_checkpoint

    state = dict(load_checkpoint(checkpoint))
    raw = state.pop(MRCNN_KEY, None)
    if not isinstance(raw, str):
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} holds no Mask R-CNN config (key {MRCNN_KEY!r}); "
            "--instances needs one saved with "
            "geoneurips.segmentation.oamtcd.instance_raster.save_mask_rcnn")
    try:
        d = json.loads(raw)
        if d.get("anchor_sizes") is not None:
            d["anchor_sizes"] = tuple(int(v) for v in d["anchor_sizes"])
        config = MaskRCNNConfig(**d)
    except (ValueError, TypeError, InvalidInputError) as exc:
        raise CheckpointError(f"bad Mask R-CNN config in {str(checkpoint)!r}: {exc}") from exc
    model = build_mask_rcnn(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {str(checkpoint)!r} do not match its config: "
                              f"{exc}") from exc
    return model.eval(), config


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` stepping ``tile - overlap``; the last tile
    ends at ``length`` (a single tile when ``length <= tile``)."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def _cores(starts: list[int], tile: int, length: int) -> list[tuple[float, float]]:
    centres = [s + min(tile, length) / 2 for s in starts]
    bounds = [-np.inf] + [(a + b) / 2 for a, b in zip(centres, centres[1:], strict=False)] \
        + [np.inf]
    return [(float(bounds[i]), float(bounds[i + 1])) for i in range(len(starts))]


def _crs_member(crs: Any) -> dict[str, Any] | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else crs.to_wkt()
    return {"type": "name", "properties": {"name": name}}


def instances_to_geojson(
    image: str | Path, output: str | Path, predict: Predictor, *, tile_size: int = 1024,
    overlap: int = 256,
) -> dict[str, Any]:
    """Tile ``image``, predict instances with ``predict`` (``(3, h, w)`` 0-255 float tensor
    -> ``[(bool mask, label, score)]``), write a GeoJSON FeatureCollection of polygons in the
    raster's CRS to ``output`` (atomic) and return it.

    Feature properties: ``label`` (1 tree, 2 canopy), ``class``, ``score``, ``area_px``.
    """
    import rasterio
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rasterio.features import shapes
    from rasterio.windows import Window

    from ...io import write_text

    if tile_size < 8:
        raise InvalidInputError(f"tile size must be at least 8, got {tile_size}")
    if not 0 <= overlap < tile_size / 2:
        raise InvalidInputError(f"overlap must be in [0, tile/2), got {overlap} for tile "
                                f"{tile_size}")
    features: list[dict[str, Any]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(image)
    except RasterioIOError as exc:
        raise InvalidInputError(f"cannot read raster {str(image)!r}: {exc}") from exc
    with ds:
        if ds.count < 3:
            raise InvalidInputError(f"raster {str(image)!r} has {ds.count} band(s); OAM-TCD "
                                    "models need RGB (3)")
        ys, xs = tile_starts(ds.height, tile_size, overlap), tile_starts(ds.width, tile_size,
                                                                         overlap)
        ycores, xcores = _cores(ys, tile_size, ds.height), _cores(xs, tile_size, ds.width)
        crs = ds.crs
        for y0, (ylo, yhi) in zip(ys, ycores, strict=True):
            for x0, (xlo, xhi) in zip(xs, xcores, strict=True):
                win = Window(x0, y0, min(tile_size, ds.width), min(tile_size, ds.height))
                tile = ds.read([1, 2, 3], window=win).astype(np.float32)
                transform = ds.transform @ Affine.translation(x0, y0)
                for mask, label, score in predict(torch.from_numpy(tile)):
                    rr, cc = np.nonzero(mask)
                    if not len(rr):
                        continue
                    cy, cx = y0 + rr.mean() + 0.5, x0 + cc.mean() + 0.5
                    if not (ylo <= cy < yhi and xlo <= cx < xhi):
                        continue
                    polys = [g for g, v in shapes(mask.astype(np.uint8), mask=mask,
                                                  transform=transform) if v == 1]
                    geom = polys[0] if len(polys) == 1 else {
                        "type": "MultiPolygon", "coordinates": [p["coordinates"] for p in polys]}
                    features.append({"type": "Feature", "geometry": geom, "properties": {
                        "label": int(label), "class": _NAMES.get(int(label), str(label)),
                        "score": round(float(score), 6), "area_px": int(len(rr))}})
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    member = _crs_member(crs)
    if member is not None:
        fc["crs"] = member
    write_text(output, json.dumps(fc, separators=(",", ":")) + "\n")
    return fc


def mask_rcnn_predictor(model: nn.Module, mask_threshold: float = 0.5) -> Predictor:
    """:func:`.instance.predict_instances` of ``model`` as an :func:`instances_to_geojson`
    predictor."""
    def predict(tile: torch.Tensor) -> list[tuple[np.ndarray, int, float]]:
        return predict_instances(model, tile, mask_threshold)
    return predict
