"""A synthetic city that tests Garner's claim (the Third Law of Geography).

The claim: roads in similar *geographic configurations* (what street-view images show)
have similar functions, even far apart, and a view linking them adds information to the
road graph (First Law: nearby roads are alike). The generator:

- a jittered grid of junctions (``grid x grid``, ~120 m apart, near Singapore), every street
  two-way (two segments ``u -> v`` and ``v -> u``) except 10% one-way;
- ``n_configs`` configuration types (street-scape "looks"), each with a road function
  (6 classes, balanced over the types); configurations tile the city in small Voronoi
  patches (on average ``patch`` streets each), so a type recurs all over the city and a
  road's graph neighbours share its type only part of the time;
- street-view features (``svi_dim``, 64 by default; the paper's CLIP ViT-L/14 gives 768):
  the type's centre plus per-street noise (``svi_noise``), shared by a street's two
  directions (the images are matched to the street);
- the published OSM attributes: ``highway`` drawn from a function-dependent distribution
  (weakly informative), either i.i.d. per street (``hw_change = 1``, the default) or, as on
  real OSM, kept along each road (a grid line) and redrawn with probability ``hw_change``
  per street (the demo uses 0.1, calibrated on real extracts: see
  :func:`.roads.highway_continuity`); ``lanes`` and ``maxspeed`` from the highway class,
  ``length`` from the geometry;
- labels: the road function (5% marked ``-100``, "special use", as published) and an
  average speed for 60% of the segments (highway class + function + noise, km/h).

Nothing here is read by the methods except through the published files; every method and
baseline sees the same road features and street-view features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .roads import RoadSegments

__all__ = ["SyntheticCity", "synthetic_city"]

_HIGHWAYS = ("primary", "secondary", "tertiary", "residential", "service", "trunk")
#: P(highway | function): rows are the 6 functions, columns :data:`_HIGHWAYS`.
_P_HIGHWAY = np.array([
    [0.35, 0.25, 0.15, 0.10, 0.05, 0.10],
    [0.10, 0.20, 0.30, 0.25, 0.10, 0.05],
    [0.05, 0.10, 0.20, 0.45, 0.15, 0.05],
    [0.15, 0.15, 0.15, 0.15, 0.35, 0.05],
    [0.10, 0.30, 0.25, 0.15, 0.10, 0.10],
    [0.20, 0.15, 0.10, 0.30, 0.10, 0.15],
])
_BASE_SPEED = {"trunk": 60.0, "primary": 50.0, "secondary": 42.0, "tertiary": 36.0,
               "residential": 28.0, "service": 20.0}
_FUNCTION_SPEED = np.array([6.0, -2.0, -6.0, 3.0, 0.0, -4.0])
_LANES = {"trunk": "4", "primary": "3", "secondary": "2", "tertiary": "2", "residential": "1",
          "service": "1"}
_MAXSPEED = {"trunk": "70", "primary": "60", "secondary": "50", "tertiary": "50",
             "residential": "40", "service": "30"}


@dataclass
class SyntheticCity:
    """A synthetic road network with street-view features and both task labels."""

    segments: RoadSegments
    svi: NDArray[np.float32]
    road_function: NDArray[np.int64]
    speed_ids: NDArray[np.int64]
    speed: NDArray[np.float64]
    config: NDArray[np.int64]
    node_xy: NDArray[np.float64]


def _highway_runs(grid: int, func_street: NDArray[np.int64], change: float,
                  rng: np.random.Generator) -> NDArray[np.str_]:
    """``highway`` per street along the grid lines (the roads): each line starts with a class
    drawn from ``P(highway | function)`` of its first street and redraws it (from the same
    function-dependent distribution, for the street where it changes) with probability
    ``change`` at each following street; streets are ordered as :func:`synthetic_city` lists
    them (rows, then columns)."""
    per_line = grid - 1
    out = np.empty(len(func_street), dtype=object)
    lines = [np.arange(i * per_line, (i + 1) * per_line) for i in range(grid)]
    off = grid * per_line
    lines += [off + np.arange(grid - 1) * grid + j for j in range(grid)]
    for line in lines:
        cls = -1
        for k, s in enumerate(line):
            if k == 0 or rng.random() < change:
                cls = int(rng.choice(6, p=_P_HIGHWAY[func_street[s]]))
            out[s] = _HIGHWAYS[cls]
    return out.astype(str)


def synthetic_city(grid: int = 20, seed: int = 0, n_configs: int = 48, patch: float = 2.5,
                   svi_dim: int = 64, svi_noise: float = 1.0, n_classes: int = 6,
                   hw_change: float = 1.0) -> SyntheticCity:
    """Generate a city (see the module docstring); ``seed`` fixes everything."""
    rng = np.random.default_rng(seed)
    lon0, lat0, step = 103.80, 1.30, 0.0011  # ~120 m
    ii, jj = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    xy = np.stack([lon0 + step * jj.ravel(), lat0 + step * ii.ravel()], 1)
    xy = xy + rng.normal(0, step * 0.12, xy.shape)
    streets = [(i * grid + j, i * grid + j + 1) for i in range(grid) for j in range(grid - 1)]
    streets += [(i * grid + j, (i + 1) * grid + j) for i in range(grid - 1) for j in range(grid)]
    streets_a = np.array(streets, dtype=np.int64)
    ns = len(streets_a)
    mid = xy[streets_a].mean(1)
    n_configs = min(n_configs, ns)
    # configuration types tile the city in Voronoi patches of ~`patch` streets
    n_seeds = max(n_configs, int(ns / patch))
    seeds_xy = mid[rng.choice(ns, n_seeds, replace=False)]
    seed_cfg = np.concatenate([np.arange(n_configs), rng.integers(0, n_configs,
                                                                   n_seeds - n_configs)])
    rng.shuffle(seed_cfg)
    d2 = ((mid[:, None, :] - seeds_xy[None]) ** 2).sum(-1)
    cfg_street = seed_cfg[d2.argmin(1)]
    func_of_cfg = np.arange(n_configs) % n_classes
    rng.shuffle(func_of_cfg)
    func_street = func_of_cfg[cfg_street]
    centres = rng.normal(0, 1.0, (n_configs, svi_dim))
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True) * np.sqrt(svi_dim) ** 0.5
    svi_street = centres[cfg_street] + rng.normal(0, svi_noise, (ns, svi_dim))
    if hw_change >= 1.0:
        hw_street = np.array([_HIGHWAYS[rng.choice(6, p=_P_HIGHWAY[f])] for f in func_street])
    else:
        hw_street = _highway_runs(grid, func_street, hw_change, rng)
    oneway_street = rng.random(ns) < 0.10

    u, v, s_of = [], [], []
    for s, (a, b) in enumerate(streets_a):
        pairs = [(a, b)] if oneway_street[s] else [(a, b), (b, a)]
        for x, y in pairs:
            u.append(int(x))
            v.append(int(y))
            s_of.append(s)
    s_idx = np.array(s_of)
    u_a, v_a = np.array(u, dtype=np.int64), np.array(v, dtype=np.int64)
    geoms = [np.stack([xy[a], xy[b]]) for a, b in zip(u_a, v_a, strict=True)]
    coslat = np.cos(np.radians(lat0))
    lengths = [float(np.hypot((g[1, 0] - g[0, 0]) * coslat, g[1, 1] - g[0, 1]) * 111_320)
               for g in geoms]
    hw = hw_street[s_idx]
    attrs = {
        "osmid": [int(1_000_000 + s) for s in s_idx],
        "highway": list(hw),
        "oneway": [bool(oneway_street[s]) for s in s_idx],
        "reversed": [bool(a > b) for a, b in zip(u_a, v_a, strict=True)],
        "lanes": [_LANES[h] for h in hw],
        "maxspeed": [_MAXSPEED[h] for h in hw],
        "length": lengths,
        "bridge": [None] * len(u_a), "tunnel": [None] * len(u_a),
        "junction": [None] * len(u_a), "access": [None] * len(u_a),
        "name": [None] * len(u_a),
    }
    segs = RoadSegments(u_a, v_a, attrs, geoms)
    func = func_street[s_idx].astype(np.int64)
    special = rng.random(len(func)) < 0.05
    func[special] = -100
    n = len(u_a)
    speed_ids = np.sort(rng.choice(n, int(0.6 * n), replace=False)).astype(np.int64)
    base = np.array([_BASE_SPEED[h] for h in hw])
    speed = base + _FUNCTION_SPEED[func_street[s_idx]] + rng.normal(0, 3.0, n)
    return SyntheticCity(segs, svi_street[s_idx].astype(np.float32), func, speed_ids,
                         np.clip(speed[speed_ids], 5.0, None), cfg_street[s_idx], xy)
