"""IDEE metrics (public ``utils/utils_train.py``): precision (TP / predicted), recall (the
code's "accuracy", TP / ground truth), F1 and IoU of the positive class, for extremes and for
drivers; the driver masks of overlapping windows are majority-voted (mean >= 0.5) per cell
before they are compared with ``anomaly_extreme``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from geoneurips.metrics.confusion import binary_scores

__all__ = ["best_threshold", "majority_vote", "prefixed", "scores"]


def majority_vote(
    window_masks: NDArray[Any], t_last: NDArray[Any], n_time: int
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Vote per cell over the windows covering it.

    Args:
        window_masks: ``(N, V, T, H, W)`` binary (or scores in [0, 1]) per window.
        t_last: ``(N,)`` the 0-based last step of each window.
        n_time: length of the cube.

    Returns:
        ``(vote (V, n_time, H, W) uint8, covered (n_time,) bool)``: ``vote = mean >= 0.5`` over
        the windows covering a cell; cells no window covers are 0 and not ``covered``.
    """
    n, v, t, h, w = window_masks.shape
    total = np.zeros((v, n_time, h, w), np.float64)
    count = np.zeros(n_time, np.int64)
    for i in range(n):
        a = int(t_last[i]) - t + 1
        total[:, a : a + t] += window_masks[i]
        count[a : a + t] += 1
    covered = count > 0
    mean = total / np.maximum(count, 1)[None, :, None, None]
    return ((mean >= 0.5) & covered[None, :, None, None]).astype(np.uint8), covered


def scores(pred: NDArray[Any], target: NDArray[Any]) -> dict[str, float]:
    """Precision, recall, F1 and IoU of the positive class."""
    return binary_scores(np.asarray(pred).ravel(), np.asarray(target).ravel())


def prefixed(prefix: str, s: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in s.items()}


def best_threshold(score: NDArray[Any], target: NDArray[Any], n: int = 120) -> float:
    """The threshold on ``score`` (among ``n`` upper quantiles) that maximises F1 against
    ``target``: calibrates a baseline on labelled training data (generous to it)."""
    s = np.asarray(score, np.float64).ravel()
    y = np.asarray(target).ravel() > 0
    qs = np.quantile(s, np.linspace(0.5, 0.999, n))
    best, best_f1 = float(qs[-1]), -1.0
    pos = int(y.sum())
    for q in np.unique(qs):
        p = s > q
        tp = int((p & y).sum())
        f1 = 2 * tp / (int(p.sum()) + pos) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = float(q), f1
    return best
