"""Building blocks of the STVD UNets (public ``model/model.py``), written from the paper and
the public code's structure.

Attention modules take ``(B*T, C, H, W)`` frames (clips outermost) plus the clip length
``frames`` (the public code hard-codes ``T = 5``; here it is an argument). All of them are
pre-norm residual blocks ``x + f(norm(x))`` like the public ``Residual(PreNorm(...))``.

* :class:`SpatialLinearAttention` (public ``LinearAttention``): linear attention over the
  pixels of each frame.
* :class:`TemporalLinearAttention` (public ``LACross``): linear attention across the frames
  of a clip, each frame one token of its flattened ``(c, x, y)`` features.
* :class:`PixelTemporalAttention` (public ``LACross_perc``): linear attention across the
  frames **at each pixel separately** (tokens = frames, features = a head's channels).
* :class:`TemporalAttention` (public ``ACross``): full softmax attention across frames at
  the bottleneck, frame tokens of ``(c, x, y)`` features. Its logits are scaled by
  ``dim_head ** -0.5`` only, as published (no extra ``1 / sqrt(h w)``), so they grow with the
  bottleneck size and the softmax is sharp at large resolutions.
* :class:`SpatialAttention` (public ``Attention``): softmax attention over the pixels of a
  frame at the bottleneck.

Published quirk kept: every linear attention divides ``v`` by ``h * w`` (the pixel count of
the frame) even where the tokens are frames (``LACross``, ``LACross_perc``); it only rescales
the output before the learned output projection and its norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ChannelNorm",
    "Downsample",
    "PixelTemporalAttention",
    "ResBlock",
    "SpatialAttention",
    "SpatialLinearAttention",
    "TemporalAttention",
    "TemporalLinearAttention",
    "Upsample",
    "WSConv2d",
    "linear_attention",
]


class ChannelNorm(nn.Module):
    """Layer norm over channels at every pixel with a learned gain (public ``LayerNorm``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        d = x - x.mean(dim=1, keepdim=True)
        return d * (d.square().mean(dim=1, keepdim=True) + 1e-5).rsqrt() * self.g


class WSConv2d(nn.Conv2d):
    """Weight-standardised convolution (public ``WeightStandardizedConv2d``): each output
    filter is normalised to zero mean and unit variance before the convolution."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        return F.conv2d(x, (w - mean) * (var + 1e-5).rsqrt(), self.bias, self.stride,
                        self.padding, self.dilation, self.groups)


class ResBlock(nn.Module):
    """Two WS-conv / GroupNorm / SiLU blocks; a time embedding scales and shifts the first
    one after its norm (public ``ResnetBlock``)."""

    def __init__(self, dim_in: int, dim_out: int, groups: int, time_dim: int | None) -> None:
        super().__init__()
        self.conv1 = WSConv2d(dim_in, dim_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, dim_out)
        self.conv2 = WSConv2d(dim_out, dim_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, dim_out)
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, 2 * dim_out)) if time_dim else None
        self.skip = nn.Conv2d(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor | None = None) -> Tensor:
        h = self.norm1(self.conv1(x))
        if self.mlp is not None and temb is not None:
            scale, shift = self.mlp(temb)[:, :, None, None].chunk(2, dim=1)
            h = h * (scale + 1) + shift
        h = F.silu(h)
        h = F.silu(self.norm2(self.conv2(h)))
        out: Tensor = h + self.skip(x)
        return out


class Downsample(nn.Module):
    """2x down-sampling without loss: pixel-unshuffle then a 1x1 conv (public
    ``Downsample``)."""

    def __init__(self, dim: int, dim_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4 * dim, dim_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(F.pixel_unshuffle(x, 2))
        return out


class Upsample(nn.Sequential):
    """Nearest 2x up-sampling then a 3x3 conv (public ``Upsample``)."""

    def __init__(self, dim: int, dim_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(dim, dim_out, 3, padding=1))


def linear_attention(q: Tensor, k: Tensor, v: Tensor, scale: float, n: int) -> Tensor:
    """Efficient (linear) attention: ``q`` softmax over features, ``k`` softmax over tokens,
    ``v / n``; shapes ``(..., d, tokens)``, returns ``(..., d_v, tokens)``."""
    q = q.softmax(dim=-2) * scale
    k = k.softmax(dim=-1)
    v = v / n
    d, tokens = q.shape[-2], q.shape[-1]
    if d * v.shape[-2] <= tokens * tokens:
        ctx = torch.einsum("...dn,...en->...de", k, v)
        return torch.einsum("...de,...dn->...en", ctx, q)
    # same product, associated the other way: (v k^T) q = v (k^T q), cheaper when the
    # feature dimension is large (frame tokens: d = c * x * y, few tokens)
    return torch.einsum("...em,...mn->...en", v, torch.einsum("...dm,...dn->...mn", k, q))


class _Attn(nn.Module):
    """Shared parts: pre-norm, q/k/v projection, output projection (+ norm if ``out_norm``)."""

    def __init__(self, dim: int, heads: int, dim_head: int, out_norm: bool) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = ChannelNorm(dim)
        self.qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        out: list[nn.Module] = [nn.Conv2d(heads * dim_head, dim, 1)]
        if out_norm:
            out.append(ChannelNorm(dim))
        self.out = nn.Sequential(*out)

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        return q, k, v


class SpatialLinearAttention(_Attn):
    """Linear attention over the pixels of each frame (public ``LinearAttention``)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__(dim, heads, dim_head, out_norm=True)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w) for t in self._qkv(x))
        o = linear_attention(q, k, v, self.scale, h * w)
        out: Tensor = x + self.out(o.reshape(b, -1, h, w))
        return out


