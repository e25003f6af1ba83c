"""STVD: deterministic downscaler with temporal attention + residual video diffusion.

Srivastava et al., "Precipitation Downscaling with Spatiotemporal Video Diffusion", NeurIPS
2024 (arXiv 2312.06071), section 3 and Fig. 2; defaults from mandt-lab/STVD ``config.py``.

* :class:`Downscaler` (section 3.1, the public code's ``Flow``): a UNet on the bilinearly
  upsampled coarse channels plus topography. Every stage has two ResBlocks with spatial
  linear attention after the first and temporal attention after the second
  (:func:`temporal_layout`): none at the first level, per-pixel temporal attention at the
  middle levels (:class:`PixelTemporalAttention`, public ``LACross_perc``), whole-frame
  temporal linear attention at the deepest level and the deepest decoder stage
  (:class:`TemporalLinearAttention`, public ``LACross``); the bottleneck has spatial softmax
  attention and full softmax attention across frames (:class:`TemporalAttention`, public
  ``ACross``). It returns the mean prediction ``warped`` and its ``context`` features.
* :class:`Denoiser` (section 3.2, public ``Unet``): the same UNet family with a
  random-Fourier-feature time embedding; input ``cat[x_t, warped, cond]``; the downscaler's
  ``context`` is concatenated before every encoder ResBlock and before the first **and
  second** bottleneck ResBlocks; whole-frame temporal attention at the deepest encoder level
  and the deepest decoder stage, per-pixel temporal attention at the middle decoder stages.
  Blocks use weight-standardised convolutions, pixel-unshuffle down-sampling and
  nearest + conv up-sampling, as published (:mod:`.blocks`).
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

Other deliberate differences: the bottleneck temporal attention returns softmax weights
(public: logits) for inspection, and ``det_weight`` (default 0 = published) can add an MSE
term on the downscaler output for short CPU runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError
from ...nn.diffusion import ddim_sample, ddim_timesteps, sigmoid_betas
from .blocks import (
    Downsample,
    PixelTemporalAttention,
    ResBlock,
    SpatialAttention,
    SpatialLinearAttention,
    TemporalAttention,
    TemporalLinearAttention,
    Upsample,
    linear_attention,
)

__all__ = [
    "STVD",
    "Denoiser",
    "Downscaler",
    "DownscalerOutput",
    "PixelTemporalAttention",
    "SampleOutput",
    "STVDConfig",
    "SpatialAttention",
    "SpatialLinearAttention",
    "TemporalAttention",
    "TemporalLinearAttention",
    "linear_attention",
    "sigmoid_beta_schedule",
    "temporal_layout",
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


# ------------------------------------------------------------------------------ UNets

_Temporal = TemporalLinearAttention | PixelTemporalAttention | None


def _temporal(kind: str, dim: int, cfg: STVDConfig) -> _Temporal:
    if kind == "frame":
        return TemporalLinearAttention(dim, cfg.heads, cfg.dim_head)
    if kind == "pixel":
        return PixelTemporalAttention(dim, cfg.heads, cfg.dim_head)
    return None


class _Stage(nn.Module):
    """One resolution: two ResBlocks, spatial linear attention after the first, temporal
    attention (``"frame"``, ``"pixel"`` or none) after the second, then a resampler."""

    def __init__(self, in1: int, in2: int, dim: int, temporal: str, resample: nn.Module,
                 cfg: STVDConfig, time_dim: int | None) -> None:
        super().__init__()
        self.block1 = ResBlock(in1, dim, cfg.groups, time_dim)
        self.block2 = ResBlock(in2, dim, cfg.groups, time_dim)
        self.attn = SpatialLinearAttention(dim, cfg.heads, cfg.dim_head)
        self.tattn = _temporal(temporal, dim, cfg)
        self.resample = resample
        self.temporal = temporal


def temporal_layout(levels: int, role: str) -> tuple[list[str], list[str]]:
    """Temporal attention per encoder level and per decoder stage (deepest first), as in the
    public ``Flow`` (``role="downscaler"``) and ``Unet`` (``role="denoiser"``) constructors:

    * downscaler encoder: none at level 0, per-pixel at the middle levels, whole-frame at the
      deepest level; decoder: whole-frame at the deepest stage, none elsewhere;
    * denoiser encoder: whole-frame at the deepest level only; decoder: whole-frame at the
      deepest stage, per-pixel at the middle stages, none at the last.
    """
    last = levels - 1
    if role == "downscaler":
        enc = ["none" if i == 0 else "frame" if i == last else "pixel" for i in range(levels)]
        dec = ["frame" if i == 0 else "none" for i in range(levels)]
    elif role == "denoiser":
        enc = ["frame" if i == last else "none" for i in range(levels)]
        dec = ["frame" if i == 0 else "none" if i == last else "pixel" for i in range(levels)]
    else:
        raise ValueError(f"unknown role {role!r}")
    return enc, dec


class _UNet(nn.Module):
    """The public ``Flow`` (``role="downscaler"``: no time, returns its ``context``) and
    ``Unet`` (``role="denoiser"``: time embedding, ``context`` concatenated before every
    encoder ResBlock and before **both** of the first two bottleneck ResBlocks).

    Context features (2 per level + 2 at the bottleneck): each encoder level gives its
    output after ``block1 + spatial attention`` and after ``block2 + temporal attention``;
    the bottleneck gives its output after ``mid1 + spatial attention`` and after ``mid2 +
    temporal attention``. The same two per-level outputs are the decoder's skips.
    """

    fourier: Tensor

    def __init__(self, cfg: STVDConfig, in_channels: int, role: str) -> None:
        super().__init__()
        if len(cfg.dim_mults) < 2:
            raise InvalidInputError("STVD needs at least two levels (len(dim_mults) >= 2)")
        dim = cfg.dim
        dims = [dim, *(dim * m for m in cfg.dim_mults)]
        pairs = list(zip(dims[:-1], dims[1:], strict=True))
        n = len(pairs)
        self.role = role
        den = role == "denoiser"
        time_dim = 4 * dim if den else None
        if den:
            self.register_buffer("fourier", torch.randn(cfg.fourier_dim // 2))
            self.time_mlp = nn.Sequential(nn.Linear(cfg.fourier_dim + 1, 4 * dim), nn.GELU(),
                                          nn.Linear(4 * dim, 4 * dim))
        enc, dec = temporal_layout(n, role)
        self.init = nn.Conv2d(in_channels, dim, 7, padding=3)
        c = 2 if den else 1  # context doubles the input of the denoiser's encoder blocks
        self.downs = nn.ModuleList(
            _Stage(c * a, c * a, a, enc[i],
                   nn.Conv2d(a, b, 3, padding=1) if i == n - 1 else Downsample(a, b),
                   cfg, time_dim)
            for i, (a, b) in enumerate(pairs)
        )
        mid = dims[-1]
        self.mid1 = ResBlock(c * mid, mid, cfg.groups, time_dim)
        self.mid_attn = SpatialAttention(mid, cfg.heads, cfg.dim_head)
        self.mid2 = ResBlock(c * mid, mid, cfg.groups, time_dim)
        self.mid_tattn = TemporalAttention(mid, cfg.heads, cfg.dim_head)
        self.mid3 = ResBlock(mid, mid, cfg.groups, time_dim)
        self.ups = nn.ModuleList(
            _Stage(b + a, b + a, b, dec[i],
                   nn.Conv2d(b, a, 3, padding=1) if i == n - 1 else Upsample(b, a),
                   cfg, time_dim)
            for i, (a, b) in enumerate(reversed(pairs))
        )
        self.final = ResBlock(2 * dim, dim, cfg.groups, time_dim)
        self.out = nn.Conv2d(dim, 1, 1)
        self.multiple = 2 ** (n - 1)

    def embed_time(self, t: Tensor) -> Tensor:
        """Random Fourier features ``[t, sin(2 pi w t), cos(2 pi w t)]`` then an MLP."""
        x = t.float()[:, None]
        f = x * self.fourier[None] * 2 * math.pi
        out: Tensor = self.time_mlp(torch.cat([x, f.sin(), f.cos()], dim=-1))
        return out

    @staticmethod
    def _tattn(stage: _Stage, x: Tensor, frames: int) -> Tensor:
        return x if stage.tattn is None else stage.tattn(x, frames)

    def forward(self, x: Tensor, frames: int, t: Tensor | None = None,
                context: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor], Tensor]:
        if (self.role == "denoiser") != (context is not None):
            raise ValueError("the denoiser needs the downscaler context; the downscaler none")
        temb = self.embed_time(t) if t is not None and self.role == "denoiser" else None
        ctx = iter(context or [])

        def feed(z: Tensor) -> Tensor:
            return torch.cat([z, next(ctx)], dim=1) if context is not None else z

        x = self.init(x)
        r = x
        skips: list[Tensor] = []
        for stage in self.downs:
            assert isinstance(stage, _Stage)
            x = stage.attn(stage.block1(feed(x), temb), frames)
            skips.append(x)
            x = self._tattn(stage, stage.block2(feed(x), temb), frames)
            skips.append(x)
            x = stage.resample(x)
        x = self.mid_attn(self.mid1(feed(x), temb), frames)
        mid_feats = [x]
        x, attn = self.mid_tattn(self.mid2(feed(x), temb), frames)
        mid_feats.append(x)
        x = self.mid3(x, temb)
        feats = skips + mid_feats  # the downscaler's context, in the order it is consumed
        for stage in self.ups:
            assert isinstance(stage, _Stage)
            x = stage.attn(stage.block1(torch.cat([x, skips.pop()], dim=1), temb), frames)
            x = self._tattn(stage, stage.block2(torch.cat([x, skips.pop()], dim=1), temb),
                            frames)
            x = stage.resample(x)
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
        self.net = _UNet(cfg, cfg.cond_channels, role="downscaler")

    def forward(self, cond: Tensor, frames: int) -> DownscalerOutput:
        out, feats, attn = self.net(cond, frames)
        return DownscalerOutput(out, feats, attn)


class Denoiser(nn.Module):
    """Residual denoiser (section 3.2): input ``cat[x_t, warped, cond]``, time ``t``, and the
    downscaler's context concatenated in the encoder; predicts ``v``."""

    def __init__(self, cfg: STVDConfig) -> None:
        super().__init__()
        self.net = _UNet(cfg, 2 + cfg.cond_channels, role="denoiser")

    def forward(self, x: Tensor, t: Tensor, context: list[Tensor], frames: int) -> Tensor:
        out: Tensor = self.net(x, frames, t, context)[0]
        return out


