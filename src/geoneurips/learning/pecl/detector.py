"""A small centre-heatmap detector that trains on CPU in seconds (the demo's base detector).

**Deviation.** The paper's base detectors are oriented two-stage detectors (S2A-Net,
Oriented R-CNN, ReDet; mmdet 1.x with CUDA ops). On 2 CPU cores in about a minute we use a
CenterNet-style detector instead (Zhou et al. 2019, "Objects as Points"): a 4-layer CNN at
output stride 4 predicting one heatmap per class (penalty-reduced focal loss, Gaussian
targets), the log box size and centre offset at object centres (L1), and exposing its
32-channel feature at each centre as the instance embedding PECL's prototypes need.
Horizontal boxes only.

Sparse annotation (SAOD) is what makes training hard: unlabelled objects are trained as
background; pseudo-labels add positives. ``ignore`` boxes (optional) get no loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

__all__ = [
    "CenterDetector", "Detections", "DetectorConfig", "detect", "load_detector", "probe",
    "flip_targets", "save_detector", "train_detector",
]

STRIDE = 4


@dataclass(frozen=True)
class DetectorConfig:
    """Detector and training settings (``tiny()`` for tests)."""

    num_classes: int = 3
    width: int = 32
    steps: int = 300
    batch_size: int = 8
    lr: float = 3e-3
    max_candidates: int = 40

    @classmethod
    def tiny(cls, num_classes: int = 3) -> DetectorConfig:
        return cls(num_classes=num_classes, width=16, steps=40, batch_size=4)


class CenterDetector(nn.Module):
    """Backbone (stride 4) -> heatmap (C), log-size (2) heads; ``features`` = embedding."""

    def __init__(self, num_classes: int = 3, width: int = 32) -> None:
        super().__init__()
        self.num_classes = num_classes
        w = width
        self.backbone = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w // 2, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=2, dilation=2), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
        )
        self.heat = nn.Conv2d(w, num_classes, 1)
        self.size = nn.Conv2d(w, 4, 1)  # log w, log h, centre offset x, y
        nn.init.constant_(self.heat.bias, -2.19)  # type: ignore[arg-type]  # prior 0.1 (CenterNet)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` in [0, 1], ``[B, 3, H, W]`` -> (heat logits, log size, features)."""
        f = self.backbone(x - 0.5)
        return self.heat(f), self.size(f), f