def _to_frames(t: Tensor, frames: int, heads: int) -> Tensor:
    """``(B*T, heads*c, H, W)`` -> ``(B, heads, c*H*W, T)``: one token per frame."""
    bt, ch, h, w = t.shape
    t = t.reshape(bt // frames, frames, heads, ch // heads, h, w)
    return t.permute(0, 2, 3, 4, 5, 1).reshape(bt // frames, heads, -1, frames)


def _from_frames(t: Tensor, frames: int, heads: int, h: int, w: int) -> Tensor:
    b = t.shape[0]
    t = t.reshape(b, heads, -1, h, w, frames).permute(0, 5, 1, 2, 3, 4)
    return t.reshape(b * frames, -1, h, w)


def _to_pixels(t: Tensor, frames: int, heads: int) -> Tensor:
    """``(B*T, heads*c, H, W)`` -> ``(B, heads*H*W, c, T)``: per pixel, one token per frame."""
    bt, ch, h, w = t.shape
    t = t.reshape(bt // frames, frames, heads, ch // heads, h, w)
    return t.permute(0, 2, 4, 5, 3, 1).reshape(bt // frames, heads * h * w, ch // heads, frames)


def _from_pixels(t: Tensor, frames: int, heads: int, h: int, w: int) -> Tensor:
    b, _, c, _ = t.shape
    t = t.reshape(b, heads, h, w, c, frames).permute(0, 5, 1, 4, 2, 3)
    return t.reshape(b * frames, heads * c, h, w)


class TemporalLinearAttention(_Attn):
    """Linear attention across the frames of a clip, each frame one token of its flattened
    ``(c, x, y)`` features (section 3.1; public ``LACross``)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__(dim, heads, dim_head, out_norm=True)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        _, _, h, w = x.shape
        q, k, v = (_to_frames(t, frames, self.heads) for t in self._qkv(x))
        o = linear_attention(q, k, v, self.scale, h * w)
        out: Tensor = x + self.out(_from_frames(o, frames, self.heads, h, w))
        return out


class PixelTemporalAttention(_Attn):
    """Per-pixel linear attention across the frames of a clip (section 3.1; public
    ``LACross_perc``): at every pixel and head, the frames are the tokens and the head's
    channels the features, so a pixel mixes only its own history (no spatial mixing)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__(dim, heads, dim_head, out_norm=True)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        _, _, h, w = x.shape
        q, k, v = (_to_pixels(t, frames, self.heads) for t in self._qkv(x))
        o = linear_attention(q, k, v, self.scale, h * w)
        out: Tensor = x + self.out(_from_pixels(o, frames, self.heads, h, w))
        return out


class TemporalAttention(_Attn):
    """Full softmax attention across frames at the bottleneck (public ``ACross``), frame
    tokens of ``(c, x, y)`` features, logits scaled by ``dim_head ** -0.5`` as published;
    also returns the ``(B, heads, T, T)`` attention weights (the public code returns the
    logits)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__(dim, heads, dim_head, out_norm=False)

    def forward(self, x: Tensor, frames: int) -> tuple[Tensor, Tensor]:
        _, _, h, w = x.shape
        q, k, v = (_to_frames(t, frames, self.heads) for t in self._qkv(x))
        attn = (torch.einsum("bhdi,bhdj->bhij", q, k) * self.scale).softmax(dim=-1)
        o = torch.einsum("bhij,bhdj->bhdi", attn, v)
        return x + self.out(_from_frames(o, frames, self.heads, h, w)), attn


class SpatialAttention(_Attn):
    """Softmax attention over the pixels of a frame (bottleneck; public ``Attention``)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__(dim, heads, dim_head, out_norm=False)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w).transpose(-1, -2) for t in self._qkv(x))
        o = F.scaled_dot_product_attention(q, k, v)
        out: Tensor = x + self.out(o.transpose(-1, -2).reshape(b, -1, h, w))
        return out
