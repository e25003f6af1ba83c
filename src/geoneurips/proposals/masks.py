"""Mask proposals of one image (AnyChange Sec. 3.2 "object proposals", SeCo PSA segments).

:class:`Proposals` carries the masks of an image with the scores that filters and merges
use (SAM's predicted IoU, the stability score, and for AnyChange the change confidence
``-cos`` and the date); :func:`masks_to_boxes` and :func:`stability_score` follow SAM's
conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["Proposals", "masks_to_boxes", "stability_score"]


def masks_to_boxes(masks: Tensor) -> Tensor:
    """XYXY boxes (inclusive max, SAM's convention) of boolean masks ``(N, H, W)``.

    Empty masks give ``[0, 0, 0, 0]``.
    """
    n, h, w = masks.shape
    if n == 0:
        return torch.zeros(0, 4)
    rows = masks.any(dim=2)  # (N, H)
    cols = masks.any(dim=1)  # (N, W)
    ar_h = torch.arange(h, device=masks.device)
    ar_w = torch.arange(w, device=masks.device)
    y0 = torch.where(rows, ar_h, h).min(dim=1).values
    y1 = torch.where(rows, ar_h, -1).max(dim=1).values
    x0 = torch.where(cols, ar_w, w).min(dim=1).values
    x1 = torch.where(cols, ar_w, -1).max(dim=1).values
    boxes = torch.stack([x0, y0, x1, y1], dim=1).float()
    empty = ~rows.any(dim=1)
    boxes[empty] = 0.0
    return boxes


def stability_score(logits: Tensor, threshold: float, offset: float) -> Tensor:
    """SAM's stability score: IoU of the masks binarised at ``threshold +/- offset``."""
    inter = (logits > threshold + offset).flatten(1).sum(1).float()
    union = (logits > threshold - offset).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(union))


@dataclass
class Proposals:
    """Mask proposals of one date (or change masks after matching).

    Attributes:
        masks: ``(N, H, W)`` bool.
        iou_preds: ``(N,)`` the generator's quality score (SAM's predicted IoU), used by NMS.
        boxes: ``(N, 4)`` XYXY boxes.
        stability: ``(N,)`` stability scores (1 for non-SAM proposers).
        confidence: ``(N,)`` change confidence ``-cos`` (filled by the matching), else NaN.
        date: ``(N,)`` int, the date (1 or 2) a mask was proposed on (0 if unknown).
    """

    masks: Tensor
    iou_preds: Tensor
    boxes: Tensor
    stability: Tensor
    confidence: Tensor = field(default_factory=lambda: torch.zeros(0))
    date: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))

    def __post_init__(self) -> None:
        n = self.masks.shape[0]
        if self.confidence.numel() != n:
            self.confidence = torch.full((n,), float("nan"))
        if self.date.numel() != n:
            self.date = torch.zeros(n, dtype=torch.int64)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def areas(self) -> Tensor:
        """Pixel counts of the masks."""
        return self.masks.flatten(1).sum(1)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the masks."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    def filter(self, keep: Tensor) -> Proposals:
        """A new :class:`Proposals` with the rows selected by ``keep`` (bool or indices)."""
        return Proposals(
            self.masks[keep], self.iou_preds[keep], self.boxes[keep], self.stability[keep],
            self.confidence[keep], self.date[keep],
        )

    @classmethod
    def empty(cls, height: int, width: int) -> Proposals:
        """No proposals on an ``height x width`` image."""
        return cls(
            torch.zeros(0, height, width, dtype=torch.bool), torch.zeros(0), torch.zeros(0, 4),
            torch.zeros(0),
        )

    @classmethod
    def from_masks(cls, masks: Tensor, scores: Tensor | None = None) -> Proposals:
        """Proposals from boolean masks (scores default to 1)."""
        masks = masks.bool()
        n = masks.shape[0]
        s = torch.ones(n) if scores is None else scores.float()
        return cls(masks, s, masks_to_boxes(masks), torch.ones(n))

    @classmethod
    def cat(cls, items: Sequence[Proposals], height: int, width: int) -> Proposals:
        """Concatenate proposals of the same image size."""
        items = [p for p in items if len(p) > 0]
        if not items:
            return cls.empty(height, width)
        return cls(
            torch.cat([p.masks for p in items]), torch.cat([p.iou_preds for p in items]),
            torch.cat([p.boxes for p in items]), torch.cat([p.stability for p in items]),
            torch.cat([p.confidence for p in items]), torch.cat([p.date for p in items]),
        )

    def nms(self, iou_threshold: float) -> Proposals:
        """Box NMS on ``iou_preds`` (boxes made half-open so one-pixel boxes have area)."""
        if len(self) == 0:
            return self
        from torchvision.ops import nms

        boxes = self.boxes.float().clone()
        boxes[:, 2:] += 1.0
        keep = nms(boxes, self.iou_preds.float(), iou_threshold)
        return self.filter(keep)
