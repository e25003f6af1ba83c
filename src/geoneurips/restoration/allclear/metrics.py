"""AllClear's benchmark metrics on clear target pixels (paper section 4; ``benchmark.py``).

Conventions of the benchmark (reproduced exactly, on values in [0, 1]):

* Every metric is computed **per sample** over the pixels where the target is clear,
  ``mask = not (cloud or shadow)`` of the target's ``cld_shdw`` bands, broadcast over the 13
  bands; the benchmark value is the NaN-ignoring mean of the per-sample values (samples whose
  target has no clear pixel give NaN and are left out).
* MAE and RMSE: masked means over bands and pixels; PSNR = ``20 log10(1 / sqrt(masked MSE))``
  (peak 1).
* SSIM: Gaussian window 11 x 11 (sigma 1.5), ``C1 = 0.01**2``, ``C2 = 0.03**2`` (``L = 1``).
  Both images are multiplied by the mask *before* filtering and filtered with zero padding
  (5 pixels), so the map keeps the image size; the map is then averaged over the masked
  pixels of every band.
* SAM: mean over masked pixels of the angle, in degrees, between the 13-band spectra.
  **Bug fixed:** the public code normalises ``(N, C, H, W)`` tensors with
  ``F.normalize(x, dim=2)``, i.e. over image rows, so its "SAM" is not a spectral angle; here
  the vectors are normalised over the band axis (the paper's intent). As with
  ``F.normalize`` a zero spectrum becomes the zero vector, so its angle is 90 degrees.
* Land-cover breakdown: the same metrics with the mask restricted to the target pixels of
  each Dynamic World class 0..8 (``evaluate_strat_lulc`` of the public code).

The shared :mod:`geoneurips.metrics.image` / :mod:`~geoneurips.metrics.regression` functions
compute the same MAE, RMSE, PSNR and SAM on one sample (tests cross-check them); SSIM *is*
the shared one, called with AllClear's options (pre-masking, zero padding, per sample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...errors import InvalidInputError

if TYPE_CHECKING:
    import torch

__all__ = [
    "METRIC_NAMES",
    "clear_mask",
    "evaluate",
    "masked_mae",
    "masked_psnr",
    "masked_rmse",
    "masked_sam",
    "masked_ssim",
    "per_sample_metrics",
]

METRIC_NAMES = ("MAE", "RMSE", "PSNR", "SAM", "SSIM")


def clear_mask(cld_shdw: torch.Tensor) -> torch.Tensor:
    """``(B, 2, ..., H, W)`` cloud/shadow masks -> bool clear mask ``(B, 1, ..., H, W)``."""
    return ~((cld_shdw[:, 0:1] + cld_shdw[:, 1:2]) > 0)


def _check(outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    if outputs.ndim != 4 or outputs.shape != targets.shape:
        raise InvalidInputError(
            f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} must both be "
            "(B, C, H, W)"
        )
    b, _, h, w = outputs.shape
    if masks.ndim != 4 or masks.shape[0] != b or masks.shape[-2:] != (h, w) or \
            masks.shape[1] not in (1, outputs.shape[1]):
        raise InvalidInputError(
            f"mask shape {tuple(masks.shape)} does not fit outputs {tuple(outputs.shape)}; "
            "expected (B, 1, H, W) or (B, C, H, W)"
        )
    return masks.to(outputs.dtype).expand_as(outputs)


def _masked_mean(values: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return (values * m).sum(dim=(-3, -2, -1)) / m.sum(dim=(-3, -2, -1))


def masked_mae(outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-sample masked MAE ``(B,)`` (NaN for an empty mask)."""
    m = _check(outputs, targets, masks)
    return _masked_mean((outputs - targets).abs(), m)


