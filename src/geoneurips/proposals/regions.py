"""A SAM-free object proposer: SLIC superpixels merged into regions of similar colour.

SAM proposes whole objects (a roof, a field); SLIC superpixels cut objects into pieces of
about equal size, so a changed building is covered by superpixels that also hold some
background. Merging adjacent superpixels whose mean colours are close (a region adjacency
graph cut at a colour distance, Felzenszwalb-style region merging) gives object-like masks
with superpixel-accurate boundaries, closer to what SAM's automatic mask generator gives the
latent matching (AnyChange, Sec. 3.2, "object proposals"). Any system that takes a
proposer can use it (AnyChange plugs it into its ``PluggableBackend``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

__all__ = ["RegionMergeProposer"]


class RegionMergeProposer:
    """SLIC superpixels merged by mean colour (one proposal set per threshold).

    Args:
        n_segments: SLIC superpixel count.
        compactness: SLIC compactness.
        thresholds: colour distances (RGB in [0, 1], Euclidean between region means) at
            which adjacent superpixels are merged; one segmentation per value.
    """

    def __init__(
        self, n_segments: int = 300, compactness: float = 10.0,
        thresholds: Sequence[float] = (0.1,),
    ) -> None:
        if n_segments < 1 or not thresholds or min(thresholds) <= 0:
            raise ValueError("n_segments must be >= 1 and thresholds positive")
        self.n_segments = int(n_segments)
        self.compactness = float(compactness)
        self.thresholds = tuple(float(t) for t in thresholds)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` bool masks for an ``(H, W, 3)`` image in [0, 1]."""
        from skimage import graph
        from skimage.segmentation import slic

        labels = slic(image, n_segments=self.n_segments, compactness=self.compactness,
                      start_label=0, channel_axis=-1, enforce_connectivity=True)
        rag_mean_color = cast(Callable[..., Any], graph.rag_mean_color)  # untyped in skimage
        cut_threshold = cast(Callable[..., np.ndarray], graph.cut_threshold)
        masks: list[np.ndarray] = []
        for t in self.thresholds:
            rag = rag_mean_color(image, labels)
            merged = cut_threshold(labels, rag, t, in_place=False)
            masks.extend(merged == k for k in np.unique(merged))
        return np.stack(masks)
