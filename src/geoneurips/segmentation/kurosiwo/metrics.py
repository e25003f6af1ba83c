"""Kuro Siwo metrics, as the public code computes them (``training/*_trainer.py``).

torchmetrics multiclass metrics (``num_classes=4, ignore_index=3, average=None``),
accumulated globally over the split; the models output three classes, so class 3 is never
predicted and only the first three entries are reported. Hence:

* per class c in {0 no water, 1 permanent water, 2 flood}: IoU, F1, precision, recall from
  the global confusion matrix of the pixels whose label is not 3;
* ``miou``: the mean of the three IoUs;
* ``water_f1``: flood and permanent water merged into one "water" class (label and
  prediction), then the F1 of that class;
* the same per activation (the public code's ``log_AOI_metrics``, keyed by activation
  id), per AOI (``actid_aoi``) and per climate zone (:class:`FloodMetrics`).

``water_f1`` is the public code's ``F1Score(num_classes=2, ignore_index=3)`` on the merged
maps, class 1 (water). Public-code pitfalls we do not copy: in ``eval_semantic_segmentation``
``dem=True`` skips the ``inputs`` branches (no prediction is made), and ``Dataset``
replaces the DEM by the slope when both are asked for (here both are returned).

A class absent from both label and prediction has no IoU (NaN) and is left out of the mean
(the project's convention; torchmetrics gives 0 there, which only matters on tiny splits).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import numpy.typing as npt

from ...metrics.confusion import confusion_matrix, segmentation_scores
from .data import CLASSES, CLIMATE_ZONES, INVALID

__all__ = ["FloodMetrics", "flood_scores", "otsu_threshold", "scores_from_cm"]

NAMES = ("nowater", "permwater", "flood")


def scores_from_cm(cm: npt.ArrayLike) -> dict[str, float]:
    """Per-class IoU/F1/precision/recall, ``miou`` and ``water_f1`` from a 3x3 matrix."""
    m = np.asarray(cm, dtype=np.float64)
    s = segmentation_scores(m)
    out: dict[str, float] = {}
    for k, name in enumerate(NAMES):
        for metric in ("iou", "f1", "precision", "recall"):
            out[f"{metric}_{name}"] = float(s[metric][k])
    out["miou"] = float(np.nanmean(s["iou"][:3])) if np.isfinite(s["iou"]).any() else np.nan
    tp = m[1:, 1:].sum()
    fp = m[0, 1:].sum()
    fn = m[1:, 0].sum()
    out["water_f1"] = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn > 0 else float("nan")
    out["pixels"] = float(m.sum())
    return out


def _cm(pred: npt.ArrayLike, target: npt.ArrayLike) -> npt.NDArray[np.int64]:
    p = np.asarray(pred)
    t = np.asarray(target)
    if p.size and (p.min() < 0 or p.max() > 2):
        raise ValueError("predictions must be classes 0, 1 or 2")
    cm = confusion_matrix(p, t, 4, ignore_index=INVALID)
    return cm[:3, :3]


def flood_scores(pred: npt.ArrayLike, target: npt.ArrayLike) -> dict[str, float]:
    """The paper's metrics of one prediction (or a stack of them)."""
    return scores_from_cm(_cm(pred, target))


class FloodMetrics:
    """Accumulates confusion matrices globally, per AOI and per climate zone."""

    def __init__(self) -> None:
        self.total = np.zeros((3, 3), dtype=np.int64)
        self.by_aoi: dict[str, npt.NDArray[np.int64]] = defaultdict(
            lambda: np.zeros((3, 3), dtype=np.int64))
        self.by_zone: dict[str, npt.NDArray[np.int64]] = defaultdict(
            lambda: np.zeros((3, 3), dtype=np.int64))
        self.by_activation: dict[str, npt.NDArray[np.int64]] = defaultdict(
            lambda: np.zeros((3, 3), dtype=np.int64))

    def update(self, pred: npt.ArrayLike, target: npt.ArrayLike, actid: int = 0,
               aoiid: int = 0, clz: int = 0) -> None:
        cm = _cm(pred, target)
        self.total += cm
        self.by_aoi[f"{int(actid)}_{int(aoiid):02d}"] += cm
        self.by_zone[CLIMATE_ZONES.get(int(clz), "unknown")] += cm
        self.by_activation[str(int(actid))] += cm

    def compute(self) -> dict[str, float]:
        return scores_from_cm(self.total)

    def table(self, by: str = "aoi") -> dict[str, dict[str, float]]:
        """Scores per AOI (``by="aoi"``), activation (``"activation"``) or climate zone
        (``"zone"``)."""
        tables = {"aoi": self.by_aoi, "activation": self.by_activation, "zone": self.by_zone}
        if by not in tables:
            raise ValueError(f"by must be one of {sorted(tables)}, got {by!r}")
        src = tables[by]
        return {k: scores_from_cm(v) for k, v in sorted(src.items())}

    def markdown(self, by: str = "aoi") -> str:
        rows = [f"| {by} | " + " | ".join(f"IoU {c}" for c in CLASSES)
                + " | mIoU | water F1 |", "|---" * 6 + "|"]
        for k, s in self.table(by).items():
            rows.append(f"| {k} | " + " | ".join(f"{s['iou_' + n]:.3f}" for n in NAMES)
                        + f" | {s['miou']:.3f} | {s['water_f1']:.3f} |")
        return "\n".join(rows)


def otsu_threshold(values: npt.ArrayLike, bins: int = 256) -> float:
    """Otsu's threshold (maximal between-class variance over a ``bins``-bin histogram):
    the value at the upper edge of the best lower class (skimage's convention: bin centres)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("Otsu needs at least one finite value")
    if v.min() == v.max():
        return float(v.min())
    hist, edges = np.histogram(v, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0[:-1] * w1[:-1] * (m0[:-1] - m1[:-1]) ** 2
    return float(centres[int(np.argmax(between))])


def describe(scores: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3f}" for k, v in scores.items() if isinstance(v, float))
