"""Input checks shared by SeCo's stages: RGB images and integer label maps."""

from __future__ import annotations

import numpy as np

from ...errors import InvalidInputError
from .data import IGNORE_INDEX


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
