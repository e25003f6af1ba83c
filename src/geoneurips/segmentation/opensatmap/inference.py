"""Checkpoints, tile prediction and the GeoTIFF -> polylines task.

* :func:`save_checkpoint` / :func:`load_model`: weights + :class:`.model.LaneConfig` (JSON
  under ``"__config__"``), loaded only through :func:`geoneurips.io.load_checkpoint`.
* :func:`predict_probs`: softmax probabilities of raw 0-255 ``(B, 3, H, W)`` tiles.
* :func:`lines_to_geojson`: polylines (pixel indices) -> GeoJSON LineStrings through the
  raster's affine transform (pixel centres), in its CRS.
* :func:`lanes_raster`: every head's probabilities streamed by
  :func:`geoneurips.raster.engine.predict_raster` into a temporary GeoTIFF, then instance
  extraction window by window (``config.tile`` px, as the paper evaluates per tile: a line
  crossing a window border becomes two features), each line with its attribute values
  (:func:`line_attributes`); GeoJSON written atomically.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CheckpointError, InvalidInputError
from ...io import CONFIG_KEY  # the shared checkpoint format's config key (re-exported)
from .model import (
    LaneConfig,
    LineInstance,
    build_model,
    extract_instances,
    head_sizes,
    split_heads,
)
from .rasterize import ATTRIBUTES, CATEGORY_NAMES

__all__ = ["CONFIG_KEY", "lanes_raster", "line_attributes", "lines_to_geojson", "load_model",
           "predict_heads", "predict_probs", "save_checkpoint"]


def save_checkpoint(path: str | Path, model: nn.Module, config: LaneConfig) -> Path:
    """Write weights + config (atomic)."""
    from ...io import save_model

    return save_model(path, model, config.to_dict())


def load_model(checkpoint: str | Path) -> tuple[nn.Module, LaneConfig]:
    """Rebuild a checkpoint's model (eval mode).

    Raises:
        CheckpointError: missing file, no or bad config, weights that do not fit it.
    """
    from ...io import load_model_state, load_weights

    state, raw = load_model_state(checkpoint, "OpenSatMap")
    try:
        config = LaneConfig.from_dict(raw)
        model = build_model(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"bad OpenSatMap config in {str(checkpoint)!r}: {exc}") from exc
    return load_weights(model, state, checkpoint, "OpenSatMap"), config


def predict_probs(model: nn.Module, config: LaneConfig, image: torch.Tensor) -> torch.Tensor:
    """Category softmax ``(B, K, H, W)`` of raw 0-255 ``(B, 3, H, W)`` images (padded
    internally)."""
    return predict_heads(model, config, image)["category"]


def predict_heads(model: nn.Module, config: LaneConfig, image: torch.Tensor
                  ) -> dict[str, torch.Tensor]:
    """Softmax of every head (:func:`.model.head_sizes`) of raw 0-255 ``(B, 3, H, W)``
    images."""
    h, w = image.shape[-2:]
    m = config.multiple
    mean = torch.tensor(config.mean)[:, None, None]
    std = torch.tensor(config.std)[:, None, None]
    x = (image.float() - mean) / std
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "constant")
    with torch.inference_mode():
        logits: torch.Tensor = model(x)[..., :h, :w]
    return {k: v.softmax(1) for k, v in split_heads(logits, config).items()}


def line_attributes(lines: list[LineInstance], probs: np.ndarray, config: LaneConfig
                    ) -> list[dict[str, str]]:
    """Each line's attribute values (the tools' names): per attribute head, the value with
    the highest mean probability over the line's redrawn mask (background excluded).

    ``probs``: all heads' softmax stacked as :func:`.model.head_sizes` orders them,
    ``(C, H, W)`` in the lines' pixel frame."""
    names = {a: {v: k for k, v in ATTRIBUTES[a].items()} for a in config.attributes}
    heads = split_heads(probs[None], config)
    out = []
    for ln in lines:
        vals = {}
        for a in config.attributes:
            mean = heads[a][0][:, ln.mask].mean(axis=1)
            vals[a] = names[a][int(np.argmax(mean[1:])) + 1]
        out.append(vals)
    return out


