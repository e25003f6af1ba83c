"""SeCo back ends: class-agnostic segment generators and box/point prompters.

PSA (Sec. 3.2) needs two things from a foundation model: the *stuff* segments of SAM's
automatic mask generator and the single mask SAM's predictor returns for a box plus point
prompt (*things*). Both come from the shared layer :mod:`geoneurips.proposals`
(:class:`SamSegments` is :class:`~geoneurips.proposals.sam.SamMaskGenerator` with SAM's
automatic-generator defaults; :class:`SamPrompter`), on any SAM: a local checkpoint through
:func:`geoneurips.proposals.sam.build_sam`, or the tiny random SAM of
:func:`~geoneurips.proposals.sam.build_tiny_sam` for tests. The SAM-free back ends
(:class:`FelzenszwalbSegments`, :class:`SlicSegments` from the shared layer, and
:class:`RegionGrowPrompter` here) fill the same :class:`SegmentGenerator`/:class:`Prompter`
interfaces.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from geoneurips.proposals.sam import SamMaskGenerator
from geoneurips.proposals.sam import SamPrompter as SamPrompter
from geoneurips.proposals.superpixels import FelzenszwalbSegments as FelzenszwalbSegments
from geoneurips.proposals.superpixels import SegmentGenerator as SegmentGenerator
from geoneurips.proposals.superpixels import SlicSegments as SlicSegments

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

#: SAM's automatic mask generator (the paper's stuff segments; defaults = SAM's).
SamSegments = SamMaskGenerator


class Prompter(Protocol):
    """Box + point prompted segmentation (SAM's predictor interface).

    ``set_image(image)`` once per image, then ``predict(points (K, 2) xy, labels (K,), box
    (4,) xyxy) -> (H, W) bool``.
    """

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(self, points: np.ndarray, labels: np.ndarray, box: np.ndarray) -> np.ndarray: ...


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
