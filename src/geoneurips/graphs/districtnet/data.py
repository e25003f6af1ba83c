"""DistrictNet instances: city GeoJSON of basic units and precomputed expected-TSP costs.

The published layout (github cheikh025/DistrictNet, ``data/geojson/<city>.geojson`` and
``data/tspCosts/<city>_C_30_3_tsp.train_and_test.json``):

- a GeoJSON ``FeatureCollection`` whose features are basic units (BUs) with properties
  ``AREA``, ``PERIMETER`` (in the units of the published files: Paris's 120 areas sum to
  about 11, so they are not km2; our synthetic cities use km2 and km), ``LIST_ADJACENT`` (0-based ids), ``POPULATION``,
  ``DENSITY``, ``centre`` ``[lon, lat]`` and a Polygon geometry, plus
  ``metadata.REFERENCE_LONGLAT``;
- ``{"districts": [{"list-blocks": [ids], "average-cost": float}]}``, the sample-average
  TSP cost of candidate districts.

The depot is the centre of the bounding box of the BU centres (the "C" depot of the
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
        depot: (2,) depot in local km (bounding-box centre of the BU centres).
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


def synthetic_city(n: int, seed: int, name: str | None = None) -> City:
    """A synthetic city: ``n`` BUs whose polygons are the Voronoi cells of a jittered grid
    (about 1 km spacing) clipped to the city's bounding box; adjacency = cells sharing a
    boundary; populations with a dense core (about 300-3000 inhabitants per BU, so the
    published demand probability 0.004 for t = 3 gives 3-12 customers per BU).

    The published synthetic cities perturb real English cities; ours are drawn from
    scratch (the method needs only the BU graph, attributes and polygons)."""
    import shapely

    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n))
    cells = rng.permutation(side * side)[:n]
    xy = np.stack([cells % side, cells // side], 1).astype(np.float64)
    xy += rng.uniform(-0.3, 0.3, xy.shape)
    scale = rng.uniform(0.8, 1.6)
    xy *= scale
    lo, hi = xy.min(0) - 0.5 * scale, xy.max(0) + 0.5 * scale
    box = shapely.box(lo[0], lo[1], hi[0], hi[1])
    vor = shapely.voronoi_polygons(shapely.MultiPoint(xy), extend_to=box, ordered=True)
    polys = [shapely.intersection(g, box) for g in vor.geoms]
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
    core_at = xy.mean(0) + rng.normal(0, 0.5, 2)
    core = np.exp(-np.linalg.norm(centre_xy - core_at, axis=1) ** 2 / (2 * (0.4 * side) ** 2))
    density = 500 * (0.3 + 2.0 * core) * rng.uniform(0.6, 1.4, n)
    pop = density * area
    ref = (0.0, 0.0)
    lonlat = centre_xy / KM_PER_DEG
    geoms: list[dict[str, Any]] = [
        {"type": "Polygon", "coordinates": [(r / KM_PER_DEG).tolist()]} for r in rings]
    return City(
        name=name or f"synthetic{seed}", adjacency=[sorted(a) for a in adj], population=pop,
        area=area, perimeter=perimeter, density=density, lonlat=lonlat, xy=centre_xy,
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
