"""AnyChange's evaluation metrics (Sec. 4).

* Pixel-level precision, recall, F1 and IoU of the *change* class, accumulated over a whole
  split (one confusion matrix, as ``torchange.metrics.bcd`` / ever's ``PixelMetric`` do),
  through :func:`geoneurips.metrics.confusion.binary_scores`' conventions.
* Instance-level mask **AR@1000**: COCO-style average recall over IoU thresholds
  0.50:0.05:0.95, the top 1000 change masks (by confidence) per image, ground-truth
  instances being the connected components (8-connectivity) of the change label, recall
  pooled over all images. Matching follows COCO: detections in descending score greedily
  take the unmatched ground truth of highest IoU at or above the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from geoneurips.errors import InvalidInputError
from geoneurips.metrics.confusion import binary_scores, confusion_matrix

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "ChangeMetric",
    "MaskRecall",
    "instances_from_mask",
    "mask_iou",
    "pixel_change_scores",
]

COCO_IOU_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)


def pixel_change_scores(pred: npt.ArrayLike, target: npt.ArrayLike) -> dict[str, float]:
    """Precision/recall/F1/IoU of the change class of one pair of binary maps."""
    return binary_scores(pred, target)


@dataclass
class ChangeMetric:
    """Pixel metrics of the change class accumulated over many images (one confusion)."""

    cm: np.ndarray = field(default_factory=lambda: np.zeros((2, 2), dtype=np.int64))

    def update(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> None:
        """Add one prediction/target pair (non-zero = change)."""
        p, t = np.asarray(pred), np.asarray(target)
        if p.shape != t.shape:
            raise InvalidInputError(f"prediction {p.shape} and target {t.shape} differ")
        self.cm += confusion_matrix((p > 0).astype(np.int64), (t > 0).astype(np.int64), 2)

    def compute(self) -> dict[str, float]:
        """``precision``, ``recall``, ``f1``, ``iou`` of the change class (0 when undefined)."""
        tp, fp, fn = float(self.cm[1, 1]), float(self.cm[0, 1]), float(self.cm[1, 0])
        return {
            "precision": tp / (tp + fp) if tp + fp > 0 else 0.0,
            "recall": tp / (tp + fn) if tp + fn > 0 else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0,
            "iou": tp / (tp + fp + fn) if tp > 0 else 0.0,
        }


def instances_from_mask(mask: npt.ArrayLike, min_pixels: int = 1) -> np.ndarray:
    """Ground-truth instances ``(N, H, W)`` bool: 8-connected components of a change mask."""
    from scipy import ndimage

    m = np.asarray(mask) > 0
    labels, n = ndimage.label(m, structure=np.ones((3, 3), dtype=bool))
    out = [labels == k for k in range(1, n + 1)]
    out = [o for o in out if o.sum() >= min_pixels]
    return np.stack(out) if out else np.zeros((0, *m.shape), dtype=bool)


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU matrix ``(P, G)`` of boolean masks ``(P, H, W)`` and ``(G, H, W)``."""
    p = pred.reshape(len(pred), -1).astype(np.float64)
    g = gt.reshape(len(gt), -1).astype(np.float64)
    inter = p @ g.T
    union = p.sum(1)[:, None] + g.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class MaskRecall:
    """COCO-style mask average recall at ``k`` proposals (AR@1000 by default)."""

    k: int = 1000
    thresholds: Sequence[float] = tuple(COCO_IOU_THRESHOLDS.tolist())
    matched: np.ndarray = field(init=False)
    n_gt: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.matched = np.zeros(len(self.thresholds), dtype=np.int64)

    def update(
        self, pred_masks: npt.ArrayLike, scores: npt.ArrayLike, gt_masks: npt.ArrayLike
    ) -> None:
        """Add one image: predicted masks ``(P, H, W)`` with scores ``(P,)``, GT ``(G, H, W)``."""
        pm = np.asarray(pred_masks, dtype=bool)
        sc = np.asarray(scores, dtype=np.float64).reshape(-1)
        gm = np.asarray(gt_masks, dtype=bool)
        if len(pm) != len(sc):
            raise InvalidInputError(f"{len(pm)} masks but {len(sc)} scores")
        if len(pm) and len(gm) and pm.shape[1:] != gm.shape[1:]:
            raise InvalidInputError(f"mask size {pm.shape[1:]} != ground truth {gm.shape[1:]}")
        self.n_gt += len(gm)
        if len(pm) == 0 or len(gm) == 0:
            return
        order = np.argsort(-sc, kind="stable")[: self.k]
        ious = mask_iou(pm[order], gm)
        for ti, t in enumerate(self.thresholds):
            taken = np.zeros(len(gm), dtype=bool)
            for d in range(len(order)):
                best, best_g = t - 1e-10, -1
                for g in range(len(gm)):
                    if taken[g] or ious[d, g] < best:
                        continue
                    best, best_g = ious[d, g], g
                if best_g >= 0:
                    taken[best_g] = True
            self.matched[ti] += int(taken.sum())

    def compute(self) -> dict[str, float]:
        """``ar`` (mean recall over thresholds) and ``recall@<t>`` per threshold."""
        if self.n_gt == 0:
            return {"ar": float("nan")}
        rec = self.matched / self.n_gt
        out = {"ar": float(rec.mean())}
        out.update({f"recall@{t:.2f}": float(r) for t, r in zip(self.thresholds, rec,
                                                                 strict=True)})
        return out
