"""Residual diffusion and few-step DDIM sampling of SSDiff (paper Sec. 3.1 and Sec. 4.1).

SSDiff diffuses the *residual* ``x0 = gt - lms`` (values in ``[0, 1]`` after dividing the
digital numbers by the sensor maximum, 2047 for WorldView-3/QuickBird) with a cosine
schedule over ``T = 1000`` steps. The network predicts ``x0`` directly (not the noise) and
is trained with an L1 loss at uniformly drawn ``t``. Sampling uses DDIM (``eta = 0``) over a
respaced subsequence of ``steps`` timesteps ("ddim10" in the paper), clamping the predicted
image ``lms + x0_hat`` to ``[0, 1]``.

Quirks of the released sampler (``improved_diffusion/gaussian_diffusion.py`` and
``SSNet.sample`` of ``Z-ypnos/SSdiff_main``) fixed here, following the paper's intent:

1. **Residual vs image space.** Training noises the residual, but the released
   ``p_mean_variance`` returns ``pred_xstart = clamp(out + lms, 0, 1)`` (a full image) and the
   DDIM update mixes that image with the noise, so after the first step the chain runs in
   image space while the network was trained on noisy residuals. :meth:`ResidualDiffusion.sample`
   clamps in image space and converts back (``x0_hat = clamp(lms + out, 0, 1) - lms``), so the
   whole chain stays in residual space; ``lms`` is added once, at the end.
2. **Timestep indices.** ``SSNet.sample`` passes the respaced *indices* ``9, 8, ..., 0`` to the
   network, which was trained on the original ``0..999`` timesteps. We pass the original
   timesteps of the respaced subsequence (``900, 800, ..., 0`` for 10 steps).

The training loss, schedule and respacing otherwise follow improved-diffusion (Nichol &
Dhariwal 2021): ``alpha_bar(t) = cos^2(((t / T) + 0.008) / 1.008 * pi / 2)``, betas capped at
0.999, and "ddimN" respacing picks ``range(0, T, stride)`` with the stride that yields ``N``
steps. Schedule, respacing and the DDIM update are the project's shared ones
(:mod:`geoneurips.nn.diffusion`: ``cosine_alphas_cumprod``, ``ddim_timesteps(..., "stride")``,
``ddim_sample(prediction="x0", clip_x0=...)``); the network gets the original timesteps as a
float ``(B,)`` tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...errors import InvalidInputError
from ...nn.diffusion import (
    Generators,
    batch_randn,
    cosine_alphas_cumprod,
    ddim_sample,
    ddim_timesteps,
    q_sample,
)

__all__ = ["ResidualDiffusion"]

#: ``model(lms, pan, ms, x_t, t) -> x0 residual prediction``
Denoiser = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


class ResidualDiffusion:
    """Gaussian diffusion of the residual ``gt - lms`` with ``x0`` prediction.

    Args:
        num_timesteps: ``T`` (1000 in the paper).
        loss: ``"l1"`` (paper) or ``"l2"``.
    """

    def __init__(self, num_timesteps: int = 1000, loss: str = "l1") -> None:
        if loss not in ("l1", "l2"):
            raise InvalidInputError(f"loss must be 'l1' or 'l2', got {loss!r}")
        self.num_timesteps = int(num_timesteps)
        self.loss_type = loss
        #: ``abar_t`` (float64, length ``T``) of the cosine schedule
        self.alphas_cumprod = cosine_alphas_cumprod(self.num_timesteps)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor | None = None) -> Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` at the per-sample timesteps ``t``."""
        eps = torch.randn_like(x0) if noise is None else noise
        return q_sample(x0, self.alphas_cumprod.to(t.device)[t.long()], eps)

    def sample_timesteps(self, batch: int, device: torch.device | str = "cpu") -> Tensor:
        """Uniform ``t`` in ``0..T-1`` (the paper's uniform schedule sampler)."""
        return torch.randint(0, self.num_timesteps, (batch,), device=device)

    def training_loss(
        self,
        model: Denoiser,
        gt: Tensor,
        lms: Tensor,
        pan: Tensor,
        ms: Tensor,
        t: Tensor | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """Mean L1 (or L2) between the predicted and true residual ``gt - lms`` at ``t``."""
        x0 = gt - lms
        if t is None:
            t = self.sample_timesteps(gt.shape[0], gt.device)
        x_t = self.q_sample(x0, t, noise)
        pred = model(lms, pan, ms, x_t, t)
        if self.loss_type == "l1":
            return (pred - x0).abs().mean()
        return ((pred - x0) ** 2).mean()

    @torch.no_grad()
    def sample(
        self,
        model: Denoiser,
        lms: Tensor,
        pan: Tensor,
        ms: Tensor,
        steps: int = 10,
        eta: float = 0.0,
        noise: Tensor | None = None,
        generator: Generators = None,
        clip: bool = True,
    ) -> Tensor:
        """DDIM sampling of the fused image ``lms + x0`` (residual space throughout).

        Args:
            model: the denoiser, ``model(lms, pan, ms, x_t, t) -> x0_hat``.
            lms, pan, ms: conditions ``(B, C, H, W)``, ``(B, 1, H, W)``, ``(B, C, h, w)``.
            steps: number of DDIM steps (10 in the paper).
            eta: DDIM stochasticity (0: deterministic, the paper's setting).
            noise: initial ``x_T`` (default: standard normal from ``generator``).
            generator: torch generator for the initial noise (and ``eta > 0``), or one
                generator per batch item (each item's noise then depends only on its own
                generator, not on the batch it is sampled in: tiled inference uses this).
            clip: clamp the predicted image to ``[0, 1]`` at every step.

        Returns:
            The fused image ``(B, C, H, W)`` (in ``[0, 1]`` with ``clip``).
        """
        if noise is None:
            x = batch_randn(lms, generator)
        else:
            if noise.shape != lms.shape:
                raise InvalidInputError(f"noise shape {tuple(noise.shape)} != {tuple(lms.shape)}")
            x = noise

        def denoise(x_t: Tensor, t: Tensor) -> Tensor:
            return model(lms, pan, ms, x_t, t)

        def clip_x0(x0: Tensor) -> Tensor:  # clamp the image, stay in residual space
            return (lms + x0).clamp(0.0, 1.0) - lms

        x0 = ddim_sample(
            denoise, x, self.alphas_cumprod, ddim_timesteps(self.num_timesteps, steps, "stride"),
            prediction="x0", eta=eta, generator=generator, clip_x0=clip_x0 if clip else None,
        )
        out = lms + x0
        return out.clamp(0.0, 1.0) if clip else out
