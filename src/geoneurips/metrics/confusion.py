"""Confusion-matrix metrics for segmentation and change detection.

Convention: ``cm[t, p]`` counts pixels of true class ``t`` predicted as ``p`` (rows are the
reference, columns the prediction), as in torchmetrics and scikit-learn. Pixels whose
reference equals ``ignore_index`` are left out. A class absent from both reference and
prediction has an undefined IoU/F1 (NaN) and is left out of the means (``nanmean``), the
convention of mmsegmentation and of most of the collection's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError

__all__ = ["confusion_matrix", "binary_scores", "segmentation_scores"]


def confusion_matrix(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    num_classes: int,
    ignore_index: int | None = None,
) -> npt.NDArray[np.int64]:
    """Accumulate a ``(num_classes, num_classes)`` confusion matrix.

    Args:
        pred: predicted labels, any shape.
        target: reference labels, same shape as ``pred``.
        num_classes: number of classes ``K``; labels must lie in ``[0, K)``.
        ignore_index: reference value to leave out (e.g. 255 or -1).

    Raises:
        InvalidInputError: on shape mismatch or labels outside ``[0, K)``.
    """
    p = np.asarray(pred).reshape(-1)
    t = np.asarray(target).reshape(-1)
    if np.asarray(pred).shape != np.asarray(target).shape:
        raise InvalidInputError(
            f"prediction shape {np.asarray(pred).shape} != reference shape "
            f"{np.asarray(target).shape}"
        )
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    for name, arr in (("prediction", p), ("reference", t)):
        if (
            arr.dtype.kind == "f"
            and arr.size
            and not np.all(np.isfinite(arr) & (arr == np.round(arr)))
        ):
            raise InvalidInputError(f"{name} labels must be whole numbers (found NaN or fractions)")
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"{name} labels have a non-numeric dtype {arr.dtype}")
    p = p.astype(np.int64, copy=False)
    t = t.astype(np.int64, copy=False)
    for name, arr in (("prediction", p), ("reference", t)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise InvalidInputError(
                f"{name} labels must lie in [0, {num_classes}); found "
                f"[{int(arr.min())}, {int(arr.max())}]"
            )
    cm = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return cm.reshape(num_classes, num_classes).astype(np.int64)


def segmentation_scores(cm: npt.ArrayLike) -> dict[str, Any]:
    """Scores from a confusion matrix.

    Returns a dict with per-class arrays ``iou``, ``f1``, ``precision``, ``recall`` (NaN where
    undefined) and scalars ``miou``, ``mf1``, ``oa`` (overall accuracy) and ``kappa``
    (Cohen's kappa).
    """
    m = np.asarray(cm, dtype=np.float64)
    tp = np.diag(m)
    fp = m.sum(axis=0) - tp
    fn = m.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(tp + fp + fn > 0, tp / (tp + fp + fn), np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    total = m.sum()
    oa = float(tp.sum() / total) if total > 0 else float("nan")
    pe = float((m.sum(axis=0) * m.sum(axis=1)).sum() / total**2) if total > 0 else float("nan")
    kappa = (oa - pe) / (1 - pe) if total > 0 and pe < 1 else float("nan")
    return {
        "iou": iou,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "mf1": float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan"),
        "oa": oa,
        "kappa": float(kappa),
    }


def binary_scores(
    pred: npt.ArrayLike, target: npt.ArrayLike, ignore_index: int | None = None
) -> dict[str, float]:
    """Precision, recall, F1 and IoU of the positive class (1) of binary maps.

    Returns zeros rather than NaN when the positive class is absent from both maps'
    denominators, the convention of change-detection benchmarks (e.g. SECOND, LEVIR-CD).
    """
    cm = confusion_matrix(
        (np.asarray(pred) > 0).astype(np.int64),
        np.where(np.asarray(target) == ignore_index, ignore_index, np.asarray(target) > 0)
        if ignore_index is not None
        else (np.asarray(target) > 0).astype(np.int64),
        2,
        ignore_index=ignore_index,
    )
    tp, fp, fn = float(cm[1, 1]), float(cm[0, 1]), float(cm[1, 0])
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    iou = tp / (tp + fp + fn) if tp > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou}
