"""SAM-free mask proposals: SLIC and Felzenszwalb segments (scikit-image).

Both AnyChange (its pluggable back end) and SeCo (PSA's stuff segments without SAM) need
class-agnostic masks of an image. :class:`SlicProposer` gives multi-scale SLIC superpixels
(an image in [0, 1]); :class:`SlicSegments` and :class:`FelzenszwalbSegments` follow the
:class:`SegmentGenerator` interface (``uint8 (H, W, 3) -> (N, H, W) bool``) that SAM's
automatic mask generator (:class:`geoneurips.proposals.sam.SamSegments`) also follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from geoneurips.errors import InvalidInputError

__all__ = [
    "FelzenszwalbSegments",
    "SegmentGenerator",
    "SlicProposer",
    "SlicSegments",
    "as_uint8_rgb",
]


class SegmentGenerator(Protocol):
    """Class-agnostic segments of an image: ``image (H, W, 3) uint8 -> (N, H, W) bool``."""

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


def as_uint8_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check an ``(H, W, 3)`` image and bring it to uint8 (floats in [0, 1] or [0, 255])."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInputError(f"{name} must be (H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    x = arr.astype(np.float64)
    if x.max() <= 1.0 + 1e-6:
        x = x * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


class SlicProposer:
    """Mask proposals from SLIC superpixels at several scales (a SAM-free proposer).

    Args:
        n_segments: superpixel counts, one SLIC run per value (coarse to fine).
        compactness: SLIC compactness.
    """

    def __init__(self, n_segments: Sequence[int] = (100, 300), compactness: float = 10.0) -> None:
        self.n_segments = tuple(int(n) for n in n_segments)
        self.compactness = float(compactness)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` bool masks for an ``(H, W, C)`` image in [0, 1]."""
        from skimage.segmentation import slic

        masks = []
        for n in self.n_segments:
            labels = slic(
                image, n_segments=n, compactness=self.compactness, start_label=0,
                channel_axis=-1, enforce_connectivity=True,
            )
            for k in np.unique(labels):
                masks.append(labels == k)
        return np.stack(masks) if masks else np.zeros((0, *image.shape[:2]), bool)


class SlicSegments:
    """:class:`SegmentGenerator` of SLIC superpixels (uint8 in, :class:`SlicProposer` inside).

    Args:
        n_segments: superpixel counts, one SLIC run per value (masks of all runs, coarse
            to fine, so finer segments are applied last).
        compactness: SLIC compactness.
    """

    def __init__(self, n_segments: Sequence[int] = (60,), compactness: float = 10.0) -> None:
        self._proposer = SlicProposer(n_segments, compactness)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        img = as_uint8_rgb(image).astype(np.float32) / 255.0
        return np.asarray(self._proposer(img), dtype=bool)


class FelzenszwalbSegments:
    """:class:`SegmentGenerator`: Felzenszwalb-Huttenlocher graph segmentation (skimage).

    Args:
        scale: higher means larger segments.
        sigma: Gaussian pre-smoothing.
        min_size: minimum segment size in pixels.
    """

    def __init__(self, scale: float = 100.0, sigma: float = 0.8, min_size: int = 20) -> None:
        self.scale, self.sigma, self.min_size = float(scale), float(sigma), int(min_size)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        from skimage.segmentation import felzenszwalb

        img = as_uint8_rgb(image)
        lab = felzenszwalb(img, scale=self.scale, sigma=self.sigma, min_size=self.min_size)
        return np.stack([lab == k for k in np.unique(lab)])
