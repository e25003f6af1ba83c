"""Self-training on pseudo-labels (SeCo Sec. 4: the refined labels train the segmenter).

SeCo's output is not an end in itself: the refined pseudo-labels (255 = ignore) supervise a
segmentation network on the target domain, which then labels every pixel. The paper uses
DeepLab-V2/ResNet-101 (and UniMatch in the README); here a small U-Net
(:class:`geoneurips.nn.unet.SmallUNet`) is trained on random crops with cross-entropy that
ignores 255, so raw, PSA and SeCo labels can be compared the way the paper compares them:
by the segmenter they produce, evaluated on unseen scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import InvalidInputError
from ...nn.unet import SmallUNet
from .data import IGNORE_INDEX

__all__ = ["SegmenterConfig", "predict_segmenter", "train_segmenter"]

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class SegmenterConfig:
    """Small U-Net self-training settings (CPU demo scale).

    Attributes:
        width, depth: of the U-Net.
        steps: optimiser steps; batch_size crops of crop_size pixels per step.
        lr: Adam learning rate.
        seed: seed of initialisation and sampling.
    """

    width: int = 16
    depth: int = 2
    steps: int = 150
    batch_size: int = 4
    crop_size: int = 48
    lr: float = 3e-3
    seed: int = 0


def _to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float()
                     for im in images]) / 255.0
    return (x - _MEAN) / _STD


def train_segmenter(images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                    num_classes: int, config: SegmenterConfig | None = None) -> SmallUNet:
    """Train a :class:`SmallUNet` on images ``(H, W, 3)`` uint8 and labels (255 ignored)."""
    cfg = config or SegmenterConfig()
    if len(images) != len(labels) or not images:
        raise InvalidInputError(f"{len(images)} images but {len(labels)} label maps")
    shapes = {np.asarray(im).shape[:2] for im in images}
    if len(shapes) != 1:
        raise InvalidInputError(f"training images differ in size: {sorted(shapes)}")
    h, w = shapes.pop()
    crop = min(cfg.crop_size, h, w) // (2 ** cfg.depth) * (2 ** cfg.depth)
    if crop < 2 ** cfg.depth:
        raise InvalidInputError(f"images of {h} x {w} are too small for the segmenter")
    x = _to_tensor(images)
    y = torch.stack([torch.from_numpy(np.asarray(lb).astype(np.int64)) for lb in labels])
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(cfg.seed)
    try:
        net = SmallUNet(3, num_classes, cfg.width, cfg.depth)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        g = torch.Generator().manual_seed(cfg.seed)
        net.train()
        for _ in range(cfg.steps):
            idx = torch.randint(0, len(images), (cfg.batch_size,), generator=g)
            r = torch.randint(0, h - crop + 1, (cfg.batch_size,), generator=g)
            c = torch.randint(0, w - crop + 1, (cfg.batch_size,), generator=g)
            flip = torch.rand(cfg.batch_size, generator=g) < 0.5
            xb = torch.stack([x[i, :, a : a + crop, b : b + crop]
                              for i, a, b in zip(idx, r, c, strict=True)])
            yb = torch.stack([y[i, a : a + crop, b : b + crop]
                              for i, a, b in zip(idx, r, c, strict=True)])
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            yb = torch.where(flip[:, None, None], yb.flip(-1), yb)
            if not (yb != IGNORE_INDEX).any():
                continue
            loss = F.cross_entropy(net(xb), yb, ignore_index=IGNORE_INDEX)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    finally:
        torch.random.set_rng_state(gen_state)
    return net.eval()


@torch.no_grad()
def predict_segmenter(net: SmallUNet, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Labels ``(H, W)`` int64 of every pixel (images padded to a multiple of the stride)."""
    out = []
    stride = 2 ** int(net.depth)
    for im in images:
        x = _to_tensor([im])
        h, w = x.shape[-2:]
        ph, pw = (-h) % stride, (-w) % stride
        x = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x
        out.append(net(x)[0, :, :h, :w].argmax(0).numpy().astype(np.int64))
    return out
