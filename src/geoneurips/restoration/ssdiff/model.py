"""SSNet, the denoiser of SSDiff (Zhong et al., "SSDiff: Spatial-spectral Integrated Diffusion
Model for Remote Sensing Pansharpening", NeurIPS 2024, arXiv 2404.11537).

The network predicts the clean *residual* ``x0 = gt - lms`` from the noisy residual ``x_t``,
the diffusion time ``t`` and the conditions (``lms``, ``pan``, ``ms``); see
:mod:`geoneurips.restoration.ssdiff.diffusion` for the diffusion around it.

Components (paper Sec. 3 "Method", Fig. 2; names as in the paper):

- **Time embedding**: sinusoidal features of ``t`` (``model_channels`` wide) followed by
  Linear -> SiLU -> Linear to ``4 * model_channels`` (:class:`TimeEmbedding`).
- **Spatial branch** (PAN side): ``cat[pan, x_t]`` -> 3x3 conv -> time-embedding injection
  (:class:`BranchInput`), then one :class:`ResBlock` per U-Net level.
- **Spectral branch** (LMS side): ``cat[lms, x_t]`` -> 3x3 conv -> time-embedding injection,
  then one :class:`APFM` per level, which fuses the spatial features into the spectral ones.
- **APFM** (alternating projection fusion module, Theorem 1 / Fig. 3): pixel tokens; a
  spatial self-attention map from the spatial branch and a spectral (channel) attention map
  from the spectral branch; their two projections are fused by an element-wise product.
- **FMIM** (frequency modulation inter-branch module): before each APFM the spatial features
  have their lowest frequencies scaled down (``fourier_scales``, FreeU-like, so that APFM
  sees mainly PAN detail) and the first half of the spectral channels is amplified
  (``spectral_gains``) (:class:`FMIM`).
- **Shared down/up-sampling**: the *same* :class:`Down` and :class:`Up` modules serve both
  branches (one U-shape with three scales ``dim -> 2 dim -> 4 dim -> 2 dim -> dim``).
- **Residual target**: the output head predicts ``gt - lms``; a learned PixelShuffle
  up-sampling of the MS is added to it (``skip0`` in the released code).

Paper defaults: :meth:`SSNetConfig.paper` (``dim=32, model_channels=128, dim_head=16``,
gains 1.2/1.4/1.6, scales 0.9/0.6/0.3). :meth:`SSNetConfig.tiny` is a CPU-sized config for
tests and the demo.

:func:`branch_parameters` splits the parameters into ``spatial``, ``spectral`` and ``shared``
groups for the branch-wise alternating fine-tuning (L-BAF) of
:mod:`geoneurips.restoration.ssdiff.pipeline`.

Notes on the released code (``Z-ypnos/SSdiff_main``, ``model/SSNet.py``, ``fusformer.py``),
written from reading it, not copied:

- The spectral-gain FMIM step multiplies the first 16/32/64/... channels, i.e. the first
  *half* of the channels for ``dim=32``; we state it as "the first half" so that other
  widths keep the paper's intent.
- GroupNorm(32, C) in the ResBlocks cannot be built for narrow tiny configs; we use
  ``gcd(32, C)`` groups, which is 32 for every paper width.
- The released ``SSNet.sample`` feeds respaced step indices to the network; our sampler
  always passes the original timesteps (see :mod:`.diffusion`).
- The released code contains unused layers (``conv_x_t``, ``raise_ms_dim``, ``raise_pan_dim``,
  the ``up0`` path of ``Up``, the max-pool path of ``Down``); they are left out here.
- The spectral attention scale of the code is ``dim_head**-0.5 * dim_head / HW`` (the spectral
  Gram matrix sums over ``HW`` tokens, so it is normalised by the token count); the paper
  writes a different power of the sizes. We follow the code, whose trained models produced
  the published numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...errors import InvalidInputError
from ...nn.embedding import sinusoidal_embedding

__all__ = [
    "APFM",
    "FMIM",
    "BranchInput",
    "Down",
    "FeedForward",
    "ResBlock",
    "SSNet",
    "SSNetConfig",
    "TimeEmbedding",
    "Up",
    "branch_parameters",
    "fourier_lowpass_scale",
]


# ---------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SSNetConfig:
    """Hyper-parameters of :class:`SSNet`.

    Attributes:
        ms_channels: MS bands (8 for WorldView-3, 4 for QuickBird/GaoFen-2).
        pan_channels: PAN bands (1).
        dim: feature width at full resolution (``dim, 2 dim, 4 dim`` over the three scales).
        model_channels: width of the sinusoidal time features (embedding is 4x that).
        dim_head: APFM head width; heads per level = width // dim_head.
        mlp_ratio: APFM feed-forward hidden width / width.
        rb_ratio: ResBlock hidden width / width.
        spectral_gains: FMIM gains ``b`` for levels 0, 1, 2 (mirrored on the way up).
        fourier_scales: FMIM low-frequency scales ``s`` for levels 0, 1, 2 (mirrored).
        fourier_threshold: half-size of the centred low-frequency square that is scaled.
        ratio: PAN/MS resolution ratio (the MS skip is PixelShuffle(ratio)).
        input_norm: ``"bn"`` (paper code) or ``"gn"``: norm of the branch input layers.
        dropout: dropout rate (0 in the paper).
    """

    ms_channels: int = 8
    pan_channels: int = 1
    dim: int = 32
    model_channels: int = 128
    dim_head: int = 16
    mlp_ratio: float = 0.5
    rb_ratio: float = 0.5
    spectral_gains: tuple[float, float, float] = (1.2, 1.4, 1.6)
    fourier_scales: tuple[float, float, float] = (0.9, 0.6, 0.3)
    fourier_threshold: int = 1
    ratio: int = 4
    input_norm: str = "bn"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.ms_channels < 1 or self.pan_channels < 1:
            raise InvalidInputError(
                f"SSNetConfig: ms_channels={self.ms_channels} and pan_channels="
                f"{self.pan_channels} must be >= 1"
            )
        if self.dim < 2 or self.dim % 2 or self.dim_head < 1 or self.dim % self.dim_head:
            raise InvalidInputError(
                f"SSNetConfig: dim={self.dim} must be even and a multiple of "
                f"dim_head={self.dim_head}"
            )
        if self.model_channels < 2 or self.model_channels % 2:
            raise InvalidInputError(
                f"SSNetConfig: model_channels={self.model_channels} must be even and >= 2"
            )
        if self.ratio < 1:
            raise InvalidInputError(f"SSNetConfig: ratio={self.ratio} must be >= 1")
        if self.input_norm not in ("bn", "gn"):
            raise InvalidInputError(
                f"SSNetConfig: input_norm must be 'bn' or 'gn', got {self.input_norm!r}"
            )
        if len(self.spectral_gains) != 3 or len(self.fourier_scales) != 3:
            raise InvalidInputError("SSNetConfig: spectral_gains and fourier_scales need 3 values")

    @classmethod
    def paper(cls, ms_channels: int = 8) -> SSNetConfig:
        """The released configuration (``SSNet(dim=32, model_channels=128, dim_head=16)``)."""
        return cls(ms_channels=ms_channels)

    @classmethod
    def tiny(cls, ms_channels: int = 8) -> SSNetConfig:
        """A CPU-sized configuration for tests and the demo (about 60k parameters)."""
        return cls(ms_channels=ms_channels, dim=8, model_channels=16, dim_head=8)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored in checkpoints)."""
        d = asdict(self)
        d["spectral_gains"] = list(self.spectral_gains)
        d["fourier_scales"] = list(self.fourier_scales)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SSNetConfig:
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise InvalidInputError(f"SSNetConfig: unknown keys {sorted(unknown)}")
        kw = dict(d)
        for key in ("spectral_gains", "fourier_scales"):
            if key in kw:
                kw[key] = tuple(float(v) for v in kw[key])
        return cls(**kw)


