"""The one sinusoidal embedding of the project (diffusion timesteps, dates, metadata values).

:func:`sinusoidal_embedding` maps real values ``v`` of any shape ``(...)`` to ``(..., dim)``
features ``cos(v w_k)`` and ``sin(v w_k)`` at ``half = dim // 2`` geometric frequencies

    ``w_k = max_period ** (-k / (half - freq_shift))``,  ``k = 0 .. half - 1``

(``w_0 = 1``; the slowest is ``w_{half-1} = max_period ** (-(half - 1) /
(half - freq_shift))``).
An odd ``dim`` gets one zero column at the end.

Conventions of the papers that use it (so that switching a system to this function is exact):

* guided/improved-diffusion (OpenAI's ``timestep_embedding``), Stable Diffusion / LDM
  (``flip_sin_to_cos=True, downscale_freq_shift=0``): ``order="cos_sin"``,
  ``max_period=10000``, ``freq_shift=0`` (the defaults).
* SSDiff (builds on improved-diffusion; ``ssdiff.model.TimeEmbedding`` uses this function):
  the defaults, on ``t`` cast to float32.
* COSMIC (diffusion time, and its DiffusionSat-style metadata embedding, whose values are
  normalised and multiplied by 1000 first): the defaults.
* DDPM (Ho et al. 2020, TF code; diffusers' ``downscale_freq_shift=1``):
  ``order="sin_cos"``, ``max_period=10000``, ``freq_shift=1``.
* AllClear (L-TAE date encoding, ``allclear.model.sinusoidal_encoding`` of ``(B, T)`` days):
  ``order="sin_cos"``, ``max_period=1000``, ``freq_shift=0``.
* FUSU (L-TAE, Garnot 2020; ``fusu.model.positional_encoding``): sin at even, cos at odd
  columns with ``w_k = period ** (-2k / dim)``: ``order="interleaved"``,
  ``max_period=1000`` (identical for an even ``dim``; for an odd ``dim`` FUSU's exponent
  ``2k / dim`` and its extra sine column differ from this function's zero padding).
* STVD: not this embedding -- learned or random Fourier features
  ``[t, sin(2 pi f t), cos(2 pi f t)]``; it keeps its own.

Heavy import (torch) at module level: import this module lazily.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InvalidInputError

__all__ = ["EmbeddingOrder", "sinusoidal_embedding"]

EmbeddingOrder = Literal["cos_sin", "sin_cos", "interleaved"]


def sinusoidal_embedding(values: Tensor, dim: int, *, max_period: float = 10000.0,
                         order: EmbeddingOrder = "cos_sin", freq_shift: float = 0.0) -> Tensor:
    """Sinusoidal features of real values (see the module docstring for the conventions).

    Args:
        values: any shape ``(...)``; integer timesteps or real numbers (computed in float32,
            or in float64 when ``values`` is float64).
        dim: output width (``>= 1``; an odd width gets a trailing zero column).
        max_period: the longest period's scale (10000 for diffusion timesteps, 1000 for the
            L-TAE date encodings).
        order: ``"cos_sin"`` (all cosines then all sines), ``"sin_cos"``, or
            ``"interleaved"`` (``sin, cos`` pairs per frequency).
        freq_shift: ``0`` (OpenAI / SD) or ``1`` (DDPM's TF code: exponent ``k / (half - 1)``).

    Returns:
        ``(..., dim)`` tensor on ``values``' device.

    Raises:
        InvalidInputError: ``dim < 1``, ``max_period <= 0``, an unknown ``order`` or a
            ``freq_shift`` that leaves no frequencies.
    """
    if dim < 1:
        raise InvalidInputError(f"sinusoidal_embedding: dim must be >= 1, got {dim}")
    if not max_period > 0:
        raise InvalidInputError(f"sinusoidal_embedding: max_period must be > 0, got {max_period}")
    if order not in ("cos_sin", "sin_cos", "interleaved"):
        raise InvalidInputError(f"sinusoidal_embedding: unknown order {order!r}")
    half = dim // 2
    if half and half - freq_shift <= 0:
        raise InvalidInputError(f"sinusoidal_embedding: freq_shift {freq_shift} too large for "
                                f"dim {dim}")
    dtype = torch.float64 if values.dtype == torch.float64 else torch.float32
    k = torch.arange(half, dtype=dtype, device=values.device)
    freqs = torch.exp(-math.log(max_period) * k / max(half - freq_shift, 1e-12))
    args = values.to(dtype)[..., None] * freqs
    cos, sin = torch.cos(args), torch.sin(args)
    if order == "cos_sin":
        emb = torch.cat([cos, sin], dim=-1)
    elif order == "sin_cos":
        emb = torch.cat([sin, cos], dim=-1)
    else:
        emb = torch.stack([sin, cos], dim=-1).flatten(-2)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb
