"""SeCo's SCC samples and classifier (Sec. 3.3, public code ``SCC/``).

Every 8-connected component of every class of the PSA labels becomes a sample
(:func:`extract_components`); a crop around it (:func:`crop_region`, :func:`make_crops`) and
its mask feed the *connectivity classifier* (:class:`ConnectivityClassifier`: a ResNet whose
post-stem features are multiplied by the component mask, average pooling, linear head).
:func:`component_noise_report` measures how many noisy components a refinement removed.

Difference from the public code, deliberate: the public classifier crops are normalised
with ImageNet RGB statistics *after* being flipped to BGR; here RGB order is kept with RGB
statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import CheckpointError, InvalidInputError
from .data import IGNORE_INDEX

__all__ = [
    "Component",
    "ConnectivityClassifier",
    "component_noise_report",
    "crop_region",
    "extract_components",
    "make_crops",
]


@dataclass
class Component:
    """One 8-connected component of one class in one image (an SCC sample).

    Attributes:
        image_index: index of its image in the batch given to SCC.
        label: its (pseudo) class.
        bbox: ``(row0, col0, row1, col1)``, half-open.
        mask: boolean mask inside the bbox.
        area: pixel count.
    """

    image_index: int
    label: int
    bbox: tuple[int, int, int, int]
    mask: np.ndarray
    area: int

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The component as an ``(H, W)`` mask."""
        out = np.zeros(shape, dtype=bool)
        r0, c0, r1, c1 = self.bbox
        out[r0:r1, c0:c1] = self.mask
        return out


def extract_components(label: np.ndarray, image_index: int = 0, min_area: int = 1
                       ) -> list[Component]:
    """All 8-connected components of every class of a label map (255 skipped)."""
    from scipy import ndimage

    lab = np.asarray(label).astype(np.int64)
    comps: list[Component] = []
    for c in np.unique(lab):
        if c == IGNORE_INDEX:
            continue
        cc, n = ndimage.label(lab == c, structure=np.ones((3, 3)))
        for i, sl in enumerate(ndimage.find_objects(cc), start=1):
            if sl is None:
                continue
            m = cc[sl] == i
            area = int(m.sum())
            if area < min_area:
                continue
            bbox = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
            comps.append(Component(int(image_index), int(c), bbox, m, area))
    return comps


def crop_region(image_hw: tuple[int, int], bbox: tuple[int, int, int, int],
                size: tuple[int, int]) -> tuple[int, int, int, int]:
    """SCC crop window ``(row0, row1, col0, col1)`` around a component bbox.

    A ``size`` (h, w) window centred on the bbox; scaled up (same aspect) when the bbox is
    larger; shifted inside the image and clipped to it (public ``get_patch_region``).
    """
    img_h, img_w = image_hw
    r0, c0, r1, c1 = bbox
    bh, bw = r1 - r0, c1 - c0
    sh, sw = size
    if bw > sw or bh > sh:
        ratio = max(bh / sh, bw / sw)
        sh, sw = int(math.ceil(ratio * sh)), int(math.ceil(ratio * sw))
    cy, cx = (r0 + r1) // 2, (c0 + c1) // 2
    top, left = cy - sh // 2, cx - sw // 2
    top = min(max(top, 0), max(img_h - sh, 0))
    left = min(max(left, 0), max(img_w - sw, 0))
    return top, min(img_h, top + sh), left, min(img_w, left + sw)


