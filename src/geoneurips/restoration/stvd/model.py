"""STVD: deterministic downscaler with temporal attention + residual video diffusion.

Srivastava et al., "Precipitation Downscaling with Spatiotemporal Video Diffusion", NeurIPS
2024 (arXiv 2312.06071), section 3 and Fig. 2; defaults from mandt-lab/STVD ``config.py``.

* :class:`Downscaler` (section 3.1, the public code's ``Flow``): a UNet on the bilinearly
  upsampled coarse channels plus topography, with spatial linear attention at every level,
  temporal linear attention across the frames of a clip at the deepest encoder level
  (:class:`TemporalLinearAttention`, public ``LACross``) and full softmax attention across
  frames at the bottleneck (:class:`TemporalAttention`, public ``ACross``). It returns the
  mean prediction ``warped`` and its encoder features ``context``.
* :class:`Denoiser` (section 3.2): the same UNet family with a random-Fourier-feature time
  embedding; input ``cat[x_t, warped, cond]``, and the downscaler's ``context`` is
  concatenated before every encoder block and the first bottleneck block.
* :class:`STVD` (section 3.2-3.3): the residual ``x0 = HR - warped`` is diffused with the
  sigmoid beta schedule (start -3, end 3, tau 1, T = 1500), v-prediction, L2 loss, joint
  end-to-end training, and DDIM sampling (20 steps, eta 0, x0 clipped to [-1, 1]); the
  output is ``warped + residual``.

Fixes of the public code (paper intent implemented instead):

1. ``p_losses`` unpacked two values from ``Flow.forward``, which returns three (training
   raised ``ValueError``); here the downscaler returns a :class:`DownscalerOutput` tuple.
2. The validation loop unpacked three values from ``sample()``, which returns four; here
   :meth:`STVD.sample` returns a :class:`SampleOutput` named tuple.
3. The number of frames was hard-coded to 5 inside the attention modules; here it is read
   from the input shape, so any clip length works.
4. ``forward`` upsampled the coarse input to the fine size but ``sample`` to ``8 * h``; both
   use the configured ``scale`` here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError

__all__ = [
    "STVD",
    "Denoiser",
    "Downscaler",
    "DownscalerOutput",
    "SampleOutput",
    "STVDConfig",
    "SpatialLinearAttention",
    "TemporalAttention",
    "TemporalLinearAttention",
    "sigmoid_beta_schedule",
]


@dataclass
class STVDConfig:
    """Hyper-parameters; the defaults are the paper's (public ``config.py``).

    Attributes:
        lr_channels: coarse input channels (11 with ``multi``, 1 for precipitation only).
        use_topo: append the fine topography channel to the conditioning.
        scale: upsampling factor (C48 -> C384: 8).
        dim: base width; ``dim_mults``: width multipliers per level (the last level is not
            downsampled).
        heads, dim_head: attention heads and head width.
        fourier_dim: random Fourier features of the diffusion time (public: 32, random).
        timesteps: diffusion steps T (1500); ``sampling_steps``: DDIM steps (20);
        ddim_eta: 0 (deterministic DDIM); ``clip_x0``: clip the predicted residual to
        [-clip, clip] while sampling (public: 1).
        schedule_start, schedule_end, schedule_tau: sigmoid schedule (-3, 3, 1).
        det_weight: weight of an extra MSE loss on the downscaler output; 0 = the paper/public
            code (diffusion loss only, end to end).
    """

    lr_channels: int = 11
    use_topo: bool = True
    scale: int = 8
    dim: int = 64
    dim_mults: tuple[int, ...] = (1, 1, 2, 2, 3, 4)
    heads: int = 4
    dim_head: int = 32
    groups: int = 8
    fourier_dim: int = 32
    timesteps: int = 1500
    sampling_steps: int = 20
    ddim_eta: float = 0.0
    clip_x0: float | None = 1.0
    schedule_start: float = -3.0
    schedule_end: float = 3.0
    schedule_tau: float = 1.0
    det_weight: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def tiny(cls, **kw: object) -> STVDConfig:
        """A CPU-sized configuration for tests and the demo (same components)."""
        base: dict[str, object] = dict(dim=16, dim_mults=(1, 2, 2), heads=2, dim_head=8,
                                       groups=4, fourier_dim=16)
        base.update(kw)
        return cls(**base)  # type: ignore[arg-type]

    @property
    def cond_channels(self) -> int:
        return self.lr_channels + int(self.use_topo)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["dim_mults"] = list(self.dim_mults)
        return d


# ------------------------------------------------------------------------------ blocks


class _ChannelNorm(nn.Module):
    """Layer norm over channels at every pixel (learned gain)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        d = x - x.mean(dim=1, keepdim=True)
        return d * (d.square().mean(dim=1, keepdim=True) + 1e-5).rsqrt() * self.g