def _masked_mse(outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    m = _check(outputs, targets, masks)
    return _masked_mean((outputs - targets) ** 2, m)


def masked_rmse(outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-sample masked RMSE ``(B,)``."""
    return _masked_mse(outputs, targets, masks).sqrt()


def masked_psnr(
    outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor, max_pixel: float = 1.0
) -> torch.Tensor:
    """Per-sample ``20 log10(max_pixel / sqrt(masked MSE))`` ``(B,)``."""
    import torch

    return 20.0 * torch.log10(max_pixel / _masked_mse(outputs, targets, masks).sqrt())


def masked_sam(outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-sample mean spectral angle in degrees over masked pixels ``(B,)``.

    Normalised over the band axis (dim 1), fixing the public code's ``dim=2`` bug.
    """
    import torch
    import torch.nn.functional as F

    _check(outputs, targets, masks)
    pix = masks.to(outputs.dtype)
    if pix.shape[1] != 1:
        pix = (pix.sum(1, keepdim=True) > 0).to(outputs.dtype)
    a = F.normalize(outputs, p=2, dim=1)
    b = F.normalize(targets, p=2, dim=1)
    cos = (a * b).sum(1, keepdim=True).clamp(-1.0, 1.0)
    angles = torch.rad2deg(torch.acos(cos))
    return (angles * pix).sum(dim=(-3, -2, -1)) / pix.sum(dim=(-3, -2, -1))


def masked_ssim(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    masks: torch.Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> torch.Tensor:
    """Per-sample masked SSIM ``(B,)`` with AllClear's pre-masking and zero padding.

    The project's one SSIM (:func:`geoneurips.metrics.image.ssim_torch`) with AllClear's
    options: ``premask=True, crop_border=False, pad_mode="zeros", per_sample=True``.
    """
    from ...metrics.image import ssim_torch

    m = _check(outputs, targets, masks) > 0.5
    return ssim_torch(outputs, targets, data_range, win_sigma=sigma, win_size=window_size,
                      k1=k1, k2=k2, mask=m, crop_border=False, pad_mode="zeros",
                      premask=True, per_sample=True)


def per_sample_metrics(
    outputs: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor
) -> dict[str, torch.Tensor]:
    """All five metrics per sample (``(B,)`` each), float64 internally."""
    o, t = outputs.double(), targets.double()
    return {
        "MAE": masked_mae(o, t, masks),
        "RMSE": masked_rmse(o, t, masks),
        "PSNR": masked_psnr(o, t, masks),
        "SAM": masked_sam(o, t, masks),
        "SSIM": masked_ssim(o, t, masks),
    }


def _nanmean(x: torch.Tensor) -> float:
    v = float(x.nanmean()) if x.numel() else math.nan
    return v


def evaluate(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    masks: torch.Tensor,
    lulc: torch.Tensor | None = None,
    classes: Sequence[int] = tuple(range(9)),
) -> dict[str, object]:
    """Benchmark aggregate (NaN-mean over samples) and, with ``lulc``, per class.

    Args:
        outputs: predictions ``(B, 13, H, W)`` in [0, 1].
        targets: targets ``(B, 13, H, W)``.
        masks: clear-target masks ``(B, 1, H, W)`` (bool or 0/1).
        lulc: Dynamic World labels of the target ``(B, 1, H, W)`` (-1 = unknown).
        classes: the land-cover classes to report.

    Returns:
        ``{"MAE": ..., "RMSE": ..., "PSNR": ..., "SAM": ..., "SSIM": ..., "n_samples": B,
        "lulc": {class: {metric: value, "pixels": n}}}`` (``lulc`` only with labels; a class
        without clear pixels in any sample has NaN metrics).
    """
    per = per_sample_metrics(outputs, targets, masks)
    out: dict[str, object] = {k: _nanmean(v) for k, v in per.items()}
    out["n_samples"] = int(outputs.shape[0])
    if lulc is not None:
        if lulc.shape != masks.shape:
            raise InvalidInputError(
                f"lulc shape {tuple(lulc.shape)} must equal the mask shape {tuple(masks.shape)}"
            )
        table: dict[int, dict[str, float]] = {}
        clear = masks > 0
        for c in classes:
            cm = clear & (lulc == c)
            row = {k: _nanmean(v) for k, v in per_sample_metrics(outputs, targets, cm).items()}
            row["pixels"] = float(cm.sum())
            table[int(c)] = row
        out["lulc"] = table
    return out