def _targets(
    boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray],
    ignore: Sequence[tuple[np.ndarray, np.ndarray]],
    num_classes: int, hw: tuple[int, int],
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    h, w = hw
    heat = np.zeros((len(boxes), num_classes, h, w), np.float32)
    size = np.zeros((len(boxes), 4, h, w), np.float32)
    mask = np.zeros((len(boxes), h, w), np.float32)
    ign = np.ones((len(boxes), num_classes, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for b, (bx, lb, ig) in enumerate(zip(boxes, labels, ignore, strict=True)):
        for box, c in zip(bx, lb, strict=True):
            cx, cy = (box[0] + box[2]) / 2 / STRIDE, (box[1] + box[3]) / 2 / STRIDE
            bw, bh = box[2] - box[0], box[3] - box[1]
            sigma = max(0.5, min(bw, bh) / STRIDE / 3)
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            # the Gaussian sits on the peak cell (CenterNet), so that it mirrors with it
            g = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
            heat[b, c] = np.maximum(heat[b, c], g)
            heat[b, c, iy, ix] = 1.0
            size[b, :, iy, ix] = [np.log(bw), np.log(bh), cx - ix, cy - iy]
            mask[b, iy, ix] = 1.0
        for box, c in zip(ig[0], ig[1], strict=True):
            x0, y0 = int(box[0] // STRIDE), int(box[1] // STRIDE)
            x1, y1 = int(np.ceil(box[2] / STRIDE)), int(np.ceil(box[3] / STRIDE))
            ign[b, c, y0:y1, x0:x1] = 0.0
    return (torch.from_numpy(heat), torch.from_numpy(size), torch.from_numpy(mask),
            torch.from_numpy(ign))


def focal_loss(logits: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by positives."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = (1 - pos) * weight
    pl = -torch.log(p) * (1 - p) ** 2 * pos
    nl = -torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    return (pl.sum() + nl.sum()) / pos.sum().clamp(min=1.0)


def flip_targets(
    x: Tensor, heat: Tensor, size: Tensor, mask: Tensor, weight: Tensor, dim: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Mirror a batch and its targets along ``dim`` (-1: horizontal, -2: vertical).

    The sub-cell centre offset flips with the image: a centre at ``ix + o`` (stride units)
    lands at ``(W - 1 - ix) + (1 - o)``, so the offset target becomes ``1 - o`` where an
    object sits. (Fixed defect: the offsets used to be mirrored as values, which put the
    regressed centre up to one stride (4 px) off on half the training batches -- enough to
    drop a 4 x 7 px vehicle box below IoU 0.5.)
    """
    x, heat, size, mask, weight = (t.flip(dim) for t in (x, heat, size, mask, weight))
    ch = 2 if dim == -1 else 3
    size = size.clone()
    size[:, ch] = torch.where(mask > 0, 1.0 - size[:, ch], size[:, ch])
    return x, heat, size, mask, weight


def train_detector(
    images: np.ndarray,
    boxes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    config: DetectorConfig,
    seed: int = 0,
    ignore: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> CenterDetector:
    """Train on ``images`` (uint8 ``[N, H, W, 3]``) with per-image xyxy boxes and labels.

    Random flips augment; Adam with cosine decay; ``ignore`` boxes get no heatmap loss.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = CenterDetector(config.num_classes, config.width)
    x_all = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    hw = (images.shape[1] // STRIDE, images.shape[2] // STRIDE)
    ign = ignore if ignore is not None else [
        (np.zeros((0, 4)), np.zeros(0, np.int64)) for _ in boxes]
    heat, size, mask, weight = _targets(boxes, labels, ign, config.num_classes, hw)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    model.train()
    n = len(images)
    for _ in range(config.steps):
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=g)
        x, th, ts, tm, tw = x_all[idx], heat[idx], size[idx], mask[idx], weight[idx]
        for dim in (-1, -2):
            if torch.rand(1, generator=g).item() < 0.5:
                x, th, ts, tm, tw = flip_targets(x, th, ts, tm, tw, dim)
        hl, sl, _ = model(x)
        loss = focal_loss(hl, th, tw)
        m = tm.unsqueeze(1)
        loss = loss + 0.5 * (F.l1_loss(sl * m, ts * m, reduction="sum") / m.sum().clamp(min=1))
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
    model.eval()
    return model


@dataclass
class Detections:
    """Candidates of one image: xyxy ``boxes``, ``scores``, ``labels``, per-class ``probs``
    (heatmap values of every class at the peak), ``embed`` (L2-normalised features)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    embed: np.ndarray


@torch.no_grad()
def detect(
    model: CenterDetector, images: np.ndarray, max_candidates: int = 40,
    min_score: float = 0.01,
) -> list[Detections]:
    """Peaks of the class heatmaps (3x3 max-pool NMS), at most ``max_candidates`` per image."""
    model.eval()
    out: list[Detections] = []
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    for i0 in range(0, len(x), 16):
        hl, sl, feat = model(x[i0:i0 + 16])
        heat = torch.sigmoid(hl)
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat).float()
        feat = F.normalize(feat, dim=1)
        b, c, h, w = heat.shape
        for k in range(b):
            flat = peaks[k].reshape(-1)
            top = torch.topk(flat, min(max_candidates, flat.numel()))
            keep = top.values >= min_score
            vals, idx = top.values[keep], top.indices[keep]
            cls = idx // (h * w)
            pix = idx % (h * w)
            py, px = pix // w, pix % w
            reg = sl[k][:, py, px].T
            wh = torch.exp(reg[:, :2])
            cx, cy = (px.float() + reg[:, 2]) * STRIDE, (py.float() + reg[:, 3]) * STRIDE
            boxes = torch.stack(
                [cx - wh[:, 0] / 2, cy - wh[:, 1] / 2, cx + wh[:, 0] / 2, cy + wh[:, 1] / 2], 1)
            out.append(Detections(
                boxes.numpy().astype(np.float64), vals.numpy().astype(np.float64),
                cls.numpy().astype(np.int64), heat[k][:, py, px].T.numpy().astype(np.float64),
                feat[k][:, py, px].T.numpy().astype(np.float64)))
    return out


@torch.no_grad()
def probe(
    model: CenterDetector, images: np.ndarray, boxes: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Class probabilities ``[n, C]`` and normalised embeddings ``[n, D]`` at the centres of
    given xyxy ``boxes`` (per image): how the detector sees labelled instances."""
    model.eval()
    probs: list[np.ndarray] = []
    embeds: list[np.ndarray] = []
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    for i0 in range(0, len(x), 16):
        hl, _, feat = model(x[i0:i0 + 16])
        heat, feat = torch.sigmoid(hl), F.normalize(feat, dim=1)
        h, w = heat.shape[-2:]
        for k in range(heat.shape[0]):
            b = np.asarray(boxes[i0 + k], dtype=np.float64).reshape(-1, 4)
            px = np.clip(((b[:, 0] + b[:, 2]) / 2 // STRIDE).astype(int), 0, w - 1)
            py = np.clip(((b[:, 1] + b[:, 3]) / 2 // STRIDE).astype(int), 0, h - 1)
            probs.append(heat[k][:, py, px].T.numpy().astype(np.float64))
            embeds.append(feat[k][:, py, px].T.numpy().astype(np.float64))
    return probs, embeds


def save_detector(path: str | Path, model: CenterDetector, classes: Sequence[str]) -> Path:
    """Write the detector with its config (``geoneurips.io.save_model``), atomically."""
    from geoneurips.io import save_model

    width = int(model.heat.in_channels)
    return save_model(path, model, {"system": "pecl", "num_classes": model.num_classes,
                                    "width": width, "classes": list(classes)})


def load_detector(path: str | Path) -> tuple[CenterDetector, list[str]]:
    """Read a detector written by :func:`save_detector` (weights only, safe loading)."""
    from geoneurips.errors import CheckpointError
    from geoneurips.io import load_model_state, load_weights

    state, cfg = load_model_state(path, "PECL detector")
    try:
        model = CenterDetector(int(cfg["num_classes"]), int(cfg["width"]))
        classes = [str(c) for c in cfg["classes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"bad PECL detector config in {str(path)!r}: {exc}") from exc
    return load_weights(model, state, path, "PECL detector"), classes