# ----------------------------------------------------------------------------- time embedding


class TimeEmbedding(nn.Module):
    """Sinusoidal(``model_channels``) -> Linear -> SiLU -> Linear (``4 * model_channels``).

    The sinusoidal features are :func:`geoneurips.nn.embedding.sinusoidal_embedding` with
    improved-diffusion's convention (its defaults: ``[cos, sin]``, ``max_period = 10000``),
    computed in float32 whatever the dtype of ``t``.
    """

    def __init__(self, model_channels: int) -> None:
        super().__init__()
        self.model_channels = model_channels
        self.out_dim = 4 * model_channels
        self.mlp = nn.Sequential(
            nn.Linear(model_channels, self.out_dim),
            nn.SiLU(),
            nn.Linear(self.out_dim, self.out_dim),
        )

    def forward(self, t: Tensor) -> Tensor:
        out: Tensor = self.mlp(sinusoidal_embedding(t.float(), self.model_channels))
        return out


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def _groups(channels: int) -> int:
    return math.gcd(32, channels)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(_groups(channels), channels)


class BranchInput(nn.Module):
    """Entry of a branch: ``conv3x3(cat[cond, x_t])``, plus ``Linear(SiLU(emb))``, then
    norm -> SiLU -> dropout -> zero-initialised 3x3 conv (``time_emb_pan/lms`` of the code)."""

    def __init__(
        self, in_channels: int, dim: int, emb_dim: int, norm: str = "bn", dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, dim, 3, 1, 1)
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, dim))
        self.out = nn.Sequential(
            _norm(norm, dim), nn.SiLU(), nn.Dropout(dropout), _zero(nn.Conv2d(dim, dim, 3, 1, 1))
        )

    def forward(self, cond: Tensor, x_t: Tensor, emb: Tensor) -> Tensor:
        h = self.conv(torch.cat([cond, x_t], dim=1))
        out: Tensor = self.out(h + self.emb(emb)[:, :, None, None])
        return out


