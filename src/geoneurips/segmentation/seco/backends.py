"""SeCo back ends: class-agnostic segment generators and box/point prompters.

PSA (Sec. 3.2) needs two things from a foundation model: the *stuff* segments of SAM's
automatic mask generator and the single mask SAM's predictor returns for a box plus point
prompt (*things*). :class:`SamSegments`/:class:`SamPrompter` wrap ``segment_anything``'s
``SamAutomaticMaskGenerator``/``SamPredictor`` on any SAM: a local checkpoint through
:func:`geoneurips.change.anychange.model.build_sam`, or the tiny random SAM of
:func:`~geoneurips.change.anychange.model.build_tiny_sam` for tests. The SAM-free back ends
(:class:`FelzenszwalbSegments`, :class:`SlicSegments`, :class:`RegionGrowPrompter`) fill the
same :class:`SegmentGenerator`/:class:`Prompter` interfaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ...errors import InvalidInputError
from ._checks import _check_image

__all__ = [
    "FelzenszwalbSegments",
    "Prompter",
    "RegionGrowPrompter",
    "SamPrompter",
    "SamSegments",
    "SegmentGenerator",
    "SlicSegments",
]


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
