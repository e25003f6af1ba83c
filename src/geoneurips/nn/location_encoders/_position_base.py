"""Shared machinery of the TorchSpatial position encodings (package-private).

The base of every encoding in :mod:`.planar`, :mod:`.spherical` and :mod:`.harmonics`
(re-exported by :mod:`.position`): the frequency schedules of the multi-scale encoders,
validation of ``(..., 2)`` (longitude, latitude) degree tensors, the :class:`PositionEncoder`
base class with its chunked no-grad forward, and the per-thread scratch arena of reused
intermediates it relies on.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from geoneurips.errors import InvalidInputError

_DEG2RAD = math.pi / 180.0
_HALF_PI = math.pi / 2.0
GLOBAL_EXTENT: tuple[float, float, float, float] = (-180.0, 180.0, -90.0, 90.0)


# --------------------------------------------------------------------------------------
# frequency schedules
# --------------------------------------------------------------------------------------


def geometric_frequencies(frequency_num: int, min_radius: float, max_radius: float) -> Tensor:
    """Geometric scale frequencies of Space2Vec / Sphere2Vec (float64, shape ``(S,)``).

    Space2Vec (Mai et al., ICLR 2020, Eq. 5) and Sphere2Vec (Mai et al., ISPRS J. 2023,
    Eq. 8) use ``S`` scales between a minimum and a maximum wavelength ``r_min``, ``r_max``:

    ``f_s = 1 / (r_min * g^(s/(S-1)))``, ``g = r_max / r_min``, ``s = 0 .. S-1``,

    so ``f_0 = 1/r_min`` is the finest scale and ``f_{S-1} = 1/r_max`` the coarsest. With
    ``S = 1`` the public code divides by zero; here the single scale is ``1/r_min``.
    """
    _check_positive_int("frequency_num", frequency_num)
    if not (min_radius > 0 and max_radius > 0):
        raise InvalidInputError(
            f"min_radius and max_radius must be > 0, got {min_radius!r}, {max_radius!r}"
        )
    s = torch.arange(frequency_num, dtype=torch.float64)
    if frequency_num == 1:
        return torch.full((1,), 1.0 / min_radius, dtype=torch.float64)
    log_step = math.log(max_radius / min_radius) / (frequency_num - 1)
    return 1.0 / (min_radius * torch.exp(s * log_step))


def legacy_sphere_frequencies(frequency_num: int, max_radius: float) -> Tensor:
    """Schedule the public code uses for sphereM+ and dfs: ``f_s = r_max^(-s/(S-1))``.

    It ignores ``r_min``; with the published ``r_max = 1`` every frequency is 1, so all scales
    collapse into one. Kept only to reproduce public checkpoints (``legacy_frequencies=True``).
    """
    _check_positive_int("frequency_num", frequency_num)
    if frequency_num == 1:
        return torch.ones(1, dtype=torch.float64)
    s = torch.arange(frequency_num, dtype=torch.float64)
    return torch.pow(torch.tensor(float(max_radius), dtype=torch.float64), -s / (frequency_num - 1))


def nerf_frequencies(frequency_num: int) -> Tensor:
    """NeRF frequencies ``2^l * pi``, ``l = 0 .. L-1`` (Mildenhall et al., ECCV 2020, Eq. 4)."""
    _check_positive_int("frequency_num", frequency_num)
    return math.pi * torch.exp2(torch.arange(frequency_num, dtype=torch.float64))


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")


# --------------------------------------------------------------------------------------
# input validation and the shared forward
# --------------------------------------------------------------------------------------


def check_lonlat(lonlat: Tensor, name: str = "lonlat") -> Tensor:
    """Validate a ``(..., 2)`` tensor of (longitude, latitude) degrees; return it as float.

    Raises:
        InvalidInputError: not a tensor, last dimension not 2, longitude outside
            [-180, 180], latitude outside [-90, 90], or NaN values.
    """
    if not isinstance(lonlat, Tensor):
        raise InvalidInputError(
            f"{name} must be a torch.Tensor of shape (..., 2) (lon, lat in degrees), "
            f"got {type(lonlat).__name__}"
        )
    if lonlat.ndim == 0 or lonlat.shape[-1] != 2:
        raise InvalidInputError(
            f"{name} must have shape (..., 2) (lon, lat in degrees), got {tuple(lonlat.shape)}"
        )
    if not lonlat.is_floating_point():
        if lonlat.is_complex():
            raise InvalidInputError(f"{name} must be real, got dtype {lonlat.dtype}")
        lonlat = lonlat.to(torch.get_default_dtype())
    if lonlat.numel() == 0:
        return lonlat
    with torch.no_grad():
        # fast path: a global min/max (one contiguous pass) settles valid input, since
        # [-90, 90] fits both ranges; otherwise only the latitude column is left to check
        lo_all, hi_all = (v.item() for v in torch.aminmax(lonlat))
        if lo_all >= -90.0 and hi_all <= 90.0:
            return lonlat
        if lo_all >= -180.0 and hi_all <= 180.0:
            lo_lat, hi_lat = (v.item() for v in torch.aminmax(lonlat[..., 1]))
            if lo_lat >= -90.0 and hi_lat <= 90.0:
                return lonlat
        lows, highs = torch.aminmax(lonlat.reshape(-1, 2), dim=0)
        bounds = lows.tolist() + highs.tolist()
    for idx, label, bound in ((0, "longitude", 180.0), (1, "latitude", 90.0)):
        lo_v, hi_v = bounds[idx], bounds[2 + idx]
        if not (lo_v >= -bound and hi_v <= bound):  # also catches NaN
            raise InvalidInputError(
                f"{name}: {label} must lie in [-{bound:g}, {bound:g}] degrees "
                f"(column {idx}; lon first, then lat), got values in [{lo_v:g}, {hi_v:g}]"
            )
    return lonlat


def _empty_output(like: Tensor, n: int, c: int) -> Tensor:
    """Uninitialised ``(n, c)`` result tensor like ``like``."""
    return like.new_empty((n, c))


_ARENA = threading.local()


def _scratch(tag: str, shape: Sequence[int], like: Tensor) -> Tensor:
    """An uninitialised intermediate, reused across the chunks of one no-grad forward.

    Intermediates of a ~0.5 MB chunk are above glibc's mmap threshold, so a fresh allocation
    per chunk is returned to the OS and page-faulted in again each time (measured: 7x the cost
    of the GEMM that fills it). :meth:`PositionEncoder.forward` opens a per-thread arena for
    its chunk loop; outside it this is a plain ``new_empty``. ``tag`` must be unique among
    the intermediates alive at the same time.
    """
    arena: dict[tuple[object, ...], Tensor] | None = getattr(_ARENA, "buffers", None)
    if arena is None:
        return like.new_empty(tuple(shape))
    key = (tag, tuple(shape), like.dtype, like.device)
    buf = arena.get(key)
    if buf is None:
        buf = like.new_empty(tuple(shape))
        arena[key] = buf
    return buf


class PositionEncoder(nn.Module):
    """Base class: validation, flattening, and chunked inference around :meth:`encode`.

    Subclasses set ``out_dim`` and implement :meth:`encode` on a validated ``(N, 2)`` tensor.
    When no gradient is needed, the result is allocated once and the points are encoded in chunks of about ``chunk_elements``
    output values (default 2^17, ~0.5 MB in float32), each written straight into its slice of
    the result, so that the intermediates stay in cache; the result is identical to a single
    call. With a gradient, :meth:`encode` runs once on all points through plain autograd ops.
    """

    out_dim: int
    chunk_elements: int = 1 << 17

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:  # pragma: no cover
        """Encode validated points ``(N, 2)`` (degrees) into ``(N, out_dim)``.

        ``out`` (only passed when no gradient is needed) is a contiguous ``(N, out_dim)`` slice
        of the final result that an implementation may write into and return.
        """
        raise NotImplementedError

    def _empty_result(self, x: Tensor, n: int) -> Tensor:
        return _empty_output(x, n, self.out_dim)

    def forward(self, lonlat: Tensor) -> Tensor:
        """Encode ``lonlat`` of shape ``(..., 2)`` (degrees, lon first) into ``(..., out_dim)``."""
        x = check_lonlat(lonlat)
        lead = x.shape[:-1]
        flat = x.reshape(-1, 2)
        n = flat.shape[0]
        needs_grad = torch.is_grad_enabled() and (
            flat.requires_grad or any(p.requires_grad for p in self.parameters())
        )
        if needs_grad:
            out = self.encode(flat)
        else:
            flat = flat.detach().contiguous()  # the fast paths key on requires_grad
            rows = max(256, self.chunk_elements // max(self.out_dim, 1))
            out = self._empty_result(flat, n)
            outer_arena = getattr(_ARENA, "buffers", None)
            _ARENA.buffers = {}
            try:
                for start in range(0, n, rows):
                    dst = out[start : start + rows]
                    res = self.encode(flat[start : start + rows], out=dst)
                    if res.data_ptr() != dst.data_ptr():
                        dst.copy_(res)
            finally:
                _ARENA.buffers = outer_arena
        return out.reshape(*lead, self.out_dim)

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}"


def _split(x: Tensor) -> tuple[Tensor, Tensor]:
    return x[:, 0], x[:, 1]

