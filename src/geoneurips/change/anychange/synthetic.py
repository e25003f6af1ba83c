"""Synthetic bi-temporal scenes with real changes *and* the nuisances AnyChange must ignore.

The paper's claim (Sec. 1, 3.2) is that matching object proposals in a latent space finds
semantic changes while pixel differencing also fires on changes that are not semantic. A
scene here therefore holds, between date 1 and date 2:

* **semantic changes** (the label): rectangular buildings built (present on date 2 only)
  or demolished (date 1 only); other buildings stand on both dates;
* **illumination**: per-band gain and offset and a global gamma on date 2;
* **phenology**: vegetation (trees, grass) turns from green to yellow-brown by a
  per-class factor on date 2 (a colour shift of whole land-cover patches, not a change);
* **misregistration and noise**: date 2 is shifted by a sub-pixel to about one-pixel
  translation and both dates get independent sensor noise.

:func:`write_levircd_fixture`, :func:`write_s2looking_fixture`, :func:`write_xview2_fixture`
and :func:`write_second_fixture` write such scenes in the published layouts of the four
evaluation datasets (:mod:`.data` reads them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import LEVIRCD_SPLITS, S2LOOKING_SPLITS, SECOND_COLORS, SECOND_SPLITS, write_png

__all__ = [
    "Nuisance",
    "Scene",
    "make_change_pair",
    "make_scene",
    "write_levircd_fixture",
    "write_s2looking_fixture",
    "write_second_fixture",
    "write_xview2_fixture",
]

# land-cover classes of the background: mean RGB and texture amplitude
_COVER = (
    ("trees", (55.0, 105.0, 45.0), 22.0),
    ("grass", (105.0, 150.0, 70.0), 10.0),
    ("soil", (150.0, 122.0, 92.0), 9.0),
    ("water", (45.0, 70.0, 100.0), 3.0),
)
_VEGETATION = (0, 1)


@dataclass(frozen=True)
class Nuisance:
    """Strength of the non-semantic differences between the dates (``0`` switches one off).

    Attributes:
        gain: per-band gain of date 2 drawn in ``1 +/- gain``.
        offset: per-band offset drawn in ``+/- offset`` (0..255 units).
        gamma: date 2 is raised to ``g`` drawn log-uniformly in ``[1/(1+gamma), 1+gamma]``.
        season: strength of the green -> yellow-brown shift of vegetation (0..1).
        shift: largest translation of date 2 in pixels (sub-pixel, bilinear).
        noise: standard deviation of the sensor noise of each date.
        local: strength of a smooth multiplicative illumination field on date 2 (thin
            haze, cloud shadow, terrain shading): gain ``exp(local * field)``, the field of
            unit standard deviation varying over about a third of the scene.
    """

    gain: float = 0.2
    offset: float = 15.0
    gamma: float = 0.35
    season: float = 1.0
    shift: float = 1.0
    noise: float = 4.0
    local: float = 0.0


def _smooth_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    from scipy import ndimage

    f = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma)
    out: np.ndarray = (f - f.mean()) / (f.std() + 1e-9)
    return out


def _land_cover(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(H, W)`` class map of organic patches (argmax of smooth random fields)."""
    fields = np.stack([_smooth_field(rng, size, size / 10.0) for _ in _COVER])
    fields[3] -= 0.6  # water is rarer
    out: np.ndarray = fields.argmax(0)
    return out


@dataclass
class Scene:
    """A synthetic pair with everything the fixture writers need.

    Attributes:
        image1, image2: uint8 ``(H, W, 3)``.
        change: uint8 ``(H, W)`` binary change.
        changed: masks of the changed buildings; ``built[i]`` tells whether ``changed[i]``
            was built (date 2 only) or demolished (date 1 only).
        static: masks of the buildings standing on both dates.
    """

    image1: np.ndarray
    image2: np.ndarray
    change: np.ndarray
    changed: list[np.ndarray]
    built: list[bool]
    static: list[np.ndarray]


