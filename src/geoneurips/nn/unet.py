"""A small, configurable U-Net used as base network by several systems.

Not a paper's contribution: the systems that need "any segmentation network" (SGNet's base
model, SeCo's segmenter, FUSU's and AllClear's small stand-ins) use it so tests and demos
run in seconds on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBlock", "SmallUNet"]


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class SmallUNet(nn.Module):
    """U-Net with ``depth`` down-sampling steps and ``width * 2**i`` channels at level ``i``.

    Args:
        in_channels: input bands.
        out_channels: output channels (classes for segmentation).
        width: channels of the first level.
        depth: number of 2x down-sampling steps; inputs must be divisible by ``2**depth``.

    ``forward_features`` returns the decoder's last feature map (``width`` channels at full
    resolution), for wrappers that fuse extra features before the head.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 16, depth: int = 3):
        super().__init__()
        self.depth = depth
        chans = [width * 2**i for i in range(depth + 1)]
        self.downs = nn.ModuleList()
        prev = in_channels
        for c in chans:
            self.downs.append(ConvBlock(prev, c))
            prev = c
        self.ups = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for i in range(depth, 0, -1):
            self.ups.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 2, stride=2))
            self.up_convs.append(ConvBlock(2 * chans[i - 1], chans[i - 1]))
        self.head = nn.Conv2d(chans[0], out_channels, 1)
        self.out_features = chans[0]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.downs):
            x = block(x)
            if i < self.depth:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, conv in zip(self.ups, self.up_convs, strict=True):
            x = up(x)
            x = conv(torch.cat([x, skips.pop()], dim=1))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))  # type: ignore[no-any-return]
