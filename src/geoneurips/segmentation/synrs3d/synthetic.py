"""Synthetic source scenes and a shifted "real" target for the RS3DAda demo.

A scene (``size`` px) has ground (OEM codes bareland 1, rangeland 2, road 4, water 6,
agriculture 7), buildings (8: rectangles with a flat roof height) and trees (5: discs
with a dome height). Every object casts a shadow towards the lower right whose length is
proportional to its height (same sun in both domains), so height is inferable from the
image. nDSM: building / tree height, 0 elsewhere.

Domains differ the way SynRS3D's renders and real imagery do, in appearance only; the
geometry cues (object outlines, the sun, shadow length per metre, ground sampling) are the
same, and every target height lies inside the source's range:

* colours: a different palette per class (not a global per-channel change, so
  histogram matching cannot fully undo it), lower contrast and a colour cast;
* texture: the target's ground has coarse mottled texture (like the source's tree
  canopy) and its roofs fine noise;
* materials (:data:`TARGET_MATERIALS` only, a candidate, not yet the demo's target:
  ``roof_spread``, ``tree_spread``): each target roof and each tree crown gets
  its own colour, the class colour moved towards a second material by a fraction U(0, 0.6)
  per object: roofs towards grey concrete / metal (125, 125, 130), crowns towards olive
  (dry, autumn or other species, (150, 150, 70)). It models the real difference that
  SynRS3D's renders draw roofs and trees from a few material sets while real cities mix
  roof materials (grey flat roofs as dark as asphalt) and tree species / seasons. The
  shift is class-conditional and per object, so no global style transfer (FDA, histogram
  matching, PDA) and no colour jitter without hue can undo it; the target classes stay
  clustered (outline, texture, shadow), and about a third of the objects (roofs 37 %,
  crowns 36 % over 30 scenes, median colour per object) lie nearer another source class
  (road) than their own: a boundary the source draws through each target class, which
  self-training under the cluster assumption can move;
* heights: a different distribution on the same support (target buildings 6-12 m, taller
  on average than the source's 3-12 m; trees 4-7 m, shorter than the source's 4-10 m).

Why the materials (measured on development seed 10, the demo's scenes, every arm with
the same iterations): without them (:data:`TARGET`) the gap is one that source training
with style augmentation closes given steps. At 2x the demo's iterations (400) an oracle
trained on 64 labelled target scenes reaches F1^HE(1.25) 0.916 against 0.899 for HM +
jitter and 0.897 for source training with FDA / HM / PDA (gap 0.017), and RS3DAda's gain
falls to 0.003-0.011 at 360 iterations. With the materials the oracle reaches 0.888 and
the best baseline 0.820 at 400 iterations (gap 0.068): a gap left after the baselines
converge. The system's notes give RS3DAda's measurements at both budgets.

Why (the earlier redesign, still holding): an older target had buildings of 6-20 m, out
of the source's 3-12 m, so that no model trained on source labels could reach
F1^HE(1.25) on the taller ones (a teacher never predicts > 12 m, so self-training cannot
either); and its roof colour, after the contrast and cast, lay nearer the source's
*bare-land* colour than the source's roof colour for every roof (median colours over 16
scenes: distance 45.7 vs 48.5; target agriculture was nearer source rangeland, 11 vs 36),
which turned target roofs into source bare ground by appearance. Such a target tests
extrapolation and a class swap, not the paper's claim (self-training closes a
synthetic-to-real *appearance* gap, as between SynRS3D renders and real cities, whose
heights SynRS3D covers). Now every target class's palette colour, after contrast and
cast, is nearest its own source class, and with the materials most objects of each class
stay nearest it (``tests/segmentation/test_synrs3d_design.py`` checks both). The
baselines see the same images and the same target adaptation images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_scene", "SOURCE", "TARGET", "TARGET_MATERIALS"]

SOURCE: dict[str, Any] = {
    "palette": {1: (190, 170, 130), 2: (150, 170, 100), 4: (120, 120, 120),
                6: (40, 70, 140), 7: (170, 190, 90), 8: (200, 90, 80), 5: (40, 120, 40)},
    "ground_texture": 4.0, "ground_sigma": 0.7, "roof_noise": 3.0, "tree_texture": 25.0,
    "building_h": (3.0, 12.0), "tree_h": (4.0, 10.0), "contrast": 1.0, "cast": (0, 0, 0),
}
TARGET: dict[str, Any] = {
    "palette": {1: (172, 160, 148), 2: (130, 154, 113), 4: (101, 103, 122),
                6: (36, 68, 130), 7: (177, 183, 83), 8: (183, 95, 101), 5: (30, 95, 48)},
    "ground_texture": 12.0, "ground_sigma": 1.0, "roof_noise": 8.0, "tree_texture": 18.0,
    "building_h": (6.0, 12.0), "tree_h": (4.0, 7.0), "contrast": 0.85, "cast": (10, 5, -5),
}
#: The candidate target with per-object roof / crown materials (module docstring): a gap
#: that persists when every arm trains 2x the demo's iterations. Not the demo's target yet
#: (the system's notes: RS3DAda is behind at the demo's budget).
TARGET_MATERIALS: dict[str, Any] = dict(
    TARGET, roof_spread=((125, 125, 130), 0.6), tree_spread=((150, 150, 70), 0.6))


def _shadow(occupancy_h: np.ndarray, px_per_m: float) -> np.ndarray:
    """Pixels shaded by objects: a pixel is in shadow if some object up-left casts over it."""
    size = occupancy_h.shape[0]
    shade = np.zeros_like(occupancy_h, dtype=bool)
    max_len = int(np.ceil(occupancy_h.max() * px_per_m)) if occupancy_h.max() > 0 else 0
    for d in range(1, max_len + 1):
        src = occupancy_h[: size - d, : size - d] * px_per_m >= d
        shade[d:, d:] |= src
    return shade & (occupancy_h <= 0)


def make_scene(rng: np.random.Generator, style: dict[str, Any], size: int = 64,
               px_per_m: float = 0.5) -> dict[str, Any]:
    """One scene: ``image`` uint8 ``(3, size, size)``, ``height`` float32, ``ss_mask``
    uint8 OEM codes. Optional ``style`` keys ``roof_spread`` / ``tree_spread``
    (``(rgb, u)``): each roof / crown's colour moves from the palette towards ``rgb`` by
    its own fraction U(0, u); these draws come after the geometry's, so a style without
    them (``SOURCE``) gives the same scenes as before they existed."""
    from scipy.ndimage import gaussian_filter

    cls = np.full((size, size), 2, np.uint8)
    field = gaussian_filter(rng.standard_normal((size, size)), size / 8)
    q = np.quantile(field, [0.3, 0.55, 0.75])
    cls[field < q[0]] = 1
    cls[(field >= q[1]) & (field < q[2])] = 7
    if rng.random() < 0.4:
        cls[field >= np.quantile(field, 0.93)] = 6
    for _ in range(int(rng.integers(1, 3))):  # roads
        r, w = int(rng.integers(0, size - 4)), int(rng.integers(2, 4))
        if rng.random() < 0.5:
            cls[r:r + w, :] = 4
        else:
            cls[:, r:r + w] = 4
    height = np.zeros((size, size), np.float32)
    obj = np.zeros((size, size), np.int32)  # object id: buildings 1.., trees 100..
    for b in range(int(rng.integers(2, 6))):  # buildings
        h, w = (int(v) for v in rng.integers(size // 10, size // 4, 2))
        r, c = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        cls[r:r + h, c:c + w] = 8
        obj[r:r + h, c:c + w] = 1 + b
        height[r:r + h, c:c + w] = rng.uniform(*style["building_h"])
    yy, xx = np.mgrid[:size, :size]
    for t in range(int(rng.integers(3, 9))):  # trees
        rad = float(rng.uniform(2.0, size / 14))
        cy, cx = rng.uniform(0, size, 2)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        disc = (d2 <= rad ** 2) & (cls != 8)
        th = rng.uniform(*style["tree_h"])
        dome = th * np.sqrt(np.clip(1 - d2 / rad ** 2, 0, 1)) * 0.5 + th * 0.5
        cls[disc] = 5
        obj[disc] = 100 + t
        height[disc] = np.maximum(height[disc], dome[disc])
    pal = np.zeros((size, size, 3), np.float64)
    for code, rgb in style["palette"].items():
        pal[cls == code] = rgb
    for key, code in (("roof_spread", 8), ("tree_spread", 5)):
        if key in style:  # per-object material: palette colour -> ``to`` by f ~ U(0, u)
            to, u = style[key]
            own = np.asarray(style["palette"][code], np.float64)
            for k in np.unique(obj[cls == code]):
                f = float(rng.uniform(0.0, u))
                pal[(obj == k) & (cls == code)] = (1 - f) * own + f * np.asarray(to, np.float64)
    ground = ~np.isin(cls, (5, 8))
    tex = gaussian_filter(rng.standard_normal((size, size)), style["ground_sigma"])
    tex /= tex.std() + 1e-8
    pal[ground] += (style["ground_texture"] * tex[ground])[:, None]
    tree_tex = gaussian_filter(rng.standard_normal((size, size)), 0.8)
    tree_tex /= tree_tex.std() + 1e-8
    pal[cls == 5] += (style["tree_texture"] * tree_tex[cls == 5])[:, None]
    pal[cls == 8] += style["roof_noise"] * rng.standard_normal((int((cls == 8).sum()), 1))
    shade = _shadow(height, px_per_m)
    pal[shade] *= 0.45
    pal += rng.normal(0, 3.0, pal.shape)
    mean = pal.mean()
    pal = (pal - mean) * style["contrast"] + mean + np.asarray(style["cast"], np.float64)
    image = np.clip(np.round(pal), 0, 255).astype(np.uint8).transpose(2, 0, 1)
    return {"image": image, "height": height, "ss_mask": cls}
