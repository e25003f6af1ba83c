"""DistrictNet instances: city GeoJSON of basic units and precomputed expected-TSP costs.

The published layout (github cheikh025/DistrictNet, ``data/geojson/<city>.geojson`` and
``data/tspCosts/<city>_C_30_3_tsp.train_and_test.json``):

- a GeoJSON ``FeatureCollection`` whose features are basic units (BUs) with properties
  ``AREA`` (km2) and ``PERIMETER`` (km) of the polygon (the published generator measures
  them in UTM; on city1 and Paris they match our projected polygon areas within 0.3 %:
  Paris's 120 BUs cover 11 km2), ``LIST_ADJACENT`` (0-based ids), ``POPULATION``,
  ``DENSITY``, ``centre`` ``[lon, lat]`` and a Polygon geometry, plus
  ``metadata.REFERENCE_LONGLAT``;
- ``{"districts": [{"list-blocks": [ids], "average-cost": float}]}``, the sample-average
  TSP cost of candidate districts.

The depot is the centre of the bounding box of the BU polygons (the "C" depot of the
paper). Coordinates are projected to local kilometres by an equirectangular projection
about the reference point.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch.utils.data import Dataset

from ...errors import DataNotFoundError, InvalidInputError
from ...io import atomic_path

__all__ = [
    "City",
    "DistrictCities",
    "read_city",
    "read_tsp_costs",
    "synthetic_city",
    "write_city",
    "write_districts",
]

URL = "https://github.com/cheikh025/DistrictNet (data/geojson, data/tspCosts)"
KM_PER_DEG = 111.32


@dataclass
class City:
    """A districting instance.

    Attributes:
        name: city name.
        adjacency: sorted neighbour lists (symmetric, 0-based).
        population, area, perimeter, density: per-BU arrays (units as in the file).
        lonlat: (N, 2) BU centres in degrees.
        xy: (N, 2) BU centres in local km about ``reference``.
        depot: (2,) depot in local km (bounding-box centre of the BU polygons, of the
            centres when there are none).
        reference: (lon, lat) of the projection origin.
        polygons: GeoJSON geometries (lon/lat) when known.
        rings: exterior rings of the BU polygons in local km (None when the file has no
            polygons); customers are sampled inside them and the depot is the centre of
            their bounding box, as in the published scenario generator.
    """

    name: str
    adjacency: list[list[int]]
    population: NDArray[np.float64]
    area: NDArray[np.float64]
    perimeter: NDArray[np.float64]
    density: NDArray[np.float64]
    lonlat: NDArray[np.float64]
    xy: NDArray[np.float64]
    depot: NDArray[np.float64]
    reference: tuple[float, float]
    polygons: list[dict[str, Any]] | None = field(default=None, repr=False)
    rings: list[NDArray[np.float64]] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of basic units."""
        return len(self.adjacency)

    def edges(self) -> list[tuple[int, int]]:
        """Undirected BU adjacency edges ``(u, v)`` with ``u < v``."""
        return [(u, v) for u in range(self.n) for v in self.adjacency[u] if u < v]

    def plot(self, districts: list[list[int]] | None = None, ax: Any = None) -> Any:
        """Plot BU centres, adjacency and (optionally) districts in colour; returns ax."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        for u, v in self.edges():
            ax.plot(*self.xy[[u, v]].T, color="0.8", lw=0.6, zorder=1)
        colour = np.zeros(self.n)
        for k, d in enumerate(districts or []):
            colour[list(d)] = k
        ax.scatter(*self.xy.T, c=colour, cmap="tab20", s=25, zorder=2)
        ax.scatter(*self.depot, marker="*", s=150, color="k", zorder=3)
        ax.set_title(self.name)
        ax.set_aspect("equal")
        return ax


def _project(lonlat: NDArray[np.float64], ref: tuple[float, float]) -> NDArray[np.float64]:
    kx = KM_PER_DEG * math.cos(math.radians(ref[1]))
    return np.stack([(lonlat[:, 0] - ref[0]) * kx, (lonlat[:, 1] - ref[1]) * KM_PER_DEG], 1)


def _bbox_centre(xy: NDArray[np.float64],
                 rings: list[NDArray[np.float64]] | None) -> NDArray[np.float64]:
    """The "C" depot: centre of the bounding box of the BU polygons (of the centres when
    there are no polygons)."""
    pts = np.concatenate(rings, 0) if rings else xy
    return np.asarray((pts.min(0) + pts.max(0)) / 2, dtype=np.float64)


def _ring(geom: Any, ref: tuple[float, float]) -> NDArray[np.float64] | None:
    """Exterior ring (local km) of a Polygon, or of a MultiPolygon's first part (the
    published ``POINTS`` property and scenario generator use the first part)."""
    if not isinstance(geom, dict):
        return None
    coords = geom.get("coordinates")
    if geom.get("type") == "Polygon" and coords:
        ring = coords[0]
    elif geom.get("type") == "MultiPolygon" and coords:
        ring = coords[0][0]
    else:
        return None
    arr = np.asarray(ring, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 3:
        return None
    return _project(arr[:, :2], ref)


def _symmetric(adj: list[list[int]], n: int, name: str) -> list[list[int]]:
    sets: list[set[int]] = [set() for _ in range(n)]
    for u, nbrs in enumerate(adj):
        for v in nbrs:
            if not 0 <= v < n:
                raise InvalidInputError(f"{name}: BU {u} lists neighbour {v}, outside 0..{n - 1}")
            if v != u:
                sets[u].add(v)
                sets[v].add(u)
    return [sorted(s) for s in sets]


def read_city(path: str | Path, n: int | None = None) -> City:
    """Read a DistrictNet city GeoJSON (only the first ``n`` features when given, as the
    published code does; adjacencies to dropped BUs are removed and lists symmetrised)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("DistrictNet city", p.parent, [p.name], url=URL,
                                layout="data/geojson/<city>.geojson")
    try:
        doc = json.loads(p.read_text())
        feats = doc["features"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{p}: not a GeoJSON FeatureCollection ({exc})") from exc
    total = len(feats)
    if n is not None:
        feats = feats[:n]
    if not feats:
        raise InvalidInputError(f"{p}: no basic units")
    need = ("AREA", "PERIMETER", "LIST_ADJACENT", "POPULATION")
    for i, f in enumerate(feats):
        missing = [k for k in need if k not in f.get("properties", {})]
        if missing:
            raise InvalidInputError(f"{p}: feature {i} lacks properties {missing}")
    props = [f["properties"] for f in feats]
    m = len(props)
    # a truncated city drops its links to the removed BUs; a full one must be consistent
    adj = _symmetric([[int(v) for v in q["LIST_ADJACENT"] if m == total or int(v) < m]
                      for q in props], m, str(p))
    lonlat = np.array([q.get("centre") or [q["CENTROID_X"], q["CENTROID_Y"]] for q in props],
                      dtype=np.float64)
    ref_raw = (doc.get("metadata") or {}).get("REFERENCE_LONGLAT")
    ref = (float(ref_raw[0]), float(ref_raw[1])) if ref_raw else (
        float(lonlat[:, 0].mean()), float(lonlat[:, 1].mean()))
    xy = _project(lonlat, ref)
    geoms = [f.get("geometry") for f in feats]
    maybe = [_ring(gm, ref) for gm in geoms]
    rings = [r for r in maybe if r is not None] if all(r is not None for r in maybe) else None
    area = np.array([q["AREA"] for q in props], dtype=np.float64)
    pop = np.array([q["POPULATION"] for q in props], dtype=np.float64)
    dens = np.array([q.get("DENSITY", 0.0) for q in props], dtype=np.float64)
    dens = np.where(dens > 0, dens, pop / np.maximum(area, 1e-9))
    return City(
        name=p.stem, adjacency=adj, population=pop, area=area,
        perimeter=np.array([q["PERIMETER"] for q in props], dtype=np.float64), density=dens,
        lonlat=lonlat, xy=xy, depot=_bbox_centre(xy, rings), reference=ref,
        polygons=geoms, rings=rings,
    )


def read_tsp_costs(path: str | Path) -> dict[frozenset[int], float]:
    """Read a ``*_tsp.train_and_test.json`` file: district (BU id set) -> expected cost."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("DistrictNet TSP costs", p.parent, [p.name], url=URL,
                                layout="data/tspCosts/<city>_C_30_3_tsp.train_and_test.json")
    try:
        rows = json.loads(p.read_text())["districts"]
        return {frozenset(int(b) for b in r["list-blocks"]): float(r["average-cost"])
                for r in rows}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{p}: not a DistrictNet TSP-cost file ({exc})") from exc


# the published generator (``generate_cities.jl``, ``generate_populations``): BU
# populations i.i.d. from a normal of mean 8000 and std 2000 truncated to [5000, 20000]
POPULATION_MEAN, POPULATION_STD, POPULATION_RANGE = 8000.0, 2000.0, (5000.0, 20000.0)
# BU areas of the published training cities (200 files ``data/geojson/city*.geojson``,
# 30 real English BUs each): median area per city 0.76 / 1.98 / 5.01 km2 (5 / 50 / 95 %),
# within-city std of log-area 0.32 / 0.58 / 1.34, largest / smallest 3.8 / 12 / 126
MEDIAN_AREA_KM2, MEDIAN_AREA_LOG_STD, MAX_WARP = 2.0, 0.35, 2.2


def _square_boundary(lo: NDArray[np.float64], hi: NDArray[np.float64],
                     per_side: int = 40) -> NDArray[np.float64]:
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    w, h = hi - lo
    return np.concatenate([
        np.stack([lo[0] + w * t, np.full_like(t, lo[1])], 1),
        np.stack([np.full_like(t, hi[0]), lo[1] + h * t], 1),
        np.stack([hi[0] - w * t, np.full_like(t, hi[1])], 1),
        np.stack([np.full_like(t, lo[0]), hi[1] - h * t], 1)])


def synthetic_city(n: int, seed: int, name: str | None = None) -> City:
    """A synthetic city drawn like the published training cities.

    The published ``generate_cities.jl`` takes a random connected set of 30 real BUs of an
    English city and gives each an i.i.d. population from a normal(8000, 2000) truncated
    to [5000, 20000] (so about 32 customers per BU at t = 3, 16 at t = 6: about 100 per
    district at every target size). We draw the populations the same way; the polygons
    (real ones there) are the Voronoi cells of a jittered grid under a radial warp
    ``r -> R (r / R)^g``, ``g ~ U(1, 2.2)``, about a random core (small BUs in the centre,
    large ones outside), scaled so that the median BU area is lognormal about 2 km2. Over
    200 seeds this reproduces the published cities' area spread (measured on their 200
    files): within-city std of log-area 0.28 / 0.71 / 1.14 (5 / 50 / 95 %; published
    0.32 / 0.58 / 1.34), largest / smallest area 2.9 / 17 / 106 (published 3.8 / 12 / 126),
    median area 1.1 / 2.0 / 3.6 km2 (published 0.8 / 2.0 / 5.0). Adjacency = cells
    sharing a boundary."""
    import shapely
    from scipy.stats import truncnorm

    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n))
    cells = rng.permutation(side * side)[:n]
    grid = np.stack([cells % side, cells // side], 1).astype(np.float64)
    grid += rng.uniform(-0.3, 0.3, grid.shape)
    lo, hi = grid.min(0) - 0.5, grid.max(0) + 0.5
    edge = _square_boundary(lo, hi)
    core = (lo + hi) / 2 + rng.uniform(-0.25, 0.25, 2) * (hi - lo)
    g = rng.uniform(1.0, MAX_WARP)
    radius = float(np.linalg.norm(edge - core, axis=1).max())

    def warp(p: NDArray[np.float64]) -> NDArray[np.float64]:
        r = np.linalg.norm(p - core, axis=1, keepdims=True)
        return np.asarray(core + (p - core) * (r / radius) ** (g - 1), dtype=np.float64)

    raw_pts, raw_bound = warp(grid), warp(edge)
    bound = shapely.Polygon(raw_bound)
    vor = shapely.voronoi_polygons(shapely.MultiPoint(raw_pts), extend_to=bound, ordered=True)
    raw = [shapely.intersection(c, bound) for c in vor.geoms]
    raw = [max(c.geoms, key=lambda q: q.area) if hasattr(c, "geoms") else c for c in raw]
    median = float(np.median([c.area for c in raw]))
    scale = math.sqrt(math.exp(rng.normal(math.log(MEDIAN_AREA_KM2), MEDIAN_AREA_LOG_STD))
                      / median)
    polys = [shapely.affinity.scale(c, scale, scale, origin=(0.0, 0.0)) for c in raw]
    rings = [np.asarray(p.exterior.coords, dtype=np.float64) for p in polys]
    adj: list[list[int]] = [[] for _ in range(n)]
    tree = shapely.STRtree(polys)
    for u, p in enumerate(polys):
        for v in tree.query(p, predicate="intersects"):
            v = int(v)
            if v > u and shapely.intersection(p, polys[v]).length > 1e-6 * scale:
                adj[u].append(v)
                adj[v].append(u)
    area = np.array([p.area for p in polys])
    perimeter = np.array([p.length for p in polys])
    centre_xy = np.array([[p.centroid.x, p.centroid.y] for p in polys])
    mean, std = POPULATION_MEAN, POPULATION_STD
    a, b = ((v - mean) / std for v in POPULATION_RANGE)
    pop = np.floor(truncnorm.rvs(a, b, loc=mean, scale=std, size=n, random_state=rng))
    ref = (0.0, 0.0)
    lonlat = centre_xy / KM_PER_DEG
    geoms: list[dict[str, Any]] = [
        {"type": "Polygon", "coordinates": [(r / KM_PER_DEG).tolist()]} for r in rings]
    return City(
        name=name or f"synthetic{seed}", adjacency=[sorted(a) for a in adj], population=pop,
        area=area, perimeter=perimeter, density=pop / area, lonlat=lonlat, xy=centre_xy,
        depot=_bbox_centre(centre_xy, rings), reference=ref, polygons=geoms, rings=rings,
    )


def _feature_collection(city: City, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    feats = []
    for i in range(city.n):
        geom = (city.polygons[i] if city.polygons else None) or {
            "type": "Point", "coordinates": [float(c) for c in city.lonlat[i]]}
        props: dict[str, Any] = {
            "ID": i, "AREA": float(city.area[i]), "PERIMETER": float(city.perimeter[i]),
            "LIST_ADJACENT": list(city.adjacency[i]), "POPULATION": float(city.population[i]),
            "DENSITY": float(city.density[i]), "centre": [float(c) for c in city.lonlat[i]],
        }
        if extra:
            props.update(extra[i])
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    return {"type": "FeatureCollection", "features": feats,
            "metadata": {"REFERENCE_LONGLAT": list(city.reference)}}


def write_city(city: City, path: str | Path) -> Path:
    """Write ``city`` in the published GeoJSON layout (the fixture writer), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_feature_collection(city)))
    return Path(path)


