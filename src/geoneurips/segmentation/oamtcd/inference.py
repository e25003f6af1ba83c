"""Lightning-free inference for the OAM-TCD semantic baseline.

* :func:`save_checkpoint` / :func:`load_model`: state-dict checkpoints with the model config
  as a JSON string under ``"__config__"``; loading goes only through
  :func:`geoneurips.io.load_checkpoint` (``weights_only=True``). Lightning checkpoints of
  :class:`.pipeline.TCDTask` carry the same key.
* :func:`predict_batch`: class probabilities for raw 0-255 ``(B, 3, H, W)`` tiles.
* :func:`segment_raster`: tiled GeoTIFF segmentation through
  :func:`geoneurips.raster.engine.predict_raster` (overlapping tiles blended, nodata kept as
  255, CRS/transform kept, written atomically).
* :func:`green_baseline`: the trivial baseline (excess-green threshold -> tree).
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
from .model import TCDConfig, build_model

__all__ = ["CONFIG_KEY", "green_baseline", "load_model", "predict_batch", "save_checkpoint",
           "segment_raster"]


def save_checkpoint(path: str | Path, model: nn.Module, config: TCDConfig) -> Path:
    """Write weights + config (atomic)."""
    from ...io import save_model

    return save_model(path, model, config.to_dict())


def load_model(checkpoint: str | Path) -> tuple[nn.Module, TCDConfig]:
    """Rebuild the model of a checkpoint (eval mode).

    Raises:
        CheckpointError: no config inside, a bad config, or weights that do not fit it.
    """
    from ...io import load_model_state, load_weights

    state, raw = load_model_state(checkpoint, "OAM-TCD")
    try:
        config = TCDConfig.from_dict(raw)
        model = build_model(config)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"bad OAM-TCD config in {str(checkpoint)!r}: {exc}") from exc
    return load_weights(model, state, checkpoint, "OAM-TCD"), config


def normalize(x: torch.Tensor, config: TCDConfig) -> torch.Tensor:
    mean = torch.tensor(config.mean, dtype=x.dtype)[:, None, None]
    std = torch.tensor(config.std, dtype=x.dtype)[:, None, None]
    return (x - mean) / std


def predict_batch(model: nn.Module, config: TCDConfig, image: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities ``(B, K, H, W)`` for raw 0-255 ``(B, 3, H, W)`` images
    (padded internally to a multiple of ``config.multiple``)."""
    h, w = image.shape[-2:]
    m = config.multiple
    ph, pw = (-h) % m, (-w) % m
    x = normalize(image.float(), config)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "constant")
    with torch.inference_mode():
        out: torch.Tensor = model(x).softmax(1)
    return out[..., :h, :w]


def green_baseline(image: np.ndarray, threshold: float = 20.0) -> np.ndarray:
    """Trivial baseline: ``tree`` (1) where excess green ``2G - R - B`` exceeds the threshold,
    else background (it never predicts ``canopy``). ``image`` is ``(3, H, W)`` 0-255."""
    r, g, b = (np.asarray(image[i], dtype=np.float32) for i in range(3))
    return ((2 * g - r - b) > threshold).astype(np.int64)


def segment_raster(
    image: str | Path, output: str | Path, model: nn.Module, config: TCDConfig, *,
    tile_size: int | None = None, overlap: int | None = None, progress: bool = False,
) -> Path:
    """Segment an RGB GeoTIFF tile by tile; write uint8 class ids (255 = nodata)."""
    from ...raster.engine import predict_raster
    from ...raster.io import raster_info

    info = raster_info(image)
    if info.count < 3:
        raise InvalidInputError(
            f"raster {str(image)!r} has {info.count} band(s); OAM-TCD models need RGB (3)")
    m = config.multiple
    t = int(tile_size or config.tile_size)
    t = max(m, t - t % m)
    ov = int(overlap if overlap is not None else min(config.overlap, t // 4))
    if not 0 <= ov < t / 2:
        raise InvalidInputError(f"overlap must be in [0, tile/2), got {ov} for tile {t}")
    model.eval()
    k = config.num_classes

    def kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(tile[:3], dtype=np.float32))[None]
        return np.ascontiguousarray(predict_batch(model, config, x)[0].numpy(),
                                    dtype=np.float32)

    def finalize(prob: np.ndarray) -> np.ndarray:
        label: np.ndarray = np.argmax(prob, axis=0)[None].astype(np.float32)
        return label

    return predict_raster([image], output, kernel, out_bands=k, tile_size=t, overlap=ov,
                          blend="cosine", out_dtype="uint8", out_nodata=255,
                          band_descriptions=["class"], finalize=finalize, final_bands=1,
                          progress=progress)
