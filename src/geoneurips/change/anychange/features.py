"""Dense feature maps seen at image size (Sec. 3.2, "bitemporal latent matching").

SAM's ``64 x 64`` embedding is upsampled bilinearly (``align_corners=True``) to the image
size before the mask embeddings are averaged. :class:`DenseFeatures` gives exactly those
mask means and per-pixel cosine maps through the separable interpolation matrices of
:func:`interpolation_matrix` (``A^T M B``) instead of materialising the upsampled map.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from geoneurips.errors import InvalidInputError

__all__ = ["DenseFeatures", "interpolation_matrix"]


def interpolation_matrix(out_size: int, in_size: int) -> Tensor:
    """Matrix ``A (out, in)`` of 1-D bilinear interpolation with ``align_corners=True``.

    ``A @ f`` equals ``F.interpolate(..., mode="bilinear", align_corners=True)`` along one
    axis, so a 2-D upsampling is ``A f B^T`` and the mean of the upsampled map over a mask
    ``M`` is ``sum(f * (A^T M B)) / |M|`` (used for exact, memory-light mask embeddings).
    """
    if in_size == out_size:
        return torch.eye(out_size)
    a = torch.zeros(out_size, in_size)
    if in_size == 1:
        a[:, 0] = 1.0
        return a
    if out_size == 1:
        a[0, 0] = 1.0
        return a
    src = torch.arange(out_size, dtype=torch.float64) * (in_size - 1) / (out_size - 1)
    lo = src.floor().long().clamp(0, in_size - 1)
    hi = (lo + 1).clamp(max=in_size - 1)
    frac = (src - lo.double()).float()
    rows = torch.arange(out_size)
    a.index_put_((rows, lo), 1.0 - frac, accumulate=True)
    a.index_put_((rows, hi), frac, accumulate=True)
    return a


class DenseFeatures:
    """A dense feature map ``(C, h, w)`` seen at image size ``(H, W)`` (bilinear, corners).

    Gives exact mask means and per-pixel cosine maps of the upsampled map without keeping it
    in memory.
    """

    def __init__(self, features: Tensor, size: tuple[int, int]) -> None:
        if features.ndim != 3:
            raise InvalidInputError(f"features must be (C, h, w), got {tuple(features.shape)}")
        self.f = features.float()
        self.size = (int(size[0]), int(size[1]))
        self.identity = tuple(self.f.shape[1:]) == self.size
        if not self.identity:
            self.a = interpolation_matrix(self.size[0], self.f.shape[1])  # (H, h)
            self.b = interpolation_matrix(self.size[1], self.f.shape[2])  # (W, w)

    def mask_means(self, masks: Tensor, chunk: int = 32) -> Tensor:
        """``(N, C)`` means of the upsampled map over each mask (zeros for empty masks)."""
        n = masks.shape[0]
        c = self.f.shape[0]
        out = torch.zeros(n, c)
        flat = self.f.flatten(1)  # (C, h*w)
        for s in range(0, n, chunk):
            m = masks[s : s + chunk].float()
            if self.identity:
                w = m.flatten(1)
            else:
                w = torch.einsum("Hh,nHW,Ww->nhw", self.a, m, self.b).flatten(1)
            area = m.flatten(1).sum(1, keepdim=True).clamp_min(1.0)
            out[s : s + chunk] = (w @ flat.T) / area
        return out

    def rows(self, chunk: int = 64) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(row0, block (C, r, W))`` of the upsampled map, ``chunk`` rows at a time."""
        h = self.size[0]
        for r0 in range(0, h, chunk):
            r1 = min(h, r0 + chunk)
            if self.identity:
                yield r0, self.f[:, r0:r1]
            else:
                yield r0, torch.einsum("rh,chw,Ww->crW", self.a[r0:r1], self.f, self.b)


def _cosine_map(fa: DenseFeatures, fb: DenseFeatures) -> Tensor:
    """Per-pixel cosine similarity ``(H, W)`` of two upsampled maps."""
    out = torch.zeros(fa.size)
    for (r0, ba), (_, bb) in zip(fa.rows(), fb.rows(), strict=True):
        out[r0 : r0 + ba.shape[1]] = F.cosine_similarity(ba, bb, dim=0, eps=1e-8)
    return out


def _cosine_to_vector(fa: DenseFeatures, v: Tensor) -> Tensor:
    """Per-pixel cosine ``(H, W)`` between an upsampled map and one vector."""
    out = torch.zeros(fa.size)
    for r0, ba in fa.rows():
        out[r0 : r0 + ba.shape[1]] = F.cosine_similarity(ba, v[:, None, None], dim=0, eps=1e-8)
    return out