def write_districts(city: City, districts: list[list[int]], path: str | Path) -> Path:
    """Write the BUs with a ``DISTRICT`` property (district index) as GeoJSON, atomically."""
    label = {b: k for k, d in enumerate(districts) for b in d}
    if sorted(label) != list(range(city.n)):
        raise InvalidInputError("districts must cover every basic unit exactly once")
    doc = _feature_collection(city, [{"DISTRICT": label[i]} for i in range(city.n)])
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc))
    return Path(path)


class DistrictCities(Dataset[City]):
    """The city GeoJSON files of a folder (``<root>/*.geojson``), one :class:`City` each.

    Args:
        root: folder of city GeoJSON files (the published ``data/geojson``).
        n: keep only the first ``n`` BUs of each city (None: all).
    """

    def __init__(self, root: str | Path, n: int | None = None) -> None:
        self.root = Path(root)
        self.files = sorted(self.root.glob("*.geojson")) if self.root.is_dir() else []
        if not self.files:
            raise DataNotFoundError("DistrictNet cities", self.root, ["*.geojson"], url=URL,
                                    layout="<root>/<city>.geojson")
        self.n = n

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> City:
        return read_city(self.files[index], self.n)

    def plot(self, sample: City, districts: list[list[int]] | None = None) -> Any:
        """Plot one city (and districts); returns the matplotlib figure."""
        ax = sample.plot(districts)
        return ax.figure
