"""SGNet: Surrounding Guided Segmentation (Wang, Lin, Wu, Du, NeurIPS 2024).

"Toward Real Ultra Image Segmentation: Leveraging Surrounding Context to Cultivate General
Segmentation Model". No public code exists; this is built from the paper's description:

* Sec. 3.1 (framework): plain sliding-window inference is kept. For every local patch ``P``
  a larger *surrounding window* ``S`` centred on ``P`` (``context_scale`` times larger on each
  side) is read and resized to the network input size.
* Branch A is any general segmentation network applied to ``P`` (here: anything with
  ``forward_features(x) -> (B, C, H, W)``; :class:`geoneurips.nn.unet.SmallUNet` by default).
* Branch B, the Surrounding Context-guided Branch (SCB), is a light encoder on ``S`` followed
  by the Surrounding Context Integration module (:class:`SCIModule`, Sec. 3.2), which combines
  window multi-head self-attention (W-MSA), a convolution and global average pooling.
* Sec. 3.3: the part of the SCB features that corresponds to ``P`` is aligned
  (:func:`align_patch_features`, RoI-align of the central box) and fused with branch-A
  features by concatenation (the paper's ablation prefers CONCAT to ADD, early or late
  fusion), then a segmentation head predicts the classes.
* Sec. 3.4 (losses, eqs. 5-7): CE on the main output, an auxiliary CE on the SCB output over
  the whole surrounding window, and an L1 *boundary consistency* loss between the
  predictions of two adjacent, overlapping patches on their overlap
  (:class:`SGNetLoss`, :func:`boundary_consistency_loss`).

Baselines (not the paper's components): ``_Plain`` (the base network on the patch alone,
the paper's sliding window) and :class:`GlobalLocal` (the base network on the patch and
its resized surrounding window stacked as channels). ``SGNetConfig(use_sci=False)`` is the
ablation without the SCI module.

The loss weights, window size and context scale below are our defaults where the paper's
exact values were not available to us (noted on each argument).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, SupportsInt, cast

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError

__all__ = [
    "METHODS",
    "GlobalLocal",
    "METHODS",
    "GlobalLocal",
    "SCIModule",
    "SGNet",
    "SGNetConfig",
    "SGNetLoss",
    "SurroundingBranch",
    "WindowAttention",
    "align_patch_features",
    "boundary_consistency_loss",
    "build_model",
    "central_box",
]


class WindowAttention(nn.Module):
    """Window multi-head self-attention (W-MSA, Swin-style non-overlapping windows).

    Part of the SCI module (Sec. 3.2). The feature map is padded to a multiple of
    ``window_size``, split into windows, and each window attends to itself; a learned
    relative position is replaced by a learned absolute position embedding per window slot.

    Args:
        channels: feature channels (divisible by ``num_heads``).
        window_size: side of the square attention window.
        num_heads: attention heads.
    """

    def __init__(self, channels: int, window_size: int = 8, num_heads: int = 4) -> None:
        super().__init__()
        if channels % num_heads:
            raise InvalidInputError(
                f"W-MSA channels ({channels}) must be divisible by num_heads ({num_heads})"
            )
        self.window_size = window_size
        self.norm = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.pos = nn.Parameter(torch.zeros(1, window_size * window_size, channels))
        nn.init.trunc_normal_(self.pos, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        ws = self.window_size
        ph, pw = (-h) % ws, (-w) % ws
        xp = F.pad(x, (0, pw, 0, ph)) if ph or pw else x
        hp, wp = h + ph, w + pw
        # (B, C, Hp, Wp) -> (B * nW, ws*ws, C)
        t = xp.reshape(b, c, hp // ws, ws, wp // ws, ws).permute(0, 2, 4, 3, 5, 1)
        t = t.reshape(-1, ws * ws, c)
        q = self.norm(t) + self.pos
        attn: tuple[torch.Tensor, torch.Tensor | None] = self.attn(q, q, q, need_weights=False)
        out = attn[0]
        out = out.view(b, hp // ws, wp // ws, ws, ws, c).permute(0, 5, 1, 3, 2, 4)
        out = out.reshape(b, c, hp, wp)[:, :, :h, :w]
        return out


class SCIModule(nn.Module):
    """Surrounding Context Integration module (Sec. 3.2).

    Three parallel paths on the surrounding features ``x``: window self-attention (long-range
    relations inside the surrounding window), a 3x3 convolution (local structure) and global
    average pooling (the whole window's gist, broadcast back). Their concatenation is
    projected by a 1x1 convolution and added to ``x`` (residual).

    Args:
        channels: feature channels.
        window_size: W-MSA window side (our default 8).
        num_heads: W-MSA heads.
    """

    def __init__(self, channels: int, window_size: int = 8, num_heads: int = 4) -> None:
        super().__init__()
        self.attn = WindowAttention(channels, window_size, num_heads)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.gap = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True))
        self.proj = nn.Sequential(
            nn.Conv2d(3 * channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(x)
        c = self.conv(x)
        g = self.gap(F.adaptive_avg_pool2d(x, 1)).expand_as(x)
        return x + self.proj(torch.cat([a, c, g], dim=1))  # type: ignore[no-any-return]


class SurroundingBranch(nn.Module):
    """Surrounding Context-guided Branch (SCB, Sec. 3.1): light encoder + SCI module.

    Two stride-2 convolution stages bring the resized surrounding window to 1/4 resolution,
    where the SCI module integrates the context. An auxiliary 1x1 head predicts classes over
    the whole surrounding window (the auxiliary loss of Sec. 3.4).

    Args:
        in_channels: image bands.
        channels: SCB feature channels.
        num_classes: classes of the auxiliary head.
        window_size: W-MSA window side.
        num_heads: W-MSA heads.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int,
        window_size: int = 8,
        num_heads: int = 4,
    ) -> None:
        super().__init__()

        def stage(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(i, o, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(o),
                nn.ReLU(inplace=True),
                nn.Conv2d(o, o, 3, padding=1, bias=False),
                nn.BatchNorm2d(o),
                nn.ReLU(inplace=True),
            )

        self.encoder = nn.Sequential(stage(in_channels, channels // 2),
                                     stage(channels // 2, channels))
        self.sci = SCIModule(channels, window_size, num_heads)
        self.aux_head = nn.Conv2d(channels, num_classes, 1)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        return self.sci(self.encoder(context))  # type: ignore[no-any-return]


def central_box(context_scale: float) -> tuple[float, float]:
    """Fractional start and end of the patch inside its surrounding window (per axis).

    The surrounding window is centred on the patch and ``context_scale`` times larger, so
    the patch spans ``[(s - 1) / (2 s), (s + 1) / (2 s)]`` of it.
    """
    s = float(context_scale)
    if s < 1:
        raise InvalidInputError(f"context_scale must be >= 1, got {s}")
    return (s - 1) / (2 * s), (s + 1) / (2 * s)


def align_patch_features(
    context_features: torch.Tensor, context_scale: float, size: tuple[int, int]
) -> torch.Tensor:
    """Crop the patch's part of the surrounding features and resample it to ``size`` (Sec. 3.3).

    The central box given by :func:`central_box` is sampled bilinearly at the centres of a
    ``size`` grid (RoI-align with one sample per bin, pixel-centre aligned, written as an
    affine ``grid_sample``), so the aligned context features cover exactly the patch's
    ground footprint and line up pixel for pixel with branch-A features.
    """
    b = context_features.shape[0]
    lo, hi = central_box(context_scale)
    scale, offset = hi - lo, lo + hi - 1.0
    theta = torch.tensor([[scale, 0.0, offset], [0.0, scale, offset]],
                         dtype=context_features.dtype, device=context_features.device)
    grid = F.affine_grid(theta.expand(b, 2, 3), [b, context_features.shape[1], *size],
                         align_corners=False)
    return F.grid_sample(context_features, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


@dataclass
class SGNetConfig:
    """Everything needed to rebuild an SGNet (or a plain sliding-window base network).

    Stored in checkpoints beside the weights so that ``geoneurips segment`` can rebuild the
    model. ``method="sliding"`` describes the plain base network alone (the paper's
    baseline); ``method="global_local"`` the plain base network fed the patch and its
    resized surrounding window stacked as ``2 * in_channels`` input bands (the obvious way
    to "simply feed context", our practitioner baseline; not in the paper).

    Attributes:
        method: ``"sgnet"``, ``"sliding"`` or ``"global_local"``.
        in_channels: image bands.
        num_classes: classes.
        base_width: :class:`SmallUNet` width (default base network).
        base_depth: :class:`SmallUNet` depth.
        context_channels: SCB feature channels.
        context_scale: surrounding-window side / patch side (our default 3; the paper
            studies several surrounding sizes).
        window_size: W-MSA window side.
        num_heads: W-MSA heads.
        use_sci: keep the SCI module (Sec. 3.2); ``False`` is the ablation "SGNet without
            its surrounding-context integration" (the SCB encoder's features are aligned and
            fused as they are).
        patch_size: training patch side (default tile size at inference).
        mean: per-band mean used to normalise inputs.
        std: per-band standard deviation used to normalise inputs.
    """

    method: str = "sgnet"
    in_channels: int = 3
    num_classes: int = 2
    base_width: int = 16
    base_depth: int = 3
    context_channels: int = 32
    context_scale: float = 3.0
    window_size: int = 8
    num_heads: int = 4
    use_sci: bool = True
    patch_size: int = 256
    mean: list[float] = field(default_factory=lambda: [127.5, 127.5, 127.5])
    std: list[float] = field(default_factory=lambda: [64.0, 64.0, 64.0])

    @classmethod
    def tiny(cls, **overrides: Any) -> SGNetConfig:
        """A config small enough for unit tests and the CPU demo."""
        base: dict[str, Any] = dict(base_width=8, base_depth=2, context_channels=16,
                                    window_size=4, num_heads=2, patch_size=32)
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SGNetConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise InvalidInputError(f"unknown SGNet config keys: {sorted(unknown)}")
        return cls(**d)


class _FeatureNet(Protocol):
    """What SGNet needs of its base network: dense features of a patch."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...


class SGNet(nn.Module):
    """Surrounding Guided Segmentation network: a wrapper around any segmentation net.

    Args:
        base: the general segmentation model (branch A); must have
            ``forward_features(x) -> (B, C_base, H, W)`` at the input resolution and an
            ``out_features`` attribute (or pass ``base_channels``).
        in_channels: image bands.
        num_classes: classes.
        context_channels: SCB channels.
        context_scale: surrounding-window side / patch side.
        window_size: W-MSA window side.
        num_heads: W-MSA heads.
        base_channels: channels of ``base.forward_features`` when ``base`` has no
            ``out_features``.
        use_sci: ``False`` replaces the SCI module by the identity (ablation).

    ``forward(patch, context)`` takes the patch ``(B, C, H, W)`` and its surrounding window
    already resized to the patch size ``(B, C, H, W)``; it returns ``{"out": logits at the
    patch, "aux": SCB logits over the surrounding window at 1/4 resolution}``.
    """

    def __init__(
        self,
        base: nn.Module,
        in_channels: int,
        num_classes: int,
        context_channels: int = 32,
        context_scale: float = 3.0,
        window_size: int = 8,
        num_heads: int = 4,
        base_channels: int | None = None,
        use_sci: bool = True,
    ) -> None:
        super().__init__()
        if not hasattr(base, "forward_features"):
            raise InvalidInputError("SGNet's base network needs a forward_features(x) method")
        self.base = base
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.context_scale = float(context_scale)
        central_box(self.context_scale)
        if base_channels is None and not hasattr(base, "out_features"):
            raise InvalidInputError(
                "pass base_channels: the base network has no out_features attribute"
            )
        cb = (base_channels if base_channels is not None
              else int(cast(SupportsInt, base.out_features)))
        self.context = SurroundingBranch(in_channels, context_channels, num_classes,
                                         window_size, num_heads)
        if not use_sci:
            self.context.sci = nn.Identity()  # type: ignore[assignment]
        self.fuse = nn.Sequential(
            nn.Conv2d(cb + context_channels, cb, 3, padding=1, bias=False),
            nn.BatchNorm2d(cb),
            nn.ReLU(inplace=True),
            nn.Conv2d(cb, num_classes, 1),
        )

    def forward(self, patch: torch.Tensor, context: torch.Tensor) -> dict[str, torch.Tensor]:
        if patch.ndim != 4 or context.ndim != 4:
            raise InvalidInputError(
                f"SGNet expects (B, C, H, W) patch and context, got {tuple(patch.shape)} "
                f"and {tuple(context.shape)}"
            )
        if patch.shape[1] != self.in_channels or context.shape[1] != self.in_channels:
            raise InvalidInputError(
                f"SGNet was built for {self.in_channels} bands; got patch with "
                f"{patch.shape[1]} and context with {context.shape[1]}"
            )
        feats = cast(_FeatureNet, self.base).forward_features(patch)
        ctx = self.context(context)
        size = (feats.shape[-2], feats.shape[-1])
        aligned = align_patch_features(ctx, self.context_scale, size)
        if feats.is_contiguous(memory_format=torch.channels_last):  # keep the fast CPU layout
            aligned = aligned.contiguous(memory_format=torch.channels_last)
        out = self.fuse(torch.cat([feats, aligned], dim=1))
        if out.shape[-2:] != patch.shape[-2:]:
            out = F.interpolate(out, size=patch.shape[-2:], mode="bilinear", align_corners=False)
        return {"out": out, "aux": self.context.aux_head(ctx)}


def boundary_consistency_loss(
    logits_a: torch.Tensor, logits_b: torch.Tensor, shift: tuple[int, int]
) -> torch.Tensor:
    """L1 boundary-consistency loss between two overlapping patches (Sec. 3.4).

    Patch ``b`` starts ``shift = (dy, dx)`` pixels below/right of patch ``a`` (negative
    values: above/left). The class probabilities of the two predictions must agree on the
    overlap; the loss is the mean absolute difference there.

    Raises:
        InvalidInputError: when the patches do not overlap.
    """
    dy, dx = int(shift[0]), int(shift[1])
    h, w = logits_a.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise InvalidInputError(f"patches shifted by {shift} do not overlap (size {h}x{w})")
    pa = logits_a.softmax(1)
    pb = logits_b.softmax(1)
    a = pa[..., max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)]
    b = pb[..., max(-dy, 0): h + min(-dy, 0), max(-dx, 0): w + min(-dx, 0)]
    return (a - b).abs().mean()


class SGNetLoss(nn.Module):
    """Total loss ``w_main * CE(out) + w_aux * CE(aux) + w_bc * L1_boundary`` (Sec. 3.4).

    Args:
        main_weight: weight of the main CE (1.0).
        aux_weight: weight of the auxiliary CE on the SCB output (our default 0.4, the usual
            auxiliary weight of mmsegmentation heads).
        boundary_weight: weight of the boundary-consistency L1 (our default 0.5).
        ignore_index: label ignored by both CE terms (pixels outside the image in the
            surrounding window carry it).
    """

    def __init__(
        self,
        main_weight: float = 1.0,
        aux_weight: float = 0.4,
        boundary_weight: float = 0.5,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        self.main_weight = main_weight
        self.aux_weight = aux_weight
        self.boundary_weight = boundary_weight
        self.ignore_index = ignore_index

    def forward(
        self,
        outputs: dict[str, torch.Tensor],
        mask: torch.Tensor,
        context_mask: torch.Tensor | None = None,
        outputs_b: dict[str, torch.Tensor] | None = None,
        shift: tuple[int, int] | None = None,
        mask_b: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Return the terms and their weighted sum under ``"loss"``.

        Args:
            outputs: :class:`SGNet` outputs for patch ``a``.
            mask: ``(B, H, W)`` labels of patch ``a``.
            context_mask: ``(B, H', W')`` labels of the surrounding window (any size; it is
                resampled by nearest neighbour to the auxiliary output).
            outputs_b: outputs for the overlapping patch ``b`` (enables the boundary term).
            shift: offset of ``b`` relative to ``a``.
            mask_b: labels of patch ``b`` (adds its main CE).
        """
        terms: dict[str, torch.Tensor] = {}
        terms["main"] = F.cross_entropy(outputs["out"], mask.long(), ignore_index=self.ignore_index)
        total = self.main_weight * terms["main"]
        if context_mask is not None and "aux" in outputs and self.aux_weight > 0:
            aux = outputs["aux"]
            cm = F.interpolate(context_mask[:, None].float(), size=aux.shape[-2:], mode="nearest")
            cm_long = cm[:, 0].long()
            if bool((cm_long != self.ignore_index).any()):
                terms["aux"] = F.cross_entropy(aux, cm_long, ignore_index=self.ignore_index)
                total = total + self.aux_weight * terms["aux"]
        if outputs_b is not None and shift is not None and self.boundary_weight > 0:
            terms["boundary"] = boundary_consistency_loss(outputs["out"], outputs_b["out"], shift)
            total = total + self.boundary_weight * terms["boundary"]
            if mask_b is not None:
                terms["main_b"] = F.cross_entropy(outputs_b["out"], mask_b.long(),
                                                  ignore_index=self.ignore_index)
                total = total + self.main_weight * terms["main_b"]
        terms["loss"] = total
        return terms


class _Plain(nn.Module):
    """Plain sliding-window baseline: the base network alone, same call signature."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(
        self, patch: torch.Tensor, context: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        return {"out": self.base(patch)}


class GlobalLocal(nn.Module):
    """Global-local baseline: one plain network on the patch and its resized surrounding
    window stacked as channels (``(B, 2C, H, W)``); it sees exactly SGNet's pixels."""

    def __init__(self, base: nn.Module, in_channels: int) -> None:
        super().__init__()
        self.base = base
        self.in_channels = in_channels

    def forward(self, patch: torch.Tensor, context: torch.Tensor) -> dict[str, torch.Tensor]:
        if patch.shape != context.shape or patch.shape[1] != self.in_channels:
            raise InvalidInputError(
                f"global-local model expects patch and context of {self.in_channels} bands "
                f"and equal shapes, got {tuple(patch.shape)} and {tuple(context.shape)}"
            )
        return {"out": self.base(torch.cat([patch, context], dim=1))}


#: The model kinds a config (and a checkpoint) can describe.
METHODS = ("sgnet", "sliding", "global_local")


def build_model(config: SGNetConfig) -> nn.Module:
    """Build an :class:`SGNet` (``method="sgnet"``), the plain base network wrapper
    (``"sliding"``) or the :class:`GlobalLocal` baseline (``"global_local"``) around a
    :class:`geoneurips.nn.unet.SmallUNet`."""
    from ...nn.unet import SmallUNet

    if config.method not in METHODS:
        raise InvalidInputError(f"unknown method {config.method!r}; use one of {METHODS}")
    bands = 2 * config.in_channels if config.method == "global_local" else config.in_channels
    base = SmallUNet(bands, config.num_classes, width=config.base_width,
                     depth=config.base_depth)
    if config.method == "sliding":
        return _Plain(base)
    if config.method == "global_local":
        return GlobalLocal(base, config.in_channels)
    return SGNet(base, config.in_channels, config.num_classes, config.context_channels,
                 config.context_scale, config.window_size, config.num_heads,
                 use_sci=config.use_sci)
