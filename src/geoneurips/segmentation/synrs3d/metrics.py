"""SynRS3D evaluation, as published (JTRNEO/SynRS3D ``utils/metrics.py``).

Per image: predicted and true heights <= 0 are set to 1e-6; for a height threshold ``th``
(0 "whole", 1 "low", 2 "mid", 3 "high") the valid pixels are those where the target **or**
the prediction exceeds ``th``; the image counts only if both have a pixel above ``th`` and
at least 49 valid pixels. On them: MAE, RMSE, and delta_k = mean(max(p/t, t/p) < 1.25^k).

Note the public code's consequence: after the 1e-6 clamp every pixel is > 0, so "whole"
uses every pixel of the image. We keep that (it is what the published numbers mean).

F1^HE (on the "whole" pixels): significant = height > 1 m; TP = both significant and
max ratio < 1.25^k; FP = predicted significant, true not; FN = true significant, predicted
not; F1 = 2PR/(P+R) (0 when undefined). Every metric is averaged over the valid images of a
dataset (per-image mean, not pixel pooling); :func:`mean_of_datasets` averages datasets.
Land cover: mIoU from one confusion matrix over the dataset (``geoneurips.metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["HeightMetrics", "THRESHOLDS", "f1_height", "image_height_metrics",
           "mean_of_datasets"]

THRESHOLDS = {"whole": 0.0, "low": 1.0, "mid": 2.0, "high": 3.0}
_MIN_PIXELS = 49


def f1_height(pred: np.ndarray, target: np.ndarray, ratio: float,
              significant: float = 1.0) -> float:
    """F1^HE of one image's valid pixels at tolerance ``ratio`` (1.25, 1.25^2, 1.25^3)."""
    sp, st = pred > significant, target > significant
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.maximum(pred / target, target / pred)
    tp = float((sp & st & (r < ratio)).sum())
    fp, fn = float((sp & ~st).sum()), float((~sp & st).sum())
    p = tp / (tp + fp) if tp + fp > 0 else 0.0
    rc = tp / (tp + fn) if tp + fn > 0 else 0.0
    return 2 * p * rc / (p + rc) if p + rc > 0 else 0.0


def image_height_metrics(pred: np.ndarray, target: np.ndarray
                         ) -> dict[str, dict[str, float] | None]:
    """Metrics of one image per threshold name (``None`` where the image does not count)."""
    p = np.array(pred, dtype=np.float64).ravel()
    t = np.array(target, dtype=np.float64).ravel()
    p[p <= 0] = 1e-6
    t[t <= 0] = 1e-6
    out: dict[str, dict[str, float] | None] = {}
    for name, th in THRESHOLDS.items():
        if not ((t > th).any() and (p > th).any()):
            out[name] = None
            continue
        v = (t > th) | (p > th)
        pv, tv = p[v], t[v]
        if pv.size < _MIN_PIXELS:
            out[name] = None
            continue
        d = np.abs(pv - tv)
        r = np.maximum(pv / tv, tv / pv)
        m = {"mae": float(d.mean()), "rmse": float(np.sqrt((d ** 2).mean()))}
        for k in (1, 2, 3):
            m[f"delta{k}"] = float((r < 1.25 ** k).mean())
        if name == "whole":
            for k in (1, 2, 3):
                m[f"f1he_{k}"] = f1_height(pv, tv, 1.25 ** k)
        out[name] = m
    return out


class HeightMetrics:
    """Accumulates per-image metrics of one dataset; :meth:`compute` gives the means."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[str, float]] = {k: {} for k in THRESHOLDS}
        self.counts = dict.fromkeys(THRESHOLDS, 0)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        for name, m in image_height_metrics(pred, target).items():
            if m is None:
                continue
            self.counts[name] += 1
            for k, v in m.items():
                self.sums[name][k] = self.sums[name].get(k, 0.0) + v

    def compute(self) -> dict[str, float]:
        """Flat dict: ``mae_whole``, ``rmse_high``, ``delta1_whole``, ``f1he_1``... (NaN
        when no image counted at a threshold)."""
        out: dict[str, float] = {}
        for name in THRESHOLDS:
            n = self.counts[name]
            for k, v in self.sums[name].items():
                key = k if k.startswith("f1he") else f"{k}_{name}"
                out[key] = v / n if n else float("nan")
        return out


def mean_of_datasets(per_dataset: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The paper's summary: the mean over datasets of each dataset's mean."""
    keys = set().union(*per_dataset) if per_dataset else set()
    return {k: float(np.mean([d[k] for d in per_dataset if k in d])) for k in sorted(keys)}
