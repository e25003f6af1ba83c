"""SeCo: Semantic Connectivity-driven pseudo-labelling (Zhao et al., NeurIPS 2024).

SeCo refines the pixel pseudo-labels of any segmentation model (UDA, source-free UDA,
domain generalisation) at the level of *connected components* in two stages:

* **Pixel Semantic Aggregation, PSA** (Sec. 3.2, public code ``PSA/seco_sam.py``):

  - *stuff* classes: every segment of SAM's automatic mask generator (or of a pluggable
    :class:`SegmentGenerator`) is filled with the stuff class holding the largest share of
    its non-ignored pseudo-label pixels, when that share exceeds 0.20; pixels that no
    accepted segment covers become ignore (255);
  - *things* classes: every 8-connected component (>= 10 px) of a thing class with more
    than 10 px is a prompt: box = the axis-aligned box of its minimum-area rectangle
    enlarged by ``d = area * 1.25 / perimeter`` (the "unclip" of DB-Net); points = in each
    of 2 consecutive chunks of its pixels (row-major order), the pixel of lowest *spatial
    purity* (the entropy of the one-hot pseudo-label histogram in a 17 x 17 window); the
    prompter's single mask is painted with the class over the stuff.

* **Semantic Connectivity Correction, SCC** (Sec. 3.3, public code ``SCC/``):

  - every 8-connected component of every class of the PSA labels becomes a sample
    (:func:`extract_components`);
  - a *connectivity classifier* (:class:`ConnectivityClassifier`: a ResNet whose post-stem
    features are multiplied by the component mask, average pooling, linear head) is
    trained on crops around the components with their pseudo-labels as targets
    (label-smoothed cross-entropy, eps 0.1; SGD lr 0.01, momentum 0.9, Nesterov, weight
    decay 1e-3, ``lr (1 + 10 t / T)^-0.75``, 20 epochs, batch 64);
  - the trained classifier then scores the same components; the per-component loss
    against the pseudo-label, the softmax score and the predicted class are recorded;
  - thresholds (:func:`connectivity_thresholds`): the global loss threshold (the value at
    index ``int(0.5 n)`` of the sorted losses, an upper median), per-class ("local")
    thresholds by predicted class, and the mean of the per-component local thresholds
    ("global-of-local"); the default mode ``both_loss`` drops a component when its loss
    exceeds both its local and the global-of-local threshold. Kept components take the
    classifier's predicted class; dropped ones become ignore (255).

Back ends: :class:`SamSegments`/:class:`SamPrompter` (``segment_anything``'s
``SamAutomaticMaskGenerator``/``SamPredictor`` on any SAM: a local checkpoint through
:func:`geoneurips.change.anychange.model.build_sam`, or the tiny random SAM of
:func:`~geoneurips.change.anychange.model.build_tiny_sam` for tests), and SAM-free ones
(:class:`FelzenszwalbSegments`, :class:`SlicSegments`, :class:`RegionGrowPrompter`).

Differences from the public code, all deliberate (paper intent):

* The public point selection fires a point when the running index equals ``k * (n // 2)``,
  which never happens for the second chunk when ``n`` is even (one point instead of two);
  here the pixels are split into exactly two chunks (``np.array_split``).
* The public purity map sets ``purity = max`` where the pseudo-label equals ``class_num``
  (i.e. a valid class id), meaning to penalise ignore pixels (255 is clipped to
  ``class_num`` only in the one-hot copy); here the ignore pixels get the maximum, so a
  prompt point never falls on an ignored pixel.
* The public classifier crops are normalised with ImageNet RGB statistics *after* being
  flipped to BGR; here RGB order is kept with RGB statistics.
* The thresholds use the public code's index rule ``sorted[min(int(n r), n - 1)]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import CheckpointError, InvalidInputError
from .data import IGNORE_INDEX

__all__ = [
    "FILTER_MODES",
    "Component",
    "ConnectivityClassifier",
    "ConnectivityRecord",
    "FelzenszwalbSegments",
    "PixelSemanticAggregation",
    "Prompter",
    "PSAConfig",
    "RegionGrowPrompter",
    "SCCConfig",
    "SamPrompter",
    "SamSegments",
    "SeCo",
    "SegmentGenerator",
    "SemanticConnectivityCorrection",
    "SlicSegments",
    "apply_correction",
    "connectivity_thresholds",
    "crop_region",
    "extract_components",
    "min_area_rect",
    "prompt_box",
    "prompt_points",
    "quantile_threshold",
    "spatial_purity",
]

FilterMode = Literal[
    "none", "loss", "score", "both", "local_loss", "local_score", "local_both",
    "both_loss", "both_score", "both_both",
]
FILTER_MODES: tuple[str, ...] = (
    "none", "loss", "score", "both", "local_loss", "local_score", "local_both",
    "both_loss", "both_score", "both_both",
)


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInputError(f"{name} must be (H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all():
            raise InvalidInputError(f"{name} contains NaN or infinite values")
        a = arr.astype(np.float64)
        if a.max() <= 1.0 + 1e-6:
            a = a * 255.0
        arr = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _check_label(label: np.ndarray, shape: tuple[int, int], num_classes: int,
                 name: str = "pseudo-label") -> np.ndarray:
    lab = np.asarray(label)
    if lab.shape != shape:
        raise InvalidInputError(f"{name} has shape {lab.shape}, the image {shape}")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all():
            raise InvalidInputError(f"{name} contains NaN or infinite values")
        if not np.all(lab == np.round(lab)):
            raise InvalidInputError(f"{name} must hold whole class ids")
    elif lab.dtype.kind not in "iub":
        raise InvalidInputError(f"{name} has non-numeric dtype {lab.dtype}")
    lab = lab.astype(np.int64)
    bad = (lab != IGNORE_INDEX) & ((lab < 0) | (lab >= num_classes))
    if bad.any():
        v = int(lab[bad][0])
        raise InvalidInputError(
            f"{name} holds class {v}; expected 0..{num_classes - 1} or {IGNORE_INDEX} (ignore)"
        )
    return lab


# --------------------------------------------------------------------------- generators


class SegmentGenerator(Protocol):
    """Class-agnostic segments of an image: ``image (H, W, 3) uint8 -> (N, H, W) bool``."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


