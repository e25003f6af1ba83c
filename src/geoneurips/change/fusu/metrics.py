"""Semantic change metrics of FUSU (SECOND conventions, Yang et al. 2021, Sec. IV-B).

Semantic change detection (SCD) maps: for each date the map holds ``0`` ("no change") where
the land use did not change and the land-use class (``1..K``) where it changed. One
``(K+1) x (K+1)`` confusion matrix ``Q`` (rows = reference, columns = prediction) is
accumulated over the maps of **both** dates. Then

* binary change: ``IoU_nc = q00 / (sum_i q_i0 + sum_j q_0j - q00)``,
  ``IoU_c = sum_{i,j>=1} q_ij / (N - q00)``, ``mIoU = (IoU_nc + IoU_c) / 2``;
* separated kappa: ``Q'`` = ``Q`` with ``q00`` set to 0, ``rho = trace(Q') / sum(Q')``,
  ``eta = sum_j Q'_{j+} Q'_{+j} / sum(Q')^2``, ``kappa = (rho - eta) / (1 - eta)``,
  ``SeK = kappa * exp(IoU_c - 1)``;
* ``Score = w * mIoU + (1 - w) * SeK``; FUSU uses ``w = 0.5`` (its ``utils/metric.py``),
  SECOND ``w = 0.3``.

Background (FUSU label 0) follows the published metric (public ``utils/metric.py``,
``IOUandSek._fast_hist``): its mask keeps every reference value in ``0..K``, so reference
pixels labelled 0 are **counted**, in row 0 of ``Q``, whatever the prediction there. Here the
SCD map of a date uses ``0`` = no change and ``1..17`` = the FUSU class of a changed pixel;
a background reference pixel is 0 in that map (row 0) as in the public histogram, so a
change predicted there is a false change: it lowers ``IoU_nc``, ``IoU_c`` and the separated
kappa (``q00`` alone is removed from kappa). The per-class land-use IoUs (``seg_miou``,
``iou_<k>``) leave background out, as the public ``IOUandSek.miou`` (``hist[1:, 1:]``) does.

One documented difference: the public validation loop feeds raw semantic maps (predictions
1..17, the change output unused), so its ``q00`` is always 0 and its binary "no change" IoU
is 0; we build SECOND SCD maps from the change outputs, the convention the paper cites.
:func:`published_scores` reproduces the public loop on raw maps exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import InvalidInputError
from ...metrics.confusion import confusion_matrix, segmentation_scores

__all__ = ["SCDMetric", "published_scores", "scd_map", "scd_scores"]


def scd_map(semantic: npt.ArrayLike, change: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """SECOND-style SCD map: ``semantic`` where ``change`` is non-zero, else 0."""
    s = np.asarray(semantic).astype(np.int64)
    c = np.asarray(change)
    if s.shape != c.shape:
        raise InvalidInputError(f"semantic map shape {s.shape} != change map shape {c.shape}")
    return np.where(c > 0, s, 0)


def scd_scores(hist: npt.ArrayLike, score_weight: float = 0.5) -> dict[str, float]:
    """Binary IoUs, mIoU, SeK, separated kappa and Score from a SECOND SCD matrix ``hist``.

    Args:
        hist: ``(K+1, K+1)`` confusion matrix, index 0 = no change, rows = reference.
        score_weight: weight of mIoU in the Score (FUSU 0.5, SECOND 0.3).
    """
    q = np.asarray(hist, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] < 2:
        raise InvalidInputError(f"SCD confusion matrix must be square (K+1, K+1), got {q.shape}")
    n = q.sum()
    q00 = q[0, 0]
    denom_nc = q[:, 0].sum() + q[0, :].sum() - q00
    iou_nc = q00 / denom_nc if denom_nc > 0 else 0.0
    iou_c = q[1:, 1:].sum() / (n - q00) if n - q00 > 0 else 0.0
    qp = q.copy()
    qp[0, 0] = 0.0
    total = qp.sum()
    if total > 0:
        rho = np.trace(qp) / total
        eta = float((qp.sum(axis=1) * qp.sum(axis=0)).sum()) / total**2
        kappa = (rho - eta) / (1 - eta) if eta < 1 else 0.0
    else:
        kappa = 0.0
    sek = kappa * math.exp(iou_c - 1)
    miou = (iou_nc + iou_c) / 2
    return {
        "iou_nc": float(iou_nc),
        "iou_c": float(iou_c),
        "miou_bin": float(miou),
        "kappa_sep": float(kappa),
        "sek": float(sek),
        "score": float(score_weight * miou + (1 - score_weight) * sek),
    }


def published_scores(
    pred_semantic: npt.ArrayLike, semantic: npt.ArrayLike, num_classes: int = 17
) -> dict[str, float]:
    """The public validation loop (``train.py`` + ``utils/metric.py``) on raw land-use maps.

    Both dates' raw maps (predictions ``1..K``, references ``0..K`` with 0 = background) go
    into one ``(K+1, K+1)`` histogram, rows = reference, every reference value in ``0..K``
    kept; then the SECOND formulas of :func:`scd_scores` with ``w = 0.5``. The change output
    is not used (as in the public code), so ``q00`` is 0 whenever predictions are ``1..K``.
    """
    p = np.asarray(pred_semantic).astype(np.int64).ravel()
    r = np.asarray(semantic).astype(np.int64).ravel()
    if p.shape != r.shape:
        raise InvalidInputError(f"prediction size {p.size} != reference size {r.size}")
    return scd_scores(confusion_matrix(p, r, num_classes + 1), 0.5)


class SCDMetric:
    """Accumulates the SECOND SCD matrix and the land-use confusion matrix over batches.

    Args:
        num_classes: land-use classes ``K`` (17 for FUSU; labels ``1..K``, 0 = background).
        score_weight: weight of mIoU in the Score (FUSU: 0.5).

    ``update`` takes predicted and reference land use ``(..., 2, H, W)`` (values ``0..K``;
    predictions should be ``1..K``) and binary change maps ``(..., H, W)``.
    ``compute`` returns the SCD scores plus ``seg_miou`` and ``iou_<k>`` (per-class IoU of
    the land-use maps of both dates, background pixels left out; NaN where a class is absent
    from both maps).
    """

    def __init__(self, num_classes: int = 17, score_weight: float = 0.5) -> None:
        self.num_classes = num_classes
        self.score_weight = score_weight
        self.hist = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
        self.seg_hist = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)

    def update(
        self,
        pred_semantic: npt.ArrayLike,
        pred_change: npt.ArrayLike,
        semantic: npt.ArrayLike,
        change: npt.ArrayLike,
    ) -> None:
        ps, ts = np.asarray(pred_semantic), np.asarray(semantic)
        pc, tc = np.asarray(pred_change), np.asarray(change)
        if ps.shape != ts.shape or ps.ndim < 3 or ps.shape[-3] != 2:
            raise InvalidInputError(
                f"land-use maps must be (..., 2, H, W) and equal; got {ps.shape} and {ts.shape}"
            )
        if pc.shape != tc.shape or pc.shape != ps.shape[:-3] + ps.shape[-2:]:
            raise InvalidInputError(
                f"change maps must be (..., H, W) matching the land-use maps; got {pc.shape} "
                f"and {tc.shape}"
            )
        k1 = self.num_classes + 1
        for t in range(2):
            p_t, r_t = ps[..., t, :, :], ts[..., t, :, :]
            # background reference pixels stay in (row 0), as in the published histogram
            ref = scd_map(r_t, tc)
            self.hist += confusion_matrix(scd_map(p_t, pc), ref, k1)
            self.seg_hist += confusion_matrix(p_t, r_t, k1, ignore_index=0)

    def compute(self) -> dict[str, Any]:
        out: dict[str, Any] = scd_scores(self.hist, self.score_weight)
        seg = segmentation_scores(self.seg_hist)
        iou = seg["iou"][1:]
        out["seg_miou"] = float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
        for k, v in enumerate(iou, start=1):
            out[f"iou_{k}"] = float(v)
        return out
