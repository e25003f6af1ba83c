"""Baselines of the FeINFN demo: fusion methods that use the HR-MSI (RGB) as FeINFN does.

* :func:`guided_filter`: the colour-guided filter (He, Sun & Tang, "Guided image filtering",
  TPAMI 2013, Eqs. 19-21): every HSI band is a local linear function of the 3-band guide,
  ``q = a^T I + b``, with ``a, b`` fitted in ``(2r + 1)^2`` windows (ridge ``eps``) and
  averaged over the windows covering a pixel.
* :func:`guided_fusion`: the guided filter used for fusion the way component-substitution /
  MTF-matched pansharpening does: the per-window regression of ``HSI_up`` on the RGB is fitted
  against the RGB **degraded like the HSI** (same blur, decimation and bicubic upsampling), so
  that the coefficients describe how spectra relate to colour at the HSI's resolution, then
  applied to the sharp RGB. It injects exactly the RGB detail that the local spectral model
  predicts, and needs no training.
* :class:`FusionCNN`: "the plain network a practitioner tries first": a residual CNN fed
  ``[HSI_up, RGB]`` (centred per image and band, as FeINFN's encoders), of about FeINFN-tiny's
  size, trained by the same :func:`~.pipeline.train` loop, loss and steps.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError

__all__ = ["FusionCNN", "box_mean", "guided_filter", "guided_fusion"]


def box_mean(x: Tensor, r: int) -> Tensor:
    """Mean over the ``(2r + 1)^2`` window around each pixel, windows clipped at the border
    (He et al.'s ``f_mean`` with ``N`` the number of pixels actually covered)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def _check(p: Tensor, guide: Tensor) -> None:
    if p.ndim != 4 or guide.ndim != 4 or p.shape[0] != guide.shape[0] \
            or p.shape[-2:] != guide.shape[-2:]:
        raise InvalidInputError(
            f"guided filter needs (B, C, H, W) input and (B, G, H, W) guide of one size, got "
            f"{tuple(p.shape)} and {tuple(guide.shape)}")


def _coefficients(p: Tensor, guide: Tensor, r: int, eps: float) -> tuple[Tensor, Tensor]:
    """Per-window ridge regression of each band of ``p`` on the guide channels.

    Returns ``a (B, C, G, H, W)`` and ``b (B, C, H, W)`` already averaged over the windows
    covering each pixel (Eq. 21)."""
    g = guide.shape[1]
    mean_i = box_mean(guide, r)  # (B, G, H, W)
    mean_p = box_mean(p, r)  # (B, C, H, W)
    ii = guide[:, :, None] * guide[:, None, :]  # (B, G, G, H, W)
    b_, _, _, h, w = ii.shape
    cov_ii = box_mean(ii.reshape(b_, g * g, h, w), r).reshape(b_, g, g, h, w)
    cov_ii = cov_ii - mean_i[:, :, None] * mean_i[:, None, :]
    ip = p[:, :, None] * guide[:, None, :]  # (B, C, G, H, W)
    c = p.shape[1]
    cov_ip = box_mean(ip.reshape(b_, c * g, h, w), r).reshape(b_, c, g, h, w)
    cov_ip = cov_ip - mean_p[:, :, None] * mean_i[:, None, :]
    sigma = cov_ii.permute(0, 3, 4, 1, 2) + eps * torch.eye(g, dtype=p.dtype, device=p.device)
    rhs = cov_ip.permute(0, 3, 4, 2, 1)  # (B, H, W, G, C)
    a = torch.linalg.solve(sigma, rhs).permute(0, 4, 3, 1, 2)  # (B, C, G, H, W)
    b = mean_p - (a * mean_i[:, None]).sum(2)
    mean_a = box_mean(a.reshape(b_, c * g, h, w), r).reshape(b_, c, g, h, w)
    return mean_a, box_mean(b, r)


def guided_filter(p: Tensor, guide: Tensor, radius: int = 4, eps: float = 1e-4) -> Tensor:
    """Colour-guided filter of every band of ``p (B, C, H, W)`` by ``guide (B, G, H, W)``
    (He et al. 2013, Eqs. 19-21): ``q = mean(a)^T I + mean(b)``."""
    _check(p, guide)
    if radius < 1 or not eps > 0:
        raise InvalidInputError(f"guided filter needs radius >= 1 and eps > 0, got {radius}, {eps}")
    a, b = _coefficients(p.double(), guide.double(), radius, eps)
    out = (a * guide.double()[:, None]).sum(2) + b
    return out.to(p.dtype)


def guided_fusion(hsi_up: Tensor, rgb: Tensor, ratio: int, radius: int = 4, eps: float = 1e-4,
                  sigma: float = 2.0) -> Tensor:
    """MTF-matched guided fusion: coefficients of ``HSI_up`` on the RGB degraded like the HSI
    (Gaussian blur ``sigma``, ``ratio`` decimation, bicubic upsampling:
    :func:`~.data.degrade` and :func:`~.data.bicubic_upsample`), applied to the sharp RGB.

    The degradation is the one the fixture's LR-HSI went through (the MHIF benchmarks'
    Wald protocol; a user would take their sensor's MTF)."""
    from .data import bicubic_upsample, degrade

    _check(hsi_up, rgb)
    rgb_np = rgb.detach().cpu().double().numpy()
    low = np.stack([bicubic_upsample(degrade(x, ratio, sigma), ratio) for x in rgb_np])
    rgb_low = torch.from_numpy(low)
    a, b = _coefficients(hsi_up.double(), rgb_low, radius, eps)
    out = (a * rgb.double()[:, None]).sum(2) + b
    return out.to(hsi_up.dtype)


class FusionCNN(nn.Module):
    """Residual CNN fusion baseline: ``HSI_up + CNN([HSI_up, RGB] - mean)``.

    ``head`` 3x3 conv to ``width`` channels, ``blocks`` residual blocks (two 3x3 convs,
    LeakyReLU), a 3x3 conv to the HSI bands initialised at zero (so the untrained network
    returns ``HSI_up``, like FeINFN). The inputs are centred per image and band as FeINFN's
    encoders see them; the same call signature as :class:`~.model.FeINFN`.
    """

    def __init__(self, hsi_bands: int = 31, msi_bands: int = 3, width: int = 48,
                 blocks: int = 3) -> None:
        super().__init__()
        self.hsi_bands = hsi_bands
        self.msi_bands = msi_bands
        self.head = nn.Conv2d(hsi_bands + msi_bands, width, 3, padding=1)
        self.body = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.1),
                           nn.Conv2d(width, width, 3, padding=1)) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, hsi_bands, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        assert self.tail.bias is not None
        nn.init.zeros_(self.tail.bias)

    def forward(self, lrhsi: Tensor, msi: Tensor, hsi_up: Tensor | None = None) -> Tensor:
        if msi.ndim != 4 or msi.shape[1] != self.msi_bands or lrhsi.shape[1] != self.hsi_bands:
            raise InvalidInputError(
                f"FusionCNN expects LR-HSI with {self.hsi_bands} and MSI with {self.msi_bands} "
                f"bands, got {tuple(lrhsi.shape)} and {tuple(msi.shape)}")
        if hsi_up is None:
            from .data import bicubic_upsample

            hsi_up = bicubic_upsample(lrhsi, msi.shape[-1] // lrhsi.shape[-1])
        assert hsi_up is not None
        x = torch.cat((hsi_up, msi), dim=1)
        h = F.leaky_relu(self.head(x - x.mean(dim=(2, 3), keepdim=True)), 0.1)
        for blk in self.body:
            h = h + blk(h)
        out: Tensor = hsi_up + self.tail(h)
        return out

    def param_groups(self, lr: float) -> list[dict[str, object]]:
        """One group at ``lr`` (the interface :func:`~.pipeline.train` uses)."""
        return [{"params": list(self.parameters()), "lr": lr}]