def lines_to_geojson(lines: list[LineInstance], transform: Any, crs: Any,
                     offset: tuple[int, int] = (0, 0),
                     attributes: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """GeoJSON Features (LineString at pixel centres, through ``transform``) of ``lines``;
    ``offset`` = ``(col, row)`` of the window the polylines' pixels are relative to;
    ``attributes`` (one dict per line) are added to the properties."""
    feats = []
    for i, ln in enumerate(lines):
        cols = ln.polyline[:, 0] + offset[0] + 0.5
        rows = ln.polyline[:, 1] + offset[1] + 0.5
        a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])
        xs, ys = a * cols + b * rows + c, d * cols + e * rows + f
        coords = [[float(x), float(y)] for x, y in zip(xs, ys, strict=True)]
        if len(coords) < 2:
            continue
        feats.append({"type": "Feature",
                      "geometry": {"type": "LineString", "coordinates": coords},
                      "properties": {"category": CATEGORY_NAMES[ln.category],
                                     "category_id": int(ln.category),
                                     "score": round(float(ln.score), 4),
                                     **(attributes[i] if attributes else {})}})
    return feats


def lanes_raster(image: str | Path, output: str | Path, model: nn.Module, config: LaneConfig,
                 *, mask_output: str | Path | None = None, progress: bool = False
                 ) -> dict[str, Any]:
    """Lane/curb polylines of an RGB GeoTIFF as a GeoJSON FeatureCollection (atomic).

    Returns a summary (feature counts per category, CRS).
    """
    import rasterio
    from rasterio.windows import Window

    from ...io import write_json
    from ...raster.engine import predict_raster
    from ...raster.io import raster_info
    from ...raster.vectorize import crs_member

    info = raster_info(image)
    if info.count < 3:
        raise InvalidInputError(
            f"raster {str(image)!r} has {info.count} band(s); the lane model needs RGB (3)")
    out = Path(output)
    if out.suffix.lower() not in (".geojson", ".json"):
        raise InvalidInputError(f"output must end in .geojson or .json, got {str(out)!r}")
    if not out.parent.is_dir():
        raise InvalidInputError(f"output folder {str(out.parent)!r} does not exist")
    k = config.num_classes
    sizes = head_sizes(config)
    bands = [*CATEGORY_NAMES[:k]]
    for a in config.attributes:
        inv = {v: n for n, v in ATTRIBUTES[a].items()}
        bands += [f"{a}={inv.get(i, 'background')}" for i in range(sizes[a])]
    m = config.multiple
    t = max(m, config.tile - config.tile % m)
    ov = min(config.overlap, t // 4)
    model.eval()

    def kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(tile[:3], dtype=np.float32))[None]
        heads = predict_heads(model, config, x)
        return np.ascontiguousarray(
            np.concatenate([heads[h][0].numpy() for h in sizes]), dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="opensatmap_") as tmp:
        prob_path = Path(tmp) / "probs.tif"
        predict_raster([image], prob_path, kernel, out_bands=len(bands), tile_size=t,
                       overlap=ov, blend="cosine", out_dtype="float32", out_nodata=-1.0,
                       band_descriptions=bands, progress=progress)
        feats: list[dict[str, Any]] = []
        counts = dict.fromkeys(CATEGORY_NAMES[1:k], 0)
        with contextlib.ExitStack() as stack:
            src = stack.enter_context(rasterio.open(prob_path))
            dst = None
            if mask_output is not None:
                from ...io import atomic_path

                mask_tmp = stack.enter_context(atomic_path(mask_output))
                prof = src.profile.copy()
                prof.update(count=1, dtype="uint8", nodata=255)
                dst = stack.enter_context(rasterio.open(mask_tmp, "w", **prof))
            step = config.tile
            for r0 in range(0, src.height, step):
                for c0 in range(0, src.width, step):
                    win = Window(c0, r0, min(step, src.width - c0), min(step, src.height - r0))
                    allp = src.read(window=win)
                    probs = allp[:k]
                    invalid = (probs < 0).any(axis=0)
                    label = probs.argmax(axis=0).astype(np.uint8)
                    label[invalid] = 0
                    if dst is not None:
                        lab_out = label.copy()
                        lab_out[invalid] = 255
                        dst.write(lab_out[None], window=win)
                    lines = extract_instances(label, probs, config)
                    attrs = line_attributes(lines, allp, config) if config.attributes \
                        else None
                    feats.extend(lines_to_geojson(lines, src.transform, src.crs,
                                                  offset=(c0, r0), attributes=attrs))
                    for ln in lines:
                        counts[CATEGORY_NAMES[ln.category]] += 1
        fc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
        member = crs_member(info.crs) if info.crs is not None else None
        if member is not None:
            fc["crs"] = member
        write_json(out, fc)
    return {"features": len(feats), "per_category": counts,
            "crs": str(info.crs) if info.crs is not None else None}
