"""COSMIC (Zhang et al., NeurIPS 2024, arXiv 2410.01698): the networks.

The paper's system has two halves (its Fig. 2, Sec. 3):

* **Compression module** (Sec. 3.2). On board: a lightweight encoder ``g_a`` made of
  Lightweight Convolution Blocks (:class:`LightweightConvBlock`, depthwise + pointwise
  convolution) and Convolution Attention Modules (:class:`ConvAttentionModule`), plus the
  analysis side of an entropy model. On the ground: the entropy model's synthesis side and a
  decoder ``g_s``. The entropy model is a mean-scale hyperprior (Balle et al. 2018, Minnen
  et al. 2018) built from ``compressai``'s :class:`~compressai.entropy_models.EntropyBottleneck`
  (for the side information ``z``) and
  :class:`~compressai.entropy_models.GaussianConditional` (for the latent ``y``); real byte
  strings come from compressai's range coder (:meth:`COSMICCodec.compress`).
* **Compensation module** (Sec. 3.3). A denoising diffusion model on the ground
  (:class:`CompensationUNet` + :class:`GaussianDiffusion`) conditioned on the decoded latent
  ``y_hat`` (with the decoded image) and on a **metadata embedding**
  (:class:`MetadataEncoder`: coordinates, time, ground sample distance, cloud cover ->
  sinusoidal embeddings -> MLP -> one token per field) injected by cross-attention; a
  vanilla convolution block (``VC``) ends the network.

No code was released with the paper; this is written from its text. Details the text leaves
open are marked "[choice]" in the docstrings. The most important one: the diffusion model
generates the *residual* ``x - g_s(y_hat)`` that the lightweight codec lost (the
"compensation"), predicting the clean residual (``x0`` parameterisation, as in CDC, Yang &
Mandt 2023, which COSMIC builds on) by default; ``prediction="eps"`` gives the noise
prediction of DDPM.

:meth:`COSMICConfig.paper` holds the paper-scale widths (N=128, M=192, 1000 diffusion steps);
:meth:`COSMICConfig.tiny` the CPU toy configuration used by the tests and the demo.

Layout: the configuration is in :mod:`.config`, the compression module in :mod:`.codec`, the
compensation module in :mod:`.compensation` and the FLOP counting in :mod:`.flops`; this
module holds the :class:`COSMIC` wrapper and re-exports all of their public names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .codec import (
    CompressedImage,
    ConvAttentionModule,
    COSMICCodec,
    GroundDecoder,
    HyperDecoder,
    LightweightConvBlock,
    LightweightEncoder,
    LightweightHyperEncoder,
    smooth_identity_init_,
)
from .compensation import (
    CompensationUNet,
    CrossAttentionBlock,
    GaussianDiffusion,
    MetadataEncoder,
    sinusoidal_embedding,
)
from .config import METADATA_FIELDS, COSMICConfig
from .flops import count_flops, encoder_flops_report, hyperprior_reference_encoder

__all__ = [
    "COSMIC",
    "COSMICCodec",
    "COSMICConfig",
    "CompensationUNet",
    "CompressedImage",
    "ConvAttentionModule",
    "CrossAttentionBlock",
    "GaussianDiffusion",
    "GroundDecoder",
    "HyperDecoder",
    "LightweightConvBlock",
    "LightweightEncoder",
    "LightweightHyperEncoder",
    "METADATA_FIELDS",
    "MetadataEncoder",
    "count_flops",
    "encoder_flops_report",
    "hyperprior_reference_encoder",
    "sinusoidal_embedding",
    "smooth_identity_init_",
]


class COSMIC(nn.Module):
    """The whole system: :class:`COSMICCodec` + metadata-conditioned diffusion compensation.

    Typical use::

        model = COSMIC(COSMICConfig.tiny())
        ...train (see pipeline.py)...
        model.codec.update(force=True)
        items = model.codec.compress(x)          # on board
        out = model.reconstruct(items, meta)     # on the ground
    """

    def __init__(self, config: COSMICConfig | None = None) -> None:
        super().__init__()
        cfg = config or COSMICConfig()
        self.config = cfg
        self.codec = COSMICCodec(cfg)
        self.meta_encoder = MetadataEncoder(cfg.meta_fields, cfg.meta_dim)
        self.unet = CompensationUNet(cfg)
        self.diffusion = GaussianDiffusion(cfg.diffusion_steps, cfg.prediction)

    def _denoiser(self, tokens: Tensor, x_hat: Tensor, y_hat: Tensor) -> Any:
        def fn(r_t: Tensor, t: Tensor) -> Tensor:
            out: Tensor = self.unet(r_t, t, x_hat, y_hat, tokens)
            return out
        return fn

    def compensation_loss(self, x: Tensor, x_hat: Tensor, y_hat: Tensor, meta: Tensor,
                          generator: torch.Generator | None = None) -> Tensor:
        """Diffusion loss on the scaled residual ``(x - x_hat) * residual_scale``."""
        tokens = self.meta_encoder(meta)
        r0 = (x - x_hat) * self.config.residual_scale

        def model(r_t: Tensor, t: Tensor) -> Tensor:
            out: Tensor = self.unet(r_t, t, x_hat, y_hat, tokens)
            return out

        return self.diffusion.loss(model, r0, generator=generator,
                                   zero_start_prob=self.config.zero_start_prob)

    @torch.no_grad()
    def compensate(self, x_hat: Tensor, y_hat: Tensor, meta: Tensor,
                   sample_steps: int | None = None,
                   generator: torch.Generator | None = None,
                   noise_scale: float | None = None) -> Tensor:
        """Add the sampled residual to the decoder output: ``clamp(x_hat + r / scale)``.

        ``noise_scale`` (``rho``) defaults to the config's; ``sample_steps`` defaults to
        ``config.distortion_steps`` when ``rho == 0`` (the PSNR-oriented output) and to
        ``config.sample_steps`` otherwise."""
        tokens = self.meta_encoder(meta)
        rho = self.config.noise_scale if noise_scale is None else noise_scale
        default = self.config.distortion_steps if rho == 0 else self.config.sample_steps
        steps = sample_steps or default
        r = self.diffusion.sample(self._denoiser(tokens, x_hat, y_hat), x_hat.shape, steps,
                                  generator=generator, noise_scale=rho)
        return (x_hat + r / self.config.residual_scale).clamp(0, 1)

    @torch.no_grad()
    def reconstruct(self, items: Sequence[CompressedImage], meta: Tensor,
                    sample_steps: int | None = None, compensate: bool = True,
                    generator: torch.Generator | None = None,
                    noise_scale: float | None = None) -> dict[str, Tensor]:
        """Ground decoding of real bitstreams: ``x_hat`` (decoder) and ``x_tilde``
        (decoder + diffusion compensation)."""
        dec = self.codec.decompress(items)
        out = dict(dec)
        if compensate:
            out["x_tilde"] = self.compensate(dec["x_hat"], dec["y_hat"], meta, sample_steps,
                                             generator, noise_scale)
        return out

