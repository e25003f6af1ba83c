"""Bi-temporal baselines of FUSU's benchmark (networks without the Sentinel time series).

:class:`SiameseUNetSCD` follows the public model zoo's ``models/sseg/unet.py`` (the U-Net
SCD baseline of the FUSU code, inherited from the SenseEarth-2020 change-detection code): a
shared (Siamese) encoder on both dates, one semantic decoder applied to each date, and a
second decoder for binary change fed with the absolute differences of the two dates'
encoder features at every scale. Deliberate differences: the encoder is a plain
conv-BN-ReLU U-Net encoder (:class:`geoneurips.nn.unet.ConvBlock`, no ImageNet backbone) and
the decoder blocks have no SCSE attention, so it matches the tiny FUSU-Net stand-in in size.

It exposes FUSU-Net's interface (``config``, ``utae = None``, ``encoder``, ``forward(x1,
x2) -> {"seg1", "seg2", "change"}``), so :class:`~geoneurips.change.fusu.pipeline.FUSUTask`
trains it with the same loss, optimiser and schedule.

:class:`SiameseUNetSeriesChannels` is the plain way to use the Sentinel series that a
practitioner would try before FUSU-Net's U-TAE branch and fusion: the same Siamese U-Net,
whose input for each date is its RGB image concatenated with the whole series (every date x
band, normalised as FUSU-Net's) as extra channels, cropped to the HR tile's footprint the
way FUSU-Net's fusion crops it and upsampled to the HR grid. It exists so that the demo
tells "FUSU-Net's fusion helps" apart from "the series helps".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import InvalidInputError
from ...nn.unet import ConvBlock
from .model import FUSUNetConfig

__all__ = ["SiameseUNetSCD", "SiameseUNetSeriesChannels", "series_as_channels"]


def _check_images(image1: Tensor, image2: Tensor) -> None:
    if image1.ndim != 4 or image1.shape != image2.shape or image1.shape[1] != 3:
        raise InvalidInputError(
            f"expected two (B, 3, H, W) images of equal shape, got {tuple(image1.shape)} "
            f"and {tuple(image2.shape)}")


class _Decoder(nn.Module):
    def __init__(self, chans: list[int]) -> None:
        super().__init__()
        self.ups = nn.ModuleList(nn.ConvTranspose2d(chans[i], chans[i - 1], 2, stride=2)
                                 for i in range(len(chans) - 1, 0, -1))
        self.convs = nn.ModuleList(ConvBlock(2 * chans[i - 1], chans[i - 1])
                                   for i in range(len(chans) - 1, 0, -1))

    def forward(self, feats: list[Tensor]) -> Tensor:
        x = feats[-1]
        for i, (up, conv) in enumerate(zip(self.ups, self.convs, strict=True)):
            x = conv(torch.cat([up(x), feats[-2 - i]], dim=1))
        return x


class _Encoder(nn.Module):
    def __init__(self, chans: list[int], in_channels: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ConvBlock(a, b) for a, b in zip([in_channels, *chans[:-1]],
                                                                     chans, strict=True))

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            feats.append(x)
        return feats


class SiameseUNetSCD(nn.Module):
    """Siamese U-Net for semantic change detection (public ``unet.py``), no time series.

    Args:
        config: uses ``num_classes``, ``hr_width`` and ``hr_depth`` (the tiny FUSU-Net
            sizes); ``use_time_series`` must be false.
    """

    def __init__(self, config: FUSUNetConfig, in_channels: int = 3) -> None:
        super().__init__()
        if config.use_time_series:
            raise InvalidInputError("SiameseUNetSCD is bi-temporal only (use_time_series=False)")
        self.config = config
        self.utae: None = None
        chans = [config.hr_width * 2**i for i in range(config.hr_depth + 1)]
        self.encoder = _Encoder(chans, in_channels)
        self.seg_decoder = _Decoder(chans)
        self.change_decoder = _Decoder(chans)
        self.classify = nn.Conv2d(chans[0], config.num_classes, 3, padding=1)
        self.head_bin = nn.Conv2d(chans[0], 1, 3, padding=1)
        self._divisor = 2**config.hr_depth

    def forward(self, image1: Tensor, image2: Tensor) -> dict[str, Tensor]:
        _check_images(image1, image2)
        return self._run(image1, image2)

    def _run(self, image1: Tensor, image2: Tensor) -> dict[str, Tensor]:
        h, w = image1.shape[-2:]
        if h % self._divisor or w % self._divisor:
            raise InvalidInputError(f"image size {h}x{w} must be divisible by {self._divisor}")
        b = image1.shape[0]
        feats = self.encoder(torch.cat([image1, image2], dim=0))
        f1, f2 = [f[:b] for f in feats], [f[b:] for f in feats]
        seg = self.classify(self.seg_decoder(feats))
        diff = [torch.abs(a - c) for a, c in zip(f1, f2, strict=True)]
        change = self.head_bin(self.change_decoder(diff)).squeeze(1)
        return {"seg1": seg[:b], "seg2": seg[b:], "change": change}


def series_as_channels(time_series: Tensor, size: tuple[int, int],
                       crop_size: int | None) -> Tensor:
    """``(B, T, C, h, w)`` series -> ``(B, T*C, H, W)`` channels on the HR grid.

    The centre ``crop_size`` window (the HR tile's footprint in series pixels, the crop of
    FUSU-Net's fusion, :class:`~geoneurips.change.fusu.model.FusionModule`; ``None`` keeps
    the whole map) is upsampled to ``size`` by nearest neighbour (each series pixel covers a
    block of HR pixels; bilinear would blend parcels across their borders).
    """
    if time_series.ndim != 5:
        raise InvalidInputError(f"time_series must be (B, T, C, h, w), got "
                                f"{tuple(time_series.shape)}")
    b, t, c, h, w = time_series.shape
    x = time_series.reshape(b, t * c, h, w)
    if crop_size is not None and crop_size < min(h, w):
        top, left = (h - crop_size) // 2, (w - crop_size) // 2
        x = x[..., top:top + crop_size, left:left + crop_size]
    return F.interpolate(x, size=size, mode="nearest")


class SiameseUNetSeriesChannels(SiameseUNetSCD):
    """Siamese U-Net fed the Sentinel series as plain input channels (no U-TAE, no fusion).

    The practitioner's first way to use the series: each date's input is its RGB image and
    the whole series (``n_dates`` x ``config.ts_channels`` channels,
    :func:`series_as_channels`). The series belongs to the scene, not to one date (FUSU-Net
    also adds one fused series feature to both dates' HR features, paper Fig. 5c), so both
    dates get all of it; the change decoder sees it only through the feature differences.
    Padded dates must be zero (as for U-TAE).

    Args:
        config: as :class:`SiameseUNetSCD` (``use_time_series`` false: the series does not
            go through a U-TAE); ``ts_channels`` and ``crop_size`` are read.
        n_dates: number of series dates (fixed: they are input channels).
    """

    def __init__(self, config: FUSUNetConfig, n_dates: int) -> None:
        super().__init__(config, in_channels=3 + n_dates * config.ts_channels)
        self.n_dates = n_dates

    def forward(self, image1: Tensor, image2: Tensor,
                time_series: Tensor | None = None) -> dict[str, Tensor]:
        _check_images(image1, image2)
        if time_series is None or time_series.ndim != 5 or \
                tuple(time_series.shape[1:3]) != (self.n_dates, self.config.ts_channels):
            got = None if time_series is None else tuple(time_series.shape)
            raise InvalidInputError(
                f"time_series must be (B, {self.n_dates}, {self.config.ts_channels}, h, w), "
                f"got {got}")
        size = (int(image1.shape[-2]), int(image1.shape[-1]))
        ts = series_as_channels(time_series, size, self.config.crop_size)
        return self._run(torch.cat([image1, ts], 1), torch.cat([image2, ts], 1))
