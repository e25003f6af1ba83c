"""Tiled inference of SSDiff and its checkpoints.

- :class:`SSDiffPansharpener`: full-image inference. The image is covered by one *global*
  grid of overlapping ``P x P`` patches anchored at the image's top-left corner (the paper
  evaluates 256x256 images as 64x64 patches); each patch is sampled with few-step DDIM from
  noise that depends only on the seed and the patch's grid position, and the patches are
  blended with linear ramps. :meth:`SSDiffPansharpener.fuse_region` computes any window of
  that result from reflected reads of the MS and the PAN, so a raster processed tile by tile
  (the ``pansharpen`` command) equals the same raster processed in one call, everywhere.
- Borders: beyond the image the MS and the PAN are mirrored (symmetric, edge pixel
  repeated), and ``lms`` is the 23-tap interpolation of the MS read with a margin of
  :data:`~geoneurips.metrics.mtf.INTERP23_MARGIN` low-resolution pixels, i.e.
  ``interp23(ms, mode="symmetric")`` inside the image. (The toolbox's circular ``interp23``
  would mix the opposite edges of the image into a band of about 8 pixels at every edge.)
- :func:`save_checkpoint` / :func:`load_pansharpener`: a checkpoint holding the EMA weights
  and the configuration, read back only through :func:`geoneurips.io.load_checkpoint`
  (``weights_only=True``). :func:`load_pansharpener` is what ``geoneurips pansharpen
  --method ssdiff --checkpoint ...`` calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError, InvalidInputError
from ...io import save_checkpoint as write_checkpoint
from .diffusion import ResidualDiffusion
from .model import SSNet, SSNetConfig
from .training import SSDiffModule

__all__ = [
    "CHECKPOINT_FORMAT",
    "SSDiffPansharpener",
    "SamplingConfig",
    "load_model",
    "load_pansharpener",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "geoneurips-ssdiff-v1"

#: ``read(rows, cols)``: the MS ``(C, len(rows), len(cols))`` or the PAN ``(len(rows),
#: len(cols))`` at global pixel indices (already reflected into the image), float in [0, 1].
Reader = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SamplingConfig:
    """Inference settings stored with a checkpoint.

    Attributes:
        steps: DDIM steps (paper: 10).
        eta: DDIM eta (paper: 0).
        patch_size: tile size on the PAN grid (paper: 64; must fit the training patches'
            constraints: a multiple of ``4 * ratio``).
        overlap: tile overlap in PAN pixels (multiple of the ratio).
        batch_tiles: tiles per network call.
        seed: seed of the initial noise.
        num_timesteps: ``T``.
    """

    steps: int = 10
    eta: float = 0.0
    patch_size: int = 64
    overlap: int = 16
    batch_tiles: int = 32
    seed: int = 0
    num_timesteps: int = 1000


def _n_patches(length: int, patch: int, stride: int) -> int:
    return 1 if length <= patch else math.ceil((length - patch) / stride) + 1


class SSDiffPansharpener:
    """Pansharpen images with a trained SSNet: ``fused = p(ms, pan)``.

    ``ms`` is ``(C, h, w)`` and ``pan`` ``(1, h * ratio, w * ratio)`` (or ``(H, W)``), both
    float in ``[0, 1]`` (digital numbers divided by the sensor maximum); the result is the
    fused ``(C, H, W)`` float32 in ``[0, 1]``. Deterministic for a given ``sampling.seed``
    and independent of how the image is split into windows (:meth:`fuse_region`).
    """

    def __init__(self, model: SSNet, sampling: SamplingConfig | None = None) -> None:
        self.model = model.eval()
        self.config = model.config
        self.sampling = sampling or SamplingConfig()
        s = self.sampling
        r = self.config.ratio
        if s.patch_size % (4 * r) or s.overlap % r or not 0 <= s.overlap < s.patch_size:
            raise InvalidInputError(
                f"patch_size={s.patch_size} must be a multiple of {4 * r} and overlap="
                f"{s.overlap} a multiple of {r} smaller than the patch"
            )
        self.diffusion = ResidualDiffusion(s.num_timesteps)

    def _check(self, ms: np.ndarray, pan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ms = np.asarray(ms)
        pan = np.asarray(pan)
        if pan.ndim == 2:
            pan = pan[None]
        c, r = self.config.ms_channels, self.config.ratio
        if ms.ndim != 3:
            raise InvalidInputError(f"ms must be (bands, h, w), got shape {ms.shape}")
        if pan.ndim != 3 or pan.shape[0] != 1:
            raise InvalidInputError(f"pan must be (1, H, W) or (H, W), got shape {pan.shape}")
        if ms.shape[0] != c:
            raise InvalidInputError(
                f"the SSDiff model was trained for {c} MS bands, the input ms has {ms.shape[0]}"
            )
        if pan.shape[1:] != (ms.shape[1] * r, ms.shape[2] * r):
            raise InvalidInputError(
                f"pan size {pan.shape[1:]} must be ratio={r} times the ms size {ms.shape[1:]}"
            )
        for name, a in (("ms", ms), ("pan", pan)):
            if not np.issubdtype(a.dtype, np.number):
                raise InvalidInputError(f"{name} must be numeric, got dtype {a.dtype}")
            if not np.isfinite(a).all():
                raise InvalidInputError(
                    f"{name} holds NaN or infinite values (fill nodata before pansharpening)"
                )
        return ms.astype(np.float64), pan.astype(np.float64)

    def __call__(self, ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
        ms64, pan64 = self._check(ms, pan)
        big_h, big_w = pan64.shape[1:]

        def read_ms(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            out: np.ndarray = ms64[:, rows][:, :, cols]
            return out

        def read_pan(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            out: np.ndarray = pan64[0][rows][:, cols]
            return out

        return self.fuse_region(read_ms, read_pan, (big_h, big_w), (0, big_h, 0, big_w))

    def patch_grid(self, height: int, width: int) -> tuple[int, int, int]:
        """``(stride, patches down, patches across)`` of the global grid of an image."""
        p, stride = self.sampling.patch_size, self.sampling.patch_size - self.sampling.overlap
        return stride, _n_patches(height, p, stride), _n_patches(width, p, stride)

    def fuse_region(
        self,
        read_ms: Reader,
        read_pan: Reader,
        size: tuple[int, int],
        region: tuple[int, int, int, int],
    ) -> np.ndarray:
        """The fused window ``rows r0:r1, cols c0:c1`` of an image of PAN size ``size``.

        Args:
            read_ms: MS reader at low-resolution indices (see :data:`Reader`).
            read_pan: PAN reader at PAN-grid indices.
            size: ``(H, W)`` of the whole PAN (multiples of the ratio).
            region: ``(r0, r1, c0, c1)`` inside the image.

        Returns:
            ``(C, r1 - r0, c1 - c0)`` float32 in ``[0, 1]``, equal to the same window of
            ``self(ms, pan)`` on the whole image.
        """
        from ...metrics.mtf import INTERP23_MARGIN, interp23, reflect_index

        r, s = self.config.ratio, self.sampling
        p = s.patch_size
        big_h, big_w = size
        r0, r1, c0, c1 = region
        if big_h % r or big_w % r or not (0 <= r0 < r1 <= big_h and 0 <= c0 < c1 <= big_w):
            raise InvalidInputError(f"bad region {region} of an image of size {size}")
        stride, n_h, n_w = self.patch_grid(big_h, big_w)
        # grid patches that touch the region, and the canvas they cover
        gi0, gi1 = max(0, (r0 - p) // stride + 1), min(n_h - 1, (r1 - 1) // stride)
        gj0, gj1 = max(0, (c0 - p) // stride + 1), min(n_w - 1, (c1 - 1) // stride)
        y0, y1 = gi0 * stride, gi1 * stride + p
        x0, x1 = gj0 * stride, gj1 * stride + p
        m = INTERP23_MARGIN
        lr_rows = reflect_index(np.arange(y0 // r - m, y1 // r + m), big_h // r)
        lr_cols = reflect_index(np.arange(x0 // r - m, x1 // r + m), big_w // r)
        ms_ext = np.asarray(read_ms(lr_rows, lr_cols), dtype=np.float64)
        lms = interp23(ms_ext, r)[:, m * r : ms_ext.shape[1] * r - m * r,
                                  m * r : ms_ext.shape[2] * r - m * r]
        ms_c = ms_ext[:, m : ms_ext.shape[1] - m, m : ms_ext.shape[2] - m]
        pan_c = np.asarray(read_pan(reflect_index(np.arange(y0, y1), big_h),
                                    reflect_index(np.arange(x0, x1), big_w)), dtype=np.float64)
        t_ms = torch.from_numpy(ms_c).float()
        t_pan = torch.from_numpy(pan_c[None]).float()
        t_lms = torch.from_numpy(lms).float()
        ramp = np.minimum(np.arange(1, p + 1), np.arange(p, 0, -1)).astype(np.float64)
        ramp = np.minimum(ramp / (s.overlap + 1), 1.0) if s.overlap else np.ones(p)
        weight = np.outer(ramp, ramp)
        acc = np.zeros((ms_c.shape[0], r1 - r0, c1 - c0), dtype=np.float64)
        wsum = np.zeros((r1 - r0, c1 - c0), dtype=np.float64)
        grid = [(gi, gj) for gi in range(gi0, gi1 + 1) for gj in range(gj0, gj1 + 1)]
        for k in range(0, len(grid), s.batch_tiles):
            chunk = grid[k : k + s.batch_tiles]
            at = [(gi * stride - y0, gj * stride - x0) for gi, gj in chunk]
            lms_b = torch.stack([t_lms[:, i : i + p, j : j + p] for i, j in at])
            pan_b = torch.stack([t_pan[:, i : i + p, j : j + p] for i, j in at])
            ms_b = torch.stack([t_ms[:, i // r : (i + p) // r, j // r : (j + p) // r]
                                for i, j in at])
            # the noise of a patch depends on the seed and its grid position only
            gens = [torch.Generator().manual_seed(
                (s.seed * 1_000_003 + gi) * 1_000_033 + gj) for gi, gj in chunk]
            out = self.diffusion.sample(
                self.model, lms_b, pan_b, ms_b, steps=s.steps, eta=s.eta, generator=gens,
            ).double().numpy()
            for (gi, gj), tile in zip(chunk, out, strict=True):
                ty, tx = gi * stride, gj * stride
                a, b = max(ty, r0), min(ty + p, r1)
                c, d = max(tx, c0), min(tx + p, c1)
                acc[:, a - r0 : b - r0, c - c0 : d - c0] += (
                    tile[:, a - ty : b - ty, c - tx : d - tx] * weight[a - ty : b - ty,
                                                                       c - tx : d - tx])
                wsum[a - r0 : b - r0, c - c0 : d - c0] += weight[a - ty : b - ty, c - tx : d - tx]
        fused = acc / wsum
        return np.clip(fused, 0.0, 1.0).astype(np.float32)


def save_checkpoint(
    module_or_model: SSDiffModule | SSNet,
    path: str | Path,
    sampling: SamplingConfig | None = None,
    use_ema: bool = True,
) -> Path:
    """Write an SSDiff checkpoint (weights + configs, plain tensors and strings) atomically.

    With an :class:`SSDiffModule` the EMA weights are saved (``use_ema=False``: the raw
    weights).
    """
    if isinstance(module_or_model, SSDiffModule):
        model = module_or_model.ema if use_ema else module_or_model.model
    else:
        model = module_or_model
    state: dict[str, Any] = {
        "ssdiff.format": CHECKPOINT_FORMAT,
        "ssdiff.config": json.dumps(model.config.to_dict()),
        "ssdiff.sampling": json.dumps(asdict(sampling or SamplingConfig())),
    }
    for k, v in model.state_dict().items():
        state[f"weights.{k}"] = v.detach().cpu().clone()
    return write_checkpoint(path, state)


def load_model(checkpoint: str | Path) -> tuple[SSNet, SamplingConfig]:
    """Read a checkpoint written by :func:`save_checkpoint` (safely, ``weights_only=True``).

    Raises:
        CheckpointError: missing file, not an SSDiff checkpoint, or weights that do not fit.
    """
    from ...io import load_checkpoint

    state = load_checkpoint(checkpoint)
    if state.get("ssdiff.format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{str(checkpoint)!r} is not an SSDiff checkpoint of this library (expected "
            f"'ssdiff.format' = {CHECKPOINT_FORMAT!r}; write one with "
            "geoneurips.restoration.ssdiff.pipeline.save_checkpoint)"
        )
    try:
        config = SSNetConfig.from_dict(json.loads(str(state["ssdiff.config"])))
        sampling = SamplingConfig(**json.loads(str(state["ssdiff.sampling"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{str(checkpoint)!r}: unreadable SSDiff configuration: {exc}"
        ) from exc
    weights = {k[len("weights.") :]: v for k, v in state.items() if k.startswith("weights.")}
    model = SSNet(config)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{str(checkpoint)!r}: weights do not fit the model: {exc}"
        ) from exc
    return model.eval(), sampling


def load_pansharpener(
    checkpoint: str | Path, **sampling_overrides: Any
) -> SSDiffPansharpener:
    """An :class:`SSDiffPansharpener` ``fused = f(ms, pan)`` from a checkpoint (used by the CLI).

    ``ms`` is ``(B, h, w)`` and ``pan`` ``(1, H, W)``, float in ``[0, 1]``; the result is
    ``(B, H, W)`` float32 in ``[0, 1]``. ``sampling_overrides`` replace stored
    :class:`SamplingConfig` fields (e.g. ``steps=5``).
    """
    model, sampling = load_model(checkpoint)
    if sampling_overrides:
        fields = {**asdict(sampling), **sampling_overrides}
        try:
            sampling = SamplingConfig(**fields)
        except TypeError as exc:
            raise InvalidInputError(f"unknown sampling option: {exc}") from exc
    return SSDiffPansharpener(model, sampling)
