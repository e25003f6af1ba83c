"""Checkpoints and streaming nDSM + land-cover mapping of an RGB GeoTIFF.

* :func:`save_checkpoint` / :func:`load_model`: weights + :class:`.model.RS3DConfig` and the
  class names as JSON, the project's one format (:func:`geoneurips.io.save_model`), loaded
  only through :func:`geoneurips.io.load_checkpoint` (``weights_only``).
* :func:`height_map`: RGB (0-255) GeoTIFF -> float32 nDSM in metres (NaN no data) and a
  uint8 land-cover map (255 no data), both on the input grid (CRS, transform kept),
  streamed by :func:`geoneurips.raster.engine.predict_raster`. The two outputs are
  written to temporary files and renamed only when both are complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError, InvalidInputError
from .data import COMBINED_CLASSES
from .model import RS3DConfig, RS3DModel

__all__ = ["height_map", "load_model", "save_checkpoint"]


def save_checkpoint(path: str | Path, model: RS3DModel,
                    classes: Sequence[str] = COMBINED_CLASSES) -> Path:
    """Write weights, config and class names (atomic)."""
    from ...io import save_model

    return save_model(path, model, {"model": model.config.to_dict(),
                                    "classes": list(classes)})


def load_model(checkpoint: str | Path) -> tuple[RS3DModel, list[str]]:
    """Rebuild the model of a checkpoint, eval mode; also returns the class names."""
    from ...io import load_model_state, load_weights

    state, raw = load_model_state(checkpoint, "SynRS3D")
    try:
        config = RS3DConfig.from_dict(dict(raw["model"]))
        classes = [str(c) for c in raw["classes"]]
        model = RS3DModel(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"bad SynRS3D config in {str(checkpoint)!r}: {exc}") from exc
    if len(classes) != config.num_classes:
        raise CheckpointError(f"{str(checkpoint)!r}: {len(classes)} class names for "
                              f"{config.num_classes} classes")
    return load_weights(model, state, checkpoint, "SynRS3D"), classes


def height_map(image: str | Path, output: str | Path, landcover: str | Path,
               model: RS3DModel, *, tile_size: int | None = None,
               overlap: int | None = None, progress: bool = False) -> tuple[Path, Path]:
    """nDSM (float32 metres, >= 0) and land cover (uint8 class ids) of an RGB GeoTIFF.

    The input must have 3 bands (R, G, B) on 0-255 (uint8, or any type in that range).
    """
    from ...io import atomic_path
    from ...raster.engine import predict_raster
    from ...raster.io import raster_info

    info = raster_info(image)
    if info.count != 3:
        raise InvalidInputError(f"{str(image)!r} has {info.count} band(s); SynRS3D models "
                                "take an RGB image (3 bands, 0-255)")
    if Path(output).resolve() == Path(landcover).resolve():
        raise InvalidInputError("the nDSM and land-cover outputs must be different files")
    ps = model.config.patch_size
    t = int(tile_size or max(64, model.config.img_size))
    t = max(ps, t - t % ps)
    ov = int(overlap if overlap is not None else (t // 4) - (t // 4) % 2)
    if not 0 <= ov < t / 2:
        raise InvalidInputError(f"overlap must be in [0, {t / 2}), got {ov}")
    model.eval()
    nc = model.config.num_classes

    def run(tile: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32))[None]
        if float(x.max()) > 255.0 or float(x.min()) < 0.0:
            raise InvalidInputError(f"{str(image)!r} has values outside 0-255; SynRS3D "
                                    "models take 8-bit RGB")
        with torch.inference_mode():
            return model(x)  # type: ignore[no-any-return]

    def k_height(tile: np.ndarray, ctx: Any) -> np.ndarray:
        return run(tile)["height"].clamp_min(0).numpy().astype(np.float32)

    def k_class(tile: np.ndarray, ctx: Any) -> np.ndarray:
        return run(tile)["seg"].softmax(1)[0].numpy().astype(np.float32)

    def argmax(prob: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.argmax(prob, axis=0)[None].astype(np.float32)
        return out

    with atomic_path(output) as tmp_h, atomic_path(landcover) as tmp_c:
        predict_raster(str(image), tmp_h, k_height, out_bands=1, tile_size=t, overlap=ov,
                       out_dtype="float32", band_descriptions=["ndsm_m"], progress=progress)
        predict_raster(str(image), tmp_c, k_class, out_bands=nc, tile_size=t, overlap=ov,
                       out_dtype="uint8", out_nodata=255, band_descriptions=["land_cover"],
                       finalize=argmax, final_bands=1, progress=progress)
    return Path(output), Path(landcover)
