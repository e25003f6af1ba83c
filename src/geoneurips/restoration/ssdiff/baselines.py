"""The plain CNN a practitioner would try first: a PanNet-style residual network.

PanNet (Yang et al., "PanNet: A deep network architecture for pan-sharpening", ICCV 2017),
written from the paper: the network sees only high-pass inputs, the PAN minus its local
mean and the MS minus its local mean (a ``5 x 5`` box filter, mirrored borders) upsampled by
a learned transposed convolution (kernel ``2 ratio``, stride ``ratio``), concatenated; a 3x3
convolution, residual blocks (conv-ReLU-conv + identity) and a 3x3 output convolution give
a residual that is added to the interpolated MS ``lms``. Differences from the paper: 4
residual blocks of 32 channels (about 80k parameters, the size of the demo's tiny SSNet;
paper: 10 blocks), and the same optimiser, learning rate, EMA, patches and number of steps
as the SSDiff it is compared with (paper: SGD with an L2 loss).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ...errors import InvalidInputError
from .training import PatchDataset

__all__ = ["PanNetLike", "highpass", "train_pannet"]


def highpass(x: Tensor, size: int = 5) -> Tensor:
    """``x`` minus its ``size x size`` box-filtered version (mirrored borders)."""
    pad = size // 2
    low = F.avg_pool2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), size, stride=1)
    return x - low


class _ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, padding_mode="reflect")
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, padding_mode="reflect")

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.conv2(F.relu(self.conv1(x)))
        return out


class PanNetLike(nn.Module):
    """PanNet-style pansharpening CNN: ``fused = lms + f(hp(pan), up(hp(ms)))``.

    Args:
        ms_channels: MS bands.
        ratio: PAN/MS resolution ratio.
        width: feature channels (paper: 32).
        blocks: residual blocks (paper: 10).
    """

    def __init__(self, ms_channels: int, ratio: int = 4, width: int = 32, blocks: int = 4) -> None:
        super().__init__()
        if ms_channels < 1 or ratio < 2:
            raise InvalidInputError(f"bad PanNet config: bands {ms_channels}, ratio {ratio}")
        self.ratio = ratio
        self.up = nn.ConvTranspose2d(ms_channels, ms_channels, 2 * ratio, stride=ratio,
                                     padding=ratio // 2)
        self.head = nn.Conv2d(ms_channels + 1, width, 3, padding=1, padding_mode="reflect")
        self.body = nn.Sequential(*[_ResBlock(width) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, ms_channels, 3, padding=1, padding_mode="reflect")

    def forward(self, lms: Tensor, pan: Tensor, ms: Tensor) -> Tensor:
        x = torch.cat([highpass(pan), self.up(highpass(ms))], dim=1)
        out: Tensor = lms + self.tail(self.body(F.relu(self.head(x))))
        return out


def train_pannet(
    train: Any,
    *,
    steps: int,
    batch_size: int = 8,
    patch_size: int = 16,
    lr: float = 2e-3,
    ema_decay: float = 0.999,
    seed: int = 0,
    width: int = 32,
    blocks: int = 4,
) -> tuple[PanNetLike, list[float]]:
    """Train :class:`PanNetLike` with an L1 loss on ``gt`` (AdamW, EMA with warm-up).

    Returns:
        ``(EMA model in eval mode, training losses)``.
    """
    bands = int(train[0]["ms"].shape[0])
    torch.manual_seed(seed)
    data = PatchDataset(train, patch_size, steps * batch_size, seed=seed)
    model = PanNetLike(bands, data.ratio, width, blocks)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses: list[float] = []
    model.train()
    for n, batch in enumerate(DataLoader(data, batch_size=batch_size, shuffle=False)):
        pred = model(batch["lms"], batch["pan"], batch["ms"])
        loss = (pred - batch["gt"]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        decay = min(ema_decay, (1.0 + n) / (10.0 + n))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm.detach(), 1.0 - decay)
    return ema, losses


def pannet_pansharpener(model: PanNetLike) -> Any:
    """``fused = f(ms, pan)`` on whole images (``[0, 1]`` floats, like SSDiff's)."""
    from ...metrics.mtf import interp23

    @torch.no_grad()
    def run(ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
        lms = interp23(np.asarray(ms, dtype=np.float64), model.ratio, mode="symmetric")
        p = np.asarray(pan, dtype=np.float32).reshape(1, 1, *lms.shape[1:])
        out = model(torch.from_numpy(lms).float()[None], torch.from_numpy(p),
                    torch.from_numpy(np.asarray(ms, dtype=np.float32))[None])[0]
        fused: np.ndarray = np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)
        return fused

    return run
