"""The one DDIM sampler of the project, with the beta schedules and timestep spacings.

Notation (Ho et al. 2020; Song et al. 2021, "DDIM"): ``abar_t = prod_{s<=t} (1 - beta_s)``,
``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` (:func:`q_sample`). A network predicts
one of ``eps`` (DDPM), ``x0`` (CDC, SSDiff, COSMIC) or ``v = sqrt(abar) eps - sqrt(1 - abar)
x0`` (Salimans & Ho 2022; STVD); :func:`split_prediction` turns any of them into
``(x0, eps)``. One DDIM step from ``t`` to ``t'`` (DDIM eq. 12):

    ``x_t' = sqrt(abar_t') x0 + sqrt(1 - abar_t' - sigma^2) eps + sigma z``,
    ``sigma = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t')``

(:func:`ddim_step`); the last step goes to ``abar = 1`` and returns the final ``x0``
estimate. ``eta = 0`` is deterministic DDIM, ``eta = 1`` the DDPM posterior variance.

Noise comes from one ``torch.Generator`` or from one generator per batch item
(:func:`batch_randn`): then each item's noise depends only on its own generator, not on the
batch it is sampled in (SSDiff's tiled inference seeds every patch by its grid position).

Schedules: :func:`linear_betas` (DDPM, 1e-4..0.02; scaled by ``1000 / T`` as in
improved-diffusion when ``T != 1000``), :func:`cosine_alphas_cumprod` (improved-diffusion),
:func:`sigmoid_betas` (Jabri et al. 2023, STVD). Spacings (:func:`ddim_timesteps`):

===========  ============================================================  ===================
spacing      timesteps visited (decreasing)                                used by
===========  ============================================================  ===================
"linspace"   ``round(linspace(T - 1, 0, steps))``                          COSMIC
"stride"     ``range(0, T, stride)`` for the stride giving ``steps``       SSDiff
             values (improved-diffusion ``space_timesteps("ddimN")``)
"trailing"   ``linspace(-1, T - 1, steps + 1).long()[1:]``                 STVD (its ``-1``
                                                                           is the final x0)
===========  ============================================================  ===================

Conventions of each system (for the switch to this module; the lead merges them):

* **COSMIC**: linear betas (scaled), ``x0`` prediction, "linspace" spacing, ``eta = 0``,
  start ``x_T = rho * eps`` (``noise_scale = rho``; 1 the true sampler, 0 the
  distortion-oriented one-step decoding), no clipping of ``x0`` (the residual is unbounded).
* **SSDiff** (``ssdiff.diffusion.ResidualDiffusion`` uses this module): cosine ``abar``
  (``s = 0.008``, betas capped at 0.999), ``x0`` prediction, "stride" spacing, ``eta = 0``,
  ``x0`` clipped so that ``lms + x0`` is in ``[0, 1]`` (``clip_x0=lambda x0: (lms +
  x0).clamp(0, 1) - lms``), one generator per patch (tiled inference).
* **STVD**: sigmoid betas (start -3, end 3, tau 1, T 1500), ``v`` prediction, "trailing"
  spacing, ``eta = 0``, ``x0`` clamped to ``[-1, 1]``.

Heavy import (torch) at module level: import this module lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..errors import InvalidInputError

__all__ = [
    "Prediction",
    "Spacing",
    "Generators",
    "alphas_cumprod_from_betas",
    "batch_randn",
    "cosine_alphas_cumprod",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "linear_betas",
    "q_sample",
    "sigmoid_betas",
    "split_prediction",
]

Prediction = Literal["eps", "x0", "v"]
Spacing = Literal["linspace", "stride", "trailing"]
#: one generator for the whole batch, or one per batch item (see :func:`batch_randn`)
Generators = torch.Generator | Sequence[torch.Generator] | None


# ------------------------------------------------------------------------------ schedules


def linear_betas(timesteps: int, start: float = 1e-4, end: float = 0.02,
                 scale_to_1000: bool = True) -> Tensor:
    """DDPM's linear betas (float64). With ``scale_to_1000`` both ends are multiplied by
    ``1000 / timesteps`` (improved-diffusion's ``get_named_beta_schedule("linear")``), so a
    shorter chain reaches about the same ``abar_T``."""
    if timesteps < 1:
        raise InvalidInputError(f"timesteps must be >= 1, got {timesteps}")
    s = 1000.0 / timesteps if scale_to_1000 else 1.0
    return torch.linspace(start * s, end * s, timesteps, dtype=torch.float64)


def cosine_alphas_cumprod(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """``abar_t`` of the cosine schedule (Nichol & Dhariwal 2021), float64: betas
    ``min(1 - f(t + 1) / f(t), max_beta)`` with ``f(t) = cos^2(((t / T) + s) / (1 + s) pi/2)``
    (improved-diffusion ``betas_for_alpha_bar``), then the cumulative product."""
    if timesteps < 1:
        raise InvalidInputError(f"timesteps must be >= 1, got {timesteps}")

    def f(t: float) -> float:
        return math.cos((t / timesteps + s) / (1 + s) * math.pi / 2) ** 2

    betas = torch.tensor([min(1.0 - f(i + 1) / f(i), max_beta) for i in range(timesteps)],
                         dtype=torch.float64)
    return alphas_cumprod_from_betas(betas)


def sigmoid_betas(timesteps: int, start: float = -3.0, end: float = 3.0,
                  tau: float = 1.0) -> Tensor:
    """Sigmoid schedule (Jabri et al. 2023, STVD Sec. 3.2): ``abar(t)`` follows a rescaled
    ``-sigmoid((t (end - start) + start) / tau)`` on ``t in [0, 1]``; returns betas (float64,
    clipped to ``[0, 0.999]``)."""
    if timesteps < 1:
        raise InvalidInputError(f"timesteps must be >= 1, got {timesteps}")
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))
    ab = (-torch.sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    ab = ab / ab[0]
    return torch.clip(1 - ab[1:] / ab[:-1], 0, 0.999)


def alphas_cumprod_from_betas(betas: Tensor) -> Tensor:
    """``abar_t = prod_{s <= t} (1 - beta_s)`` (float64)."""
    return torch.cumprod(1.0 - betas.to(torch.float64), dim=0)


def ddim_timesteps(timesteps: int, steps: int, spacing: Spacing = "linspace") -> list[int]:
    """The timesteps a ``steps``-step DDIM chain visits, in decreasing order (see the module
    docstring's table). The chain then ends at ``abar = 1``."""
    if not 1 <= steps <= timesteps:
        raise InvalidInputError(f"steps must be in 1..{timesteps}, got {steps}")
    if spacing == "linspace":
        return [int(v) for v in torch.linspace(timesteps - 1, 0, steps).round().long()]
    if spacing == "trailing":
        seq = torch.linspace(-1, timesteps - 1, steps + 1).long().tolist()[1:]
        return [int(v) for v in seq[::-1]]
    if spacing == "stride":
        for stride in range(1, timesteps + 1):
            seq = list(range(0, timesteps, stride))
            if len(seq) == steps:
                return seq[::-1]
        seq = sorted({int(round(v)) for v in np.linspace(0, timesteps - 1, steps)})
        return seq[::-1]
    raise InvalidInputError(f"unknown DDIM spacing {spacing!r}")


# ---------------------------------------------------------------------------- the process


def _coef(abar: Tensor | float, like: Tensor) -> Tensor:
    a = torch.as_tensor(abar, dtype=like.dtype, device=like.device)
    return a.reshape(-1, *([1] * (like.ndim - 1))) if a.ndim else a


def q_sample(x0: Tensor, abar: Tensor | float, noise: Tensor) -> Tensor:
    """``x_t = sqrt(abar) x0 + sqrt(1 - abar) eps``; ``abar`` scalar or per sample ``(B,)``."""
    a = _coef(abar, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def split_prediction(x_t: Tensor, out: Tensor, abar: Tensor | float,
                     prediction: Prediction) -> tuple[Tensor, Tensor]:
    """``(x0, eps)`` from a network output ``out`` of the given parameterisation."""
    a = _coef(abar, x_t)
    sa, sb = a.sqrt(), (1 - a).sqrt()
    if prediction == "x0":
        return out, (x_t - sa * out) / sb.clamp_min(1e-12)
    if prediction == "eps":
        return (x_t - sb * out) / sa.clamp_min(1e-12), out
    if prediction == "v":
        return sa * x_t - sb * out, sb * x_t + sa * out
    raise InvalidInputError(f"prediction must be 'eps', 'x0' or 'v', got {prediction!r}")


def batch_randn(like: Tensor, generator: Generators = None) -> Tensor:
    """Standard normal noise shaped like ``like`` (its dtype and device).

    ``generator`` is ``None`` (the global generator), one ``torch.Generator`` (one
    ``torch.randn`` call for the whole tensor), or a sequence of one generator per batch item
    (``len == like.shape[0]``): item ``i`` is drawn from ``generator[i]`` alone, so it does
    not depend on the other items of the batch.

    Raises:
        InvalidInputError: a sequence whose length is not the batch size.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device)
    gens = list(generator)
    if len(gens) != like.shape[0]:
        raise InvalidInputError(f"{len(gens)} generators for a batch of {like.shape[0]}")
    return torch.stack([
        torch.randn(like.shape[1:], generator=g, dtype=like.dtype, device=like.device)
        for g in gens
    ])


def ddim_step(x0: Tensor, eps: Tensor, abar_t: float, abar_prev: float, eta: float = 0.0,
              generator: Generators = None) -> Tensor:
    """One DDIM update (DDIM eq. 12) from ``abar_t`` to ``abar_prev`` given ``(x0, eps)``;
    the ``eta > 0`` noise comes from :func:`batch_randn` with ``generator``."""
    if eta < 0:
        raise InvalidInputError(f"eta must be >= 0, got {eta}")
    sigma = 0.0
    if eta > 0 and abar_prev < 1.0:
        sigma = eta * math.sqrt(max((1 - abar_prev) / max(1 - abar_t, 1e-12), 0.0)) * math.sqrt(
            max(1 - abar_t / abar_prev, 0.0))
    x = math.sqrt(abar_prev) * x0 + math.sqrt(max(1 - abar_prev - sigma**2, 0.0)) * eps
    if sigma > 0:
        x = x + sigma * batch_randn(x, generator)
    return x


Denoiser = Callable[[Tensor, Tensor], Tensor]


@torch.no_grad()
def ddim_sample(model: Denoiser, x_start: Tensor, alphas_cumprod: Tensor,
                timesteps: Sequence[int], *, prediction: Prediction = "eps", eta: float = 0.0,
                generator: Generators = None,
                clip_x0: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """DDIM sampling: visit ``timesteps`` (decreasing) from ``x_start`` and return the final
    ``x0`` estimate.

    Args:
        model: ``model(x_t, t) -> prediction``, ``t`` a float ``(B,)`` tensor of the original
            timestep indices.
        x_start: ``x_T`` (e.g. ``rho * randn``; COSMIC's ``rho = 0`` starts from zeros).
        alphas_cumprod: ``abar`` of the training schedule, length ``T``.
        timesteps: from :func:`ddim_timesteps`, decreasing, in ``0 .. T - 1``.
        prediction: the network's parameterisation.
        eta: 0 (deterministic DDIM) .. 1 (DDPM-like).
        generator: noise of the ``eta > 0`` steps: one generator, or one per batch item
            (:func:`batch_randn`).
        clip_x0: optional map applied to every ``x0`` estimate (e.g. a clamp).

    Raises:
        InvalidInputError: empty, non-decreasing or out-of-range ``timesteps``.
    """
    ts = [int(t) for t in timesteps]
    n = len(alphas_cumprod)
    decreasing = all(ts[i] > ts[i + 1] for i in range(len(ts) - 1))
    if not ts or any(not 0 <= t < n for t in ts) or not decreasing:
        raise InvalidInputError(f"timesteps must be decreasing values in [0, {n}), got {ts}")
    x = x_start
    abar = alphas_cumprod.to(torch.float64)
    for i, t in enumerate(ts):
        a_t = float(abar[t])
        a_prev = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        t_batch = torch.full((x.shape[0],), float(t), dtype=torch.float32, device=x.device)
        out = model(x, t_batch)
        x0, eps = split_prediction(x, out, a_t, prediction)
        if clip_x0 is not None:
            x0 = clip_x0(x0)
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(max(1 - a_t, 1e-12))
        x = ddim_step(x0, eps, a_t, a_prev, eta, generator)
    return x
