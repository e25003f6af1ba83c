"""Synthetic very-high-resolution scenes for the MMM-RS fixture and demo.

A scene is a small town at a fine GSD: field parcels of varied crops, a road grid and
buildings (coloured roofs) along the roads, with sensor noise. Rendered through the MMM-RS
builder (nested multi-GSD crops), the scale of parcels, roads and roofs tells the GSD
level apart; the weather synthesis adds fog, low light or snow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["render_scene", "write_scene_geotiffs"]

_FIELDS = np.array([[0.32, 0.45, 0.20], [0.45, 0.52, 0.25], [0.55, 0.48, 0.33],
                    [0.25, 0.38, 0.18], [0.60, 0.58, 0.40]], np.float32)
_ROOFS = np.array([[0.70, 0.30, 0.25], [0.55, 0.55, 0.58], [0.80, 0.55, 0.30],
                   [0.35, 0.35, 0.40]], np.float32)


def render_scene(px: int, rng: np.random.Generator) -> np.ndarray:
    """One scene ``(px, px, 3)`` float in [0, 1]."""
    from scipy.ndimage import gaussian_filter

    img = np.empty((px, px, 3), np.float32)
    parcel = int(rng.integers(10, 18))
    ny = -(-px // parcel)
    colours = _FIELDS[rng.integers(0, len(_FIELDS), (ny, ny))]
    yy, xx = np.mgrid[0:px, 0:px]
    img[:] = colours[yy // parcel, xx // parcel]
    img += 0.04 * gaussian_filter(rng.standard_normal((px, px, 3)), (1.5, 1.5, 0))
    spacing = int(rng.integers(18, 28))
    off = int(rng.integers(0, spacing))
    road = np.zeros((px, px), bool)
    for k in range(off, px, spacing):
        road[max(k - 1, 0):k + 2, :] = True
        road[:, max(k - 1, 0):k + 2] = True
    img[road] = np.array([0.42, 0.42, 0.44], np.float32)
    n_build = int(px * px / 90)
    for _ in range(n_build):
        k = off + spacing * int(rng.integers(-1, px // spacing + 1))
        along = int(rng.integers(0, px))
        side = int(rng.choice([-1, 1]))
        h, w = int(rng.integers(3, 7)), int(rng.integers(3, 7))
        d = 3 + int(rng.integers(0, 3))
        if rng.random() < 0.5:
            y0, x0 = k + side * d - (h if side < 0 else 0), along
        else:
            y0, x0 = along, k + side * d - (w if side < 0 else 0)
        y0, x0 = max(y0, 0), max(x0, 0)
        roof = _ROOFS[int(rng.integers(0, len(_ROOFS)))]
        img[y0:y0 + h, x0:x0 + w] = roof
        img[min(y0 + h, px - 1):min(y0 + h + 1, px), x0:x0 + w] *= 0.5  # shadow
    img += 0.015 * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def write_scene_geotiffs(folder: str | Path, n: int, px: int = 64, gsd: float = 0.3,
                         seed: int = 0) -> Path:
    """``n`` scenes as 3-band uint8 GeoTIFFs in UTM 33N with ``gsd`` m pixels."""
    import rasterio
    from affine import Affine

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = render_scene(px, rng)
        u8 = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8).transpose(2, 0, 1)
        tr = Affine(gsd, 0.0, 500_000.0 + 1000 * i, 0.0, -gsd, 5_000_000.0)
        with rasterio.open(out / f"scene_{seed}_{i:04d}.tif", "w", driver="GTiff", width=px,
                           height=px, count=3, dtype="uint8", crs="EPSG:32633",
                           transform=tr) as ds:
            ds.write(u8)
    return out
