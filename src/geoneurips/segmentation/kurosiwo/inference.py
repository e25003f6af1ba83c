"""Lightning-free inference: checkpoints and streaming flood mapping of GeoTIFF stacks.

* :func:`save_checkpoint` / :func:`load_model`: state dict + the :class:`.model.FloodConfig`
  as JSON (key ``"__config__"``), loaded only through :func:`geoneurips.io.load_checkpoint`.
* :func:`predict` : class logits for raw linear ``(B, 2 * dates, H, W)`` stacks (clamped
  and normalised as the dataset does).
* :func:`flood_map` : post-event (and two pre-event) GeoTIFFs of VV/VH backscatter ->
  a uint8 class map (0 no water, 1 permanent water, 2 flood, 255 no data) on the input grid,
  streamed by :func:`geoneurips.raster.engine.predict_raster`, written atomically.
  Sentinel-1 products are often in dB (Sen1Floods11, for instance); Kuro Siwo works on
  linear backscatter (sigma0), so dB input is converted with ``10 ** (dB / 10)`` unless
  ``linear=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError, InvalidInputError
from ...io import CONFIG_KEY  # the shared checkpoint format's config key (re-exported)
from .data import normalize_sar
from .model import FloodConfig, build_model

__all__ = ["CONFIG_KEY", "check_backscatter", "flood_map", "load_model", "predict",
           "save_checkpoint"]


def save_checkpoint(path: str | Path, model: nn.Module, config: FloodConfig) -> Path:
    """Write weights and config (atomic)."""
    from ...io import save_model

    return save_model(path, model, config.to_dict())


def load_model(checkpoint: str | Path) -> tuple[nn.Module, FloodConfig]:
    """Rebuild the model of a checkpoint (ours or a Lightning one of ``FloodTask``), eval."""
    from ...io import load_model_state, load_weights

    state, raw = load_model_state(checkpoint, "Kuro Siwo")
    try:
        config = FloodConfig.from_dict(raw)
        model = build_model(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"bad Kuro Siwo config in {str(checkpoint)!r}: {exc}") from exc
    return load_weights(model, state, checkpoint, "Kuro Siwo"), config


def predict(model: nn.Module, linear: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Logits ``(B, 3, H, W)`` for raw linear backscatter ``(B, C, H, W)``."""
    x = np.asarray(linear, dtype=np.float32)
    x = np.stack([normalize_sar(s) for s in x])
    with torch.inference_mode():
        return model(torch.from_numpy(x))  # type: ignore[no-any-return]


def check_backscatter(path: str | Path, *, linear: bool, sample: int = 256) -> dict[str, float]:
    """Check one input: 2 bands (VV, VH), no stray NaN, values in the stated unit.

    NaN is accepted only where the file declares NaN as its nodata (those pixels become
    no data in the output); a NaN elsewhere, an all-nodata band, a dB file passed as linear
    (negative values) or a linear file passed as dB (no negative value and a median VV
    below 1) raise :class:`InvalidInputError`. Reads whole blocks one at a time.
    """
    import math

    import rasterio

    p = str(path)
    with rasterio.open(p) as ds:
        if ds.count != 2:
            raise InvalidInputError(f"{p!r} has {ds.count} band(s); Kuro Siwo needs 2 per "
                                    "date (VV, VH), e.g. a Sentinel-1 GRD VV/VH GeoTIFF")
        nan_ok = [nd is not None and math.isnan(nd) for nd in ds.nodatavals]
        vals: list[np.ndarray] = []
        n_valid = 0
        for _, win in ds.block_windows(1):
            data = ds.read(window=win).astype(np.float32)
            for b in range(2):
                nan = np.isnan(data[b])
                if nan.any() and not nan_ok[b]:
                    r, c = np.argwhere(nan)[0]
                    raise InvalidInputError(
                        f"{p!r} band {b + 1} has NaN at row {win.row_off + r}, column "
                        f"{win.col_off + c} but its nodata is {ds.nodatavals[b]}; set NaN "
                        "as nodata or fill the gaps")
            ok = np.isfinite(data[0])
            if ds.nodatavals[0] is not None and not nan_ok[0]:
                ok &= data[0] != ds.nodatavals[0]
            n_valid += int(ok.sum())
            step = max(1, int(ok.sum()) // sample)
            vals.append(data[0][ok][::step])
    if n_valid == 0:
        raise InvalidInputError(f"{p!r} has no valid pixel (all no data)")
    vv = np.concatenate(vals)
    med, low = float(np.median(vv)), float(vv.min())
    if linear and low < 0:
        raise InvalidInputError(f"{p!r} has negative backscatter (min {low:.2f}, median "
                                f"{med:.2f}): it looks like dB; drop --linear")
    if not linear and low >= 0 and med < 1.0:
        raise InvalidInputError(f"{p!r} looks linear (no negative value, median VV {med:.3f})"
                                "; pass --linear")
    return {"median_vv": med, "min_vv": low}


def flood_map(post: str | Path, pre: Sequence[str | Path], output: str | Path,
              model: nn.Module, config: FloodConfig, *, linear: bool = False,
              tile_size: int | None = None, overlap: int | None = None,
              progress: bool = False) -> Path:
    """Map floods on co-registered GeoTIFFs (2 bands each: VV, VH).

    Args:
        post: post-event image; pre: the pre-event images (``config.dates - 1`` of them).
        output: uint8 GeoTIFF on the input grid (0/1/2, 255 = no data), written atomically.
        model, config: from :func:`load_model`.
        linear: the inputs are linear backscatter (default: dB, converted to linear).
        tile_size: tile side (default: the training patch size, at least 64);
            overlap: tile overlap (default a quarter of the tile).
    """
    from ...raster.engine import predict_raster
    from ...raster.io import check_coregistered

    if config.terrain:
        raise InvalidInputError(f"this checkpoint also needs {', '.join(config.terrain)} "
                                "channels; flood-map takes SAR images only")
    sources = [Path(post), *[Path(p) for p in pre]]
    if len(sources) != config.dates:
        raise InvalidInputError(f"this checkpoint uses {config.dates} date(s) (post-event "
                                f"{'+ ' + str(config.dates - 1) + ' pre-event' if config.dates > 1 else 'only'}"
                                f"); got {len(sources)} image(s)")
    for s in sources:
        check_backscatter(s, linear=linear)
    check_coregistered(sources)
    multiple = 2 ** config.depth
    t = int(tile_size or max(64, config.patch_size))
    t = max(multiple, t - t % multiple)
    ov = int(overlap if overlap is not None else t // 4)
    model.eval()

    def kernel(tile: np.ndarray, ctx: Any) -> np.ndarray:
        x = tile.astype(np.float32)
        if not linear:
            x = np.power(np.float32(10.0), x / np.float32(10.0))
        logits = predict(model, x[None])
        return np.ascontiguousarray(logits.softmax(1)[0].numpy(), dtype=np.float32)

    def finalize(prob: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.argmax(prob, axis=0)[None].astype(np.float32)
        return out

    return predict_raster([str(s) for s in sources], output, kernel, out_bands=3,
                          tile_size=t, overlap=ov, blend="cosine", out_dtype="uint8",
                          out_nodata=255, band_descriptions=["flood_class"],
                          finalize=finalize, final_bands=1, progress=progress)
