"""Synthetic aerial scenes for the PECL demo (written in the DOTA layout by the demo).

Each scene is a textured terrain with three object classes drawn at aerial scale, grouped
the way they are on the ground, plus clutter that looks partly like them:

- ``small-vehicle``: small bright rectangles (4 x 7 px), parked in rows;
- ``storage-tank``: round tanks (radius 4-5 px) with a dark rim, in small farms;
- ``plane``: a low-contrast cross (fuselage and wings, 13 px), the class the detector is
  least confident about (the paper's "imbalanced confidences" across classes);
- clutter: larger grey roofs and dark tree crowns (never objects).

Boxes are horizontal rectangles written as the 4 polygon corners of DOTA labels.
"""

from __future__ import annotations

import numpy as np

from geoneurips.learning.pecl.data import DotaObject

__all__ = ["SCENE_CLASSES", "make_scene", "make_scenes"]

SCENE_CLASSES: tuple[str, ...] = ("small-vehicle", "storage-tank", "plane")


def _free(centres: list[tuple[float, float, float]], x: float, y: float, r: float) -> bool:
    return all((x - cx) ** 2 + (y - cy) ** 2 > (r + cr + 1.5) ** 2 for cx, cy, cr in centres)


def _poly(x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    return (x0, y0, x1, y0, x1, y1, x0, y1)


def make_scene(rng: np.random.Generator, size: int = 80) -> tuple[np.ndarray, list[DotaObject]]:
    """One scene: uint8 ``[size, size, 3]`` image and its DOTA objects."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = np.array([0.35, 0.38, 0.30]) + rng.normal(0, 0.04, 3)
    f = rng.uniform(0.05, 0.15, 2)
    ph = rng.uniform(0, 6.28, 2)
    terrain = 0.06 * np.sin(f[0] * xx + ph[0]) * np.cos(f[1] * yy + ph[1])
    img = base[None, None, :] + terrain[..., None]
    centres: list[tuple[float, float, float]] = []
    objects: list[DotaObject] = []

    def place(r: float, tries: int = 60, near: tuple[float, float] | None = None,
              spread: float = 10.0) -> tuple[float, float] | None:
        for _ in range(tries):
            if near is None:
                x, y = rng.uniform(r + 1, size - r - 1, 2)
            else:
                x = float(np.clip(near[0] + rng.normal(0, spread), r + 1, size - r - 1))
                y = float(np.clip(near[1] + rng.normal(0, spread), r + 1, size - r - 1))
            if _free(centres, x, y, r):
                centres.append((x, y, r))
                return float(x), float(y)
        return None

    # clutter first so that objects avoid it
    for _ in range(rng.integers(2, 5)):  # roofs
        w, h = rng.uniform(8, 13, 2)
        c = place(max(w, h) / 2)
        if c is not None:
            m = (abs(xx - c[0]) <= w / 2) & (abs(yy - c[1]) <= h / 2)
            img[m] = rng.uniform(0.55, 0.7)
    for _ in range(rng.integers(3, 7)):  # tree crowns
        r = rng.uniform(3, 5)
        c = place(r)
        if c is not None:
            m = (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= r * r
            img[m] = np.array([0.15, 0.25, 0.12])
    # small vehicles in one or two parking rows
    for _ in range(rng.integers(1, 3)):
        anchor = (rng.uniform(12, size - 12), rng.uniform(12, size - 12))
        for _ in range(rng.integers(3, 7)):
            c = place(4.0, near=anchor, spread=7.0)
            if c is None:
                continue
            vert = rng.random() < 0.5
            w, h = (4.0, 7.0) if vert else (7.0, 4.0)
            x0, y0 = c[0] - w / 2, c[1] - h / 2
            m = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
            img[m] = rng.uniform(0.65, 0.95, 3)
            objects.append(DotaObject(_poly(x0, y0, x0 + w, y0 + h), SCENE_CLASSES[0]))
    # storage tanks in a farm
    anchor = (rng.uniform(12, size - 12), rng.uniform(12, size - 12))
    for _ in range(rng.integers(2, 6)):
        r = rng.uniform(4.0, 5.5)
        c = place(r, near=anchor, spread=9.0)
        if c is None:
            continue
        d2 = (xx - c[0]) ** 2 + (yy - c[1]) ** 2
        img[d2 <= r * r] = 0.2
        img[d2 <= (r - 1.2) ** 2] = rng.uniform(0.7, 0.85)
        objects.append(DotaObject(_poly(c[0] - r, c[1] - r, c[0] + r, c[1] + r),
                                  SCENE_CLASSES[1]))
    # planes: low-contrast crosses
    for _ in range(rng.integers(1, 4)):
        c = place(7.0)
        if c is None:
            continue
        tone = base + rng.uniform(0.10, 0.18)
        body = (abs(xx - c[0]) <= 1.0) & (abs(yy - c[1]) <= 6.5)
        wing = (abs(yy - (c[1] - 1)) <= 1.0) & (abs(xx - c[0]) <= 6.5)
        img[body | wing] = tone
        objects.append(DotaObject(_poly(c[0] - 6.5, c[1] - 6.5, c[0] + 6.5, c[1] + 6.5),
                                  SCENE_CLASSES[2]))
    img = img + rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), objects


def make_scenes(n: int, seed: int, size: int = 80) -> list[tuple[np.ndarray, list[DotaObject]]]:
    """``n`` scenes from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [make_scene(rng, size) for _ in range(n)]