class FelzenszwalbSegments:
    """SAM-free segment generator: Felzenszwalb-Huttenlocher graph segmentation (skimage).

    Args:
        scale: higher means larger segments.
        sigma: Gaussian pre-smoothing.
        min_size: minimum segment size in pixels.
    """

    def __init__(self, scale: float = 100.0, sigma: float = 0.8, min_size: int = 20) -> None:
        self.scale, self.sigma, self.min_size = float(scale), float(sigma), int(min_size)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        from skimage.segmentation import felzenszwalb

        img = _check_image(image)
        lab = felzenszwalb(img, scale=self.scale, sigma=self.sigma, min_size=self.min_size)
        return np.stack([lab == k for k in np.unique(lab)])


class SlicSegments:
    """SAM-free segment generator: SLIC superpixels (AnyChange's :class:`SlicProposer`).

    Args:
        n_segments: superpixel counts, one SLIC run per value (masks of all runs, coarse
            to fine, so finer segments are applied last).
        compactness: SLIC compactness.
    """

    def __init__(self, n_segments: Sequence[int] = (60,), compactness: float = 10.0) -> None:
        from ...change.anychange.model import SlicProposer

        self._proposer = SlicProposer(n_segments, compactness)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        img = _check_image(image).astype(np.float32) / 255.0
        return np.asarray(self._proposer(img), dtype=bool)


