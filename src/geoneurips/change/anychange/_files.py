"""File helpers and layout constants shared by the readers (:mod:`.data`) and the fixture
writers (:mod:`.synthetic`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geoneurips.errors import InvalidInputError

__all__ = [
    "LEVIRCD_SPLITS",
    "S2LOOKING_SPLITS",
    "SECOND_CLASSES",
    "SECOND_COLORS",
    "SECOND_SPLITS",
    "XVIEW2_CLASSES",
    "XVIEW2_SPLITS",
    "read_png",
    "write_png",
]

LEVIRCD_SPLITS = ("train", "val", "test")
S2LOOKING_SPLITS = ("train", "val", "test")
SECOND_SPLITS = ("train", "test")
XVIEW2_SPLITS = ("train", "test", "hold", "tier3")
XVIEW2_CLASSES = ("background", "no-damage", "minor-damage", "major-damage", "destroyed")

SECOND_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (0, 0, 255), (128, 128, 128), (0, 128, 0), (0, 255, 0), (128, 0, 0),
    (255, 0, 0),
)
SECOND_CLASSES = (
    "no change", "water", "ground", "low vegetation", "tree", "building", "playground",
)


def read_png(path: Path, mode: str) -> np.ndarray:
    """An image file as an array in PIL ``mode`` (``"RGB"`` or ``"L"``)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInputError(f"cannot read image {str(path)!r}: {exc}") from exc


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as PNG atomically (parent folders created)."""
    from PIL import Image

    from geoneurips.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
