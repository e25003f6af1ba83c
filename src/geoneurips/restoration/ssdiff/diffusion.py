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
steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ...errors import InvalidInputError

__all__ = ["ResidualDiffusion", "cosine_alphas_cumprod", "ddim_timesteps"]

#: ``model(lms, pan, ms, x_t, t) -> x0 residual prediction``
Denoiser = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


def cosine_alphas_cumprod(num_timesteps: int = 1000, s: float = 0.008) -> np.ndarray:
    """``alpha_bar_t`` of the cosine schedule (float64, length ``num_timesteps``).

    Built from betas ``min(1 - f(t + 1) / f(t), 0.999)`` with ``f(t) = cos^2(((t / T) + s) /
    (1 + s) * pi / 2)``, as in improved-diffusion's ``betas_for_alpha_bar``.
    """
    if num_timesteps < 1:
        raise InvalidInputError(f"num_timesteps must be >= 1, got {num_timesteps}")

    def f(t: float) -> float:
        return math.cos((t / num_timesteps + s) / (1 + s) * math.pi / 2) ** 2

    betas = np.array(
        [min(1.0 - f(i + 1) / f(i), 0.999) for i in range(num_timesteps)], dtype=np.float64
    )
    out: np.ndarray = np.cumprod(1.0 - betas)
    return out


def ddim_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """The original timesteps of a "ddim<steps>" respacing, in *decreasing* order.

    ``range(0, num_timesteps, stride)`` for the smallest stride giving exactly ``steps``
    values (improved-diffusion ``space_timesteps``); e.g. ``(1000, 10) -> [900, ..., 100, 0]``.
    """
    if not 1 <= steps <= num_timesteps:
        raise InvalidInputError(f"steps must be in 1..{num_timesteps}, got {steps}")
    for stride in range(1, num_timesteps + 1):
        seq = list(range(0, num_timesteps, stride))
        if len(seq) == steps:
            return seq[::-1]
    # no stride gives exactly `steps` values: evenly spaced, rounded (always distinct)
    seq = sorted({int(round(v)) for v in np.linspace(0, num_timesteps - 1, steps)})
    return seq[::-1]


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
        self.alphas_cumprod = torch.as_tensor(
            cosine_alphas_cumprod(self.num_timesteps), dtype=torch.float64
        )

    def _abar(self, t: Tensor, ndim: int) -> Tensor:
        a = self.alphas_cumprod.to(t.device)[t.long()].float()
        return a.view(-1, *([1] * (ndim - 1)))

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor | None = None) -> Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``."""
        eps = torch.randn_like(x0) if noise is None else noise
        a = self._abar(t, x0.ndim)
        return a.sqrt() * x0 + (1.0 - a).sqrt() * eps

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
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
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
            x = _randn(lms, generator)
        else:
            if noise.shape != lms.shape:
                raise InvalidInputError(f"noise shape {tuple(noise.shape)} != {tuple(lms.shape)}")
            x = noise
        seq = ddim_timesteps(self.num_timesteps, steps)
        abar = self.alphas_cumprod
        x0 = torch.zeros_like(lms)
        for i, t in enumerate(seq):
            t_batch = torch.full((lms.shape[0],), t, dtype=torch.long, device=lms.device)
            x0 = model(lms, pan, ms, x, t_batch)
            if clip:
                x0 = (lms + x0).clamp(0.0, 1.0) - lms
            a_t = float(abar[t])
            a_prev = float(abar[seq[i + 1]]) if i + 1 < len(seq) else 1.0
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(max(1.0 - a_t, 1e-12))
            sigma = (
                eta
                * math.sqrt(max((1 - a_prev) / max(1 - a_t, 1e-12), 0.0))
                * math.sqrt(max(1 - a_t / a_prev, 0.0))
            )
            x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
            if sigma > 0:
                z = _randn(x, generator)
                x = x + sigma * z
        out = lms + x0
        return out.clamp(0.0, 1.0) if clip else out


def _randn(like: Tensor, generator: torch.Generator | Sequence[torch.Generator] | None) -> Tensor:
    """Standard normal noise shaped like ``like``, from one generator or one per batch item."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)
    gens = list(generator)
    if len(gens) != like.shape[0]:
        raise InvalidInputError(f"{len(gens)} generators for a batch of {like.shape[0]}")
    return torch.stack([
        torch.randn(like.shape[1:], generator=g, dtype=like.dtype, device=like.device)
        for g in gens
    ])
