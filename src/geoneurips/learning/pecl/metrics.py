"""VOC AP@0.5 per class and mAP on oriented and horizontal boxes (DOTA devkit conventions).

``DOTA_devkit/dota_evaluation_task1.py`` (oriented, "task 1") and ``..._task2.py``
(horizontal, "task 2") evaluate each class separately, VOC style:

- detections of a class over all images are sorted by descending confidence;
- each is matched to the ground-truth box of the same image with the largest IoU; it is a
  true positive when that IoU is ``> 0.5`` (strict) and the box is not yet taken, a false
  positive otherwise; a match to a *difficult* box counts as neither;
- recall is divided by the number of non-difficult boxes; AP is the VOC07 11-point
  interpolated AP (the devkit's default ``use_07_metric=True``) or the all-point area under
  the monotone precision envelope (``use_07_metric=False``);
- task 1 IoU is the polygon IoU (the devkit's ``polyiou`` C++ extension; here shapely);
  task 2 IoU uses the devkit's ``+1`` pixel widths (``pixel_offset=1``).

mAP is the mean over classes that have ground truth (the devkit averages its class list;
classes without objects give AP 0 there, which we report separately as ``nan`` and skip).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ClassAP",
    "evaluate_detections",
    "hbb_iou",
    "poly_iou",
    "voc_ap",
]


def voc_ap(rec: np.ndarray, prec: np.ndarray, use_07_metric: bool = True) -> float:
    """VOC AP from a recall/precision curve (devkit ``voc_ap``).

    11-point: mean over ``t in {0, 0.1, ..., 1}`` of ``max(prec[rec >= t])`` (0 if none).
    All-point: area under the precision envelope at the recall change points.
    """
    rec = np.asarray(rec, dtype=np.float64)
    prec = np.asarray(prec, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = float(np.max(prec[rec >= t])) if np.any(rec >= t) else 0.0
            ap += p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def hbb_iou(box: np.ndarray, boxes: np.ndarray, pixel_offset: float = 1.0) -> np.ndarray:
    """IoU of one ``xyxy`` box with ``[N, 4]`` boxes; ``pixel_offset=1`` is the devkit's."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(boxes[:, 0], box[0])
    iy0 = np.maximum(boxes[:, 1], box[1])
    ix1 = np.minimum(boxes[:, 2], box[2])
    iy1 = np.minimum(boxes[:, 3], box[3])
    iw = np.maximum(ix1 - ix0 + pixel_offset, 0.0)
    ih = np.maximum(iy1 - iy0 + pixel_offset, 0.0)
    inter = iw * ih
    a = (box[2] - box[0] + pixel_offset) * (box[3] - box[1] + pixel_offset)
    b = (boxes[:, 2] - boxes[:, 0] + pixel_offset) * (boxes[:, 3] - boxes[:, 1] + pixel_offset)
    union = a + b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def poly_iou(poly: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """IoU of one 8-number polygon with ``[N, 8]`` polygons (shapely; invalid ones fixed).

    Self-intersecting corner orders are repaired with ``make_valid`` (the devkit's C++
    ``polyiou`` assumes convex, ordered corners).
    """
    from shapely.geometry import Polygon
    from shapely.validation import make_valid

    def shape(p: np.ndarray) -> Polygon:
        g = Polygon(np.asarray(p, dtype=np.float64).reshape(4, 2))
        return g if g.is_valid else make_valid(g)

    a = shape(np.asarray(poly))
    out = np.zeros(len(polys))
    for i, p in enumerate(np.asarray(polys, dtype=np.float64).reshape(-1, 8)):
        b = shape(p)
        inter = a.intersection(b).area
        union = a.area + b.area - inter
        out[i] = inter / union if union > 0 else 0.0
    return out


@dataclass(frozen=True)
class ClassAP:
    """AP of one class with its curve and counts."""

    ap: float
    recall: np.ndarray
    precision: np.ndarray
    n_gt: int
    n_det: int


def _class_ap(
    dets: Sequence[tuple[str, float, np.ndarray]],
    gts: Mapping[str, tuple[np.ndarray, np.ndarray]],
    oriented: bool,
    iou_thr: float,
    use_07_metric: bool,
    pixel_offset: float,
) -> ClassAP:
    npos = int(sum(int((~d.astype(bool)).sum()) for _, d in gts.values()))
    taken = {k: np.zeros(len(b), dtype=bool) for k, (b, _) in gts.items()}
    order = sorted(range(len(dets)), key=lambda i: -dets[i][1])
    tp = np.zeros(len(order))
    fp = np.zeros(len(order))
    for rank, i in enumerate(order):
        img, _, box = dets[i]
        gb, gd = gts.get(img, (np.zeros((0, 8 if oriented else 4)), np.zeros(0)))
        if len(gb) == 0:
            fp[rank] = 1
            continue
        if oriented:
            ious = poly_iou(box, gb)
        else:
            ious = hbb_iou(np.asarray(box, dtype=np.float64), gb, pixel_offset)
        j = int(np.argmax(ious))
        if ious[j] > iou_thr:
            if gd[j]:
                continue
            if not taken[img][j]:
                tp[rank] = 1
                taken[img][j] = True
            else:
                fp[rank] = 1
        else:
            fp[rank] = 1
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    rec = ctp / max(npos, 1) if npos > 0 else np.zeros_like(ctp)
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    ap = voc_ap(rec, prec, use_07_metric) if npos > 0 else float("nan")
    return ClassAP(ap, rec, prec, npos, len(dets))


def evaluate_detections(
    detections: Sequence[Mapping[str, object]],
    ground_truth: Sequence[Mapping[str, object]],
    num_classes: int,
    *,
    oriented: bool = False,
    iou_thr: float = 0.5,
    use_07_metric: bool = True,
    pixel_offset: float = 1.0,
) -> dict[str, object]:
    """Per-class VOC AP and mAP, DOTA devkit conventions.

    Args:
        detections: one mapping per image: ``boxes`` (``[N, 4]`` xyxy, or ``[N, 8]``
            polygons when ``oriented``), ``scores`` ``[N]``, ``labels`` ``[N]``.
        ground_truth: one mapping per image (same order): ``boxes``, ``labels`` and
            optionally ``difficult``.
        num_classes: number of classes.
        oriented: polygon IoU (task 1) instead of horizontal IoU (task 2).
        use_07_metric: 11-point AP (devkit default) or all-point.
        pixel_offset: ``+1`` pixel widths of the devkit's horizontal IoU (0 for COCO's).

    Returns:
        ``{"ap": [per class, nan without ground truth], "map": mean over classes with
        ground truth, "per_class": [ClassAP]}``.
    """
    if len(detections) != len(ground_truth):
        raise ValueError("detections and ground_truth must list the same images")
    width = 8 if oriented else 4
    per_class: list[ClassAP] = []
    for c in range(num_classes):
        dets: list[tuple[str, float, np.ndarray]] = []
        gts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for k, (d, g) in enumerate(zip(detections, ground_truth, strict=True)):
            key = str(k)
            gl = np.asarray(g["labels"]).reshape(-1)
            gb = np.asarray(g["boxes"], dtype=np.float64).reshape(-1, width)
            gdiff = np.asarray(g.get("difficult", np.zeros(len(gl))), dtype=bool).reshape(-1)
            m = gl == c
            gts[key] = (gb[m], gdiff[m])
            dl = np.asarray(d["labels"]).reshape(-1)
            db = np.asarray(d["boxes"], dtype=np.float64).reshape(-1, width)
            ds = np.asarray(d["scores"], dtype=np.float64).reshape(-1)
            for j in np.flatnonzero(dl == c):
                dets.append((key, float(ds[j]), db[j]))
        per_class.append(_class_ap(dets, gts, oriented, iou_thr, use_07_metric, pixel_offset))
    aps = [pc.ap for pc in per_class]
    valid = [a for a in aps if not np.isnan(a)]
    return {"ap": aps, "map": float(np.mean(valid)) if valid else float("nan"),
            "per_class": per_class}
