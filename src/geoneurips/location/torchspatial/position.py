"""Position encodings (PE) of the 15 TorchSpatial location encoders.

TorchSpatial (Wu et al., "TorchSpatial: A Location Encoding Framework and Benchmark for
Spatial Representation Learning", NeurIPS 2024 Datasets & Benchmarks, arXiv 2406.15658)
writes every location encoder as ``Enc(x) = NN(PE(x))`` (paper Sec. 3, Eq. 1) where
``x = (lambda, phi)`` is (longitude, latitude) in degrees. This module holds the ``PE`` half;
:mod:`.ffn` holds the ``NN`` half and :mod:`.encoders` puts them together.

Every class here is an :class:`torch.nn.Module` with ``forward(lonlat) -> Tensor`` taking a
tensor of shape ``(..., 2)`` (degrees, longitude first) and returning ``(..., out_dim)``.
Unlike the public code (which builds the PE in float64 numpy, so nothing upstream of the FFN
gets a gradient), the encodings are computed in torch, in the input's floating dtype (float32
by default; integer inputs become the default dtype), on the input's device, fully
vectorised and differentiable with respect to the input wherever the formula is (all but the
tile lookup). Large inference batches are processed in cache-sized chunks written straight
into the final result (see :class:`PositionEncoder` for the speed notes).

Notation: ``lambda`` = longitude, ``phi`` = latitude, ``S`` = number of scales
(``frequency_num``), ``f_s`` the scale frequencies of :func:`geometric_frequencies`.
Feature layouts follow the public code exactly so that checkpoints' first FFN layer lines up.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import sys
import threading
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from geoneurips.errors import InvalidInputError

__all__ = [
    "DFSPositionEncoder",
    "NeRFPositionEncoder",
    "PositionEncoder",
    "RBFPositionEncoder",
    "RFFPositionEncoder",
    "SphereCPlusPositionEncoder",
    "SphereCPositionEncoder",
    "SphereMPlusPositionEncoder",
    "SphereMPositionEncoder",
    "SphericalHarmonicsPositionEncoder",
    "Space2VecGridPositionEncoder",
    "Space2VecTheoryPositionEncoder",
    "TilePositionEncoder",
    "WrapPositionEncoder",
    "XYZPositionEncoder",
    "check_lonlat",
    "geometric_frequencies",
    "legacy_sphere_frequencies",
    "nerf_frequencies",
]

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


def _load_madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_MADVISE = _load_madvise()
_MADV_HUGEPAGE = 14
_HUGE_PAGE_MIN_BYTES = 1 << 22


def _empty_output(like: Tensor, n: int, c: int) -> Tensor:
    """Uninitialised ``(n, c)`` tensor like ``like``; large CPU ones get transparent huge pages.

    A fresh multi-megabyte result is first touched page by page; with 4 KiB pages those page
    faults cost more than the encoding itself (~2.5 ns per float32 value on a VM against
    ~2 ns for a ``sin``). numpy advises ``MADV_HUGEPAGE`` for its large arrays; we do the same
    for our outputs (Linux only; a no-op where transparent huge pages are disabled).
    """
    out = like.new_empty((n, c))
    nbytes = out.numel() * out.element_size()
    if _MADVISE is not None and out.device.type == "cpu" and nbytes >= _HUGE_PAGE_MIN_BYTES:
        page = mmap.PAGESIZE
        start = -(-out.data_ptr() // page) * page
        end = (out.data_ptr() + nbytes) // page * page
        if end > start:
            _MADVISE(start, end - start, _MADV_HUGEPAGE)
    return out


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
    When no gradient is needed, the result is allocated once (with huge pages, see
    :func:`_empty_output`) and the points are encoded in chunks of about ``chunk_elements``
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


# --------------------------------------------------------------------------------------
# shared sinusoid primitive
# --------------------------------------------------------------------------------------

_TWO_PI_HI = 6.28125  # 8 significant bits: k * _TWO_PI_HI is exact in float32 for |k| < 2^16
_TWO_PI_LO = 2.0 * math.pi - _TWO_PI_HI
_REDUCE_ABOVE = 8000.0  # torch's float32 sin leaves its fast path for |angle| >~ 1e4
_SMALL_WIDTH = 16  # narrower affine maps are computed on blocks of _BLOCK points per GEMM row
_BLOCK = 8


def _reduce_sin_(
    ang: Tensor, bound: float, runs: Sequence[tuple[int, int]] | None = None
) -> Tensor:
    """``sin`` in place; float32 angles that can exceed ``_REDUCE_ABOVE`` radians (``bound``)
    are first reduced modulo 2 pi (Cody-Waite with a two-part 2 pi), which keeps ``sin`` on
    its fast path; the reduction error (~1e-9 rad) is far below the float32 rounding of the
    angle itself. ``runs``: the column ranges that can exceed it (the high-frequency scales,
    e.g. 11 % of Space2Vec-grid's columns); with at most two, only those are reduced."""
    if bound > _REDUCE_ABOVE and ang.dtype == torch.float32:
        if runs is not None and len(runs) <= 2:
            for lo, hi in runs:
                _reduce_(ang[:, lo:hi])
        else:
            _reduce_(ang)
    return ang.sin_()


def _reduce_(ang: Tensor) -> None:
    k = torch.mul(ang, 1.0 / (2.0 * math.pi), out=_scratch("reduce", ang.shape, ang))
    k.round_()
    ang.add_(k, alpha=-_TWO_PI_HI).add_(k, alpha=-_TWO_PI_LO)


def _transpose_into(feat: Tensor, out: Tensor | None) -> Tensor:
    """Write a feature-major ``(C, N)`` chunk into a point-major ``(N, C)`` ``out``."""
    if out is None:
        return feat.t().contiguous()
    return out.copy_(feat.t())


def _block_diag(w: Tensor, block: int) -> Tensor:
    k, c = w.shape
    out = w.new_zeros((k * block, c * block))
    for i in range(block):
        out[i * k : (i + 1) * k, i * c : (i + 1) * c] = w
    return out


def _blocked_rows(n: int, width: int) -> int:
    """How many of ``n`` points go through the blocked GEMM (see :class:`_Sinusoids`)."""
    return n - n % _BLOCK if width < _SMALL_WIDTH else 0


class _Sinusoids(PositionEncoder):
    """A PE whose features are (products of) sinusoids of affine functions of the input.

    Subclasses call :meth:`_set_affine` with the weight ``(K, C)`` and phase ``(C,)`` (float64)
    and the largest absolute input per row of the weight (to bound the angles); the float64
    masters are cast once per dtype/device and cached. Every sinusoid of an encoder comes out
    of one GEMM ``x @ W + phase`` (``torch.addmm``; without autograd ``[x, 1] @ [W; phase]``),
    each output column one feature (``cos`` as ``sin(. + pi/2)``), already in the public
    feature layout; without autograd the angles are written into the caller's buffer and
    transformed in place (:func:`_reduce_sin_`).

    Speed note: GEMMs with few output columns (``C < 16``, e.g. wrap and xyz) are inefficient
    in MKL (~5 ns per value for ``C = 4``), so they are computed on rows of ``_BLOCK`` points
    at once, ``x.view(N/8, 8K) @ blockdiag(W, ..., W) + [phase, ..., phase]``, whose result
    is the ``(N, C)`` layout (the block-diagonal product only adds exact zeros).
    """

    def _set_affine(
        self, name: str, weight: Tensor, phase: Tensor, input_bound: Sequence[float]
    ) -> None:
        self.register_buffer(f"{name}_w", weight.contiguous(), persistent=False)
        self.register_buffer(f"{name}_b", phase.to(weight.dtype).contiguous(), persistent=False)
        lim = torch.tensor(list(input_bound), dtype=torch.float64)
        col_bound = lim @ weight.abs() + phase.abs()
        setattr(self, f"{name}_bound", float(col_bound.max()))
        runs: list[tuple[int, int]] = []
        for j, big in enumerate((col_bound > _REDUCE_ABOVE).tolist()):
            if big and runs and runs[-1][1] == j:
                runs[-1] = (runs[-1][0], j + 1)
            elif big:
                runs.append((j, j + 1))
        setattr(self, f"{name}_runs", runs)

    def _cached(self, key: tuple[object, ...], make: Callable[[], Tensor]) -> Tensor:
        cache: dict[tuple[object, ...], Tensor] = self.__dict__.setdefault("_cast_cache", {})
        hit = cache.get(key)
        if hit is None:
            hit = make()
            cache[key] = hit
        return hit

    def _cast(self, name: str, like: Tensor) -> Tensor:
        master: Tensor = getattr(self, name)
        if master.dtype == like.dtype and master.device == like.device:
            return master
        key = (name, like.dtype, like.device, master.data_ptr(), master._version)
        return self._cached(key, lambda: master.to(device=like.device, dtype=like.dtype))

    def _blocked(self, names: Sequence[str], like: Tensor, block: int) -> tuple[Tensor, Tensor]:
        """Block-diagonal weight and tiled bias for ``block`` points per row; the column
        groups of several affine maps ``names`` are concatenated (all of one, then the next)."""
        ws = [self._cast(f"{n}_w", like) for n in names]
        bs = [self._cast(f"{n}_b", like) for n in names]
        key = ("blocked", *names, block, like.dtype, like.device, *(w.data_ptr() for w in ws))
        w = self._cached(key + ("w",), lambda: torch.cat([_block_diag(w, block) for w in ws], 1))
        b = self._cached(key + ("b",), lambda: torch.cat([b.repeat(block) for b in bs]))
        return w, b

    def _angles(self, names: Sequence[str], x: Tensor, out: Tensor | None = None) -> Tensor:
        """No-grad angles ``x @ W + phase``; with several maps, rows of ``_BLOCK`` (or 1)
        points hold each map's columns for all the row's points, one map after the other."""
        n = x.shape[0]
        width = sum(getattr(self, f"{nm}_b").shape[0] for nm in names)
        if out is None:
            out = _scratch("angles:" + "+".join(names), (n, width), x)
        m = _blocked_rows(n, width)
        if m:
            w, b = self._blocked(names, x, _BLOCK)
            torch.addmm(b, x[:m].reshape(m // _BLOCK, -1), w, out=out[:m].view(m // _BLOCK, -1))
        if m < n:
            # [x, 1] @ [W; phase]: a single write of the output (addmm would first broadcast
            # the bias into it, then read it back in the GEMM: one more pass over it)
            w1 = self._with_phase_row(names, x)
            xr = x[m:]
            x1 = _scratch("x1", (n - m, xr.shape[1] + 1), x)
            x1[:, :-1] = xr
            x1[:, -1] = 1.0
            torch.mm(x1, w1, out=out[m:])
        return out

    def _with_phase_row(self, names: Sequence[str], like: Tensor) -> Tensor:
        w, b = self._blocked(names, like, 1)
        key = ("phase_row", *names, like.dtype, like.device, w.data_ptr())
        return self._cached(key, lambda: torch.cat([w, b[None, :]], 0).contiguous())

    def _sin(self, name: str, x: Tensor, out: Tensor | None = None) -> Tensor:
        """``sin(x @ W + phase)`` of the affine map ``name`` for points ``x`` ``(N, K)``."""
        if x.requires_grad:
            return torch.sin(torch.addmm(self._cast(f"{name}_b", x), x, self._cast(f"{name}_w", x)))
        ang = self._angles((name,), x, out)
        if _blocked_rows(x.shape[0], ang.shape[1]):
            return _reduce_sin_(ang, getattr(self, f"{name}_bound"))
        return _reduce_sin_(ang, getattr(self, f"{name}_bound"), getattr(self, f"{name}_runs"))

    def _sin_product(
        self, atoms: str, factors: str, x: Tensor, out: Tensor | None = None
    ) -> Tensor:
        """No-grad ``sin(x @ Wa + pa) * sin(x @ Wf + pf)`` (elementwise), from one GEMM."""
        n, c = x.shape[0], getattr(self, f"{atoms}_b").shape[0]
        if out is None:
            out = x.new_empty((n, c))
        ang = self._angles((atoms, factors), x, _scratch("product", (n, 2 * c), x))
        bound = max(getattr(self, f"{atoms}_bound"), getattr(self, f"{factors}_bound"))
        _reduce_sin_(ang, bound)
        m = _blocked_rows(n, 2 * c)
        for lo, hi, blk in ((0, m, _BLOCK), (m, n, 1)):
            if hi > lo:
                t = ang[lo:hi].view((hi - lo) // blk, 2 * c * blk)
                torch.mul(t[:, : c * blk], t[:, c * blk :], out=out[lo:hi].view(-1, c * blk))
        return out


_LONLAT_BOUND = (180.0, 90.0)
_PHASE = {"sin": 0.0, "cos": _HALF_PI, "one": _HALF_PI}


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


class _MultiScale(_Sinusoids):
    """Multi-scale encoders: ``freqs`` (float64 buffer, not saved) plus the affine map."""

    frequency_num: int
    min_radius: float
    max_radius: float
    freqs: Tensor

    def _set_freqs(self, freqs: Tensor) -> None:
        self.register_buffer("freqs", freqs, persistent=False)

    def extra_repr(self) -> str:
        return (
            f"frequency_num={self.frequency_num}, min_radius={self.min_radius:g}, "
            f"max_radius={self.max_radius:g}, out_dim={self.out_dim}"
        )


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


# --------------------------------------------------------------------------------------
# 8-9. xyz and NeRF
# --------------------------------------------------------------------------------------


def _xyz(lonlat: Tensor) -> Tensor:
    rad = lonlat * _DEG2RAD
    sc = torch.sin(torch.cat([rad, rad + _HALF_PI], dim=-1))  # sin l, sin p, cos l, cos p
    sin_lon, sin_lat, cos_lon, cos_lat = sc.unbind(-1)
    return torch.stack([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat], dim=-1)


def _set_xyz_affine(module: _Sinusoids) -> None:
    """xyz as ``sin(atoms) * sin(factors)``: ``[cos l, sin l, sin p] * [cos p, cos p, 1]``."""
    d = _DEG2RAD
    atoms = torch.tensor([[d, d, 0.0], [0.0, 0.0, d]], dtype=torch.float64)
    factors = torch.tensor([[0.0, 0.0, 0.0], [d, d, 0.0]], dtype=torch.float64)
    module._set_affine(
        "xyz_a", atoms, torch.tensor([_HALF_PI, 0.0, 0.0], dtype=torch.float64), _LONLAT_BOUND
    )
    module._set_affine(
        "xyz_f", factors, torch.full((3,), _HALF_PI, dtype=torch.float64), _LONLAT_BOUND
    )


def _xyz_fast(module: _Sinusoids, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
    if lonlat.requires_grad:
        return _xyz(lonlat)
    return module._sin_product("xyz_a", "xyz_f", lonlat, out)


class XYZPositionEncoder(_Sinusoids):
    """``xyz``: the point on the unit sphere (TorchSpatial Table 1).

    ``PE(x) = [cos(phi) cos(lambda), cos(phi) sin(lambda), sin(phi)]`` (radians).

    Speed note: without autograd the six sinusoids ``[cos l, sin l, sin p, cos p, cos p, 1]``
    (``1 = sin(pi/2)``) come from one blocked GEMM (see :class:`_Sinusoids`) and one ``sin``
    pass, and the result is one contiguous product of the two halves.
    """

    out_dim = 3

    def __init__(self) -> None:
        super().__init__()
        _set_xyz_affine(self)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return _xyz_fast(self, lonlat, out)


class NeRFPositionEncoder(_Sinusoids):
    """``NeRF``: NeRF positional encoding of the 3-D unit vector (Mildenhall et al., ECCV 2020,
    Eq. 4), as used by TorchSpatial.

    ``p = xyz(x)``; ``PE(x) = [sin(2^l pi p), cos(2^l pi p)]``, ``l = 0..L-1`` with layout
    ``(sin|cos, coordinate, l)``: ``6L`` values.

    **Public-code bug fixed:** ``NERFSpatialRelationLocationEncoder`` does not pass
    ``frequency_num`` to its position encoder, which therefore always uses ``L = 16`` (96
    features, the width seen in every NeRF checkpoint, even those trained with
    ``--frequency_num 64``). Here ``frequency_num`` is honoured; its default 16 reproduces the
    paper's 96-d input.
    """

    freqs: Tensor

    def __init__(self, frequency_num: int = 16) -> None:
        super().__init__()
        self.frequency_num = frequency_num
        self.register_buffer("freqs", nerf_frequencies(frequency_num), persistent=False)
        n = frequency_num
        self.out_dim = 6 * n
        w = torch.zeros(3, 2, 3, n, dtype=torch.float64)  # (input c, sin|cos, output c, l)
        for c in range(3):
            w[c, :, c] = self.freqs
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat_interleave(3 * n)
        self._set_affine("pe", w.reshape(3, -1), ph, (1.0, 1.0, 1.0))
        _set_xyz_affine(self)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        return self._sin("pe", _xyz_fast(self, lonlat), out)

    def extra_repr(self) -> str:
        return f"frequency_num={self.frequency_num}, out_dim={self.out_dim}"


# --------------------------------------------------------------------------------------
# 10-14. Sphere2Vec
# --------------------------------------------------------------------------------------

# an atom is (coordinate, scaled, function): e.g. ("lat", True, "sin") = sin(phi_s)
_Atom = tuple[str, bool, str]


class _SphereBase(_MultiScale):
    """Sphere2Vec scale sinusoids (Mai et al., ISPRS J. Photogramm. 2023, Sec. 4).

    All variants use the radian angles ``lambda_s = lambda * f_s * pi/180`` and
    ``phi_s = phi * f_s * pi/180`` with the geometric ``f_s`` (defaults ``S=64``,
    ``r_min=1e-3``, ``r_max=1``: the finest scale 1/r_min, the coarsest ``f = 1``, i.e. the
    whole sphere) and the single-scale ``lambda``, ``phi`` (``f = 1``). Features are laid out
    scale-major (one group of ``k`` values per scale), as in the public code.

    Implementation: each group is described by ``atoms`` (one sinusoid per column, in output
    order) and ``products`` (column slices multiplied by ``cos phi_s`` or ``cos phi``). With
    autograd, one GEMM + ``sin`` gives the atoms in output layout, a second one the factors (1
    for the plain columns) and one multiply finishes.

    Speed note (no-grad path of the ``atoms`` variants): ``sin`` is the dominant cost, and the autograd layout evaluates
    two per output value although each group only has 3-4 distinct sinusoids
    (``sin/cos phi_s``, ``sin/cos lambda_s``). So the distinct sinusoids are computed once, as
    a feature-major table ``(D, N)`` (one GEMM + ``sin``); the atoms are gathered from it
    into the feature-major output chunk (one row gather), the product columns are multiplied
    in place by their ``(S, N)`` factor block (feature-major, every operation runs along the
    points), and one blocked transpose writes the chunk into the point-major result.
    Column-wise (strided) operations on the point-major layout are several times slower than
    this transpose.
    """

    atoms: tuple[_Atom, ...] = ()
    products: tuple[tuple[slice, str], ...] = ()
    _atom_rows: Tensor
    _rows: dict[_Atom, slice]
    table_bound: float

    def __init__(
        self,
        frequency_num: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__()
        self.frequency_num, self.min_radius, self.max_radius = frequency_num, min_radius, max_radius
        self.legacy_frequencies = legacy_frequencies
        if legacy_frequencies:
            freqs = legacy_sphere_frequencies(frequency_num, max_radius)
        else:
            freqs = geometric_frequencies(frequency_num, min_radius, max_radius)
        self._set_freqs(freqs)
        if self.atoms:
            self._set_atoms("pe", self.atoms)
            factors: list[_Atom] = [_ONE] * len(self.atoms)
            for cols, which in self.products:
                for i in range(len(self.atoms))[cols]:
                    factors[i] = _COS_PHI_S if which == "cos_lat_s" else _COS_PHI
            self._set_atoms("factor", factors)
            self._plan = self._set_table(self.atoms, factors)
            self._set_gather("_atom_rows", [atom for atom, _ in self._plan])

    def _set_table(
        self, atoms: Sequence[_Atom], factors: Sequence[_Atom] = ()
    ) -> list[tuple[slice, slice | None]]:
        """Register the affine map ``table`` of the distinct sinusoids among ``atoms`` and
        ``factors`` (a scaled one as ``S`` rows in scale order, an unscaled one as 1 row);
        return per output column of a group the table rows of its atom and its factor."""
        s = self.frequency_num
        rows: dict[_Atom, slice] = {}
        ws: list[Tensor] = []
        phs: list[Tensor] = []
        for atom in dict.fromkeys([*atoms, *factors]):
            coord, scaled, fn = atom
            if fn == "one":
                continue
            cnt = s if scaled else 1
            w = torch.zeros(2, cnt, dtype=torch.float64)
            w[0 if coord == "lon" else 1] = (self.freqs if scaled else 1.0) * _DEG2RAD
            start = sum(int(p.shape[0]) for p in phs)
            rows[atom] = slice(start, start + cnt)
            ws.append(w)
            phs.append(torch.full((cnt,), _PHASE[fn], dtype=torch.float64))
        self._set_affine("table", torch.cat(ws, 1), torch.cat(phs), _LONLAT_BOUND)
        self._rows = rows
        facs = list(factors) or [_ONE] * len(atoms)
        return [(rows[a], None if f == _ONE else rows[f]) for a, f in zip(atoms, facs, strict=True)]

    def _set_gather(self, name: str, rows: Sequence[slice]) -> None:
        """Register the table row of each feature-major output row ``s * k + j`` (scale
        ``s``, column ``j`` of a group of ``k``) for columns ``j`` given by table slices."""
        s = self.frequency_num
        idx = [r.start + (i if r.stop - r.start == s else 0) for i in range(s) for r in rows]
        self.register_buffer(name, torch.tensor(idx, dtype=torch.long), persistent=False)

    def _table(self, x: Tensor) -> Tensor:
        """No-grad feature-major table ``(D, N)`` of the distinct sinusoids."""
        w, b = self._cast("table_w", x), self._cast("table_b", x)
        t = torch.addmm(
            b[:, None], w.t(), x.t(), out=_scratch("table", (b.shape[0], x.shape[0]), x)
        )
        return _reduce_sin_(t, self.table_bound)

    def _set_atoms(self, name: str, atoms: Sequence[_Atom]) -> None:
        s, k = self.frequency_num, len(atoms)
        w = torch.zeros(2, s, k, dtype=torch.float64)
        ph = torch.zeros(s, k, dtype=torch.float64)
        for i, (coord, scaled, fn) in enumerate(atoms):
            if fn != "one":
                w[0 if coord == "lon" else 1, :, i] = (self.freqs if scaled else 1.0) * _DEG2RAD
            ph[:, i] = _PHASE[fn]
        self._set_affine(name, w.reshape(2, -1), ph.reshape(-1), _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        if lonlat.requires_grad:
            g = self._sin("pe", lonlat)  # first factors, in output layout
            f = self._sin("factor", lonlat)  # cos phi_s, cos phi or 1 per column
            return g * f
        n, s, k = lonlat.shape[0], self.frequency_num, len(self.atoms)
        t = self._table(lonlat)
        feat = _scratch("feat", (s * k, n), lonlat)  # feature-major chunk, atoms gathered
        torch.index_select(t, 0, self._atom_rows.to(t.device), out=feat)
        groups = feat.view(s, k, n)
        for cols, which in self.products:
            factor = t[self._rows[_COS_PHI_S if which == "cos_lat_s" else _COS_PHI]]
            groups[:, cols].mul_(factor.view(-1, 1, n))
        return _transpose_into(feat, out)


_ONE: _Atom = ("lat", False, "one")
_COS_PHI: _Atom = ("lat", False, "cos")
_SIN_PHI_S: _Atom = ("lat", True, "sin")
_COS_PHI_S: _Atom = ("lat", True, "cos")
_SIN_LAM_S: _Atom = ("lon", True, "sin")
_COS_LAM_S: _Atom = ("lon", True, "cos")
_SIN_LAM: _Atom = ("lon", False, "sin")
_COS_LAM: _Atom = ("lon", False, "cos")


class SphereCPositionEncoder(_SphereBase):
    """``Sphere2Vec-sphereC`` (Mai et al. 2023, Eq. 9): per scale

    ``[sin phi_s, cos phi_s cos lambda_s, cos phi_s sin lambda_s]`` -> ``3S`` values (192).
    """

    atoms = (_SIN_PHI_S, _COS_LAM_S, _SIN_LAM_S)
    products = ((slice(1, 3), "cos_lat_s"),)

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.001, max_radius: float = 1.0
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius)
        self.out_dim = 3 * frequency_num


class SphereCPlusPositionEncoder(_SphereBase):
    """``Sphere2Vec-sphereC+`` (Mai et al. 2023, Eq. 10): per scale

    ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s, cos phi_s cos lambda_s,
    cos phi_s sin lambda_s]`` -> ``6S`` values (384).
    """

    atoms = (_SIN_PHI_S, _COS_PHI_S, _SIN_LAM_S, _COS_LAM_S, _COS_LAM_S, _SIN_LAM_S)
    products = ((slice(4, 6), "cos_lat_s"),)

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.001, max_radius: float = 1.0
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius)
        self.out_dim = 6 * frequency_num


class SphereMPositionEncoder(_SphereBase):
    """``Sphere2Vec-sphereM`` (Mai et al. 2023, Eq. 11): per scale, mixing the single-scale
    angles ``lambda``, ``phi`` (radians, ``f = 1``) with the scaled ones:

    ``[sin phi_s, cos phi_s cos lambda, cos phi cos lambda_s, cos phi_s sin lambda,
    cos phi sin lambda_s]`` -> ``5S`` values (320).
    """

    atoms = (_SIN_PHI_S, _COS_LAM, _COS_LAM_S, _SIN_LAM, _SIN_LAM_S)
    products = ((slice(1, 5, 2), "cos_lat_s"), (slice(2, 5, 2), "cos_lat"))

    def __init__(
        self, frequency_num: int = 64, min_radius: float = 0.001, max_radius: float = 1.0
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius)
        self.out_dim = 5 * frequency_num


class SphereMPlusPositionEncoder(_SphereBase):
    """``Sphere2Vec-sphereM+`` (Mai et al. 2023, Eq. 12): per scale

    ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s, cos phi_s cos lambda,
    cos phi cos lambda_s, cos phi_s sin lambda, cos phi sin lambda_s]`` -> ``8S`` values.

    **Frequency schedule (deviation from the public code, following the paper):** the public
    ``SphereGridMixScale...`` overrides the schedule with ``f_s = r_max^(-s/(S-1))``, which
    ignores ``r_min`` and, at the published ``r_max = 1``, makes every ``f_s = 1`` (all 64
    scales identical). The Sphere2Vec paper defines one geometric schedule for all its
    multi-scale encoders, so the default here is :func:`geometric_frequencies`;
    ``legacy_frequencies=True`` reproduces the public behaviour for its checkpoints.
    """

    atoms = (
        _SIN_PHI_S,
        _COS_PHI_S,
        _SIN_LAM_S,
        _COS_LAM_S,
        _COS_LAM,
        _COS_LAM_S,
        _SIN_LAM,
        _SIN_LAM_S,
    )
    products = ((slice(4, 8, 2), "cos_lat_s"), (slice(5, 8, 2), "cos_lat"))

    def __init__(
        self,
        frequency_num: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_frequencies)
        self.out_dim = 8 * frequency_num


class DFSPositionEncoder(_SphereBase):
    """``Sphere2Vec-dfs``: double Fourier sphere features (Mai et al. 2023, Eq. 13;
    Orszag 1974, Merilees 1973).

    With ``u = [sin lambda_0..S-1, cos lambda_0..S-1]`` and ``v = [sin phi_0..S-1,
    cos phi_0..S-1]`` (``2S`` each): ``PE = [vec(u v^T) (4S^2, row-major, lon index outer),
    then per scale [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s] (4S)]``, ``4S + 4S^2``
    values (288 for the paper's ``S = 8``). Same frequency-schedule decision as
    :class:`SphereMPlusPositionEncoder` (geometric by default, ``legacy_frequencies=True`` for
    the public ``r_max^(-s/(S-1))``, which at ``r_max = 1`` reduces all scales to ``f = 1``).

    Speed note (no-grad path): ``u`` and ``v`` are computed once (``4S`` sinusoids), the outer
    product is written straight into the result and the last ``4S`` columns are gathered
    from ``u``, ``v`` instead of being evaluated a second time.
    """

    _single_cols: Tensor

    def __init__(
        self,
        frequency_num: int = 8,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        legacy_frequencies: bool = False,
    ) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_frequencies)
        s = frequency_num
        self.out_dim = 4 * s + 4 * s * s
        # u then v, block-major: [sin l_s (S), cos l_s (S), sin p_s (S), cos p_s (S)]
        w = torch.zeros(2, 2, 2, s, dtype=torch.float64)  # (input c, block c, sin|cos, s)
        for c in range(2):
            w[c, c] = self.freqs * _DEG2RAD
        ph = torch.tensor([0.0, _HALF_PI], dtype=torch.float64).repeat_interleave(s).repeat(2)
        self._set_affine("uv", w.reshape(2, -1), ph, _LONLAT_BOUND)
        self._set_atoms("single", (_SIN_PHI_S, _COS_PHI_S, _SIN_LAM_S, _COS_LAM_S))
        # no-grad path: the last 4S columns gathered from uv (column of each value in uv)
        blocks = (2, 3, 0, 1)  # sin p, cos p, sin l, cos l
        idx = [b * s + i for i in range(s) for b in blocks]
        self.register_buffer("_single_cols", torch.tensor(idx, dtype=torch.long), persistent=False)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        n, s = lonlat.shape[0], self.frequency_num
        if lonlat.requires_grad:
            uv = self._sin("uv", lonlat)
            u, v = uv[:, : 2 * s], uv[:, 2 * s :]
            outer = (u[:, :, None] * v[:, None, :]).reshape(n, 4 * s * s)
            return torch.cat([outer, self._sin("single", lonlat)], dim=-1)
        # no-grad: uv once (4S sinusoids; the point-major layout suits this small width),
        # the outer product written straight into the result, the 4S singles gathered
        uv = self._sin("uv", lonlat)
        if out is None:
            out = lonlat.new_empty((n, self.out_dim))
        u, v = uv[:, : 2 * s], uv[:, 2 * s :]
        torch.mul(u[:, :, None], v[:, None, :], out=out[:, : 4 * s * s].view(n, 2 * s, 2 * s))
        torch.index_select(uv, 1, self._single_cols.to(uv.device), out=out[:, 4 * s * s :])
        return out


# --------------------------------------------------------------------------------------
# 15. spherical harmonics
# --------------------------------------------------------------------------------------


def _legendre_polynomials(big_l: int) -> dict[tuple[int, int], list[float]]:
    """Coefficients (ascending powers of ``z = cos theta``) of ``Q_l^m`` with
    ``P_l^m(z) = (1 - z^2)^(m/2) Q_l^m(z)`` (no Condon-Shortley phase), ``0 <= m <= l < L``."""
    q: dict[tuple[int, int], list[float]] = {}
    for m in range(big_l):
        dfact = 1.0
        for k in range(1, m + 1):
            dfact *= 2 * k - 1
        q[m, m] = [dfact]
        if m + 1 < big_l:
            q[m + 1, m] = [0.0, (2 * m + 1) * dfact]
        for deg in range(m + 2, big_l):
            a = [0.0] + [(2 * deg - 1) * c for c in q[deg - 1, m]]  # (2l-1) z Q_{l-1}
            b = q[deg - 2, m] + [0.0, 0.0]
            q[deg, m] = [(ai - (deg + m - 1) * bi) / (deg - m) for ai, bi in zip(a, b, strict=True)]
    return q


class SphericalHarmonicsPositionEncoder(_Sinusoids):
    """``spherical_harmonics`` ("Siren(SH)" in the TorchSpatial tables): real spherical
    harmonics of degree ``l < L`` (Rußwurm et al., "Geographic Location Encoding with
    Spherical Harmonics and Sinusoidal Representation Networks", ICLR 2024, Eq. 2-3).

    With colatitude ``theta = pi/2 - phi`` and azimuth ``lambda`` (radians), ``L^2`` values
    ordered ``l = 0..L-1``, ``m = -l..l`` (index ``l^2 + l + m``):

    ``Y_lm = sqrt(2) K_l^|m| P_l^|m|(cos theta) sin(|m| lambda)``  for ``m < 0``,
    ``Y_l0 = K_l^0 P_l^0(cos theta)``,
    ``Y_lm = sqrt(2) K_l^m P_l^m(cos theta) cos(m lambda)``  for ``m > 0``,

    ``K_l^m = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)``, ``P_l^m`` the associated Legendre functions
    without the Condon-Shortley phase: the orthonormal real basis (equal to
    ``sqrt(2) (-1)^m Re/Im`` of scipy's complex ``sph_harm_y``). ``L = 8`` gives 64 features.

    **Public-code bug fixed:** TorchSpatial's ``SphericalHarmonicsSpatialRelationPositionEncoder``
    calls ``get_positional_encoding`` whose import is commented out (and whose module was
    later deleted), so the encoder crashes. This is a fresh torch implementation, written as
    ``Y_lm = K (sin theta)^|m| Q_l^|m|(cos theta) trig(m lambda)`` where ``Q_l^m`` are the
    polynomials given by the standard recurrences (``P_m^m = (2m-1)!! sin^m theta``,
    ``P_{m+1}^m = (2m+1) cos theta P_m^m``, ``(l-m) P_l^m = (2l-1) cos theta P_{l-1}^m -
    (l+m-1) P_{l-2}^m``), evaluated for all ``(l, m)`` at once as small matrix products of the
    powers of ``cos theta`` and ``sin theta = cos phi`` (differentiable everywhere, poles
    included). Rußwurm et al.'s generated closed forms use ``theta = phi + 90 deg`` and
    ``lambda + 180 deg``; that is a reflection of the sphere, which maps each degree-``l``
    subspace onto itself, so only signs of individual features differ and an FFN on top
    represents the same functions.
    """

    _poly: Tensor
    _sel_pow: Tensor
    _sel_trig: Tensor

    def __init__(self, legendre_poly_num: int = 8) -> None:
        super().__init__()
        _check_positive_int("legendre_poly_num", legendre_poly_num)
        big_l = legendre_poly_num
        self.legendre_poly_num = big_l
        self.out_dim = big_l * big_l
        q = _legendre_polynomials(big_l)
        poly = torch.zeros(big_l, self.out_dim, dtype=torch.float64)  # z^p -> K Q_l^|m|
        sel_pow = torch.zeros(big_l, 2 * big_l - 1, dtype=torch.float64)  # s^|m| per trig col
        sel_trig = torch.zeros(2 * big_l - 1, self.out_dim, dtype=torch.float64)
        pairs = [(d, o) for d in range(big_l) for o in range(-d, d + 1)]
        for j, (deg, order) in enumerate(pairs):
            am = abs(order)
            k = math.sqrt(
                (2 * deg + 1) / (4 * math.pi) * math.factorial(deg - am) / math.factorial(deg + am)
            )
            k *= math.sqrt(2.0) if order != 0 else 1.0
            for p, c in enumerate(q[deg, am]):
                poly[p, j] = k * c
            sel_trig[0 if order == 0 else (am if order > 0 else big_l - 1 + am), j] = 1.0
        for m in range(big_l):
            sel_pow[m, m] = 1.0
            if m > 0:
                sel_pow[m, big_l - 1 + m] = 1.0
        self.register_buffer("_poly", poly, persistent=False)
        self.register_buffer("_sel_pow", sel_pow, persistent=False)
        self.register_buffer("_sel_trig", sel_trig, persistent=False)
        # latitude trig: [sin phi, cos phi]
        w_lat = torch.tensor([[0.0, 0.0], [_DEG2RAD, _DEG2RAD]], dtype=torch.float64)
        self._set_affine(
            "lat", w_lat, torch.tensor([0.0, _HALF_PI], dtype=torch.float64), _LONLAT_BOUND
        )
        # longitude trig columns: [1, cos(m lambda) m=1..L-1, sin(m lambda) m=1..L-1]
        orders = torch.arange(1, big_l, dtype=torch.float64)
        mult = torch.cat([torch.zeros(1, dtype=torch.float64), orders, orders])
        w_lon = torch.stack([mult * _DEG2RAD, torch.zeros_like(mult)])
        phase = torch.zeros(2 * big_l - 1, dtype=torch.float64)
        phase[:big_l] = _HALF_PI
        self._set_affine("lon", w_lon, phase, _LONLAT_BOUND)

    def encode(self, lonlat: Tensor, out: Tensor | None = None) -> Tensor:
        dt = lonlat.dtype
        big_l = self.legendre_poly_num
        zs = self._sin("lat", lonlat)  # z = cos theta = sin phi, s = sin theta = cos phi >= 0
        ones = torch.ones_like(zs[:, 0:1])
        z_pow = torch.cat([ones, zs[:, 0:1].expand(-1, big_l - 1)], dim=-1).cumprod(dim=-1)
        s_pow = torch.cat([ones, zs[:, 1:2].expand(-1, big_l - 1)], dim=-1).cumprod(dim=-1)
        trig = self._sin("lon", lonlat) * (s_pow @ self._sel_pow.to(dt))  # s^|m| trig(m lambda)
        if lonlat.requires_grad:
            return (z_pow @ self._poly.to(dt)) * (trig @ self._sel_trig.to(dt))
        # no-grad: the Legendre part straight into the result, the angular part in a reused
        # intermediate, one in-place product
        n = lonlat.shape[0]
        if out is None:
            out = lonlat.new_empty((n, self.out_dim))
        torch.mm(z_pow, self._poly.to(dt), out=out)
        angular = torch.mm(trig, self._sel_trig.to(dt), out=_scratch("sh", out.shape, out))
        return out.mul_(angular)

    def extra_repr(self) -> str:
        return f"legendre_poly_num={self.legendre_poly_num}, out_dim={self.out_dim}"
