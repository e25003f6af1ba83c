"""SeCo pipeline: pseudo-label scores, GeoTIFF/PNG refinement and the demo.

* :func:`pseudo_label_scores`: strict mIoU of pseudo-labels against the truth (a pixel
  left at 255 counts as a miss, so dropping labels is never rewarded), the share of
  labelled pixels (``coverage``) beside it, and the labelled-pixels-only mIoU of SeCo's
  pseudo-label analyses as context.
* :func:`refine_raster` (:mod:`.refine`): SeCo on a (large) image and its pseudo-label
  raster: PSA tile by tile, then one SCC (one classifier, one set of thresholds) over the
  components of the whole raster, which may cross tiles; output on the input grid, written
  atomically as GeoTIFF (or PNG).
* :func:`demo` (:mod:`._demo`): synthetic LoveDA scenes with noisy pseudo-labels; the
  raw, PSA and SeCo labels each train a small segmenter, scored on unseen scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from .data import IGNORE_INDEX, LOVEDA_THINGS
from .refine import refine_raster as refine_raster

__all__ = ["build_seco", "demo", "pseudo_label_scores", "refine_raster"]


def pseudo_label_scores(
    preds: Sequence[np.ndarray], truths: Sequence[np.ndarray], num_classes: int
) -> dict[str, float]:
    """Strict ``miou``/``oa`` (an unlabelled prediction, 255, is wrong), ``coverage`` beside.

    * ``miou``, ``oa``: every pixel with a valid truth is scored; a prediction of 255 counts
      as a miss of the true class (a false negative, no false positive), so leaving pixels
      unlabelled is never rewarded. This is the primary number.
    * ``coverage``: the share of valid-truth pixels that carry a label.
    * ``miou_labelled``, ``oa_labelled``: scored on the labelled pixels only (how SeCo's
      pseudo-label analyses count; it rewards dropping hard pixels, so it is context only).

    Truth pixels equal to 255 are left out everywhere.
    """
    from ...metrics.confusion import confusion_matrix, segmentation_scores

    k = int(num_classes)
    cm = np.zeros((k, k), dtype=np.int64)
    strict = np.zeros((k + 1, k + 1), dtype=np.int64)
    labelled = total = 0
    for p, t in zip(preds, truths, strict=True):
        p = np.asarray(p).astype(np.int64)
        t = np.asarray(t).astype(np.int64)
        if p.shape != t.shape:
            raise InvalidInputError(f"prediction shape {p.shape} != truth shape {t.shape}")
        valid_t = t != IGNORE_INDEX
        keep = valid_t & (p != IGNORE_INDEX)
        cm += confusion_matrix(p[keep], t[keep], k)
        strict += confusion_matrix(np.where(p == IGNORE_INDEX, k, p)[valid_t], t[valid_t], k + 1)
        labelled += int(keep.sum())
        total += int(valid_t.sum())
    s = segmentation_scores(cm)
    iou_strict = segmentation_scores(strict)["iou"][:k]
    n = strict.sum()
    return {
        "miou": float(np.nanmean(iou_strict)) if np.isfinite(iou_strict).any()
        else float("nan"),
        "oa": float(np.trace(strict[:k, :k]) / n) if n else float("nan"),
        "coverage": labelled / total if total else float("nan"),
        "miou_labelled": s["miou"],
        "oa_labelled": s["oa"],
    }


#: Directions of :func:`pseudo_label_scores` (labelled-only numbers and coverage: context).
SCORE_DIRECTIONS: dict[str, str] = {
    "miou": "max", "oa": "max", "coverage": "info", "miou_labelled": "info",
    "oa_labelled": "info",
}


def build_seco(
    num_classes: int = 7,
    things: Sequence[int] = LOVEDA_THINGS,
    stuff: Sequence[int] | None = None,
    *,
    sam_checkpoint: str | Path | None = None,
    sam_type: str | None = None,
    tiny_sam: bool = False,
    scc: Any = None,
    psa_only: bool = False,
) -> Any:
    """A :class:`~.model.SeCo` (SAM from a local checkpoint, tiny random SAM, or SAM-free).

    ``stuff`` defaults to every class not in ``things``; ``scc`` is an
    :class:`~.model.SCCConfig` (default: the tiny CPU configuration).
    """
    from .model import (
        PixelSemanticAggregation,
        SamPrompter,
        SamSegments,
        SCCConfig,
        SeCo,
        SemanticConnectivityCorrection,
    )

    things = tuple(int(c) for c in things)
    stuff = tuple(c for c in range(num_classes) if c not in things) if stuff is None \
        else tuple(int(c) for c in stuff)
    if sam_checkpoint is not None or tiny_sam:
        from ...proposals.sam import build_sam, build_tiny_sam, sam_type_from_state

        if sam_checkpoint is not None:
            if sam_type is None:
                from ...io import load_checkpoint

                sam_type = sam_type_from_state(load_checkpoint(sam_checkpoint))
            sam = build_sam(sam_type, sam_checkpoint)  # type: ignore[arg-type]
            segments = SamSegments(sam)
        else:
            sam = build_tiny_sam()
            segments = SamSegments.tiny(sam)
        psa = PixelSemanticAggregation(num_classes, stuff, things, segments=segments,
                                       prompter=SamPrompter(sam))
    else:
        psa = PixelSemanticAggregation(num_classes, stuff, things)
    corr = None if psa_only else SemanticConnectivityCorrection(
        num_classes, scc if scc is not None else SCCConfig.tiny())
    return SeCo(psa, corr)


def _to_uint8(img: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    scale = np.where(hi > lo, hi - lo, 1.0)
    out = (img - lo[:, None, None]) / scale[:, None, None] * 255.0
    u8: np.ndarray = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return u8


def _stretch(path: Path, bands: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band 2-98 % range from a decimated read (uint8 images: 0-255 unchanged)."""
    import rasterio

    with rasterio.open(path) as ds:
        if all(ds.dtypes[b - 1] == "uint8" for b in bands):
            return np.zeros(len(bands)), np.full(len(bands), 255.0)
        f = max(1, max(ds.height, ds.width) // 512)
        arr = ds.read(bands, out_shape=(len(bands), max(1, ds.height // f),
                                        max(1, ds.width // f)), masked=True)
    lo, hi = [], []
    for b in arr:
        v = np.asarray(b.compressed(), dtype=np.float64)
        v = v[np.isfinite(v)]
        lo.append(np.percentile(v, 2) if v.size else 0.0)
        hi.append(np.percentile(v, 98) if v.size else 1.0)
    return np.asarray(lo), np.asarray(hi)


def demo(out_dir: Path, quick: bool = False, seed: int = 0) -> Any:
    """SeCo demo (self-training protocol, unseen test scenes): see :func:`._demo.run_demo`."""
    from ._demo import run_demo

    return run_demo(Path(out_dir), quick=quick, seed=seed)