class ResBlock(nn.Module):
    """Spatial-branch block: conv3x3 -> LeakyReLU -> conv3x3, plus the time embedding, then
    GroupNorm -> SiLU -> dropout -> zero conv, with an identity residual."""

    def __init__(self, channels: int, hidden: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = max(1, hidden)
        self.conv0 = nn.Conv2d(channels, hidden, 3, 1, 1)
        self.conv1 = nn.Conv2d(hidden, channels, 3, 1, 1)
        self.act = nn.LeakyReLU()
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, channels))
        self.out = nn.Sequential(
            nn.GroupNorm(_groups(channels), channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            _zero(nn.Conv2d(channels, channels, 3, 1, 1)),
        )

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.conv0(x)))
        h = self.out(h + self.emb(emb)[:, :, None, None])
        result: Tensor = x + h
        return result


class Down(nn.Module):
    """Shared down-sampling: 2x2 stride-2 conv -> LeakyReLU -> 1x1 conv -> depthwise 3x3 ->
    LeakyReLU (halves the size, changes the width)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 2, 2, 0),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels, out_channels, 1, 1, 0),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, groups=out_channels),
            nn.LeakyReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.body(x)
        return out


class Up(nn.Module):
    """Shared up-sampling: 2x2 transposed conv -> LeakyReLU, add the skip, 3x3 conv ->
    LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 2, 2, 0), nn.LeakyReLU())
        self.conv = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.act = nn.LeakyReLU()

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        out: Tensor = self.act(self.conv(self.up(x) + skip))
        return out


# -------------------------------------------------------------------------------------- APFM


