"""SeCo's Pixel Semantic Aggregation, PSA (Sec. 3.2, public code ``PSA/seco_sam.py``).

* *stuff* classes: every segment of SAM's automatic mask generator (or of a pluggable
  :class:`~.backends.SegmentGenerator`) is filled with the stuff class holding the largest
  share of its non-ignored pseudo-label pixels, when that share exceeds 0.20; pixels that no
  accepted segment covers become ignore (255);
* *things* classes: every 8-connected component (>= 10 px) of a thing class with more
  than 10 px is a prompt: box = the axis-aligned box of its minimum-area rectangle
  enlarged by ``d = area * 1.25 / perimeter`` (the "unclip" of DB-Net); points = in each
  of 2 consecutive chunks of its pixels (row-major order), the pixel of lowest *spatial
  purity* (the entropy of the one-hot pseudo-label histogram in a 17 x 17 window); the
  prompter's single mask is painted with the class over the stuff.

Differences from the public code, both deliberate (paper intent):

* The public point selection fires a point when the running index equals ``k * (n // 2)``,
  which never happens for the second chunk when ``n`` is even (one point instead of two);
  here the pixels are split into exactly two chunks (``np.array_split``).
* The public purity map sets ``purity = max`` where the pseudo-label equals ``class_num``
  (i.e. a valid class id), meaning to penalise ignore pixels (255 is clipped to
  ``class_num`` only in the one-hot copy); here the ignore pixels get the maximum, so a
  prompt point never falls on an ignored pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from ._checks import _check_image, _check_label
from .backends import (
    FelzenszwalbSegments,
    Prompter,
    RegionGrowPrompter,
    SamPrompter,
    SamSegments,
    SegmentGenerator,
)
from .data import IGNORE_INDEX

__all__ = [
    "PSAConfig",
    "PixelSemanticAggregation",
    "min_area_rect",
    "prompt_box",
    "prompt_points",
    "psa_tiny_sam",
    "spatial_purity",
]


def spatial_purity(label: np.ndarray, num_classes: int, radius: int = 8) -> np.ndarray:
    """Spatial purity map (PSA, things prompts): entropy of the local class histogram.

    For every pixel, the one-hot pseudo-labels (``num_classes`` classes plus one "ignore"
    channel) are summed over the ``(2 r + 1)^2`` window (zero padding outside the image),
    normalised to a distribution ``p`` and ``-sum p log(p + 1e-6)`` is returned. Ignored
    pixels get the map's maximum (see the module notes on the public code).
    """
    from scipy import ndimage

    lab = np.asarray(label).astype(np.int64)
    onehot_idx = np.where((lab >= 0) & (lab < num_classes), lab, num_classes)
    size = 2 * int(radius) + 1
    sums = np.stack([
        ndimage.uniform_filter((onehot_idx == k).astype(np.float64), size=size,
                               mode="constant", cval=0.0)
        for k in range(num_classes + 1)
    ])
    total = sums.sum(0, keepdims=True)
    p = sums / np.where(total > 0, total, 1.0)
    ent: np.ndarray = -(p * np.log(p + 1e-6)).sum(0)
    ent[onehot_idx == num_classes] = ent.max() if ent.size else 0.0
    return ent


def min_area_rect(points_xy: np.ndarray) -> np.ndarray:
    """Corners ``(4, 2)`` of the minimum-area rectangle enclosing 2-D points.

    Rotating calipers over the convex hull's edge directions (the rectangle of least area
    has a side on a hull edge). Degenerate sets (fewer than 3 distinct or collinear points)
    give their axis-aligned (possibly zero-width) box.
    """
    pts = np.unique(np.asarray(points_xy, dtype=np.float64).reshape(-1, 2), axis=0)
    lo, hi = pts.min(0), pts.max(0)
    aabb = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    if len(pts) < 3:
        return aabb
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = pts[ConvexHull(pts).vertices]
    except QhullError:
        return aabb
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    best, best_area = aabb, np.inf
    for a in angles:
        c, s = math.cos(a), math.sin(a)
        rot = np.array([[c, s], [-s, c]])  # rotate by -a
        q = hull @ rot.T
        qlo, qhi = q.min(0), q.max(0)
        area = float(np.prod(qhi - qlo))
        if area < best_area - 1e-9:
            best_area = area
            corners = np.array([[qlo[0], qlo[1]], [qhi[0], qlo[1]], [qhi[0], qhi[1]],
                                [qlo[0], qhi[1]]])
            best = corners @ rot  # rotate back by +a
    return best


def prompt_box(component: np.ndarray, unclip_ratio: float = 1.25) -> np.ndarray:
    """PSA box prompt ``[x0, y0, x1, y1]`` (inclusive pixel coordinates) of a component.

    The minimum-area rectangle of the component's pixel centres is offset outwards by
    ``d = area * unclip_ratio / perimeter`` with round joins (DB-Net's unclip); the
    axis-aligned box of the offset polygon is the rectangle's box grown by ``d`` on every
    side (exact for a round-join offset), floored/ceiled and clipped to the image.
    """
    mask = np.asarray(component, dtype=bool)
    h, w = mask.shape
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise InvalidInputError("prompt_box needs a non-empty component")
    rect = min_area_rect(np.stack([cols, rows], 1))
    side = np.linalg.norm(np.roll(rect, -1, axis=0) - rect, axis=1)
    perimeter = float(side.sum())
    area = float(side[0] * side[1])
    d = area * unclip_ratio / perimeter if perimeter >= 0.01 else 0.0
    x0 = int(np.clip(np.floor(rect[:, 0].min() - d), 0, w - 1))
    x1 = int(np.clip(np.ceil(rect[:, 0].max() + d), 0, w - 1))
    y0 = int(np.clip(np.floor(rect[:, 1].min() - d), 0, h - 1))
    y1 = int(np.clip(np.ceil(rect[:, 1].max() + d), 0, h - 1))
    return np.array([x0, y0, x1, y1], dtype=np.int64)


def prompt_points(component: np.ndarray, purity: np.ndarray, n_points: int = 2) -> np.ndarray:
    """PSA point prompts ``(K, 2)`` xy: the lowest-purity pixel of each of ``n_points``
    consecutive chunks of the component's pixels (row-major order)."""
    rows, cols = np.nonzero(np.asarray(component, dtype=bool))
    if rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.arange(rows.size)
    pts = []
    for chunk in np.array_split(order, min(int(n_points), rows.size)):
        i = chunk[int(np.argmin(purity[rows[chunk], cols[chunk]]))]
        pts.append((int(cols[i]), int(rows[i])))
    return np.asarray(pts, dtype=np.int64)


@dataclass(frozen=True)
class PSAConfig:
    """PSA hyper-parameters (paper/public-code defaults).

    Attributes:
        stuff_align_thresh: a segment is filled with a stuff class whose share of its
            non-ignored pseudo pixels exceeds this (0.20).
        min_thing_pixels: a thing class / component needs this many pixels (10).
        unclip_ratio: box enlargement (1.25).
        n_points: point prompts per component (2).
        purity_radius: window radius of the spatial purity (8 -> 17 x 17).
    """

    stuff_align_thresh: float = 0.20
    min_thing_pixels: int = 10
    unclip_ratio: float = 1.25
    n_points: int = 2
    purity_radius: int = 8


class PixelSemanticAggregation:
    """PSA (Sec. 3.2): aggregate pixel pseudo-labels into SAM (or generator) segments.

    Args:
        num_classes: number of classes.
        stuff_classes / thing_classes: the class split (e.g. Cityscapes: stuff ``0-4, 8-10``;
            LoveDA: building is the only thing). Classes in neither are dropped.
        segments: a :class:`SegmentGenerator` (default :class:`FelzenszwalbSegments`).
        prompter: a :class:`Prompter` (default :class:`RegionGrowPrompter`).
        config: :class:`PSAConfig`.
    """

    def __init__(
        self,
        num_classes: int,
        stuff_classes: Sequence[int],
        thing_classes: Sequence[int],
        segments: SegmentGenerator | None = None,
        prompter: Prompter | None = None,
        config: PSAConfig | None = None,
    ) -> None:
        self.num_classes = int(num_classes)
        self.stuff = tuple(int(c) for c in stuff_classes)
        self.things = tuple(int(c) for c in thing_classes)
        if set(self.stuff) & set(self.things):
            raise InvalidInputError("a class cannot be both stuff and thing")
        for c in (*self.stuff, *self.things):
            if not 0 <= c < self.num_classes:
                raise InvalidInputError(f"class {c} outside 0..{self.num_classes - 1}")
        self.segments = segments or FelzenszwalbSegments()
        self.prompter = prompter or RegionGrowPrompter()
        self.config = config or PSAConfig()

    def aggregate_stuff(self, pseudo: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Fill each segment with its dominant stuff class (share > threshold), else 255."""
        out = np.full(pseudo.shape, IGNORE_INDEX, dtype=np.int64)
        present = [c for c in self.stuff if (pseudo == c).any()]
        if not present:
            return out
        valid = pseudo != IGNORE_INDEX
        for m in masks:
            sel = m & valid
            n = int(sel.sum())
            if n == 0:
                continue
            vals = pseudo[sel]
            share = np.array([(vals == c).sum() for c in present], dtype=np.float64) / n
            best = int(np.argmax(share))
            if share[best] > self.config.stuff_align_thresh:
                out[m] = present[best]
        return out

    def aggregate_things(
        self, image: np.ndarray, pseudo: np.ndarray, out: np.ndarray
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Prompt every thing component with its box and low-purity points; paint masks."""
        from scipy import ndimage

        cfg = self.config
        prompts: list[dict[str, Any]] = []
        present = [c for c in self.things if (pseudo == c).sum() > cfg.min_thing_pixels]
        if not present:
            return out, prompts
        purity = spatial_purity(pseudo, self.num_classes, cfg.purity_radius)
        self.prompter.set_image(image)
        for c in present:
            lab, n = ndimage.label(pseudo == c, structure=np.ones((3, 3)))
            sizes = np.bincount(lab.ravel(), minlength=n + 1)
            for i in range(1, n + 1):
                if sizes[i] < cfg.min_thing_pixels:
                    continue
                comp = lab == i
                box = prompt_box(comp, cfg.unclip_ratio)
                pts = prompt_points(comp, purity, cfg.n_points)
                mask = np.asarray(self.prompter.predict(pts, np.ones(len(pts), np.int64), box))
                if mask.shape != pseudo.shape:
                    raise InvalidInputError(
                        f"prompter returned a mask of shape {mask.shape}, expected {pseudo.shape}"
                    )
                out[mask.astype(bool)] = c
                prompts.append({"class": c, "box": box.tolist(), "points": pts.tolist()})
        return out, prompts

    def __call__(self, image: np.ndarray, pseudo: np.ndarray) -> np.ndarray:
        """PSA labels ``(H, W)`` int64 (255 = ignore) for one image and its pseudo-label."""
        return self.run(image, pseudo)[0]

    def run(
        self, image: np.ndarray, pseudo: np.ndarray
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """PSA labels and the things prompts used (class, box, points)."""
        img = _check_image(image)
        lab = _check_label(pseudo, img.shape[:2], self.num_classes)
        masks = np.asarray(self.segments(img), dtype=bool)
        if masks.ndim != 3 or masks.shape[1:] != lab.shape:
            raise InvalidInputError(
                f"segment generator returned shape {masks.shape}; expected (N, {lab.shape[0]}, "
                f"{lab.shape[1]})"
            )
        out = self.aggregate_stuff(lab, masks)
        return self.aggregate_things(img, lab, out)


def psa_tiny_sam(num_classes: int, stuff: Sequence[int], things: Sequence[int],
                 seed: int = 0) -> PixelSemanticAggregation:
    """PSA on the shared random tiny SAM (smoke tests only; meaningless masks)."""
    from ...proposals.sam import build_tiny_sam

    sam = build_tiny_sam(seed=seed)
    return PixelSemanticAggregation(num_classes, stuff, things,
                                    segments=SamSegments.tiny(sam), prompter=SamPrompter(sam))
