"""COSMIC's learned-codec baselines, from compressai (the paper compares with learned codecs).

* **Scale hyperprior** (Balle et al. 2018, ICLR, "Variational image compression with a scale
  hyperprior"): :class:`compressai.models.ScaleHyperprior` -- dense ``5 x 5`` stride-2
  convolutions with GDN in the encoder (the "SOTA encoder" whose FLOPs COSMIC's lightweight
  encoder cuts), a zero-mean Gaussian conditional whose scales come from a hyperprior.
* **Mean-scale hyperprior** (Minnen, Balle & Toderici 2018, the hyperprior part without
  the autoregressive context): :class:`compressai.models.MeanScaleHyperprior` -- the same
  dense transforms with COSMIC's own entropy model (Gaussian means and scales from the
  hyperprior). It is the practitioner's first choice at COSMIC's size: it isolates what the
  lightweight encoder and the compensation add over a dense encoder.
* **Factorized prior** (Balle et al. 2018, the scale-hyperprior paper's baseline):
  :class:`compressai.models.FactorizedPrior` -- the same transforms, a fully factorized
  entropy model, no side information.

For a fair comparison in a one-minute CPU budget they are trained exactly like COSMIC's
compression module (same data, crops, steps, learning rate, ``lambda``) and get the same two
training aids COSMIC's codec gets [choice, both documented in
:class:`~geoneurips.restoration.cosmic.config.COSMICConfig`]: the input is centred
(``x - 0.5``) and the encoder output multiplied by a fixed latent gain (the decoder adds
``0.5`` back), and the transforms start as a smooth identity pair
(:func:`dense_identity_init_`, the dense counterpart of
:func:`~geoneurips.restoration.cosmic.codec.smooth_identity_init_`). Without these a
compressai model sits on the mean-colour plateau for the whole budget, a baseline blind by
construction. Bitstreams are compressai's real range-coder bytes, charged the same 12-byte
header as COSMIC's :class:`~geoneurips.restoration.cosmic.codec.CompressedImage`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from compressai.models import (
    CompressionModel,
    FactorizedPrior,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from torch import Tensor, nn

from ...errors import InvalidInputError
from .codec import CompressedImage, _binomial_kernel

__all__ = ["BaselineKind", "build_baseline", "dense_identity_init_", "rate_bits",
           "real_coding"]

BaselineKind = Literal["scale_hyperprior", "mean_scale_hyperprior", "factorized_prior"]
_HEADER_BYTES = CompressedImage._HEADER.size


class _Affine(nn.Module):
    """``x * scale + shift`` with fixed scalars."""

    def __init__(self, scale: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        self.scale = float(scale)
        self.shift = float(shift)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift


@torch.no_grad()
def dense_identity_init_(g_a: nn.Module, g_s: nn.Module, gain: float, noise: float = 0.02) -> None:
    """Start a Balle-style dense transform pair as a smooth identity [choice]: every stride-2
    ``5 x 5`` convolution of ``g_a`` and transposed convolution of ``g_s`` maps channel
    ``i`` to channel ``i`` through a binomial low-pass / interpolation kernel, plus Gaussian
    noise of relative size ``noise``; the first decoder layer divides by ``gain``."""
    k = _binomial_kernel(5)
    for conv in (m for m in g_a.modules() if isinstance(m, nn.Conv2d)):
        c_out, c_in, kh, kw = conv.weight.shape
        if (kh, kw) != (5, 5):
            continue
        w = noise * torch.randn(c_out, c_in, kh, kw) / math.sqrt(c_in)
        for j in range(min(c_in, c_out)):
            w[j, j] += k
        conv.weight.copy_(w)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
    deconvs = [m for m in g_s.modules() if isinstance(m, nn.ConvTranspose2d)]
    for i, dc in enumerate(deconvs):
        c_in, c_out, kh, kw = dc.weight.shape
        w = noise * torch.randn(c_in, c_out, kh, kw) / math.sqrt(c_in * kh * kw / 4)
        scale = 4.0 * (1.0 / gain if i == 0 else 1.0)  # 4: stride-2 interpolation gain
        for j in range(min(c_in, c_out)):
            w[j, j] += scale * k
        dc.weight.copy_(w)
        if dc.bias is not None:
            nn.init.zeros_(dc.bias)


def build_baseline(kind: BaselineKind, n: int, m: int, gain: float = 8.0,
                   identity_init: bool = True) -> Any:
    """A compressai baseline codec of widths ``N = n``, ``M = m`` (COSMIC's own widths, so
    the comparison is at equal latent size), with centring, latent gain and the smooth
    identity start (see the module docstring)."""
    model: CompressionModel
    if kind == "scale_hyperprior":
        model = ScaleHyperprior(n, m)
    elif kind == "mean_scale_hyperprior":
        model = MeanScaleHyperprior(n, m)
    elif kind == "factorized_prior":
        model = FactorizedPrior(n, m)
    else:
        raise InvalidInputError(f"unknown baseline {kind!r}; use scale_hyperprior, "
                                "mean_scale_hyperprior or factorized_prior")
    model.g_a = nn.Sequential(_Affine(1.0, -0.5), *model.g_a, _Affine(gain, 0.0))
    model.g_s = nn.Sequential(*model.g_s, _Affine(1.0, 0.5))
    if identity_init:
        dense_identity_init_(model.g_a, model.g_s, gain)
    return model


def rate_bits(likelihoods: dict[str, Tensor]) -> Tensor:
    """Total estimated bits ``-sum log2 p`` of a compressai forward pass."""
    return sum((torch.log(lik).sum() for lik in likelihoods.values()),
               torch.zeros(())) / -math.log(2)


@torch.no_grad()
def real_coding(model: Any, x: Tensor) -> tuple[Tensor, list[int]]:
    """Range-code ``x`` (``(B, 3, H, W)``, ``H, W`` multiples of 64) with a compressai
    baseline and decode it: ``(x_hat clamped to [0, 1], bytes per image)``; each image's
    bytes are its strings plus the same 12-byte header COSMIC is charged."""
    if x.ndim != 4 or x.shape[-1] % 64 or x.shape[-2] % 64:
        raise InvalidInputError(f"baseline coding needs (B, 3, H, W) with H, W multiples of 64, "
                                f"got {tuple(x.shape)}")
    model.eval()
    model.update(force=True)
    enc = model.compress(x)
    dec = model.decompress(enc["strings"], enc["shape"])
    sizes = [_HEADER_BYTES + sum(len(s[i]) for s in enc["strings"]) for i in range(len(x))]
    return dec["x_hat"].clamp(0, 1), sizes