def make_change_pair(
    size: int = 128,
    n_changes: int = 4,
    n_static: int = 3,
    seed: int = 0,
    nuisance: Nuisance | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """A synthetic bi-temporal pair with planted building changes and non-semantic nuisances.

    Args:
        size: side of the square scene.
        n_changes: buildings built or demolished (the change label).
        n_static: buildings present on both dates (distractors).
        seed: scene seed (land cover, buildings, nuisance parameters, noise).
        nuisance: strength of illumination/phenology/misregistration/noise
            (:class:`Nuisance` defaults when ``None``).

    Returns:
        ``image1``, ``image2`` uint8 ``(H, W, 3)``, binary change ``(H, W)`` uint8 and the
        changed buildings as boolean masks (instances).
    """
    sc = make_scene(size, n_changes, n_static, seed, nuisance)
    return sc.image1, sc.image2, sc.change, sc.changed


def make_scene(
    size: int = 128,
    n_changes: int = 4,
    n_static: int = 3,
    seed: int = 0,
    nuisance: Nuisance | None = None,
) -> Scene:
    """:func:`make_change_pair` with the static buildings and the built/demolished flags."""
    from scipy import ndimage

    nz = nuisance or Nuisance()
    rng = np.random.default_rng(seed)
    cover = _land_cover(rng, size)
    tex = np.stack([_smooth_field(rng, size, 1.0) for _ in range(3)], -1)
    tex = 0.6 * tex + 0.4 * tex.mean(-1, keepdims=True)  # mostly luminance texture
    shade = _smooth_field(rng, size, size / 6.0)[..., None]
    scene = np.zeros((size, size, 3))
    for k, (_, mean, amp) in enumerate(_COVER):
        m = cover == k
        scene[m] = np.asarray(mean) + amp * tex[m] + 8.0 * shade[m]
    occupied = np.zeros((size, size), bool)
    occupied[cover == 3] = True  # no buildings on water

    def place() -> tuple[slice, slice] | None:
        for _ in range(80):
            h, w = rng.integers(max(6, size // 12), max(8, size // 5), 2)
            r, c = rng.integers(2, size - h - 2), rng.integers(2, size - w - 2)
            win = (slice(r - 2, r + h + 2), slice(c - 2, c + w + 2))
            if not occupied[win].any():
                occupied[win] = True
                return slice(r, r + h), slice(c, c + w)
        return None

    img1, img2 = scene.copy(), scene.copy()
    roofs = np.asarray([(200, 200, 205), (170, 80, 60), (90, 90, 95), (230, 225, 210),
                        (120, 130, 150)], dtype=np.float64)
    change = np.zeros((size, size), np.uint8)
    roof2 = np.zeros((size, size), bool)
    instances: list[np.ndarray] = []
    static: list[np.ndarray] = []
    built: list[bool] = []
    for k in range(n_changes + n_static):
        win = place()
        if win is None:
            continue
        roof = roofs[rng.integers(len(roofs))] + rng.normal(0, 12, 3)
        patch = roof + 3.0 * tex[win]
        if k >= n_changes:  # stands on both dates
            img1[win] = patch
            img2[win] = patch
            roof2[win] = True
            st = np.zeros((size, size), bool)
            st[win] = True
            static.append(st)
            continue
        is_built = bool(rng.random() < 0.5)
        if is_built:
            img2[win] = patch  # construction
            roof2[win] = True
        else:
            img1[win] = patch  # demolition
        change[win] = 1
        inst = np.zeros((size, size), bool)
        inst[win] = True
        instances.append(inst)
        built.append(is_built)

    # phenology: vegetation turns yellow-brown on date 2 (not on buildings)
    if nz.season > 0:
        for k in _VEGETATION:
            m = (cover == k) & ~roof2
            s = nz.season * rng.uniform(0.6, 1.0)
            target = np.asarray((175.0, 150.0, 75.0)) if k == 1 else np.asarray((120, 85, 40.0))
            lum = img2[m].mean(-1, keepdims=True)
            tone = target + (lum - lum.mean())
            img2[m] = (1 - s) * img2[m] + s * tone
    # misregistration of date 2 (bilinear sub-pixel shift, edges replicated)
    if nz.shift > 0:
        dy, dx = rng.uniform(-nz.shift, nz.shift, 2)
        img2 = np.stack([ndimage.shift(img2[..., b], (dy, dx), order=1, mode="nearest")
                         for b in range(3)], -1)
    # illumination: per-band gain/offset, then a global gamma
    gain = 1.0 + rng.uniform(-nz.gain, nz.gain, 3)
    offset = rng.uniform(-nz.offset, nz.offset, 3)
    img2 = np.clip(gain * img2 + offset, 0, 255)
    if nz.local > 0:
        field = _smooth_field(rng, size, size / 4.0)[..., None]
        img2 = np.clip(img2 * np.exp(nz.local * field), 0, 255)
    if nz.gamma > 0:
        g = float(np.exp(rng.uniform(-np.log1p(nz.gamma), np.log1p(nz.gamma))))
        img2 = 255.0 * (img2 / 255.0) ** g
    img1 = img1 + rng.normal(0, nz.noise, img1.shape)
    img2 = img2 + rng.normal(0, nz.noise, img2.shape)

    def to8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)

    return Scene(to8(img1), to8(img2), change, instances, built, static)


def _scenes(n: int, size: int, seed: int, start: int) -> list[Scene]:
    return [make_scene(size, seed=seed * 1000 + start + k) for k in range(n)]


def write_levircd_fixture(
    root: str | Path,
    n_per_split: Sequence[int] = (2, 1, 3),
    size: int = 128,
    seed: int = 0,
    layout: str = "zip",
) -> Path:
    """Write a synthetic LEVIR-CD (``train``/``val``/``test`` counts) in a published layout.

    ``layout="zip"``: the official archives extracted together, ``<root>/{A,B,label}/
    <split>_<i>.png`` (what TorchGeo's ``LEVIRCD`` reads); ``layout="split"``:
    ``<root>/<split>/{A,B,label}/<split>_<i>.png``. Scene ``k`` (counted over the splits)
    is :func:`make_scene` with seed ``seed * 1000 + k``.
    """
    if layout not in ("zip", "split"):
        raise ValueError(f"layout must be 'zip' or 'split', got {layout!r}")
    root = Path(root)
    k = 0
    for split, n in zip(LEVIRCD_SPLITS, n_per_split, strict=True):
        base = root if layout == "zip" else root / split
        for i, sc in enumerate(_scenes(n, size, seed, k)):
            name = f"{split}_{i + 1}.png"
            write_png(base / "A" / name, sc.image1)
            write_png(base / "B" / name, sc.image2)
            write_png(base / "label" / name, (sc.change * 255).astype(np.uint8))
        k += n
    return root


def _union(masks: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    for m in masks:
        out |= m
    return out


def write_s2looking_fixture(
    root: str | Path, n_per_split: Sequence[int] = (1, 1, 2), size: int = 96, seed: int = 0
) -> Path:
    """Write a synthetic S2Looking (``train``/``val``/``test`` counts) in the published
    layout: ``Image1``, ``Image2``, ``label`` (all changes), ``label1`` (built), ``label2``
    (demolished), 0/255 single-band labels, names ``<i>.png``."""
    root = Path(root)
    k = 0
    for split, n in zip(S2LOOKING_SPLITS, n_per_split, strict=True):
        for i, sc in enumerate(_scenes(n, size, seed, 300 + k)):
            shape = sc.change.shape
            built = _union([m for m, b in zip(sc.changed, sc.built, strict=True) if b], shape)
            gone = _union([m for m, b in zip(sc.changed, sc.built, strict=True) if not b], shape)
            name = f"{i + 1}.png"
            base = root / split
            write_png(base / "Image1" / name, sc.image1)
            write_png(base / "Image2" / name, sc.image2)
            write_png(base / "label" / name, (sc.change * 255).astype(np.uint8))
            write_png(base / "label1" / name, built.astype(np.uint8) * 255)
            write_png(base / "label2" / name, gone.astype(np.uint8) * 255)
        k += n
    return root


def write_xview2_fixture(
    root: str | Path, n_per_split: Sequence[int] = (1, 2), size: int = 96, seed: int = 0
) -> Path:
    """Write a synthetic xView2 (``train``/``test`` counts; TorchGeo needs both) in the
    published layout. The pre target is the footprint (1) of every building standing on
    date 1; on the post target those standing on both dates are undamaged (1) and those
    gone on date 2 damaged (2, 3 or 4). Buildings new on date 2 are not in the targets
    (xView2 labels only the buildings of the pre image)."""
    root = Path(root)
    rng = np.random.default_rng(seed + 7)
    k = 0
    for split, n in zip(("train", "test"), n_per_split, strict=True):
        for i, sc in enumerate(_scenes(n, size, seed, 600 + k)):
            pre = np.zeros(sc.change.shape, np.uint8)
            post = np.zeros(sc.change.shape, np.uint8)
            for m in sc.static:
                pre[m], post[m] = 1, 1
            for m, b in zip(sc.changed, sc.built, strict=True):
                if not b:
                    pre[m], post[m] = 1, int(rng.integers(2, 5))
            stem = f"hurricane-synthetic_{k + i:08d}"
            base = root / split
            write_png(base / "images" / f"{stem}_pre_disaster.png", sc.image1)
            write_png(base / "images" / f"{stem}_post_disaster.png", sc.image2)
            write_png(base / "targets" / f"{stem}_pre_disaster_target.png", pre)
            write_png(base / "targets" / f"{stem}_post_disaster_target.png", post)
        k += n
    return root


def write_second_fixture(
    root: str | Path, n_per_split: Sequence[int] = (2, 2), size: int = 96, seed: int = 0
) -> Path:
    """Write a synthetic SECOND (``train``/``test`` counts) in the published layout (RGB
    colour-coded ``label1``/``label2``, white = no change)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    pal = np.asarray(SECOND_COLORS, dtype=np.uint8)
    k = 0
    for split, n in zip(SECOND_SPLITS, n_per_split, strict=True):
        for i, sc in enumerate(_scenes(n, size, seed, 500 + k)):
            s1 = np.zeros(sc.change.shape, np.int64)
            s2 = np.zeros(sc.change.shape, np.int64)
            for m in sc.changed:
                c1, c2 = rng.choice(np.arange(1, 7), 2, replace=False)
                s1[m], s2[m] = c1, c2
            name = f"{i:05d}.png"
            write_png(root / split / "im1" / name, sc.image1)
            write_png(root / split / "im2" / name, sc.image2)
            write_png(root / split / "label1" / name, pal[s1])
            write_png(root / split / "label2" / name, pal[s2])
        k += n
    return root
