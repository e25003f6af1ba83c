"""Lightning-free inference of SGNet: checkpoints and streaming GeoTIFF segmentation.

Kept apart from :mod:`.pipeline` (training, demo) so that ``geoneurips segment`` and the
memory benchmark import neither Lightning nor its dependencies (about 280 MB of resident
memory and a slower start).

* :func:`save_checkpoint` / :func:`load_model`: plain state-dict checkpoints holding the
  model config beside the weights (key ``"__config__"``, a JSON string); Lightning
  checkpoints of :class:`.pipeline.SGNetTask` carry the same key. Loading goes only through
  :func:`geoneurips.io.load_checkpoint` (``weights_only=True``).
* :func:`segment_raster`: streams a GeoTIFF through :func:`geoneurips.raster.engine.predict_raster`;
  for SGNet every tile's kernel reads the tile's surrounding window (boundless) from the
  sources, resizes it to the tile size and runs both branches (Sec. 3.1); the plain
  baseline runs the base network on the tile alone. Tile probabilities are blended over the
  overlaps and the class map (uint8) is written on the input grid, atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CheckpointError, InvalidInputError
from ...io import CONFIG_KEY  # the shared checkpoint format's config key (re-exported)
from .data import IGNORE_INDEX, surrounding_window
from .model import SGNetConfig, build_model

__all__ = [
    "CONFIG_KEY",
    "evaluate_prediction",
    "load_model",
    "predict_patches",
    "save_checkpoint",
    "segment_raster",
]


def _normalize(x: torch.Tensor, config: SGNetConfig) -> torch.Tensor:
    mean = torch.tensor(config.mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.tensor(config.std, dtype=x.dtype, device=x.device)[:, None, None]
    return (x - mean) / std


def predict_patches(
    model: nn.Module, config: SGNetConfig, image: torch.Tensor,
    context: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Run the model on raw (un-normalised) ``(B, C, H, W)`` patches (and contexts)."""
    x = _normalize(image, config)
    if config.method in ("sgnet", "global_local"):
        if context is None:
            raise InvalidInputError(
                f"the {config.method} model needs the surrounding context of every patch")
        return model(x, _normalize(context, config))  # type: ignore[no-any-return]
    return model(x)  # type: ignore[no-any-return]


def save_checkpoint(path: str | Path, model: nn.Module, config: SGNetConfig) -> Path:
    """Write a plain state-dict checkpoint with the config beside the weights (atomic)."""
    from ...io import save_model

    return save_model(path, model, config.to_dict())


