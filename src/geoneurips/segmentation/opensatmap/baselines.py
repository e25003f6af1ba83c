"""The cheap baseline: colour / edge thresholds + skeleton (no learning).

Lane paint is bright (white: every channel above ``t_paint``) or yellow (red and green above
``t_paint``, blue well below); curbs are strong luminance edges (Sobel magnitude above
``t_edge``) that are not paint. Both masks are thinned to their skeleton and widened with
the test dilation kernel, so they are scored at the width of the reference. The two
thresholds are chosen on the training tiles (best mIoU on a small grid), so the baseline
sees the same images and labels as the network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fit_threshold_baseline", "threshold_baseline"]


def threshold_baseline(image: np.ndarray, t_paint: float, t_edge: float,
                       dilate: int = 3) -> np.ndarray:
    """Class map (0 background, 1 lane line, 2 curb) of a ``(3, H, W)`` 0-255 image."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    r, g, b = (np.asarray(image[i], dtype=np.float32) for i in range(3))
    white = np.minimum(np.minimum(r, g), b) > t_paint
    yellow = (r > t_paint) & (g > 0.75 * t_paint) & (b < 0.6 * np.minimum(r, g))
    paint = white | yellow
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    mag = np.hypot(ndimage.sobel(lum, 0), ndimage.sobel(lum, 1)) / 8.0
    edge = (mag > t_edge) & ~ndimage.binary_dilation(paint, iterations=1)
    struct = np.ones((dilate, dilate), dtype=bool)
    out = np.zeros(r.shape, dtype=np.int64)
    e = skeletonize(edge)  # type: ignore[no-untyped-call]
    p = skeletonize(paint)  # type: ignore[no-untyped-call]
    if dilate > 1:
        e = ndimage.binary_dilation(e, structure=struct)
        p = ndimage.binary_dilation(p, structure=struct)
    out[e] = 2
    out[p] = 1
    return out


def fit_threshold_baseline(images: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                           dilate: int = 3) -> tuple[float, float]:
    """The ``(t_paint, t_edge)`` of a small grid with the best mIoU on the given tiles."""
    from .metrics import semantic_miou

    best = (-1.0, 200.0, 20.0)
    for tp in (170.0, 190.0, 210.0, 225.0):
        for te in (10.0, 20.0, 30.0, 45.0):
            preds = [threshold_baseline(im, tp, te, dilate) for im in images]
            s = semantic_miou(preds, targets)["miou"]
            if s > best[0]:
                best = (s, tp, te)
    return best[1], best[2]
