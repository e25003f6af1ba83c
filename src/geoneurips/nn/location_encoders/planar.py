"""Planar TorchSpatial position encodings: functions of (longitude, latitude) in the plane.

``tile``, ``wrap``, ``rbf``, ``rff``, ``Space2Vec-grid`` and ``Space2Vec-theory`` (encoders
1-7 of TorchSpatial, Wu et al., arXiv 2406.15658, Table 1); see :mod:`.position` for the
shared conventions (input ``(..., 2)`` degrees, longitude first; output ``(..., out_dim)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from geoneurips.errors import InvalidInputError
from geoneurips.nn.location_encoders._position_base import (
    _HALF_PI,
    GLOBAL_EXTENT,
    PositionEncoder,
    _check_positive_int,
    _empty_output,
    _scratch,
    _split,
    check_lonlat,
    geometric_frequencies,
)
from geoneurips.nn.location_encoders._sinusoids import _LONLAT_BOUND, _MultiScale, _Sinusoids

# --------------------------------------------------------------------------------------
# 1. tile
# --------------------------------------------------------------------------------------


class TilePositionEncoder(PositionEncoder):
    """``tile``: a learned embedding per grid cell (Mac Aodha et al., ICCV 2019, "tile" baseline;
    TorchSpatial Table 1).

    The extent ``(x_min, x_max, y_min, y_max)`` is cut into square cells of ``interval``
    degrees, ``n_col = ceil((x_max-x_min)/interval)``, ``n_row = ceil((y_max-y_min)/interval)``;
    point ``(lambda, phi)`` gets cell ``row * n_col + col`` with
    ``col = clip(floor((lambda - x_min)/interval), 0, n_col-1)`` (same for rows), and
    ``PE(x) = E[cell]``, ``E`` an ``nn.Embedding`` initialised ``N(0, 1/embed_dim)``.

    **Public-code bug fixed:** ``GridLookupSpatialRelationLocationEncoder`` never forwards
    ``interval`` to its position encoder, whose default is 10^6 degrees, so the whole globe
    is one cell (the published checkpoints hold a ``(1, 256)`` embedding, i.e. a constant
    prior, which explains why "tile" scores like "no prior"). Here ``interval`` is honoured.
    The default of 5 degrees (72 x 36 = 2,592 cells) is our choice: the paper does not state
    one and 1 degree would make a 16.6 M-parameter table.

    Not differentiable with respect to the input (piecewise constant); gradients flow to the
    embedding table.
    """

    chunk_elements = 1 << 20  # a gather gains little from chunking; keeps the index small

    def __init__(
        self,
        interval: float = 5.0,
        embed_dim: int = 256,
        extent: Sequence[float] = GLOBAL_EXTENT,
    ) -> None:
        super().__init__()
        _check_positive_int("embed_dim", embed_dim)
        if not interval > 0:
            raise InvalidInputError(f"tile interval must be > 0 degrees, got {interval!r}")
        x_min, x_max, y_min, y_max = (float(v) for v in extent)
        if not (x_min < x_max and y_min < y_max):
            raise InvalidInputError(f"extent must be (x_min, x_max, y_min, y_max), got {extent}")
        self.interval = float(interval)
        self.extent = (x_min, x_max, y_min, y_max)
        self.num_col = int(math.ceil((x_max - x_min) / interval))
        self.num_row = int(math.ceil((y_max - y_min) / interval))
        self.out_dim = embed_dim
        self.embedding = nn.Embedding(self.num_col * self.num_row, embed_dim)
        with torch.no_grad():
            self.embedding.weight.normal_(0.0, 1.0 / embed_dim)

    def cell_index(self, lonlat: Tensor) -> Tensor:
        """Cell id (``row * num_col + col``, int64) of validated points ``(..., 2)``."""
        x_min, _, y_min, _ = self.extent
        col = torch.floor((lonlat[..., 0] - x_min) / self.interval).clamp_(0, self.num_col - 1)
        row = torch.floor((lonlat[..., 1] - y_min) / self.interval).clamp_(0, self.num_row - 1)
        return (row * self.num_col + col).long()

    def _empty_result(self, x: Tensor, n: int) -> Tensor:
        return _empty_output(self.embedding.weight, n, self.out_dim)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        idx = self.cell_index(lonlat.detach())
        if out is None:
            emb: Tensor = self.embedding(idx)
            return emb
        return torch.index_select(self.embedding.weight, 0, idx, out=out)

    def extra_repr(self) -> str:
        return (
            f"interval={self.interval}, cells={self.num_col}x{self.num_row}, out_dim={self.out_dim}"
        )


# --------------------------------------------------------------------------------------
# 2-3. wrap
# --------------------------------------------------------------------------------------


class WrapPositionEncoder(_Sinusoids):
    """``wrap`` / ``wrap_ffn`` input: Mac Aodha et al., ICCV 2019, Sec. 3.1.

    Coordinates are scaled to [-1, 1] (``lambda/180``, ``phi/90``) and wrapped:

    ``PE(x) = [sin(pi*lambda/180), sin(pi*phi/90), cos(pi*lambda/180), cos(pi*phi/90)]``

    (the public ``encode_loc_time`` / ``AodhaFFT...`` order: both sines, then both cosines).
    """

    out_dim = 4

    def __init__(self) -> None:
        super().__init__()
        a, b = math.pi / 180.0, math.pi / 90.0
        w = torch.tensor([[a, 0.0, a, 0.0], [0.0, b, 0.0, b]], dtype=torch.float64)
        ph = torch.tensor([0.0, 0.0, _HALF_PI, _HALF_PI], dtype=torch.float64)
        self._set_affine("pe", w, ph, _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return self._sin("pe", lonlat, out)


# --------------------------------------------------------------------------------------
# 4. rbf
# --------------------------------------------------------------------------------------


class RBFPositionEncoder(PositionEncoder):
    """``rbf``: Gaussian radial basis functions around ``M`` anchor points (TorchSpatial Table 1;
    Mai et al., ICLR 2020 baseline).

    ``PE(x)_j = exp(-||x - a_j||^2 / (2 sigma^2))``, ``j = 1..M``, with ``x`` and the anchors
    ``a_j`` in raw degrees (Euclidean distance in the lon/lat plane, as in the public code) and
    ``sigma`` = ``kernel_size`` (degrees; 2.0 in the published checkpoints). TorchSpatial draws
    ``M = 200`` anchors at random from the training locations; pass them in as ``anchors``.
    The anchors are a persistent buffer, so a saved state dict restores the same encoder.

    Speed note (no-grad path, float32/64): the exponent is clamped at ``log(tiny)`` (``tiny``
    the smallest normal float of the dtype) and results below ``tiny`` are set to 0, because
    ``exp`` of far, underflowing arguments leaves its vectorised fast path (~10x slower);
    with autograd such values stay denormal. Either way they are below 1.2e-38 in float32.
    """

    anchors: Tensor

    def __init__(self, anchors: Tensor, kernel_size: float = 2.0) -> None:
        super().__init__()
        anchors = torch.as_tensor(anchors)
        if anchors.ndim != 2 or anchors.shape[1] != 2 or anchors.shape[0] < 1:
            raise InvalidInputError(
                f"rbf anchors must have shape (M, 2) (lon, lat degrees), got {tuple(anchors.shape)}"
            )
        check_lonlat(anchors, "rbf anchors")
        if not kernel_size > 0:
            raise InvalidInputError(f"rbf kernel_size must be > 0, got {kernel_size!r}")
        self.kernel_size = float(kernel_size)
        self.register_buffer("anchors", anchors.detach().to(torch.float64).clone())
        self.out_dim = int(anchors.shape[0])

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        lon, lat = _split(lonlat)
        if lonlat.requires_grad:
            a = self.anchors.to(lonlat.dtype)
            d2 = (lon[:, None] - a[:, 0]).square() + (lat[:, None] - a[:, 1]).square()
            return torch.exp(d2 * (-0.5 / self.kernel_size**2))
        # no-grad path: the same float operations in place, written into the result; the
        # exponent is clamped at log(tiny) because exp of far (underflowing) arguments leaves
        # the vectorised fast path (~10x slower), and results below the smallest normal float
        # are flushed to 0 (a change < 1.2e-38 in float32, where they would be denormal or 0).
        a = self._cast_anchors(lonlat)
        if out is None:
            out = lonlat.new_empty((lonlat.shape[0], self.out_dim))
        torch.sub(lon[:, None], a[0], out=out)
        out.square_()
        e = torch.sub(lat[:, None], a[1], out=_scratch("rbf", out.shape, out))
        out.addcmul_(e, e).mul_(-0.5 / self.kernel_size**2)
        if out.dtype not in (torch.float32, torch.float64):  # half types: plain exp
            return out.exp_()
        tiny = torch.finfo(out.dtype).tiny
        out.clamp_min_(math.log(tiny) + 0.01).exp_()
        return F.threshold(out, 1.02 * tiny, 0.0, inplace=True)

    def _cast_anchors(self, like: Tensor) -> Tensor:
        """The anchors as contiguous ``(2, M)`` rows in ``like``'s dtype, cached (keyed on the
        buffer's version counter too: ``load_state_dict`` copies in place)."""
        cache: dict[tuple[torch.dtype, torch.device, int, int], Tensor]
        cache = self.__dict__.setdefault("_anchor_cache", {})
        key = (like.dtype, like.device, self.anchors.data_ptr(), self.anchors._version)
        hit = cache.get(key)
        if hit is None:
            hit = self.anchors.t().to(device=like.device, dtype=like.dtype).contiguous()
            cache.clear()
            cache[key] = hit
        return hit

    def extra_repr(self) -> str:
        return f"anchors={self.out_dim}, kernel_size={self.kernel_size}"