class FeedForward(nn.Module):
    """Token MLP: Linear(C -> hidden) -> LeakyReLU -> Linear(hidden -> C)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.LeakyReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class APFM(nn.Module):
    """Alternating projection fusion module (paper Theorem 1, Fig. 3).

    With pixel tokens ``x`` (spectral branch) and ``y`` (spatial branch), both ``(B, N, C)``
    after one shared LayerNorm, and per head ``d = dim_head``:

    - spatial map ``A_spa = softmax(y W_a (y W_b)^T / sqrt(d))`` (``N x N``, from the PAN
      side) projects the spectral tokens: ``T_spa = A_spa (x W_c)``;
    - spectral map ``A_spe = softmax((x W_c)^T (x W_d) / sqrt(d) / (N / d))`` (``d x d``,
      from the MS side) projects the spatial tokens: ``T_spe = (y W_a) A_spe``;
    - fusion ``T_fus = T_spa * T_spe`` (element-wise), output linear layer and a residual on
      ``x``; then a pre-norm feed-forward block with a residual.

    ``y`` is returned unchanged by the module (the spatial branch goes on with its own
    features). The spatial projections ``W_a, W_b`` belong to the spatial branch and
    ``W_c, W_d`` to the spectral branch for L-BAF (:func:`branch_parameters`).
    """

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.norm = nn.LayerNorm(dim)
        self.spa_a = nn.Linear(dim, inner, bias=False)
        self.spa_b = nn.Linear(dim, inner, bias=False)
        self.spe_c = nn.Linear(dim, inner, bias=False)
        self.spe_d = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, max(1, mlp_dim), dropout)

    def _heads(self, t: Tensor) -> Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.dim_head).transpose(1, 2)  # b h n d

    def fuse(self, x: Tensor, y: Tensor) -> Tensor:
        """The attention part on tokens ``(B, N, C)`` (before the residual)."""
        n = x.shape[1]
        xn, yn = self.norm(x), self.norm(y)
        ya, yb = self._heads(self.spa_a(yn)), self._heads(self.spa_b(yn))
        xc, xd = self._heads(self.spe_c(xn)), self._heads(self.spe_d(xn))
        # the scales are folded into one factor before the products (cheaper than scaling
        # the N x N map; identical result)
        a_spa = torch.softmax((ya * self.scale) @ yb.transpose(-2, -1), dim=-1)  # b h n n
        spe_scale = self.scale * self.dim_head / n
        a_spe = torch.softmax((xc * spe_scale).transpose(-2, -1) @ xd, dim=-1)  # b h d d
        t_spa = a_spa @ xc
        t_spe = ya @ a_spe
        fused = (t_spa * t_spe).transpose(1, 2).reshape(x.shape[0], n, -1)
        out: Tensor = self.to_out(fused)
        return out

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Fuse feature maps ``x`` (spectral) and ``y`` (spatial), both ``(B, C, H, W)``."""
        b, c, h, w = x.shape
        xt = x.flatten(2).transpose(1, 2)
        yt = y.flatten(2).transpose(1, 2)
        xt = xt + self.fuse(xt, yt)
        xt = xt + self.ff(self.ff_norm(xt))
        out: Tensor = xt.transpose(1, 2).reshape(b, c, h, w)
        return out


# -------------------------------------------------------------------------------------- FMIM


def fourier_lowpass_scale(x: Tensor, threshold: int, scale: float) -> Tensor:
    """Multiply the centred ``2 threshold x 2 threshold`` lowest 2-D frequencies of ``x`` by
    ``scale`` (the FMIM spatial modulation; ``Fourier_filter`` of the released code)."""
    if scale == 1.0 or threshold <= 0:
        return x
    dtype = x.dtype
    h, w = x.shape[-2:]
    freq = torch.fft.fftshift(torch.fft.fft2(x.float(), dim=(-2, -1)), dim=(-2, -1))
    mask = torch.ones((h, w), dtype=torch.float32, device=x.device)
    ch, cw = h // 2, w // 2
    mask[max(ch - threshold, 0) : ch + threshold, max(cw - threshold, 0) : cw + threshold] = scale
    freq = torch.fft.ifftshift(freq * mask, dim=(-2, -1))
    out: Tensor = torch.fft.ifft2(freq, dim=(-2, -1)).real.to(dtype)
    return out


