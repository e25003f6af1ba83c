"""Synthetic multi-temporal SAR flood scenes where pre-event context is genuinely needed.

Every scene has a post-event image and two pre-event images (VV, VH; linear backscatter,
Kuro Siwo's units) with independent multiplicative gamma speckle (``looks`` looks) per date:

* land (class 0): bright, with a smooth spatial variation of its mean;
* permanent water (class 1): dark on all three dates;
* flood (class 2): dark on the post-event date only, land on both pre-event dates. Flood
  and permanent water are drawn by the *same* blob generator, so on the post-event image
  alone they are indistinguishable: only a comparison with the pre-event dates separates
  them (the paper's claim that pre-event context helps);
* dark land (class 0): tarmac / radar-shadow strips and rectangles, as dark as water in VV
  on every date but not in VH (higher cross-polarised return). A VV threshold (the
  operational Otsu standard) calls it water; a network that sees VH need not;
* invalid (class 3): occasionally a no-data corner (zero backscatter, ``valid`` = 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_scene"]

LAND = (0.09, 0.022)
WATER = (0.006, 0.0015)
DARK_LAND = (0.007, 0.011)


def _blobs(rng: np.random.Generator, size: int, fraction: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal((size, size)), sigma=size / 10, mode="wrap")
    out: np.ndarray = field > np.quantile(field, 1.0 - fraction)
    return out


def _dark_land(rng: np.random.Generator, size: int) -> np.ndarray:
    m = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:  # a road / runway strip
            w = int(rng.integers(2, 5))
            r = int(rng.integers(0, size - w))
            if rng.random() < 0.5:
                m[r:r + w, :] = True
            else:
                m[:, r:r + w] = True
        else:  # a car park / shadowed slope
            h, w = (int(v) for v in rng.integers(size // 8, size // 3, 2))
            r, c = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
            m[r:r + h, c:c + w] = True
    return m


def make_scene(rng: np.random.Generator, size: int = 64, looks: int = 4) -> dict[str, Any]:
    """One scene: ``post``, ``pre1``, ``pre2`` float32 ``(2, size, size)`` linear VV/VH,
    ``label`` uint8 (0 no water, 1 permanent water, 2 flood, 3 invalid), ``valid`` uint8."""
    from scipy.ndimage import gaussian_filter

    perm = _blobs(rng, size, float(rng.uniform(0.05, 0.2)))
    flood = _blobs(rng, size, float(rng.uniform(0.05, 0.25))) & ~perm
    dark = _dark_land(rng, size) & ~perm & ~flood
    label = np.zeros((size, size), dtype=np.uint8)
    label[perm] = 1
    label[flood] = 2
    texture = np.exp(0.3 * gaussian_filter(rng.standard_normal((size, size)), 2.0) * 3)

    def date(water: np.ndarray) -> np.ndarray:
        img = np.empty((2, size, size), dtype=np.float32)
        for b in range(2):
            mean = LAND[b] * texture
            mean = np.where(dark, DARK_LAND[b], mean)
            mean = np.where(water, WATER[b], mean)
            img[b] = mean * rng.gamma(looks, 1.0 / looks, (size, size))
        return img

    post, pre1, pre2 = date(perm | flood), date(perm), date(perm)
    valid = np.ones((size, size), dtype=np.uint8)
    if rng.random() < 0.2:  # a no-data corner (outside the swath)
        k = int(rng.integers(size // 8, size // 3))
        valid[:k, :k] = 0
        for img in (post, pre1, pre2):
            img[:, :k, :k] = 0.0
        label[:k, :k] = 3
    return {"post": post, "pre1": pre1, "pre2": pre2, "label": label, "valid": valid}