class SamSegments:
    """SAM's automatic mask generator (the paper's stuff segments; defaults = SAM's).

    Args:
        sam: a ``segment_anything`` ``Sam`` (``build_sam(type, checkpoint)`` or
            ``build_tiny_sam()`` from :mod:`geoneurips.change.anychange.model`).
        **kwargs: ``SamAutomaticMaskGenerator`` options (``points_per_side``, ...).
    """

    def __init__(self, sam: nn.Module, **kwargs: Any) -> None:
        from segment_anything import SamAutomaticMaskGenerator

        self.generator = SamAutomaticMaskGenerator(sam, **kwargs)

    @classmethod
    def tiny(cls, sam: nn.Module) -> SamSegments:
        """Settings for a random tiny SAM (4 x 4 grid, quality filters opened)."""
        return cls(sam, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        img = _check_image(image)
        anns = self.generator.generate(img)
        if not anns:
            return np.zeros((0, *img.shape[:2]), dtype=bool)
        return np.stack([np.asarray(a["segmentation"], dtype=bool) for a in anns])


class Prompter(Protocol):
    """Box + point prompted segmentation (SAM's predictor interface).

    ``set_image(image)`` once per image, then ``predict(points (K, 2) xy, labels (K,), box
    (4,) xyxy) -> (H, W) bool``.
    """

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(self, points: np.ndarray, labels: np.ndarray, box: np.ndarray) -> np.ndarray: ...


class SamPrompter:
    """SAM's predictor with one box and positive points, single-mask output (paper)."""

    def __init__(self, sam: nn.Module) -> None:
        from segment_anything import SamPredictor

        self.predictor = SamPredictor(sam)

    @torch.no_grad()
    def set_image(self, image: np.ndarray) -> None:
        self.predictor.set_image(_check_image(image))

    @torch.no_grad()
    def predict(self, points: np.ndarray, labels: np.ndarray, box: np.ndarray) -> np.ndarray:
        masks, _, _ = self.predictor.predict(
            point_coords=np.asarray(points, dtype=np.float32),
            point_labels=np.asarray(labels, dtype=np.int64),
            box=np.asarray(box, dtype=np.float32), multimask_output=False,
        )
        return np.asarray(masks[0], dtype=bool)


class RegionGrowPrompter:
    """SAM-free prompter: colour region growing from the points, inside the box.

    The image is smoothed (Gaussian, ``sigma``); the seed colour is the per-channel median
    of the 3 x 3 neighbourhoods of the points (robust to a point next to an edge); box
    pixels within ``tol`` of it (Euclidean RGB) and 8-connected to a point form the mask
    (holes filled).
    """

    def __init__(self, tol: float = 40.0, sigma: float = 1.0) -> None:
        self.tol, self.sigma = float(tol), float(sigma)
        self._img: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        from scipy import ndimage

        img = _check_image(image).astype(np.float64)
        if self.sigma > 0:
            img = ndimage.gaussian_filter(img, (self.sigma, self.sigma, 0))
        self._img = img

    def predict(self, points: np.ndarray, labels: np.ndarray, box: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        if self._img is None:
            raise InvalidInputError("RegionGrowPrompter.predict called before set_image")
        img = self._img
        h, w = img.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in np.round(np.asarray(box, dtype=np.float64)))
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(w - 1, x1), min(h - 1, y1)
        out = np.zeros((h, w), dtype=bool)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        pos = pts[np.asarray(labels).reshape(-1) > 0]
        if len(pos) == 0 or x1 < x0 or y1 < y0:
            return out
        seeds = []
        for x, y in pos:
            c, r = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
            seeds.append(img[max(0, r - 1) : r + 2, max(0, c - 1) : c + 2].reshape(-1, 3))
        seed = np.median(np.concatenate(seeds), axis=0)
        sub = img[y0 : y1 + 1, x0 : x1 + 1]
        ok = np.sqrt(((sub - seed) ** 2).sum(-1)) <= self.tol
        lab, _ = ndimage.label(ok, structure=np.ones((3, 3)))
        ids = set()
        for x, y in pos:
            r, c = int(round(y)) - y0, int(round(x)) - x0
            if 0 <= r < lab.shape[0] and 0 <= c < lab.shape[1] and lab[r, c] > 0:
                ids.add(int(lab[r, c]))
        if not ids:
            return out
        region = ndimage.binary_fill_holes(np.isin(lab, sorted(ids)))
        out[y0 : y1 + 1, x0 : x1 + 1] = region
        return out


# --------------------------------------------------------------------------- PSA pieces


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
    ent = -(p * np.log(p + 1e-6)).sum(0)
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


# --------------------------------------------------------------------------- SCC pieces


@dataclass
class Component:
    """One 8-connected component of one class in one image (an SCC sample).

    Attributes:
        image_index: index of its image in the batch given to SCC.
        label: its (pseudo) class.
        bbox: ``(row0, col0, row1, col1)``, half-open.
        mask: boolean mask inside the bbox.
        area: pixel count.
    """

    image_index: int
    label: int
    bbox: tuple[int, int, int, int]
    mask: np.ndarray
    area: int

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The component as an ``(H, W)`` mask."""
        out = np.zeros(shape, dtype=bool)
        r0, c0, r1, c1 = self.bbox
        out[r0:r1, c0:c1] = self.mask
        return out


def extract_components(label: np.ndarray, image_index: int = 0, min_area: int = 1
                       ) -> list[Component]:
    """All 8-connected components of every class of a label map (255 skipped)."""
    from scipy import ndimage

    lab = np.asarray(label).astype(np.int64)
    comps: list[Component] = []
    for c in np.unique(lab):
        if c == IGNORE_INDEX:
            continue
        cc, n = ndimage.label(lab == c, structure=np.ones((3, 3)))
        for i, sl in enumerate(ndimage.find_objects(cc), start=1):
            if sl is None:
                continue
            m = cc[sl] == i
            area = int(m.sum())
            if area < min_area:
                continue
            bbox = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
            comps.append(Component(int(image_index), int(c), bbox, m, area))
    return comps


def crop_region(image_hw: tuple[int, int], bbox: tuple[int, int, int, int],
                size: tuple[int, int]) -> tuple[int, int, int, int]:
    """SCC crop window ``(row0, row1, col0, col1)`` around a component bbox.

    A ``size`` (h, w) window centred on the bbox; scaled up (same aspect) when the bbox is
    larger; shifted inside the image and clipped to it (public ``get_patch_region``).
    """
    img_h, img_w = image_hw
    r0, c0, r1, c1 = bbox
    bh, bw = r1 - r0, c1 - c0
    sh, sw = size
    if bw > sw or bh > sh:
        ratio = max(bh / sh, bw / sw)
        sh, sw = int(math.ceil(ratio * sh)), int(math.ceil(ratio * sw))
    cy, cx = (r0 + r1) // 2, (c0 + c1) // 2
    top, left = cy - sh // 2, cx - sw // 2
    top = min(max(top, 0), max(img_h - sh, 0))
    left = min(max(left, 0), max(img_w - sw, 0))
    return top, min(img_h, top + sh), left, min(img_w, left + sw)


_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def make_crops(
    images: Sequence[np.ndarray], comps: Sequence[Component], size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """Normalised image crops ``(N, 3, h, w)`` and component masks ``(N, 1, h, w)``."""
    n = len(comps)
    x = torch.zeros(n, 3, *size)
    m = torch.zeros(n, 1, *size)
    tensors = [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0
               for im in images]
    for k, comp in enumerate(comps):
        img = tensors[comp.image_index]
        h, w = img.shape[1:]
        t, b, le, ri = crop_region((h, w), comp.bbox, size)
        full = torch.zeros(h, w)
        r0, c0, r1, c1 = comp.bbox
        full[r0:r1, c0:c1] = torch.from_numpy(comp.mask.astype(np.float32))
        x[k] = F.interpolate(img[None, :, t:b, le:ri], size, mode="bilinear",
                             align_corners=False)[0]
        m[k] = F.interpolate(full[None, None, t:b, le:ri], size, mode="nearest")[0]
    return (x - _MEAN) / _STD, m


class ConnectivityClassifier(nn.Module):
    """Mask-guided classifier of connected components (SCC, Sec. 3.3).

    A ResNet stem (conv-BN-ReLU-maxpool) whose output is multiplied by the component mask
    (nearest-resized), the ResNet stages, global average pooling and a linear head.

    Args:
        num_classes: output classes.
        arch: ``"resnet101"`` (paper), ``"resnet18"``/``"resnet50"`` (torchvision,
            random init unless ``checkpoint`` is given), or ``"tiny"`` (a 3-stage CNN for
            tests and CPU demos).
        checkpoint: local torchvision ResNet state dict (e.g. ImageNet weights) read with
            :func:`geoneurips.io.load_checkpoint`; the ``fc`` weights are not used.
        width: base width of the tiny network.
    """

    def __init__(self, num_classes: int, arch: str = "resnet101",
                 checkpoint: str | Path | None = None, width: int = 16) -> None:
        super().__init__()
        self.arch = arch
        if arch == "tiny":
            self.stem = nn.Sequential(
                nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )

            def block(i: int, o: int) -> nn.Module:
                return nn.Sequential(nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o),
                                     nn.ReLU(inplace=True))

            self.body = nn.Sequential(block(width, 2 * width), block(2 * width, 4 * width))
            feat = 4 * width
        elif arch in ("resnet18", "resnet50", "resnet101"):
            import torchvision

            net = getattr(torchvision.models, arch)(weights=None)
            if checkpoint is not None:
                from ...io import load_checkpoint

                state = {k: v for k, v in load_checkpoint(checkpoint).items()
                         if not k.startswith("fc.")}
                missing, unexpected = net.load_state_dict(state, strict=False)
                bad = [k for k in missing if not k.startswith("fc.")]
                if bad or unexpected:
                    raise CheckpointError(
                        f"checkpoint {str(checkpoint)!r} does not match torchvision {arch}: "
                        f"missing {bad[:3]}, unexpected {list(unexpected)[:3]}"
                    )
            self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
            self.body = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
            feat = net.fc.in_features
        else:
            raise InvalidInputError(f"unknown classifier arch {arch!r}")
        self.head = nn.Linear(feat, num_classes)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """Logits ``(N, K)`` of image crops ``(N, 3, h, w)`` and masks ``(N, 1, h, w)``."""
        f = self.stem(image)
        f = f * F.interpolate(mask.float(), f.shape[-2:], mode="nearest")
        f = self.body(f)
        return self.head(f.mean(dim=(2, 3)))

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters of stem and stages (trained at ``backbone_lr_mult`` x lr)."""
        return [*self.stem.parameters(), *self.body.parameters()]


@dataclass(frozen=True)
class SCCConfig:
    """SCC hyper-parameters (public code defaults; :meth:`tiny` for CPU tests).

    Attributes:
        arch: classifier backbone (``resnet101`` in the paper).
        crop_size: ``(h, w)`` of the classifier crops (256 x 512 for Cityscapes).
        epochs, batch_size, lr, momentum, weight_decay, backbone_lr_mult: SGD schedule
            ``lr (1 + 10 t / T)^-0.75`` (Nesterov).
        label_smoothing: of the training cross-entropy (0.1).
        ratio: rank of the thresholds (0.5: the median).
        filter_mode: which thresholds drop a component (``both_loss``).
        relabel: kept components take the classifier's predicted class (public code).
        min_area: components smaller than this are not classified and become ignore (1:
            every component is classified, as published).
        hflip: random horizontal flips in training.
        checkpoint: local torchvision weights for the backbone.
        seed: seed of the classifier training.
    """

    arch: str = "resnet101"
    crop_size: tuple[int, int] = (256, 512)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-3
    backbone_lr_mult: float = 0.1
    label_smoothing: float = 0.1
    ratio: float = 0.5
    filter_mode: FilterMode = "both_loss"
    relabel: bool = True
    min_area: int = 1
    hflip: bool = True
    checkpoint: str | None = None
    seed: int = 0
    width: int = 16

    def __post_init__(self) -> None:
        if self.filter_mode not in FILTER_MODES:
            raise InvalidInputError(f"filter_mode must be one of {FILTER_MODES}")
        if not 0.0 <= self.ratio <= 1.0:
            raise InvalidInputError(f"ratio must be in [0, 1], got {self.ratio}")
        if self.epochs < 0 or self.batch_size < 1:
            raise InvalidInputError("epochs must be >= 0 and batch_size >= 1")

    @classmethod
    def tiny(cls, **overrides: Any) -> SCCConfig:
        """Tiny CNN, 32 x 32 crops, full learning rate on the random backbone."""
        base: dict[str, Any] = dict(arch="tiny", crop_size=(32, 32), epochs=12,
                                    batch_size=32, lr=0.05, backbone_lr_mult=1.0)
        base.update(overrides)
        return cls(**base)


def quantile_threshold(values: Sequence[float] | np.ndarray, ratio: float) -> float:
    """``sorted(values)[min(int(n * ratio), n - 1)]`` (public ``determine_threshold``)."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise InvalidInputError("cannot take a threshold of no values")
    return float(v[min(int(v.size * ratio), v.size - 1)])


@dataclass
class ConnectivityRecord:
    """Per-component SCC outputs (the public code's JSON records).

    ``loss``: cross-entropy of the classifier against the pseudo-label; ``score``: max
    softmax; ``pred``: predicted class; ``pseudo``: the component's label; ``keep``:
    survives the filter; ``components``: the :class:`Component` of each row.
    """

    loss: np.ndarray
    score: np.ndarray
    pred: np.ndarray
    pseudo: np.ndarray
    thresholds: dict[str, Any] = field(default_factory=dict)
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    components: list[Component] = field(default_factory=list)


def connectivity_thresholds(loss: np.ndarray, score: np.ndarray, pred: np.ndarray,
                            ratio: float = 0.5) -> dict[str, Any]:
    """Global, per-class ("local", by predicted class) and global-of-local thresholds.

    Returns ``loss``/``score`` (floats), ``local_loss``/``local_score`` (per component),
    ``global_loss``/``global_score`` (the mean of the per-component local thresholds).
    """
    loss, score, pred = (np.asarray(a) for a in (loss, score, pred))
    local_loss = np.zeros(loss.shape, dtype=np.float64)
    local_score = np.zeros(score.shape, dtype=np.float64)
    for c in np.unique(pred):
        sel = pred == c
        local_loss[sel] = quantile_threshold(loss[sel], ratio)
        local_score[sel] = quantile_threshold(score[sel], 1.0 - ratio)
    return {
        "loss": quantile_threshold(loss, ratio),
        "score": quantile_threshold(score, 1.0 - ratio),
        "local_loss": local_loss,
        "local_score": local_score,
        "global_loss": float(local_loss.mean()),
        "global_score": float(local_score.mean()),
    }


def keep_mask(loss: np.ndarray, score: np.ndarray, thr: dict[str, Any],
              mode: str = "both_loss") -> np.ndarray:
    """Which components survive the filter ``mode`` (public ``vis_json`` rules)."""
    loss, score = np.asarray(loss), np.asarray(score)
    hi_g = loss > thr["loss"]
    lo_g = score < thr["score"]
    hi_l = loss > thr["local_loss"]
    lo_l = score < thr["local_score"]
    hi_b = hi_l & (loss > thr["global_loss"])
    lo_b = lo_l & (score < thr["global_score"])
    drop = {
        "none": np.zeros(loss.shape, dtype=bool), "loss": hi_g, "score": lo_g,
        "both": hi_g | lo_g, "local_loss": hi_l, "local_score": lo_l,
        "local_both": hi_l | lo_l, "both_loss": hi_b, "both_score": lo_b,
        "both_both": hi_b | lo_b,
    }
    if mode not in drop:
        raise InvalidInputError(f"filter mode must be one of {FILTER_MODES}, got {mode!r}")
    return ~drop[mode]


def apply_correction(shape: tuple[int, int], comps: Sequence[Component], keep: np.ndarray,
                     labels: np.ndarray) -> np.ndarray:
    """Paint kept components with ``labels`` on an all-ignore ``(H, W)`` map."""
    out = np.full(shape, IGNORE_INDEX, dtype=np.int64)
    for comp, k, lab in zip(comps, keep, labels, strict=True):
        if k:
            r0, c0, r1, c1 = comp.bbox
            out[r0:r1, c0:c1][comp.mask] = int(lab)
    return out


class SemanticConnectivityCorrection:
    """SCC (Sec. 3.3): classify components, record losses, drop/relabel by thresholds.

    Args:
        num_classes: number of classes.
        config: :class:`SCCConfig`.
        classifier: an already trained :class:`ConnectivityClassifier` (skips training).
    """

    def __init__(self, num_classes: int, config: SCCConfig | None = None,
                 classifier: ConnectivityClassifier | None = None) -> None:
        self.num_classes = int(num_classes)
        self.config = config or SCCConfig()
        self.classifier = classifier
        self.history: list[float] = []

    def build_classifier(self) -> ConnectivityClassifier:
        cfg = self.config
        return ConnectivityClassifier(self.num_classes, cfg.arch, cfg.checkpoint, cfg.width)

    def fit(self, x: Tensor, m: Tensor, y: Tensor, progress: bool = False
            ) -> ConnectivityClassifier:
        """Train the classifier on crops/masks with pseudo-label targets ``y``."""
        cfg = self.config
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(cfg.seed)
        try:
            net = self.build_classifier()
            back = {id(p) for p in net.backbone_parameters()}
            head = [p for p in net.parameters() if id(p) not in back]
            opt = torch.optim.SGD(
                [{"params": net.backbone_parameters(), "lr": cfg.lr * cfg.backbone_lr_mult},
                 {"params": head, "lr": cfg.lr}],
                lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay,
            )
            base = [g["lr"] for g in opt.param_groups]
            n = x.shape[0]
            steps = max(1, cfg.epochs * math.ceil(n / cfg.batch_size))
            crit = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
            t = 0
            net.train()
            from tqdm.auto import tqdm

            for _ in tqdm(range(cfg.epochs), desc="SCC classifier", disable=not progress):
                perm = torch.randperm(n)
                total = 0.0
                for s in range(0, n, cfg.batch_size):
                    idx = perm[s : s + cfg.batch_size]
                    if idx.numel() < 2:  # BatchNorm needs two samples
                        continue
                    xb, mb = x[idx], m[idx]
                    if cfg.hflip:
                        flip = torch.rand(idx.numel()) < 0.5
                        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                        mb = torch.where(flip[:, None, None, None], mb.flip(-1), mb)
                    for g, b in zip(opt.param_groups, base, strict=True):
                        g["lr"] = b * (1 + 10 * t / steps) ** -0.75
                    loss = crit(net(xb, mb), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * idx.numel()
                    t += 1
                self.history.append(total / max(n, 1))
        finally:
            torch.random.set_rng_state(gen_state)
        self.classifier = net.eval()
        return self.classifier

    @torch.no_grad()
    def score(self, x: Tensor, m: Tensor, y: Tensor, batch: int = 256
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-component loss (CE vs ``y``), max softmax score and predicted class."""
        if self.classifier is None:
            raise InvalidInputError("SCC classifier is not trained (call fit first)")
        net = self.classifier.eval()
        losses, scores, preds = [], [], []
        for s in range(0, x.shape[0], batch):
            logits = net(x[s : s + batch], m[s : s + batch])
            losses.append(F.cross_entropy(logits, y[s : s + batch], reduction="none"))
            sc, pr = logits.softmax(1).max(1)
            scores.append(sc)
            preds.append(pr)
        if not losses:
            z = np.zeros(0)
            return z, z, z.astype(np.int64)
        return (torch.cat(losses).numpy(), torch.cat(scores).numpy(),
                torch.cat(preds).numpy().astype(np.int64))

    def __call__(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
                 progress: bool = False) -> tuple[list[np.ndarray], ConnectivityRecord]:
        """Correct a set of label maps (thresholds computed over all their components)."""
        return self.run(images, labels, progress=progress)

    def run(self, images: Sequence[np.ndarray], labels: Sequence[np.ndarray],
            progress: bool = False, train: bool = True
            ) -> tuple[list[np.ndarray], ConnectivityRecord]:
        cfg = self.config
        if len(images) != len(labels):
            raise InvalidInputError(f"{len(images)} images but {len(labels)} label maps")
        imgs = [_check_image(im) for im in images]
        labs = [_check_label(lb, im.shape[:2], self.num_classes, "label map")
                for im, lb in zip(imgs, labels, strict=True)]
        comps: list[Component] = []
        small: list[Component] = []
        for i, lb in enumerate(labs):
            for c in extract_components(lb, i):
                (comps if c.area >= cfg.min_area else small).append(c)
        if not comps:
            empty = np.zeros(0)
            return ([np.full(lb.shape, IGNORE_INDEX, np.int64) for lb in labs],
                    ConnectivityRecord(empty, empty, empty.astype(np.int64),
                                       empty.astype(np.int64)))
        x, m = make_crops(imgs, comps, cfg.crop_size)
        y = torch.tensor([c.label for c in comps], dtype=torch.int64)
        if train or self.classifier is None:
            self.fit(x, m, y, progress=progress)
        loss, score, pred = self.score(x, m, y)
        thr = connectivity_thresholds(loss, score, pred, cfg.ratio)
        keep = keep_mask(loss, score, thr, cfg.filter_mode)
        new = pred if cfg.relabel else y.numpy()
        outs = []
        for i, lb in enumerate(labs):
            sel = [k for k, c in enumerate(comps) if c.image_index == i]
            outs.append(apply_correction(lb.shape, [comps[k] for k in sel], keep[sel], new[sel]))
        return outs, ConnectivityRecord(loss, score, pred, y.numpy(), thr, keep, comps)


class SeCo:
    """The whole method: PSA then SCC on a set of images and their pseudo-labels.

    Args:
        psa: :class:`PixelSemanticAggregation`.
        scc: :class:`SemanticConnectivityCorrection` (``None``: PSA only).

    Example:
        >>> seco = SeCo.pluggable(7, LOVEDA_STUFF, LOVEDA_THINGS, SCCConfig.tiny())
        >>> refined, info = seco([image], [pseudo])
    """

    def __init__(self, psa: PixelSemanticAggregation,
                 scc: SemanticConnectivityCorrection | None = None) -> None:
        self.psa = psa
        self.scc = scc

    @classmethod
    def pluggable(cls, num_classes: int, stuff: Sequence[int], things: Sequence[int],
                  scc_config: SCCConfig | None = None, psa_config: PSAConfig | None = None,
                  segments: SegmentGenerator | None = None) -> SeCo:
        """SAM-free SeCo (Felzenszwalb segments, region-growing prompter)."""
        psa = PixelSemanticAggregation(num_classes, stuff, things, segments=segments,
                                       config=psa_config)
        return cls(psa, SemanticConnectivityCorrection(num_classes, scc_config))

    @classmethod
    def from_sam(cls, sam: nn.Module, num_classes: int, stuff: Sequence[int],
                 things: Sequence[int], scc_config: SCCConfig | None = None,
                 psa_config: PSAConfig | None = None, **amg_kwargs: Any) -> SeCo:
        """SeCo on a SAM model (``build_sam(type, local checkpoint)`` or the tiny SAM)."""
        psa = PixelSemanticAggregation(
            num_classes, stuff, things, segments=SamSegments(sam, **amg_kwargs),
            prompter=SamPrompter(sam), config=psa_config,
        )
        return cls(psa, SemanticConnectivityCorrection(num_classes, scc_config))

    def __call__(self, images: Sequence[np.ndarray], pseudo: Sequence[np.ndarray],
                 progress: bool = False) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Refined labels (int64, 255 ignore) and ``{"psa": [...], "record": ...}``."""
        if len(images) != len(pseudo):
            raise InvalidInputError(f"{len(images)} images but {len(pseudo)} pseudo-labels")
        from tqdm.auto import tqdm

        psa = [self.psa(im, ps) for im, ps in
               tqdm(list(zip(images, pseudo, strict=True)), desc="PSA", disable=not progress)]
        if self.scc is None:
            return psa, {"psa": psa, "record": None}
        out, rec = self.scc(images, psa, progress=progress)
        return out, {"psa": psa, "record": rec}


def component_noise_report(
    pseudo: np.ndarray, refined: np.ndarray, truth: np.ndarray
) -> dict[str, float]:
    """Share of the pseudo-label's *noisy* components removed by the refinement.

    A component (8-connected, per class) of ``pseudo`` is noisy when the majority of its
    pixels with a valid truth has another class; it counts as removed when fewer than half
    of those pixels still carry its wrong class in ``refined``.
    """
    comps = extract_components(pseudo)
    t = np.asarray(truth).astype(np.int64)
    r = np.asarray(refined).astype(np.int64)
    noisy = removed = clean = clean_lost = 0
    for comp in comps:
        full = comp.full_mask(t.shape)
        tv = t[full]
        tv = tv[tv != IGNORE_INDEX]
        if tv.size == 0:
            continue
        major = int(np.bincount(tv).argmax())
        still = float((r[full] == comp.label).mean())
        if major != comp.label:
            noisy += 1
            removed += still < 0.5
        else:
            clean += 1
            clean_lost += still < 0.5
    return {
        "noisy_components": float(noisy),
        "noisy_removed_share": removed / noisy if noisy else float("nan"),
        "clean_components": float(clean),
        "clean_lost_share": clean_lost / clean if clean else float("nan"),
    }


def psa_tiny_sam(num_classes: int, stuff: Sequence[int], things: Sequence[int],
                 seed: int = 0) -> PixelSemanticAggregation:
    """PSA on the random tiny SAM of AnyChange (smoke tests only; meaningless masks)."""
    from ...change.anychange.model import build_tiny_sam

    sam = build_tiny_sam(seed=seed)
    return PixelSemanticAggregation(num_classes, stuff, things,
                                    segments=SamSegments.tiny(sam), prompter=SamPrompter(sam))