# --------------------------------------------------------------------------------------
# 5. rff
# --------------------------------------------------------------------------------------


class RFFPositionEncoder(PositionEncoder):
    """``rff``: random Fourier features (Rahimi & Recht, NeurIPS 2007, Alg. 1).

    ``x`` is min-max normalised to [-1, 1] over ``extent`` (public ``coord_normalize``),
    ``x' = 2 (x - min) / (max - min) - 1`` per axis, then

    ``PE(x) = sqrt(2/D) * cos(omega^T x' + b)``, ``omega_d ~ N(0, sigma * I_2)``,
    ``b_d ~ U(0, 2 pi)``, ``d = 1..D`` (``D`` = ``frequency_num``, 64 in the checkpoints).

    ``sigma`` = ``kernel_size`` is used as a *variance*, as in the public code (``np.random.
    multivariate_normal(0, diag(sigma))``); in Rahimi & Recht's terms this approximates a
    Gaussian kernel of bandwidth ``1/sqrt(sigma)`` in normalised coordinates. ``omega`` and
    ``b`` are fixed (not trained), drawn from a torch generator seeded with ``seed``, and
    stored as buffers named ``dirvec`` ``(2, D)`` and ``shift`` ``(D,)`` like the checkpoints.
    """

    dirvec: Tensor
    shift: Tensor
    _scale: Tensor
    _offset: Tensor

    def __init__(
        self,
        frequency_num: int = 64,
        kernel_size: float = 1.0,
        extent: Sequence[float] = GLOBAL_EXTENT,
        seed: int = 0,
    ) -> None:
        super().__init__()
        _check_positive_int("frequency_num", frequency_num)
        if not kernel_size > 0:
            raise InvalidInputError(f"rff kernel_size must be > 0, got {kernel_size!r}")
        x_min, x_max, y_min, y_max = (float(v) for v in extent)
        if not (x_min < x_max and y_min < y_max):
            raise InvalidInputError(f"extent must be (x_min, x_max, y_min, y_max), got {extent}")
        self.extent = (x_min, x_max, y_min, y_max)
        self.kernel_size = float(kernel_size)
        self.out_dim = frequency_num
        gen = torch.Generator().manual_seed(int(seed))
        dirvec = torch.randn(2, frequency_num, generator=gen, dtype=torch.float64)
        dirvec *= math.sqrt(kernel_size)
        shift = torch.rand(frequency_num, generator=gen, dtype=torch.float64) * (2 * math.pi)
        self.register_buffer("dirvec", dirvec)
        self.register_buffer("shift", shift)
        # fold the min-max normalisation into the projection: omega^T x' = (W)^T x + c
        scale = torch.tensor([2.0 / (x_max - x_min), 2.0 / (y_max - y_min)], dtype=torch.float64)
        offset = torch.tensor(
            [-2.0 * x_min / (x_max - x_min) - 1.0, -2.0 * y_min / (y_max - y_min) - 1.0],
            dtype=torch.float64,
        )
        self.register_buffer("_scale", scale, persistent=False)
        self.register_buffer("_offset", offset, persistent=False)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        dt = lonlat.dtype
        w = self.dirvec * self._scale[:, None]
        c = self.shift + self._offset @ self.dirvec
        proj = torch.addmm(c.to(dt), lonlat, w.to(dt))
        amp = math.sqrt(2.0 / self.out_dim)
        if lonlat.requires_grad:
            return torch.cos(proj) * amp
        return proj.cos_().mul_(amp)

    def extra_repr(self) -> str:
        return f"frequency_num={self.out_dim}, kernel_size={self.kernel_size}"