def sigmoid_beta_schedule(timesteps: int, start: float = -3.0, end: float = 3.0,
                          tau: float = 1.0) -> Tensor:
    """Sigmoid schedule (Jabri et al. 2023, used by STVD section 3.2): the project's one
    implementation, :func:`geoneurips.nn.diffusion.sigmoid_betas` (betas, float64)."""
    return sigmoid_betas(timesteps, start, end, tau)


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

        def denoise(x_t: Tensor, tt: Tensor) -> Tensor:
            out: Tensor = self.denoiser(torch.cat([x_t, warped_s, cond_s], dim=1), tt.long(),
                                        ctx_s, t)
            return out

        clip = cfg.clip_x0
        x = ddim_sample(
            denoise,
            torch.randn(warped_s.shape, generator=generator),
            self.alphas_cumprod,
            ddim_timesteps(cfg.timesteps, steps, "trailing"),
            prediction="v",
            eta=eta,
            generator=generator,
            clip_x0=None if clip is None else (lambda z: z.clamp(-clip, clip)),
        )
        shape = (s, b, t, 1, *x.shape[-2:])
        res = x.reshape(shape)
        w = warped.reshape(shape[1:])
        full = w[None] + res
        return SampleOutput((full + 1) / 2, (w + 1) / 2, res / 2, attn)