class FMIM(nn.Module):
    """Frequency modulation inter-branch module (paper Sec. 3, FMIM).

    Before APFM at a level, the spatial-branch features have their lowest frequencies
    scaled by ``s`` (< 1: APFM sees more high-frequency PAN detail) and the first half of
    the spectral-branch channels is multiplied by ``b`` (> 1). No parameters.
    """

    def __init__(self, gain: float, scale: float, threshold: int = 1) -> None:
        super().__init__()
        self.gain = float(gain)
        self.scale = float(scale)
        self.threshold = int(threshold)

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(modulated spectral x, filtered spatial y)`` (inputs are not modified)."""
        half = x.shape[1] // 2
        gains = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        gains[:half] = self.gain
        x = x * gains[None, :, None, None]
        return x, fourier_lowpass_scale(y, self.threshold, self.scale)

    def extra_repr(self) -> str:
        return f"gain={self.gain}, scale={self.scale}, threshold={self.threshold}"


# ------------------------------------------------------------------------------------- SSNet


class SSNet(nn.Module):
    """The SSDiff denoiser: predicts the residual ``gt - lms`` (paper Fig. 2).

    Call ``model(lms, pan, ms, x_t, t)`` with ``lms (B, C, H, W)``, ``pan (B, 1, H, W)``,
    ``ms (B, C, H / ratio, W / ratio)``, the noisy residual ``x_t (B, C, H, W)`` and
    timesteps ``t (B,)`` (on the original 0..T-1 scale). ``H`` and ``W`` must be multiples
    of 4 (two shared down-sampling steps). Returns ``(B, C, H, W)``.
    """

    def __init__(self, config: SSNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or SSNetConfig()
        self.config = cfg
        c, d = cfg.ms_channels, cfg.dim
        self.time_embed = TimeEmbedding(cfg.model_channels)
        emb = self.time_embed.out_dim
        widths = (d, 2 * d, 4 * d, 2 * d, d)
        # MS skip (residual head input): conv to C * ratio^2 then PixelShuffle(ratio)
        self.ms_skip = nn.Sequential(
            _zero(nn.Conv2d(c, c * cfg.ratio**2, 3, 1, 1, bias=False)), nn.PixelShuffle(cfg.ratio)
        )
        # branch inputs
        self.spatial_in = BranchInput(c + cfg.pan_channels, d, emb, cfg.input_norm, cfg.dropout)
        self.spectral_in = BranchInput(2 * c, d, emb, cfg.input_norm, cfg.dropout)
        # spatial branch: one ResBlock per level before the shared resampling (levels 0..3)
        self.resblocks = nn.ModuleList(
            ResBlock(w, int(cfg.rb_ratio * w), emb, cfg.dropout) for w in widths[:4]
        )
        # spectral branch: one APFM per level (0..4)
        self.apfm = nn.ModuleList(
            APFM(w, w // cfg.dim_head, cfg.dim_head, int(w * cfg.mlp_ratio), cfg.dropout)
            for w in widths
        )
        gains = (*cfg.spectral_gains, cfg.spectral_gains[1], cfg.spectral_gains[0])
        scales = (*cfg.fourier_scales, cfg.fourier_scales[1], cfg.fourier_scales[0])
        self.fmim = nn.ModuleList(
            FMIM(g, s, cfg.fourier_threshold) for g, s in zip(gains, scales, strict=True)
        )
        # shared down/up-sampling (the same modules serve both branches)
        self.down = nn.ModuleList([Down(d, 2 * d), Down(2 * d, 4 * d)])
        self.up = nn.ModuleList([Up(4 * d, 2 * d), Up(2 * d, d)])
        # zero-initialised residual outputs (our choice): an untrained model returns lms
        self.to_residual = nn.Sequential(
            nn.Conv2d(d, d, 3, 1, 1), nn.LeakyReLU(), _zero(nn.Conv2d(d, c, 3, 1, 1))
        )

    def check_inputs(self, lms: Tensor, pan: Tensor, ms: Tensor, x_t: Tensor) -> None:
        """Raise :class:`InvalidInputError` on shapes the network cannot take."""
        cfg = self.config
        if lms.ndim != 4 or pan.ndim != 4 or ms.ndim != 4 or x_t.ndim != 4:
            raise InvalidInputError("SSNet inputs must be 4-D (B, C, H, W) tensors")
        b, c, h, w = lms.shape
        if c != cfg.ms_channels:
            raise InvalidInputError(
                f"SSNet was built for {cfg.ms_channels} MS bands, lms has {c}"
            )
        if x_t.shape != lms.shape:
            raise InvalidInputError(f"x_t shape {tuple(x_t.shape)} != lms {tuple(lms.shape)}")
        if pan.shape != (b, cfg.pan_channels, h, w):
            raise InvalidInputError(
                f"pan shape {tuple(pan.shape)} must be {(b, cfg.pan_channels, h, w)}"
            )
        if ms.shape != (b, c, h // cfg.ratio, w // cfg.ratio) or h % cfg.ratio or w % cfg.ratio:
            raise InvalidInputError(
                f"ms shape {tuple(ms.shape)} must be lms/pan size / ratio={cfg.ratio}: "
                f"{(b, c, h // cfg.ratio, w // cfg.ratio)}"
            )
        if h % 4 or w % 4:
            raise InvalidInputError(f"SSNet needs H and W multiples of 4, got {(h, w)}")

    def forward(self, lms: Tensor, pan: Tensor, ms: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        self.check_inputs(lms, pan, ms, x_t)
        if t.ndim == 0:
            t = t.expand(lms.shape[0])
        emb = self.time_embed(t)
        skip0 = self.ms_skip(ms)
        y = self.spatial_in(pan, x_t, emb)  # spatial branch
        x = self.spectral_in(lms, x_t, emb)  # spectral branch
        skips_x: list[Tensor] = []
        skips_y: list[Tensor] = []
        # encoder: levels 0, 1
        for lvl in range(2):
            x, y_f = self.fmim[lvl](x, y)
            x = self.apfm[lvl](x, y_f)
            skips_x.append(x)
            x = self.down[lvl](x)
            y = self.resblocks[lvl](y, emb)
            skips_y.append(y)
            y = self.down[lvl](y)
        # bottleneck: level 2
        x, y_f = self.fmim[2](x, y)
        x = self.apfm[2](x, y_f)
        # decoder: levels 3, 4
        for i, lvl in enumerate((3, 4)):
            x = self.up[i](x, skips_x[1 - i])
            y = self.resblocks[lvl - 1](y, emb)
            y = self.up[i](y, skips_y[1 - i])
            x, y_f = self.fmim[lvl](x, y)
            x = self.apfm[lvl](x, y_f)
        out: Tensor = self.to_residual(x) + skip0
        return out


def branch_parameters(model: SSNet) -> dict[str, list[nn.Parameter]]:
    """Split ``model``'s parameters into ``spatial``, ``spectral`` and ``shared`` groups.

    - ``spatial`` (PAN branch): the spatial input layer, the ResBlocks and APFM's spatial
      projections ``W_a, W_b``;
    - ``spectral`` (LMS branch): the spectral input layer, APFM's spectral projections
      ``W_c, W_d``, its fusion output, feed-forward and norms, the MS skip and output head;
    - ``shared``: the time embedding and the shared down/up-sampling, and APFM's LayerNorm
      applied to both branches.

    Every parameter is in exactly one group.
    """
    groups: dict[str, list[nn.Parameter]] = {"spatial": [], "spectral": [], "shared": []}
    for name, p in model.named_parameters():
        if name.startswith(("spatial_in.", "resblocks.")) or ".spa_" in name:
            groups["spatial"].append(p)
        elif name.startswith(("time_embed.", "down.", "up.")) or (
            name.startswith("apfm.") and ".norm." in name
        ):
            groups["shared"].append(p)
        else:
            groups["spectral"].append(p)
    return groups
