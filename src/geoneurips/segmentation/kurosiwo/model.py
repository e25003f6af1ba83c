"""The Kuro Siwo benchmark models, small enough for a CPU (Sec. 4 of the paper, "BlackBench").

Input convention (``dataset/Dataset.py``, ``training/*_trainer.py`` of the public code): the
post-event VV/VH and the two pre-event VV/VH images, each clamped and normalised. Every
model outputs 3 class logits (0 no water, 1 permanent water, 2 flood) and trains with
cross-entropy ignoring label 3 (invalid) (:func:`flood_loss`).

* :class:`UNet`: the segmentation baseline on the 6-channel stack ``cat(post, pre1, pre2)``
  (early fusion; the paper uses smp U-Net with a ResNet encoder, here a small plain U-Net),
  or on the post-event image alone (``dates=1``: the post-event-only network).
* :class:`SiamUNet`: the Siamese change networks of Daudt et al. (2018) used in the paper:
  one encoder with shared weights applied to every date; the decoder's skips are the
  concatenation of all dates' features (``Siam-Conc``) or the absolute differences between
  the post-event features and each pre-event date's features (``Siam-Diff``, with the
  post-event features concatenated, as the public code's multi-date adaptation).
* :class:`SNUNet`: SNUNet-CD (Fang et al. 2021), small: a Siamese nested U-Net++ encoder
  shared by the dates, dense skip connections, and the Ensemble Channel Attention Module
  (ECAM) over the four deep-supervision outputs.

Differences from the public code: no ImageNet/pretrained encoders (random init, widths
scaled down); the pre-event dates are fused by concatenation in every model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InvalidInputError
from ...nn.unet import ConvBlock, SmallUNet

__all__ = ["FloodConfig", "SNUNet", "SiamUNet", "UNet", "build_model", "flood_loss"]

ARCHS = ("unet", "siam-conc", "siam-diff", "snunet")


@dataclass
class FloodConfig:
    """A Kuro Siwo model: ``arch`` (unet, siam-conc, siam-diff, snunet), ``dates`` (3 =
    post + two pre-event dates, 1 = post-event only), ``width``, ``depth``, classes, and
    ``terrain``: optional extra input channels ``"dem"`` and/or ``"slope"`` (normalised,
    appended after the SAR channels as the public code concatenates the DEM; U-Net only).
    """

    arch: str = "unet"
    dates: int = 3
    width: int = 16
    depth: int = 3
    num_classes: int = 3
    patch_size: int = 224
    terrain: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.terrain = tuple(self.terrain)
        if not set(self.terrain) <= {"dem", "slope"} or len(set(self.terrain)) != len(
                self.terrain):
            raise ValueError(f"terrain must name 'dem' and/or 'slope' once, got {self.terrain}")
        if self.terrain and self.arch != "unet":
            raise ValueError("terrain channels are supported by the early-fusion U-Net only")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.dates not in (1, 2, 3):
            raise ValueError(f"dates must be 1, 2 or 3, got {self.dates}")
        if self.arch != "unet" and self.dates < 2:
            raise ValueError(f"{self.arch} compares dates: it needs dates >= 2")
        if self.width < 1 or self.depth < 1:
            raise ValueError("width and depth must be positive")

    @property
    def in_channels(self) -> int:
        return 2 * self.dates + len(self.terrain)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FloodConfig:
        return cls(**d)


class UNet(nn.Module):
    """Early-fusion U-Net on ``2 * dates`` channels (post first), plus terrain channels."""

    def __init__(self, config: FloodConfig) -> None:
        super().__init__()
        self.config = config
        self.net = SmallUNet(config.in_channels, config.num_classes, config.width, config.depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class _Encoder(nn.Module):
    def __init__(self, in_ch: int, chans: list[int]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        prev = in_ch
        for c in chans:
            self.blocks.append(ConvBlock(prev, c))
            prev = c

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, block in enumerate(self.blocks):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            feats.append(x)
        return feats


class SiamUNet(nn.Module):
    """Siam-Conc / Siam-Diff (Daudt et al. 2018, as benchmarked in Kuro Siwo)."""

    def __init__(self, config: FloodConfig) -> None:
        super().__init__()
        self.config = config
        self.dates = config.dates
        self.diff = config.arch == "siam-diff"
        chans = [config.width * 2**i for i in range(config.depth + 1)]
        self.encoder = _Encoder(2, chans)
        # skip width: conc -> all dates; diff -> post + one |post - pre| per pre-event date
        mult = self.dates
        self.ups = nn.ModuleList()
        self.convs = nn.ModuleList()
        prev = chans[-1] * mult
        for c in reversed(chans[:-1]):
            self.ups.append(nn.ConvTranspose2d(prev, c, 2, stride=2))
            self.convs.append(ConvBlock(c + c * mult, c))
            prev = c
        self.head = nn.Conv2d(chans[0], config.num_classes, 1)

    def _fuse(self, feats: list[torch.Tensor]) -> torch.Tensor:
        if not self.diff:
            return torch.cat(feats, 1)
        post = feats[0]
        return torch.cat([post] + [(post - f).abs() for f in feats[1:]], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_date = [self.encoder(x[:, 2 * t:2 * t + 2]) for t in range(self.dates)]
        levels = [self._fuse([f[i] for f in per_date]) for i in range(len(per_date[0]))]
        y = levels[-1]
        for k, (up, conv) in enumerate(zip(self.ups, self.convs, strict=True)):
            y = conv(torch.cat([up(y), levels[-2 - k]], 1))
        return self.head(y)  # type: ignore[no-any-return]


class _ECAM(nn.Module):
    """Ensemble channel attention (SNUNet-CD, Sec. III-C): intra-group and ensemble channel
    attention over the concatenated deep-supervision outputs."""

    def __init__(self, ch: int, groups: int, reduction: int = 4) -> None:
        super().__init__()

        def attention(c: int) -> nn.Module:
            hidden = max(c // reduction, 1)
            return nn.Sequential(nn.Conv2d(c, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, c, 1))

        self.intra = attention(ch)
        self.ensemble = attention(ch * groups)
        self.groups = groups

    def _ca(self, att: nn.Module, x: torch.Tensor) -> torch.Tensor:
        a = att(F.adaptive_avg_pool2d(x, 1)) + att(F.adaptive_max_pool2d(x, 1))
        return torch.sigmoid(a)

    def forward(self, outs: list[torch.Tensor]) -> torch.Tensor:
        cat = torch.cat(outs, 1)
        intra = sum(outs[1:], outs[0])
        intra_att = self._ca(self.intra, intra)
        ens = self._ca(self.ensemble, cat) * (cat + intra_att.repeat(1, self.groups, 1, 1))
        return ens


class SNUNet(nn.Module):
    """SNUNet-CD, small: Siamese encoder shared by the dates, nested dense decoder
    (U-Net++), ECAM over the ``depth`` deep-supervision outputs."""

    def __init__(self, config: FloodConfig) -> None:
        super().__init__()
        self.config = config
        d = config.depth
        self.depth = d
        self.dates = config.dates
        ch = [config.width * 2**i for i in range(d + 1)]
        self.encoder = _Encoder(2, ch)
        self.nodes = nn.ModuleDict()
        self.ups = nn.ModuleDict()
        for j in range(1, d + 1):
            for i in range(d + 1 - j):
                in_ch = ch[i] * self.dates + ch[i] * (j - 1) + ch[i]
                self.ups[f"{i}_{j}"] = nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2)
                self.nodes[f"{i}_{j}"] = ConvBlock(in_ch, ch[i])
        self.ecam = _ECAM(ch[0], d)
        self.head = nn.Conv2d(ch[0] * d, config.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_date = [self.encoder(x[:, 2 * t:2 * t + 2]) for t in range(self.dates)]
        grid: dict[tuple[int, int], torch.Tensor] = {}
        for i in range(self.depth + 1):
            grid[(i, 0)] = per_date[0][i]
        for j in range(1, self.depth + 1):
            for i in range(self.depth + 1 - j):
                dense = [per_date[t][i] for t in range(self.dates)]
                dense += [grid[(i, k)] for k in range(1, j)]
                dense.append(self.ups[f"{i}_{j}"](grid[(i + 1, j - 1)]))
                grid[(i, j)] = self.nodes[f"{i}_{j}"](torch.cat(dense, 1))
        outs = [grid[(0, j)] for j in range(1, self.depth + 1)]
        return self.head(self.ecam(outs))  # type: ignore[no-any-return]


def build_model(config: FloodConfig) -> nn.Module:
    """The network of ``config.arch``."""
    if config.arch == "unet":
        return UNet(config)
    if config.arch in ("siam-conc", "siam-diff"):
        return SiamUNet(config)
    return SNUNet(config)


def flood_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with the invalid class (3) ignored (the public code's criterion)."""
    if logits.shape[1] != 3:
        raise InvalidInputError(f"Kuro Siwo models output 3 classes, got {logits.shape[1]}")
    return F.cross_entropy(logits, target.long(), ignore_index=3)