def load_model(checkpoint: str | Path) -> tuple[nn.Module, SGNetConfig]:
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint` or by Lightning
    (:class:`SGNetTask`), in eval mode.

    Raises:
        CheckpointError: no config stored, or weights that do not fit the config.
    """
    from ...io import load_model_state, load_weights

    state, raw = load_model_state(checkpoint, "SGNet")
    try:
        config = SGNetConfig.from_dict(raw)
        model = build_model(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"bad SGNet config in {str(checkpoint)!r}: {exc}") from exc
    return load_weights(model, state, checkpoint, "SGNet"), config


def _area_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area resize of ``(B, C, H, W)`` (average pooling when the factors are integers,
    which is what ``mode="area"`` computes then, at a fraction of its cost)."""
    h, w = x.shape[-2:]
    if h % size[0] == 0 and w % size[1] == 0:
        return F.avg_pool2d(x, (h // size[0], w // size[1]))
    return F.interpolate(x, size=size, mode="area")


def _make_kernel(model: nn.Module, config: SGNetConfig, multiple: int) -> Any:
    """The per-tile kernel of :func:`segment_raster` (class probabilities).

    Tiles and surrounding windows come from the engine, which never returns NaN (invalid
    pixels hold its fill value). Inputs are passed in channels-last layout (same values,
    about twice faster convolutions on CPU for these narrow networks).
    """

    def kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        c, h, w = tile.shape
        if c != config.in_channels:
            raise InvalidInputError(
                f"the model expects {config.in_channels} bands, the raster has {c}"
            )
        ph, pw = (-h) % multiple, (-w) % multiple
        x = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32))[None]
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        x = x.contiguous(memory_format=torch.channels_last)
        context = None
        if config.method in ("sgnet", "global_local"):
            r0, c0, sh, sw = surrounding_window(ctx.row_off, ctx.col_off, h + ph, w + pw,
                                                config.context_scale)
            sur = torch.from_numpy(np.asarray(ctx.read(r0, c0, sh, sw), dtype=np.float32))
            context = _area_resize(sur[None], (h + ph, w + pw))
            del sur
            context = context.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = predict_patches(model, config, x, context)["out"]
        prob = out.softmax(1)[0, :, :h, :w]
        return np.ascontiguousarray(prob.numpy(), dtype=np.float32)

    return kernel


def segment_raster(
    image: str | Path,
    output: str | Path,
    model: nn.Module,
    config: SGNetConfig,
    *,
    tile_size: int | None = None,
    overlap: int | None = None,
    probabilities: bool = False,
    progress: bool = True,
) -> Path:
    """Segment a GeoTIFF of any size (streamed window by window) and write the result.

    Args:
        image: input raster (``config.in_channels`` bands).
        output: output GeoTIFF, on the input grid (CRS and transform kept), written
            atomically: one uint8 band of class ids (255 = nodata), or with
            ``probabilities=True`` one float32 band of probability per class.
        model: the model (from :func:`load_model` or :func:`train_model`).
        config: its config (``config.method`` decides SGNet or plain sliding window).
        tile_size: tile side (default ``config.patch_size``).
        overlap: tile overlap (default a quarter of the tile).
        probabilities: write class probabilities instead of class ids.
        progress: progress bar.
    """
    from ...raster.engine import predict_raster
    from ...raster.io import raster_info

    info = raster_info(image)
    if info.count != config.in_channels:
        raise InvalidInputError(
            f"raster {str(image)!r} has {info.count} band(s) but the model expects "
            f"{config.in_channels}"
        )
    multiple = 2**config.base_depth
    if config.method == "sgnet":
        multiple = max(multiple, 4)
    t = int(tile_size or config.patch_size)
    t = max(multiple, t - t % multiple)
    ov = int(overlap if overlap is not None else t // 4)
    model.eval()
    kernel = _make_kernel(model, config, multiple)
    k = config.num_classes
    names = [f"p_class{i}" for i in range(k)]
    if probabilities:
        return predict_raster([image], output, kernel, out_bands=k, tile_size=t, overlap=ov,
                              blend="cosine", out_dtype="float32", band_descriptions=names,
                              progress=progress)

    def finalize(prob: np.ndarray) -> np.ndarray:
        label: np.ndarray = np.argmax(prob, axis=0)[None].astype(np.float32)
        return label

    return predict_raster([image], output, kernel, out_bands=k, tile_size=t, overlap=ov,
                          blend="cosine", out_dtype="uint8", out_nodata=255,
                          band_descriptions=["class"], finalize=finalize, final_bands=1,
                          progress=progress)


def evaluate_prediction(pred: np.ndarray, target: np.ndarray, num_classes: int) -> dict[str, float]:
    """mIoU / IoU per class / OA / mF1 with the confusion-matrix conventions of the project
    (the paper reports mIoU)."""
    from ...metrics.confusion import confusion_matrix, segmentation_scores

    cm = confusion_matrix(pred, target, num_classes, ignore_index=IGNORE_INDEX)
    s = segmentation_scores(cm)
    out = {"miou": float(s["miou"]), "oa": float(s["oa"]), "mf1": float(s["mf1"])}
    for i, v in enumerate(np.asarray(s["iou"]).tolist()):
        out[f"iou_{i}"] = float(v)
    return out
