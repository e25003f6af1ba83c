"""Training-free change detectors a practitioner tries before AnyChange (the demo's baselines).

All take the same two co-registered ``(H, W, 3)`` uint8 images AnyChange gets and return a
binary ``(H, W)`` change map; every threshold is Otsu's on the image's own difference map
(no labels, no tuning):

* :func:`pixel_difference_otsu`: plain image differencing, ``|mean_b(I2) - mean_b(I1)|``;
* :func:`cva_otsu`: change-vector analysis, ``||z(I2) - z(I1)||`` with each date's bands
  standardised (removes a global gain/offset per band);
* :func:`cva_histmatch_otsu`: change-vector analysis after matching date 2's histogram to
  date 1's per band (removes any global monotone radiometric difference, e.g. gamma);
* :func:`feature_difference_otsu`: per-pixel angle between the dense features AnyChange
  matches (the same extractor), i.e. the latent matching without object proposals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .model import SpectralTextureFeatures, _threshold_otsu

__all__ = [
    "BASELINES",
    "cva_histmatch_otsu",
    "cva_otsu",
    "feature_difference_otsu",
    "pixel_difference_otsu",
]


def _otsu_map(magnitude: np.ndarray) -> np.ndarray:
    if np.ptp(magnitude) < 1e-12:
        return np.zeros(magnitude.shape, dtype=bool)
    out: np.ndarray = magnitude > _threshold_otsu(magnitude)
    return out


def _zscore(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    out: np.ndarray = (x - x.mean((0, 1))) / (x.std((0, 1)) + 1e-9)
    return out


def pixel_difference_otsu(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    """Otsu threshold of the absolute difference of the band means (grey levels)."""
    d = image2.astype(np.float64).mean(-1) - image1.astype(np.float64).mean(-1)
    return _otsu_map(np.abs(d))


def cva_otsu(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    """Change-vector analysis: Otsu threshold of ``||z(I2) - z(I1)||`` (per-date z-scores)."""
    return _otsu_map(np.linalg.norm(_zscore(image2) - _zscore(image1), axis=-1))


def cva_histmatch_otsu(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    """Change-vector analysis after histogram matching date 2 to date 1 (per band)."""
    from skimage.exposure import match_histograms

    matched = match_histograms(image2.astype(np.float64), image1.astype(np.float64),
                               channel_axis=-1)
    return _otsu_map(np.linalg.norm(matched - image1.astype(np.float64), axis=-1))


def feature_difference_otsu(
    image1: np.ndarray,
    image2: np.ndarray,
    extractor: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Otsu threshold of the per-pixel angle ``-cos(f1, f2)`` of dense features.

    ``extractor`` maps an ``(H, W, 3)`` image in [0, 1] to ``(D, H, W)`` features
    (default: :class:`SpectralTextureFeatures`, AnyChange's SAM-free extractor).
    """
    ext = extractor or SpectralTextureFeatures()
    f1 = np.asarray(ext(image1.astype(np.float32) / 255.0), dtype=np.float64)
    f2 = np.asarray(ext(image2.astype(np.float32) / 255.0), dtype=np.float64)
    if f1.shape[1:] != image1.shape[:2]:
        raise ValueError(f"feature_difference_otsu needs full-resolution features, got {f1.shape}")
    cos = (f1 * f2).sum(0) / (np.linalg.norm(f1, axis=0) * np.linalg.norm(f2, axis=0) + 1e-12)
    return _otsu_map(-cos)


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "pixel_difference_otsu": pixel_difference_otsu,
    "cva_otsu": cva_otsu,
    "cva_histmatch_otsu": cva_histmatch_otsu,
    "feature_difference_otsu": feature_difference_otsu,
}
