"""OAM-TCD semantic metrics (the paper's conventions, numpy only).

The reference code scores semantic models with torchmetrics *globally* (one confusion
matrix accumulated over every pixel of the test split, not averaged per image) and reports
per-class accuracy, F1, IoU, precision and recall. Per-class accuracy is torchmetrics'
``MulticlassAccuracy(average=None)``, i.e. the recall of that class. This module computes
them from :func:`geoneurips.metrics.confusion.confusion_matrix` (rows = reference).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ...metrics.confusion import confusion_matrix, segmentation_scores
from .data import CLASS_NAMES

__all__ = ["instances_to_masks", "mask_ap50", "semantic_scores"]


def semantic_scores(
    pred: npt.ArrayLike, target: npt.ArrayLike, num_classes: int = 3,
    ignore_index: int | None = None, names: tuple[str, ...] = CLASS_NAMES,
) -> dict[str, float]:
    """Global per-class ``accuracy_<c>``, ``f1_<c>``, ``iou_<c>``, ``precision_<c>``,
    ``recall_<c>`` plus ``oa`` (overall pixel accuracy), ``miou`` and ``mf1`` (means over
    classes present in reference or prediction). Class names default to
    ``background, tree, canopy``; with ``num_classes=2`` they are ``background, tree``."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index=ignore_index)
    s = segmentation_scores(cm)
    out: dict[str, float] = {"oa": float(s["oa"]), "miou": float(s["miou"]),
                             "mf1": float(s["mf1"])}
    for i in range(num_classes):
        name = names[i] if i < len(names) else str(i)
        for key in ("iou", "f1", "precision", "recall"):
            out[f"{key}_{name}"] = float(np.asarray(s[key])[i])
        out[f"accuracy_{name}"] = out[f"recall_{name}"]
    return out


def _mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of bool masks ``a (N, H, W)`` and ``b (M, H, W)``."""
    fa = a.reshape(len(a), -1).astype(np.float64)
    fb = b.reshape(len(b), -1).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None] - inter
    out: np.ndarray = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def mask_ap50(
    predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: list[tuple[np.ndarray, np.ndarray]],
    iou_threshold: float = 0.5,
    max_dets: int = 100,
    names: dict[int, str] | None = None,
) -> dict[str, float]:
    """COCO-style mask AP at one IoU threshold (the paper's instance metric, mAP50).

    Args:
        predictions: per image ``(masks bool (N, H, W), scores (N,), labels (N,))``.
        ground_truth: per image ``(masks bool (M, H, W), labels (M,))`` (no crowd regions).
        iou_threshold: 0.5 for AP50.
        max_dets: detections kept per image, highest scores first (COCO: 100).
        names: label -> name for the keys (default ``{1: "tree", 2: "canopy"}``).

    COCO's protocol per category: detections of all images sorted by score, each matched
    greedily to the unmatched reference with the highest IoU >= threshold; the precision
    envelope is sampled at the 101 recall points 0, 0.01, ..., 1. Categories without
    references are left out of the mean. Returns ``ap50_<name>`` and ``map50``.
    """
    from ...errors import InvalidInputError

    if len(predictions) != len(ground_truth):
        raise InvalidInputError(
            f"{len(predictions)} prediction images vs. {len(ground_truth)} reference images")
    names = names or {1: "tree", 2: "canopy"}
    labels_all = sorted({int(v) for _, lab in ground_truth for v in np.asarray(lab)})
    out: dict[str, float] = {}
    aps = []
    for c in labels_all:
        records: list[tuple[float, int]] = []  # (score, is_tp)
        n_gt = 0
        for (pm, ps, pl), (gm, gl) in zip(predictions, ground_truth, strict=True):
            ps, pl, gl = np.asarray(ps, float), np.asarray(pl), np.asarray(gl)
            g = np.asarray(gm, bool)[gl == c]
            n_gt += len(g)
            sel = np.nonzero(pl == c)[0]
            sel = sel[np.argsort(-ps[sel], kind="mergesort")][:max_dets]
            if not len(sel):
                continue
            d = np.asarray(pm, bool)[sel]
            if d.shape[1:] != np.asarray(gm).shape[1:] and len(g):
                raise InvalidInputError("prediction and reference masks differ in size")
            iou = _mask_iou(d, g) if len(g) else np.zeros((len(d), 0))
            used = np.zeros(len(g), bool)
            for i in range(len(d)):
                cand = np.where(used, -1.0, iou[i])
                j = int(np.argmax(cand)) if len(g) else -1
                tp = j >= 0 and cand[j] >= iou_threshold
                if tp:
                    used[j] = True
                records.append((float(ps[sel[i]]), int(tp)))
        if n_gt == 0:
            continue
        records.sort(key=lambda r: -r[0])
        tps = np.cumsum([r[1] for r in records]) if records else np.zeros(0)
        fps = np.cumsum([1 - r[1] for r in records]) if records else np.zeros(0)
        recall = tps / n_gt
        precision = tps / np.maximum(tps + fps, 1e-12)
        precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
        thresholds = np.linspace(0, 1, 101)
        idx = np.searchsorted(recall, thresholds, side="left")
        sampled = np.array([precision[i] if i < len(precision) else 0.0 for i in idx])
        ap = float(sampled.mean())
        out[f"ap50_{names.get(c, str(c))}"] = ap
        aps.append(ap)
    out["map50"] = float(np.mean(aps)) if aps else float("nan")
    return out


def instances_to_masks(instances: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Instance map ``(H, W)`` (0 none, ``i + 1`` = i-th instance) -> ``(masks (N, H, W),
    labels (N,))`` for :func:`mask_ap50` (instances fully hidden by later ones are empty)."""
    n = len(labels)
    masks = np.stack([instances == i + 1 for i in range(n)]) if n else np.zeros(
        (0, *instances.shape), bool)
    return masks, np.asarray(labels)