# --------------------------------------------------------------------------------------
# 6-7. Space2Vec
# --------------------------------------------------------------------------------------


class Space2VecGridPositionEncoder(_MultiScale):
    """``Space2Vec-grid`` (Mai et al., ICLR 2020, Eq. 4-6, "grid" with ``a_1=(1,0)``,
    ``a_2=(0,1)``).

    On raw degrees, for each coordinate ``c in (lambda, phi)`` and scale ``s``:
    ``[sin(c f_s), cos(c f_s)]``; layout coordinate-major ``(c, s, sin|cos)``, ``4S`` values
    (256 for the paper's ``S = 64``). Defaults ``S=64``, ``r_min=0.005``, ``r_max=360``.
    """

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.005, max_radius: float = 360.0
    ) -> None:
        super().__init__()
        self.frequency_num, self.min_radius, self.max_radius = frequency_num, min_radius, max_radius
        self._set_freqs(geometric_frequencies(frequency_num, min_radius, max_radius))
        s = frequency_num
        self.out_dim = 4 * s
        w = torch.zeros(2, 2, s, 2, dtype=torch.float64)  # (input c, output c, s, sin|cos)
        for c in range(2):
            w[c, c] = self.freqs[:, None]
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat(2 * s)
        self._set_affine("pe", w.reshape(2, -1), ph, _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return self._sin("pe", lonlat, out)


class Space2VecTheoryPositionEncoder(_MultiScale):
    """``Space2Vec-theory`` (Mai et al., ICLR 2020, Eq. 7, three unit vectors 120 deg apart).

    ``p_k = <x, a_k>`` on raw degrees with ``a_1 = (1, 0)``, ``a_2 = (-1/2, sqrt(3)/2)``,
    ``a_3 = (-1/2, -sqrt(3)/2)``; for each scale ``[sin p_k f_s, cos p_k f_s]_{k=1..3}``,
    layout scale-major ``(s, k, sin|cos)``, ``6S`` values (384 for ``S = 64``). Defaults
    ``S=64``, ``r_max=360``, ``r_min=0.001`` (the public run scripts' value; the checkpoints
    span 1e-4 to 0.05).
    """

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.001, max_radius: float = 360.0
    ) -> None:
        super().__init__()
        self.frequency_num, self.min_radius, self.max_radius = frequency_num, min_radius, max_radius
        self._set_freqs(geometric_frequencies(frequency_num, min_radius, max_radius))
        s = frequency_num
        self.out_dim = 6 * s
        r3 = math.sqrt(3.0) / 2.0
        units = torch.tensor([[1.0, -0.5, -0.5], [0.0, r3, -r3]], dtype=torch.float64)  # (2, 3)
        w = units[:, None, :, None] * self.freqs[None, :, None, None]  # (2, s, k, 1)
        w = w.expand(2, s, 3, 2)
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat(3 * s)
        self._set_affine("pe", w.reshape(2, -1), ph, _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return self._sin("pe", lonlat, out)

