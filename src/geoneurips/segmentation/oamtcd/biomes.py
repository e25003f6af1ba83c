"""Synthetic biomes for the OAM-TCD demo: the paper's argument for a *globally diverse*
dataset, made testable on synthetic tiles.

OAM-TCD's case (paper, sections 1 and 3; the dataset card lists a ``biome`` /
``biome_name`` column per tile) is that earlier tree-crown datasets are small and
geographically narrow, and that a model trained on imagery sampled across biomes maps
trees in places it has not seen (the paper's Zurich and Tonga tests) better than one
trained on a single region; its abstract names "the diversity and morphology of trees in
different terrestrial biomes". Here a :class:`Biome` fixes what changes between regions:
their colours and light (ground, grass, crowns, illumination) and, because a photometric
training transform can imitate colour shifts but not these, the crowns' **structure**:
size and density, outline (smooth or lobed), clumping into merged canopy, leaf-clump
texture grain, and shadow length. What does **not** change is what makes a tree a tree at
10 cm: a textured crown casting a shadow, where grass and bare ground are smooth.

* temperate: medium, mostly separate round crowns, 2 px leaf clumps, medium shadows;
* arid savanna: small, isolated, smooth-edged crowns on bright sand, fine (1 px)
  texture, long shadows (low sun, tall narrow trunks throw them far);
* tropical: large lobed crowns merged into continuous canopy, coarse (4 px) leaf clumps,
  short shadows (dense canopy, high sun).

* :data:`TRAIN_BIOMES`: three training biomes (temperate, arid savanna, tropical).
* :func:`unseen_biome`: a new biome whose every attribute group is an independent random
  convex combination of the training biomes' values (so each attribute lies within the
  range the training biomes span, but the combination is new: sand with dark tropical
  crowns and lawn grass, say).
* :func:`biome_scene`: a scene function for :func:`.data.write_fixture` drawing tiles of
  a given biome (or of a fresh unseen biome per tile).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

__all__ = ["TRAIN_BIOMES", "Biome", "BiomeScene", "biome_scene", "make_biome_scene",
           "unseen_biome"]

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Biome:
    """Appearance of one synthetic biome (colours in 0-255, sizes as tile fractions)."""

    name: str
    ground: RGB            # bare soil / sand
    grass: RGB             # smooth grass / shrub patches (no crown texture, no shadow)
    grass_cover: float     # grass patch radius (fraction of the tile)
    tree: RGB              # mean crown colour of single trees
    canopy: RGB            # mean colour of tree groups
    crown: float           # mean single-crown radius (fraction of the tile)
    trees: float           # mean number of single trees per 64 x 64 px
    canopies: float        # mean number of tree groups per tile
    texture: float         # crown leaf-clump texture amplitude
    shadow: float          # shadow darkening factor (0 none .. 1 black)
    light: float           # overall illumination gain
    grain: int             # leaf-clump size in pixels (texture scale)
    cluster: float         # chance that a single tree touches an earlier one (merging)
    lobes: float           # crown outline irregularity (radius varies by +-lobes)
    shadow_len: float      # shadow length in crown radii (sun elevation, tree height)


TRAIN_BIOMES: tuple[Biome, ...] = (
    Biome("temperate", ground=(130, 105, 80), grass=(110, 165, 70), grass_cover=0.2,
          tree=(50, 100, 40), canopy=(40, 90, 70), crown=0.06, trees=4.5, canopies=1.5,
          texture=20, shadow=0.45, light=1.0, grain=2, cluster=0.1, lobes=0.12,
          shadow_len=0.8),
    Biome("arid_savanna", ground=(205, 180, 140), grass=(165, 155, 95), grass_cover=0.25,
          tree=(95, 105, 65), canopy=(85, 100, 75), crown=0.05, trees=8.0, canopies=0.3,
          texture=14, shadow=0.65, light=1.15, grain=1, cluster=0.0, lobes=0.1,
          shadow_len=1.5),
    Biome("tropical", ground=(95, 80, 60), grass=(65, 125, 50), grass_cover=0.15,
          tree=(30, 75, 35), canopy=(25, 80, 50), crown=0.1, trees=6.0, canopies=2.0,
          texture=26, shadow=0.3, light=0.85, grain=4, cluster=0.9, lobes=0.4,
          shadow_len=0.3),
)

#: Attribute groups mixed independently by :func:`unseen_biome`.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("ground",), ("grass", "grass_cover"), ("tree", "canopy"), ("crown",),
    ("trees", "canopies"), ("texture",), ("shadow",), ("light",), ("grain",),
    ("cluster",), ("lobes",), ("shadow_len",))


def unseen_biome(rng: np.random.Generator, biomes: Sequence[Biome] = TRAIN_BIOMES,
                 name: str = "unseen") -> Biome:
    """A new biome: each attribute group taken from a random one of ``biomes`` (uniform,
    independently per group), redrawn until the groups do not all come from one biome.
    Every attribute value was seen in training; the combination was not. The name ends in
    ``:<code>``, the first letter of the source biome of each group of ``_GROUPS``."""
    if len(biomes) < 2:
        raise ValueError("unseen_biome needs at least two biomes")
    while True:
        pick = rng.integers(0, len(biomes), len(_GROUPS))
        if len(set(pick.tolist())) > 1:
            break
    values: dict[str, Any] = {}
    for group, k in zip(_GROUPS, pick, strict=True):
        for attr in group:
            values[attr] = getattr(biomes[int(k)], attr)
    assert {f.name for f in fields(Biome)} - set(values) == {"name"}
    code = "".join(biomes[int(k)].name[0] for k in pick)
    return replace(biomes[0], name=f"{name}:{code}", **values)


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float, n: int = 16,
          lobes: float = 0.15) -> list[float]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(1 - lobes, 1 + lobes, n)
    xs, ys = cx + rad * np.cos(ang), cy + rad * np.sin(ang)
    return [round(float(v), 2) for pair in zip(xs, ys, strict=True) for v in pair]


def _clumps(rng: np.random.Generator, size: int, grain: int = 2) -> np.ndarray:
    """Leaf-clump texture: unit-variance noise at ``grain`` px scale plus pixel noise."""
    c = (size + grain - 1) // grain
    coarse = rng.normal(0, 1, (c, c))
    up = np.repeat(np.repeat(coarse, grain, 0), grain, 1)[:size, :size]
    out: np.ndarray = 0.8 * up + 0.6 * rng.normal(0, 1, (size, size))
    return out


def make_biome_scene(rng: np.random.Generator, size: int, biome: Biome
                     ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One tile of ``biome``: ``(uint8 (3, size, size), annotations with export ids)``.

    Drawn like :func:`.data.make_scene` (canopy groups, single trees, smooth grass patches)
    with the biome's colours, sizes and structure: crown outlines vary by ``lobes``, a
    single tree touches an earlier one with chance ``cluster`` (merged canopy), crowns
    carry leaf-clump texture of ``grain`` px and cast a shadow ``shadow_len`` crown radii
    long towards the lower right; grass does neither.
    """
    from rasterio.features import rasterize

    from .data import rasterize_annotations

    s = float(size)
    scale = (size / 64.0) ** 2
    anns: list[dict[str, Any]] = []
    for _ in range(int(rng.poisson(biome.canopies))):
        anns.append({"category_id": 1, "segmentation": [
            _blob(rng, rng.uniform(0.15, 0.85) * s, rng.uniform(0.15, 0.85) * s,
                  rng.uniform(1.6, 2.6) * biome.crown * s, 20, biome.lobes)]})
    centres: list[tuple[float, float, float]] = []
    for _ in range(max(1, int(rng.poisson(biome.trees * scale)))):
        r = rng.uniform(0.7, 1.3) * biome.crown * s
        if centres and rng.uniform() < biome.cluster:  # next to an earlier crown
            px, py, pr = centres[int(rng.integers(len(centres)))]
            a, d = rng.uniform(0, 2 * np.pi), 0.85 * (pr + r)
            cx, cy = px + d * np.cos(a), py + d * np.sin(a)
        else:
            cx, cy = rng.uniform(0.05, 0.95) * s, rng.uniform(0.05, 0.95) * s
        centres.append((cx, cy, r))
        anns.append({"category_id": 2, "segmentation": [
            _blob(rng, cx, cy, r, 16, biome.lobes)]})
    grass = [({"type": "Polygon", "coordinates": [
        [(p[i], p[i + 1]) for i in range(0, len(p), 2)] + [(p[0], p[1])]]}, 1)
        for p in (_blob(rng, rng.uniform(0, s), rng.uniform(0, s),
                        rng.uniform(0.6, 1.4) * biome.grass_cover * s, 20)
                  for _ in range(int(rng.integers(1, 4))))]
    grass_m = rasterize(grass, out_shape=(size, size), fill=0, dtype="uint8").astype(bool)
    cats = [{"id": 1, "name": "canopy"}, {"id": 2, "name": "tree"}]
    sem, _, _ = rasterize_annotations(anns, cats, size, size)
    crown_m = sem > 0
    img = np.empty((3, size, size), dtype=np.float64)
    img[:] = np.array(biome.ground)[:, None, None]
    img += 6 * rng.normal(0, 1, (size, size))[None]  # ground grain
    img[:, grass_m] = np.array(biome.grass)[:, None] + 5 * rng.normal(0, 1, grass_m.sum())
    shade = np.zeros_like(crown_m)
    for d in range(1, max(1, round(biome.shadow_len * biome.crown * s)) + 1):
        shade[d:, d:] |= crown_m[:-d, :-d]
    shade &= ~crown_m
    img[:, shade] *= 1.0 - biome.shadow
    tex = _clumps(rng, size, biome.grain)
    for label, colour in ((1, biome.tree), (2, biome.canopy)):
        m = sem == label
        img[:, m] = np.array(colour)[:, None] * (1 + biome.texture / 100 * tex[m])[None]
    img *= biome.light
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), anns


class BiomeScene:
    """Scene function for :func:`.data.write_fixture`: tiles of ``biome``, or (``None``) a
    fresh :func:`unseen_biome` per tile drawn from ``rng_biomes``. :attr:`biomes` lists the
    biome of every tile drawn, in order."""

    def __init__(self, biome: Biome | None,
                 rng_biomes: np.random.Generator | None = None) -> None:
        self.biome = biome
        self.rng = rng_biomes or np.random.default_rng(0)
        self.biomes: list[Biome] = []

    def __call__(self, rng: np.random.Generator, size: int
                 ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        b = self.biome if self.biome is not None else unseen_biome(
            self.rng, name=f"unseen_{len(self.biomes)}")
        self.biomes.append(b)
        return make_biome_scene(rng, size, b)


def biome_scene(biome: Biome | None, rng_biomes: np.random.Generator | None = None
                ) -> BiomeScene:
    """:class:`BiomeScene` of ``biome`` (``None``: a new unseen biome per tile)."""
    return BiomeScene(biome, rng_biomes)