_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def make_crops(
    images: Sequence[np.ndarray], comps: Sequence[Component], size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """Normalised image crops ``(N, 3, h, w)`` and component masks ``(N, 1, h, w)``."""
    n = len(comps)
    x = torch.zeros(n, 3, *size)
    m = torch.zeros(n, 1, *size)
    tensors = [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0
               for im in images]
    for k, comp in enumerate(comps):
        img = tensors[comp.image_index]
        h, w = img.shape[1:]
        t, b, le, ri = crop_region((h, w), comp.bbox, size)
        full = torch.zeros(h, w)
        r0, c0, r1, c1 = comp.bbox
        full[r0:r1, c0:c1] = torch.from_numpy(comp.mask.astype(np.float32))
        x[k] = F.interpolate(img[None, :, t:b, le:ri], size, mode="bilinear",
                             align_corners=False)[0]
        m[k] = F.interpolate(full[None, None, t:b, le:ri], size, mode="nearest")[0]
    return (x - _MEAN) / _STD, m


class ConnectivityClassifier(nn.Module):
    """Mask-guided classifier of connected components (SCC, Sec. 3.3).

    A ResNet stem (conv-BN-ReLU-maxpool) whose output is multiplied by the component mask
    (nearest-resized), the ResNet stages, global average pooling and a linear head.

    Args:
        num_classes: output classes.
        arch: ``"resnet101"`` (paper), ``"resnet18"``/``"resnet50"`` (torchvision,
            random init unless ``checkpoint`` is given), or ``"tiny"`` (a 3-stage CNN for
            tests and CPU demos).
        checkpoint: local torchvision ResNet state dict (e.g. ImageNet weights) read with
            :func:`geoneurips.io.load_checkpoint`; the ``fc`` weights are not used.
        width: base width of the tiny network.
    """

    def __init__(self, num_classes: int, arch: str = "resnet101",
                 checkpoint: str | Path | None = None, width: int = 16) -> None:
        super().__init__()
        self.arch = arch
        if arch == "tiny":
            self.stem = nn.Sequential(
                nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )

            def block(i: int, o: int) -> nn.Module:
                return nn.Sequential(nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o),
                                     nn.ReLU(inplace=True))

            self.body = nn.Sequential(block(width, 2 * width), block(2 * width, 4 * width))
            feat = 4 * width
        elif arch in ("resnet18", "resnet50", "resnet101"):
            import torchvision

            net = getattr(torchvision.models, arch)(weights=None)
            if checkpoint is not None:
                from ...io import load_checkpoint

                state = {k: v for k, v in load_checkpoint(checkpoint).items()
                         if not k.startswith("fc.")}
                missing, unexpected = net.load_state_dict(state, strict=False)
                bad = [k for k in missing if not k.startswith("fc.")]
                if bad or unexpected:
                    raise CheckpointError(
                        f"checkpoint {str(checkpoint)!r} does not match torchvision {arch}: "
                        f"missing {bad[:3]}, unexpected {list(unexpected)[:3]}"
                    )
            self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
            self.body = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
            feat = net.fc.in_features
        else:
            raise InvalidInputError(f"unknown classifier arch {arch!r}")
        self.head = nn.Linear(feat, num_classes)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """Logits ``(N, K)`` of image crops ``(N, 3, h, w)`` and masks ``(N, 1, h, w)``."""
        f = self.stem(image)
        f = f * F.interpolate(mask.float(), f.shape[-2:], mode="nearest")
        f = self.body(f)
        logits: Tensor = self.head(f.mean(dim=(2, 3)))
        return logits

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters of stem and stages (trained at ``backbone_lr_mult`` x lr)."""
        return [*self.stem.parameters(), *self.body.parameters()]


def component_noise_report(
    pseudo: np.ndarray, refined: np.ndarray, truth: np.ndarray
) -> dict[str, float]:
    """Share of the pseudo-label's *noisy* components removed by the refinement.

    A component (8-connected, per class) of ``pseudo`` is noisy when the majority of its
    pixels with a valid truth has another class; it counts as removed when fewer than half
    of those pixels still carry its wrong class in ``refined``.
    """
    comps = extract_components(pseudo)
    t = np.asarray(truth).astype(np.int64)
    r = np.asarray(refined).astype(np.int64)
    noisy = removed = clean = clean_lost = 0
    for comp in comps:
        full = comp.full_mask(t.shape)
        tv = t[full]
        tv = tv[tv != IGNORE_INDEX]
        if tv.size == 0:
            continue
        major = int(np.bincount(tv).argmax())
        still = float((r[full] == comp.label).mean())
        if major != comp.label:
            noisy += 1
            removed += still < 0.5
        else:
            clean += 1
            clean_lost += still < 0.5
    return {
        "noisy_components": float(noisy),
        "noisy_removed_share": removed / noisy if noisy else float("nan"),
        "clean_components": float(clean),
        "clean_lost_share": clean_lost / clean if clean else float("nan"),
    }