class ResBlock(nn.Module):
    """Two conv-GroupNorm-SiLU blocks; a time embedding scales and shifts the first one."""

    def __init__(self, dim_in: int, dim_out: int, groups: int, time_dim: int | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, dim_out)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
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


def _linear_attention(q: Tensor, k: Tensor, v: Tensor, scale: float, n: int) -> Tensor:
    """Efficient (linear) attention: q softmax over features, k softmax over tokens.

    Shapes ``(..., d, n_tokens)``; returns ``(..., d_v, n_tokens)``.
    """
    q = q.softmax(dim=-2) * scale
    k = k.softmax(dim=-1)
    v = v / n
    d, tokens = q.shape[-2], q.shape[-1]
    if d * v.shape[-2] <= tokens * tokens:
        ctx = torch.einsum("...dn,...en->...de", k, v)
        return torch.einsum("...de,...dn->...en", ctx, q)
    # same product, associated the other way: (v k^T) q = v (k^T q), cheaper when the
    # feature dimension is large (temporal attention: d = c * x * y, few frame tokens)
    return torch.einsum("...em,...mn->...en", v, torch.einsum("...dm,...dn->...mn", k, q))


class SpatialLinearAttention(nn.Module):
    """Linear attention over the pixels of each frame (section 3.1), pre-norm, residual."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = _ChannelNorm(dim)
        self.qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.out = nn.Sequential(nn.Conv2d(heads * dim_head, dim, 1), _ChannelNorm(dim))

    def forward(self, x: Tensor, frames: int) -> Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        o = _linear_attention(q, k, v, self.scale, h * w)
        out: Tensor = x + self.out(o.reshape(b, -1, h, w))
        return out


def _to_frames(t: Tensor, frames: int, heads: int) -> Tensor:
    """``(B*T, heads*c, H, W)`` -> ``(B, heads, c*H*W, T)``: one token per frame."""
    bt, ch, h, w = t.shape
    b = bt // frames
    t = t.reshape(b, frames, heads, ch // heads, h, w)
    return t.permute(0, 2, 3, 4, 5, 1).reshape(b, heads, -1, frames)


def _from_frames(t: Tensor, frames: int, heads: int, h: int, w: int) -> Tensor:
    b = t.shape[0]
    t = t.reshape(b, heads, -1, h, w, frames).permute(0, 5, 1, 2, 3, 4)
    return t.reshape(b * frames, -1, h, w)


class TemporalLinearAttention(nn.Module):
    """Linear attention across the frames of a clip, each frame one token of its flattened
    ``(c, x, y)`` features (section 3.1; public ``LACross``), pre-norm, residual."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = _ChannelNorm(dim)
        self.qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.out = nn.Sequential(nn.Conv2d(heads * dim_head, dim, 1), _ChannelNorm(dim))

    def forward(self, x: Tensor, frames: int) -> Tensor:
        _, _, h, w = x.shape
        q, k, v = (_to_frames(t, frames, self.heads)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        o = _linear_attention(q, k, v, self.scale, h * w)
        out: Tensor = x + self.out(_from_frames(o, frames, self.heads, h, w))
        return out


class TemporalAttention(nn.Module):
    """Full softmax attention across frames at the bottleneck (public ``ACross``); also
    returns the ``(B, heads, T, T)`` attention weights."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = _ChannelNorm(dim)
        self.qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.out = nn.Conv2d(heads * dim_head, dim, 1)

    def forward(self, x: Tensor, frames: int) -> tuple[Tensor, Tensor]:
        _, _, h, w = x.shape
        q, k, v = (_to_frames(t, frames, self.heads)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        # the token dimension c*x*y is large: scale by its size for a stable softmax
        sim = torch.einsum("bhdi,bhdj->bhij", q, k) * self.scale / math.sqrt(h * w)
        attn = sim.softmax(dim=-1)
        o = torch.einsum("bhij,bhdj->bhdi", attn, v)
        return x + self.out(_from_frames(o, frames, self.heads, h, w)), attn


class _SpatialAttention(nn.Module):
    """Softmax attention over the pixels of a frame (bottleneck), pre-norm, residual."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = _ChannelNorm(dim)
        self.qkv = nn.Conv2d(dim, 3 * heads * dim_head, 1, bias=False)
        self.out = nn.Conv2d(heads * dim_head, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w).transpose(-1, -2)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        o = F.scaled_dot_product_attention(q, k, v)
        out: Tensor = x + self.out(o.transpose(-1, -2).reshape(b, -1, h, w))
        return out


class _Level(nn.Module):
    def __init__(self, cin: int, cout: int, ctx: int, cfg: STVDConfig, last: bool,
                 time_dim: int | None) -> None:
        super().__init__()
        g, hd, dh = cfg.groups, cfg.heads, cfg.dim_head
        self.block1 = ResBlock(cin + ctx, cin, g, time_dim)
        self.block2 = ResBlock(cin + ctx, cin, g, time_dim)
        self.attn = SpatialLinearAttention(cin, hd, dh)
        self.tattn = TemporalLinearAttention(cin, hd, dh) if last else None
        self.down = (nn.Conv2d(cin, cout, 3, padding=1) if last
                     else nn.Conv2d(cin, cout, 4, stride=2, padding=1))


class _UNet(nn.Module):
    """Shared encoder/decoder; ``context`` (if given) is concatenated in the encoder."""

    fourier: Tensor

    def __init__(self, cfg: STVDConfig, in_channels: int, with_time: bool,
                 with_context: bool) -> None:
        super().__init__()
        dim = cfg.dim
        dims = [dim, *(dim * m for m in cfg.dim_mults)]
        pairs = list(zip(dims[:-1], dims[1:], strict=True))
        self.n_levels = len(pairs)
        time_dim = 4 * dim if with_time else None
        if with_time:
            self.register_buffer("fourier", torch.randn(cfg.fourier_dim // 2))
            self.time_mlp = nn.Sequential(nn.Linear(cfg.fourier_dim + 1, 4 * dim), nn.GELU(),
                                          nn.Linear(4 * dim, 4 * dim))
        self.init = nn.Conv2d(in_channels, dim, 7, padding=3)
        self.downs = nn.ModuleList(
            _Level(a, b, a if with_context else 0, cfg, i == len(pairs) - 1, time_dim)
            for i, (a, b) in enumerate(pairs)
        )
        mid = dims[-1]
        g, hd, dh = cfg.groups, cfg.heads, cfg.dim_head
        self.mid1 = ResBlock(mid * (2 if with_context else 1), mid, g, time_dim)
        self.mid_attn = _SpatialAttention(mid, hd, dh)
        self.mid2 = ResBlock(mid, mid, g, time_dim)
        self.mid_tattn = TemporalAttention(mid, hd, dh)
        self.mid3 = ResBlock(mid, mid, g, time_dim)
        self.ups = nn.ModuleList()
        for i, (a, b) in enumerate(reversed(pairs)):
            last = i == len(pairs) - 1
            self.ups.append(nn.ModuleList([
                ResBlock(b + a, b, g, time_dim), ResBlock(b + a, b, g, time_dim),
                SpatialLinearAttention(b, hd, dh),
                nn.Conv2d(b, a, 3, padding=1) if last else nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(b, a, 3, padding=1)),
            ]))
        self.final = ResBlock(2 * dim, dim, g, time_dim)
        self.out = nn.Conv2d(dim, 1, 1)
        self.multiple = 2 ** (len(pairs) - 1)

    def embed_time(self, t: Tensor) -> Tensor:
        x = t.float()[:, None]
        f = x * self.fourier[None] * 2 * math.pi
        out: Tensor = self.time_mlp(torch.cat([x, f.sin(), f.cos()], dim=-1))
        return out

    def forward(self, x: Tensor, frames: int, t: Tensor | None = None,
                context: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor], Tensor]:
        temb = self.embed_time(t) if t is not None else None
        x = self.init(x)
        r = x
        skips: list[Tensor] = []
        feats: list[Tensor] = []
        ci = 0
        for lvl in self.downs:
            assert isinstance(lvl, _Level)
            for block in (lvl.block1, lvl.block2):
                if context is not None:
                    x = torch.cat([x, context[ci]], dim=1)
                    ci += 1
                x = block(x, temb)
                feats.append(x)
                skips.append(x)
            x = lvl.attn(x, frames)
            if lvl.tattn is not None:
                x = lvl.tattn(x, frames)
            x = lvl.down(x)
        if context is not None:
            x = torch.cat([x, context[ci]], dim=1)
        x = self.mid1(x, temb)
        feats.append(x)
        x = self.mid_attn(x)
        x = self.mid2(x, temb)
        x, attn = self.mid_tattn(x, frames)
        x = self.mid3(x, temb)
        for stage in self.ups:
            assert isinstance(stage, nn.ModuleList)
            b1, b2, att, up = stage
            x = b1(torch.cat([x, skips.pop()], dim=1), temb)
            x = b2(torch.cat([x, skips.pop()], dim=1), temb)
            x = att(x, frames)
            x = up(x)
        x = self.final(torch.cat([x, r], dim=1), temb)
        out: Tensor = self.out(x)
        return out, feats, attn


class DownscalerOutput(NamedTuple):
    """``warped``: ``(B*T, 1, H, W)`` mean prediction; ``context``: encoder features for the
    denoiser; ``attention``: bottleneck temporal attention ``(B, heads, T, T)``."""

    warped: Tensor
    context: list[Tensor]
    attention: Tensor


class Downscaler(nn.Module):
    """Deterministic spatio-temporal downscaler (section 3.1, public ``Flow``)."""

    def __init__(self, cfg: STVDConfig) -> None:
        super().__init__()
        self.net = _UNet(cfg, cfg.cond_channels, with_time=False, with_context=False)

    def forward(self, cond: Tensor, frames: int) -> DownscalerOutput:
        out, feats, attn = self.net(cond, frames)
        return DownscalerOutput(out, feats, attn)


class Denoiser(nn.Module):
    """Residual denoiser (section 3.2): input ``cat[x_t, warped, cond]``, time ``t``, and the
    downscaler's context concatenated in the encoder; predicts ``v``."""

    def __init__(self, cfg: STVDConfig) -> None:
        super().__init__()
        self.net = _UNet(cfg, 2 + cfg.cond_channels, with_time=True, with_context=True)

    def forward(self, x: Tensor, t: Tensor, context: list[Tensor], frames: int) -> Tensor:
        out: Tensor = self.net(x, frames, t, context)[0]
        return out


def sigmoid_beta_schedule(timesteps: int, start: float = -3.0, end: float = 3.0,
                          tau: float = 1.0) -> Tensor:
    """Sigmoid schedule (Jabri et al. 2023, used by STVD section 3.2): ``alpha_bar(t)`` follows
    a rescaled ``-sigmoid((t (end - start) + start) / tau)`` on t in [0, 1]; returns betas
    (float64, clipped to [0, 0.999])."""
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))
    ab = (-torch.sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    ab = ab / ab[0]
    return torch.clip(1 - ab[1:] / ab[:-1], 0, 0.999)


class SampleOutput(NamedTuple):
    """All in the dataset's [0, 1] space, shapes ``(S, B, T, 1, H, W)`` for ``samples`` and
    ``residual`` (S ensemble members) and ``(B, T, 1, H, W)`` for ``warped``; ``attention``
    is the downscaler's bottleneck temporal attention."""

    samples: Tensor
    warped: Tensor
    residual: Tensor
    attention: Tensor


class STVD(nn.Module):
    """Downscaler + residual diffusion, trained jointly (section 3.3).

    Inputs everywhere: ``lr`` ``(B, T, C, h, w)`` and ``topo`` ``(B, T, 1, H, W)`` in the
    dataset's [0, 1] space (``H = scale * h``); ``hr`` ``(B, T, 1, H, W)`` likewise.
    """

    alphas_cumprod: Tensor

    def __init__(self, cfg: STVDConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or STVDConfig()
        self.downscaler = Downscaler(self.cfg)
        self.denoiser = Denoiser(self.cfg)
        betas = sigmoid_beta_schedule(self.cfg.timesteps, self.cfg.schedule_start,
                                      self.cfg.schedule_end, self.cfg.schedule_tau)
        ab = torch.cumprod(1 - betas, dim=0)
        self.register_buffer("alphas_cumprod", ab.float())
        #: dataset normalisation statistics restored from a checkpoint (see pipeline)
        self.norm_stats: dict[str, dict[str, dict[str, float]]] | None = None

    # ---------------------------------------------------------------- conditioning
    def condition(self, lr: Tensor, topo: Tensor | None) -> Tensor:
        """``(B*T, C(+1), H, W)``: coarse channels in [-1, 1] upsampled bilinearly by
        ``scale``, plus topography."""
        if lr.ndim != 5:
            raise InvalidInputError(f"lr must be (B, T, C, h, w), got {tuple(lr.shape)}")
        b, t, c, h, w = lr.shape
        cfg = self.cfg
        if c != cfg.lr_channels:
            raise InvalidInputError(f"lr has {c} channels, the model expects {cfg.lr_channels}")
        mult = self.downscaler.net.multiple
        if (h * cfg.scale) % mult or (w * cfg.scale) % mult:
            raise InvalidInputError(
                f"fine size {(h * cfg.scale, w * cfg.scale)} must be divisible by {mult}"
            )
        x = F.interpolate((lr * 2 - 1).reshape(b * t, c, h, w), scale_factor=cfg.scale,
                          mode="bilinear", align_corners=False)
        if cfg.use_topo:
            if topo is None or topo.shape != (b, t, 1, h * cfg.scale, w * cfg.scale):
                got = None if topo is None else tuple(topo.shape)
                raise InvalidInputError(
                    f"topo must be {(b, t, 1, h * cfg.scale, w * cfg.scale)}, got {got}"
                )
            x = torch.cat([x, (topo * 2 - 1).reshape(b * t, 1, *x.shape[-2:])], dim=1)
        if not torch.isfinite(x).all():
            raise InvalidInputError("NaN or inf in the coarse inputs or topography")
        return x

    def _coef(self, t: Tensor) -> tuple[Tensor, Tensor]:
        ab = self.alphas_cumprod[t][:, None, None, None]
        return ab.sqrt(), (1 - ab).sqrt()

    # ---------------------------------------------------------------- training
    def loss(self, lr: Tensor, topo: Tensor | None, hr: Tensor,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Joint loss (section 3.3): v-prediction L2 on the residual ``hr - warped``
        (+ ``det_weight`` x MSE of ``warped``). Returns ``loss``, ``diffusion``, ``det_mse``."""
        b, t = lr.shape[:2]
        cond = self.condition(lr, topo)
        y = hr.reshape(b * t, 1, *hr.shape[-2:]) * 2 - 1
        if y.shape[-2:] != cond.shape[-2:]:
            raise InvalidInputError(f"hr is {tuple(hr.shape)}, expected fine size "
                                    f"{tuple(cond.shape[-2:])}")
        warped, context, _ = self.downscaler(cond, t)
        x0 = y - warped
        steps = torch.randint(0, self.cfg.timesteps, (b * t,), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        sa, sb = self._coef(steps)
        xt = sa * x0 + sb * noise
        v_target = sa * noise - sb * x0
        v = self.denoiser(torch.cat([xt, warped, cond], dim=1), steps, context, t)
        diff = F.mse_loss(v, v_target)
        det = F.mse_loss(warped, y)
        return {"loss": diff + self.cfg.det_weight * det, "diffusion": diff, "det_mse": det}

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def downscale(self, lr: Tensor, topo: Tensor | None) -> Tensor:
        """Deterministic prediction ``(B, T, 1, H, W)`` in [0, 1] space."""
        b, t = lr.shape[:2]
        w: Tensor = self.downscaler(self.condition(lr, topo), t).warped
        return ((w + 1) / 2).reshape(b, t, 1, *w.shape[-2:])

    @torch.no_grad()
    def sample(self, lr: Tensor, topo: Tensor | None, n_samples: int = 1,
               steps: int | None = None, eta: float | None = None,
               generator: torch.Generator | None = None) -> SampleOutput:
        """Ensemble of ``n_samples`` downscaled clips by DDIM (section 3.2)."""
        cfg = self.cfg
        steps = steps or cfg.sampling_steps
        eta = cfg.ddim_eta if eta is None else eta
        b, t = lr.shape[:2]
        cond = self.condition(lr, topo)
        warped, context, attn = self.downscaler(cond, t)
        s = n_samples

        def rep(z: Tensor) -> Tensor:
            return z.repeat(s, 1, 1, 1)  # members outermost

        cond_s, warped_s, ctx_s = rep(cond), rep(warped), [rep(c) for c in context]
        x = torch.randn(warped_s.shape, generator=generator)
        times = torch.linspace(-1, cfg.timesteps - 1, steps + 1).long().tolist()[::-1]
        for now, nxt in zip(times[:-1], times[1:], strict=True):
            tt = torch.full((x.shape[0],), now, dtype=torch.long)
            v = self.denoiser(torch.cat([x, warped_s, cond_s], dim=1), tt, ctx_s, t)
            sa, sb = self._coef(tt)
            x0 = sa * x - sb * v
            if cfg.clip_x0 is not None:
                x0 = x0.clamp(-cfg.clip_x0, cfg.clip_x0)
            eps = (x - sa * x0) / sb
            if nxt < 0:
                x = x0
                continue
            a, a_next = self.alphas_cumprod[now], self.alphas_cumprod[nxt]
            sigma = eta * ((1 - a / a_next) * (1 - a_next) / (1 - a)).sqrt()
            c = (1 - a_next - sigma**2).sqrt()
            x = x0 * a_next.sqrt() + c * eps
            if eta > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator)
        shape = (s, b, t, 1, *x.shape[-2:])
        res = x.reshape(shape)
        w = warped.reshape(shape[1:])
        full = w[None] + res
        return SampleOutput((full + 1) / 2, (w + 1) / 2, res / 2, attn)
