"""OpenSatMap metrics: semantic mIoU with ignore, COCO mask AP and chamfer "line AP".

* :func:`semantic_miou`: mmseg's ``IoUMetric`` convention - one confusion matrix over the
  whole evaluation set, reference 255 ignored, per-class IoU including background, classes
  absent from both maps left out of the mean (``nanmean``).
* :func:`instance_ap`: COCO ``segm`` AP (IoU thresholds .50:.05:.95, 101 recall points,
  ``maxDets`` 100, area range ``all``, no crowd), re-implemented in numpy: matching and
  accumulation follow ``pycocotools.cocoeval`` step by step (tests compare both on random
  cases).
* :func:`line_ap`: the same COCO protocol with the symmetric chamfer distance between the
  predicted and reference instance pixels in place of IoU; a detection matches an unmatched
  reference whose distance is at most the threshold (3, 5, 10, 15 px), the closest one
  first. The paper's custom ``COCOeval(iouType='line')`` is not in the released code; the
  chamfer definition here (mean of the two directed mean nearest-pixel distances) is the
  usual map-construction one, checked on hand-worked values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...metrics.confusion import confusion_matrix, segmentation_scores

__all__ = ["Instance", "chamfer_distance", "instance_ap", "line_ap", "semantic_miou",
           "instances_from_map"]

IOU_THRS = np.linspace(0.5, 0.95, 10)
CHAMFER_THRS = (3.0, 5.0, 10.0, 15.0)
REC_THRS = np.linspace(0.0, 1.0, 101)


@dataclass
class Instance:
    """One line instance: category id, boolean mask and (for detections) a score."""

    category: int
    mask: np.ndarray
    score: float = 1.0


def instances_from_map(category: np.ndarray, instance: np.ndarray,
                       scores: dict[int, float] | None = None) -> list[Instance]:
    """Instances of an instance-id map (0 = none); each takes the majority category of its
    pixels (ignore 255 and background left out)."""
    out = []
    for i in np.unique(instance):
        if i == 0:
            continue
        m = instance == i
        cats = category[m]
        cats = cats[(cats > 0) & (cats != 255)]
        if cats.size == 0:
            continue
        c = int(np.bincount(cats).argmax())
        out.append(Instance(c, m, float((scores or {}).get(int(i), 1.0))))
    return out


def semantic_miou(preds: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                  num_classes: int = 4, ignore_index: int = 255) -> dict[str, float]:
    """Dataset-level mIoU (and per-class IoU ``iou_<k>``, overall accuracy ``aacc``)."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, t in zip(preds, targets, strict=True):
        cm += confusion_matrix(np.asarray(p), np.asarray(t), num_classes, ignore_index)
    s = segmentation_scores(cm)
    out = {"miou": float(s["miou"]), "aacc": float(s["oa"])}
    for k, v in enumerate(s["iou"]):
        out[f"iou_{k}"] = float(v)
    return out


def chamfer_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric chamfer distance (px) between two non-empty boolean masks:
    ``(mean_{p in a} d(p, b) + mean_{q in b} d(q, a)) / 2``."""
    from scipy import ndimage

    if not a.any() or not b.any():
        return float("inf")
    da = ndimage.distance_transform_edt(~b)[a].mean()
    db = ndimage.distance_transform_edt(~a)[b].mean()
    return float((da + db) / 2.0)


def _mask_iou(d: np.ndarray, g: np.ndarray) -> float:
    inter = float(np.logical_and(d, g).sum())
    union = float(np.logical_or(d, g).sum())
    return inter / union if union > 0 else 0.0


def _evaluate(images: Sequence[tuple[Sequence[Instance], Sequence[Instance]]],
              thresholds: Sequence[float], sim: Callable[[np.ndarray, np.ndarray], float],
              higher: bool, max_dets: int = 100) -> dict[str, float]:
    """COCO evaluate + accumulate; ``images``: ``(references, detections)`` per image."""
    cats = sorted({i.category for im in images for part in im for i in part})
    nt = len(thresholds)
    ap = np.full((nt, len(cats)), np.nan)
    for ci, c in enumerate(cats):
        scores: list[np.ndarray] = []
        matched: list[np.ndarray] = []
        npig = 0
        for gts_all, dts_all in images:
            gts = [g for g in gts_all if g.category == c]
            dts = [d for d in dts_all if d.category == c]
            npig += len(gts)
            if not dts:
                continue
            order = np.argsort(-np.array([d.score for d in dts]), kind="mergesort")
            dts = [dts[k] for k in order[:max_dets]]
            s = np.array([[sim(d.mask, g.mask) for g in gts] for d in dts]).reshape(
                len(dts), len(gts))
            m = np.zeros((nt, len(dts)), dtype=bool)
            for ti, t in enumerate(thresholds):
                taken = np.zeros(len(gts), dtype=bool)
                for di in range(len(dts)):
                    best = min(t, 1 - 1e-10) if higher else t
                    hit = -1
                    for gi in range(len(gts)):
                        if taken[gi]:
                            continue
                        v = s[di, gi]
                        if (v < best) if higher else (v > best):
                            continue
                        best, hit = v, gi
                    if hit >= 0:
                        taken[hit] = True
                        m[ti, di] = True
            scores.append(np.array([d.score for d in dts]))
            matched.append(m)
        if npig == 0:
            continue
        if not scores:
            ap[:, ci] = 0.0
            continue
        sc = np.concatenate(scores)
        mt = np.concatenate(matched, axis=1)
        order = np.argsort(-sc, kind="mergesort")
        mt = mt[:, order]
        for ti in range(nt):
            tp = np.cumsum(mt[ti]).astype(np.float64)
            fp = np.cumsum(~mt[ti]).astype(np.float64)
            rc = tp / npig
            pr = tp / (fp + tp + np.spacing(1))
            for i in range(len(pr) - 1, 0, -1):
                pr[i - 1] = max(pr[i - 1], pr[i])
            inds = np.searchsorted(rc, REC_THRS, side="left")
            q = np.zeros(len(REC_THRS))
            valid = inds < len(pr)
            q[valid] = pr[inds[valid]]
            ap[ti, ci] = q.mean()
    out: dict[str, float] = {}
    per_thr = [float(np.nanmean(ap[ti])) if np.isfinite(ap[ti]).any() else float("nan")
               for ti in range(nt)]
    out["ap"] = float(np.nanmean(per_thr)) if np.isfinite(per_thr).any() else float("nan")
    for t, v in zip(thresholds, per_thr, strict=True):
        out[f"{t:g}"] = v
    return out


def instance_ap(images: Sequence[tuple[Sequence[Instance], Sequence[Instance]]]
                ) -> dict[str, float]:
    """COCO ``segm`` AP: ``ap`` (mean over IoU .5:.95) plus ``ap50`` and ``ap75``."""
    r = _evaluate(images, list(IOU_THRS), _mask_iou, higher=True)
    return {"ap": r["ap"], "ap50": r["0.5"], "ap75": r["0.75"]}


def line_ap(images: Sequence[tuple[Sequence[Instance], Sequence[Instance]]],
            thresholds: Sequence[float] = CHAMFER_THRS) -> dict[str, float]:
    """Chamfer line AP: ``ap`` (mean over the thresholds) and ``ap@<t>`` per threshold."""
    r = _evaluate(images, list(thresholds), chamfer_distance, higher=False)
    out = {"ap": r["ap"]}
    for t in thresholds:
        out[f"ap@{t:g}"] = r[f"{t:g}"]
    return out
