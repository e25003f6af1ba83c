"""Sinusoid GEMM machinery of the TorchSpatial position encodings (package-private).

:class:`_Sinusoids` computes every sinusoid of an encoding from one GEMM ``x @ W + phase``
and one in-place ``sin`` (with a Cody-Waite range reduction of large float32 angles, see
:func:`_reduce_sin_`); :class:`_MultiScale` adds the scale frequencies of the multi-scale
encoders (Space2Vec in :mod:`.planar`, Sphere2Vec in :mod:`.spherical`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from geoneurips.nn.location_encoders._position_base import PositionEncoder, _scratch

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
    masters are cast to the input's dtype and device on use (a few kB; caching the casts and
    the block-diagonal weights measured no end-to-end gain, PE + FFN). Every sinusoid of an encoder comes out
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

    def _cast(self, name: str, like: Tensor) -> Tensor:
        master: Tensor = getattr(self, name)
        return master.to(device=like.device, dtype=like.dtype)

    def _blocked(self, names: Sequence[str], like: Tensor, block: int) -> tuple[Tensor, Tensor]:
        """Block-diagonal weight and tiled bias for ``block`` points per row; the column
        groups of several affine maps ``names`` are concatenated (all of one, then the next)."""
        ws = [self._cast(f"{n}_w", like) for n in names]
        bs = [self._cast(f"{n}_b", like) for n in names]
        if block == 1:
            return torch.cat(ws, 1), torch.cat(bs)
        w = torch.cat([_block_diag(w, block) for w in ws], 1)
        b = torch.cat([b.repeat(block) for b in bs])
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
        return torch.cat([w, b[None, :]], 0)

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
