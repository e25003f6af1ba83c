"""Road networks for Garner: OSM extracts, OSMnx GraphML and road GeoJSON -> road segments.

Garner (Zhou et al., NeurIPS 2024, arXiv 2406.04038, Sec. 3 and the public code's
``src/data/preprocessing.py``) takes the OSMnx "drive" network of a city, keeps the edges
with ``key == 0`` (parallel edges dropped), and learns one embedding per **road segment**
(an OSMnx edge ``(u, v, 0)``); the graph the GNN sees is the line graph of the road graph
(``dgl.line_graph``: segment ``(u, v)`` -> segment ``(v, w)``, back-tracking included) with
self-loops. The published road features are bag-of-words / one-hot encodings of OSM tags
(:func:`encode_road_features`).

Readers (all return a :class:`RoadSegments` in EPSG:4326):

- ``.osm`` / ``.osm.bz2`` / ``.xml``: OSM XML through ``osmnx.graph_from_xml`` (unsimplified),
  drivable ``highway`` values kept (:data:`DRIVABLE`), then ``osmnx.simplify_graph``, as
  OSMnx's ``network_type="drive"`` does for a downloaded graph (our drivable filter is the
  ``highway`` part of OSMnx's filter; its ``service=parking/driveway/...`` and
  ``access=private`` exclusions are not applied, deliberately: the published features
  encode ``access``);
- ``.graphml``: an OSMnx GraphML (``osmnx.load_graphml``), reprojected to EPSG:4326;
- ``.geojson`` / ``.json`` / ``.gpkg`` / ``.parquet``: road LineStrings (the published
  ``data_processed/edges.geojson`` with ``u, v, key``; without ``u``/``v`` the end points'
  coordinates, rounded to 1e-7 degrees, define the junctions).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import DataNotFoundError, InvalidInputError

__all__ = [
    "DRIVABLE",
    "FEATURE_BLOCKS",
    "RoadSegments",
    "encode_road_features",
    "highway_continuity",
    "line_graph",
    "read_roads",
]

#: ``highway`` values of the drive network (OSMnx "drive": no footways, cycleways, paths,
#: tracks, steps, construction...).
DRIVABLE: frozenset[str] = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "service", "road",
})

#: The published tag dictionaries (``encode_sg_road_feat``); index 0 is "missing" where the
#: published dictionary starts at 1.
HIGHWAY = {"motorway": 0, "motorway_link": 0, "trunk": 0, "trunk_link": 0, "primary": 1,
           "primary_link": 1, "secondary": 2, "secondary_link": 2, "tertiary": 3,
           "tertiary_link": 3, "unclassified": 3, "residential": 4, "living_street": 4,
           "service": 5, "road": 5}
LANES = {str(i): i for i in range(1, 9)}
MAXSPEED = {"10": 1, "15": 2, "20": 3, "25": 4, "30": 5, "40": 6, "50": 7, "60": 8, "70": 9,
            "80": 10, "90": 11}
BRIDGE = {"yes": 1, "viaduct": 2}
TUNNEL = {"yes": 1, "building_passage": 2}
JUNCTION = {"roundabout": 1}
ACCESS = {"yes": 1, "no": 2, "permissive": 3, "destination": 4}
LENGTH_BITS = 16

#: (name, width) of the feature blocks, in the published order.
FEATURE_BLOCKS: tuple[tuple[str, int], ...] = (
    ("oneway", 2), ("lanes", 9), ("highway", 6), ("maxspeed", 12), ("reversed", 2),
    ("length", LENGTH_BITS), ("bridge", 3), ("tunnel", 3), ("junction", 2), ("access", 5),
)

_ATTRS = ("osmid", "highway", "oneway", "reversed", "lanes", "maxspeed", "length", "bridge",
          "tunnel", "junction", "access", "name")


@dataclass
class RoadSegments:
    """The road segments of one network (one row per OSMnx edge with ``key == 0``).

    Attributes:
        u, v: junction ids of each segment's start and end, ``(n,)`` int64.
        attrs: OSM attributes per segment (``highway``, ``lanes``, ``length``...), columns
            of equal length; values as OSMnx gives them (str, list of str, bool, float, None).
        geometry: each segment's coordinates, ``[(lon, lat), ...]`` in EPSG:4326.
    """

    u: NDArray[np.int64]
    v: NDArray[np.int64]
    attrs: dict[str, list[Any]]
    geometry: list[NDArray[np.float64]]

    def __len__(self) -> int:
        return len(self.u)

    def line_graph(self) -> NDArray[np.int64]:
        """The line graph's ``(2, E)`` edge index (see :func:`line_graph`)."""
        return line_graph(self.u, self.v)

    def features(self) -> NDArray[np.float32]:
        """The published road features (see :func:`encode_road_features`)."""
        return encode_road_features(self.attrs)


def line_graph(u: NDArray[np.int64], v: NDArray[np.int64]) -> NDArray[np.int64]:
    """Edge index ``(2, E)`` of the directed line graph: ``i -> j`` when ``v[i] == u[j]``.

    As ``dgl.line_graph(g, backtracking=True)``: a two-way street's two directions are
    linked both ways. Self-loops are not added here (the encoders add them).
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    order = np.argsort(u, kind="stable")
    su = u[order]
    lo = np.searchsorted(su, v, side="left")
    hi = np.searchsorted(su, v, side="right")
    counts = hi - lo
    src = np.repeat(np.arange(len(u), dtype=np.int64), counts)
    starts = np.repeat(lo, counts)
    offs = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    dst = order[starts + offs]
    keep = src != dst
    return np.stack([src[keep], dst[keep]])


def highway_continuity(seg: RoadSegments) -> tuple[int, int]:
    """``(same, pairs)``: of the ``pairs`` line-graph edges (:func:`line_graph`, back-tracking
    included, as Garner's graph), how many join two segments of the same published
    ``highway`` class (the feature's 6 groups, :data:`HIGHWAY`; unknown values count as one
    class). On real OSM a road keeps its class over many segments, so this is high."""
    e = seg.line_graph()
    cls = np.array([HIGHWAY.get(str(_highway_tag(h)), -1) for h in seg.attrs["highway"]])
    return int(np.sum(cls[e[0]] == cls[e[1]])), int(e.shape[1])


def _as_list(value: Any) -> Any:
    """A merged tag value as a list (OSMnx writes lists, GraphML files their string form)."""
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value.replace("'", '"'))
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value


def _first(value: Any) -> Any:
    """A merged value's first element, as the published reader takes it."""
    value = _as_list(value)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _highway_tag(value: Any) -> Any:
    """The ``highway`` tag of a segment; of a merged list, the highest class of the road
    hierarchy (:data:`HIGHWAY` group; ties and unknown tags by name). Deliberate difference
    from the published first element: OSMnx merges the tags of simplified ways in set order,
    which varies with Python's hash seed, so the published pick for e.g. ``[unclassified,
    service]`` changed from run to run (and with it the features); this pick does not."""
    value = _as_list(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        return min(value, key=lambda h: (HIGHWAY.get(str(h), len(HIGHWAY)), str(h)))
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _onehot(values: Sequence[Any], table: dict[str, int], width: int) -> NDArray[np.float32]:
    """Bag of words over ``table``; missing and unknown values go to slot 0 when the table
    starts at 1 (the published "nan" slot); a list value sets every slot it names."""
    out = np.zeros((len(values), width), dtype=np.float32)
    has_nan = min(table.values()) > 0
    for i, val in enumerate(values):
        items = val if isinstance(val, (list, tuple)) else [val]
        hit = False
        for item in items:
            if _missing(item):
                continue
            key = str(item).strip().lower()
            key = key.split()[0] if key else key  # "30 mph" -> "30"
            if key in table:
                out[i, table[key]] = 1.0
                hit = True
        if not hit and has_nan:
            out[i, 0] = 1.0
    return out


def _bool_onehot(values: Sequence[Any]) -> NDArray[np.float32]:
    out = np.zeros((len(values), 2), dtype=np.float32)
    for i, val in enumerate(values):
        items = val if isinstance(val, (list, tuple)) else [val]
        for item in items:
            if _missing(item):
                continue
            truth = str(item).strip().lower() in ("true", "1", "yes", "-1")
            out[i, 1 if truth else 0] = 1.0
    return out


def encode_road_features(attrs: dict[str, list[Any]]) -> NDArray[np.float32]:
    """The published road features, ``(n, 60)``: blocks of :data:`FEATURE_BLOCKS`.

    oneway (2), lanes (9: missing, 1..8), highway (6 merged groups: motorway/trunk,
    primary, secondary, tertiary/unclassified, residential/living street, service/road;
    a list takes its highest class, see ``_highway_tag``), maxspeed (12: missing, 10..90 km/h), reversed
    (2), length (binary representation of the integer metres), bridge (3), tunnel (3, "no"
    counts as missing), junction (2), access (5, "restricted"/"residents" count as
    missing). Deliberate differences from ``encode_sg_road_feat``: the length uses a fixed
    16 bits (the published width is ``ceil(log2(max length))`` of the city, so features of
    two cities would not line up), and tag values outside the published dictionaries go to
    the "missing" slot (or to no slot for highway) instead of raising ``KeyError``.
    """
    n = len(attrs["highway"])

    def get(key: str) -> list[Any]:
        return attrs.get(key, [None] * n)

    highway = [_highway_tag(h) for h in get("highway")]
    lengths = np.array([0.0 if _missing(x) else float(_first(x)) for x in get("length")])
    ints = np.clip(np.round(lengths), 0, 2**LENGTH_BITS - 1).astype(np.int64)
    bits = ((ints[:, None] >> np.arange(LENGTH_BITS - 1, -1, -1)) & 1).astype(np.float32)
    tunnel = [None if str(t).lower() == "no" else t for t in get("tunnel")]
    access = [None if str(a).lower() in ("restricted", "residents") else a
              for a in get("access")]
    blocks = [
        _bool_onehot(get("oneway")),
        _onehot(get("lanes"), LANES, 9),
        _onehot(highway, HIGHWAY, 6),
        _onehot(get("maxspeed"), MAXSPEED, 12),
        _bool_onehot(get("reversed")),
        bits,
        _onehot(get("bridge"), BRIDGE, 3),
        _onehot(tunnel, TUNNEL, 3),
        _onehot(get("junction"), JUNCTION, 2),
        _onehot(access, ACCESS, 5),
    ]
    return np.concatenate(blocks, axis=1)


def _from_gdfs(edges: Any, crs_ok: bool = True) -> RoadSegments:
    """RoadSegments from an OSMnx-style edge GeoDataFrame (index or columns u, v, key)."""
    if edges.crs is not None and crs_ok and edges.crs.to_epsg() != 4326:
        edges = edges.to_crs(4326)
    if {"u", "v"} - set(edges.columns):
        edges = edges.reset_index()
    if "key" in edges.columns:
        edges = edges[edges["key"].astype(int) == 0]
    edges = edges.reset_index(drop=True)
    geoms = [np.asarray(g.coords, dtype=np.float64)[:, :2] for g in edges.geometry]
    attrs = {k: [_plain(x) for x in edges[k]] if k in edges.columns else [None] * len(edges)
             for k in _ATTRS}
    return RoadSegments(edges["u"].to_numpy(np.int64), edges["v"].to_numpy(np.int64),
                        attrs, geoms)


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return x


def _read_osm_xml(path: Path) -> RoadSegments:
    import osmnx as ox

    tags = set(ox.settings.useful_tags_way) | {"bridge", "tunnel", "junction", "access",
                                                 "lanes", "maxspeed", "oneway"}
    ox.settings.useful_tags_way = sorted(tags)
    try:
        g = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except Exception as exc:  # osmnx / xml errors
        raise InvalidInputError(f"cannot read OSM XML {str(path)!r}: {exc}") from None
    drop = [(a, b, k) for a, b, k, h in g.edges(keys=True, data="highway")
            if _highway_tag(h) not in DRIVABLE]
    g.remove_edges_from(drop)
    g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    if g.number_of_edges() == 0:
        raise InvalidInputError(f"{str(path)!r} holds no drivable OSM ways (highway=...)")
    g = ox.simplify_graph(g)
    _, edges = ox.graph_to_gdfs(g)
    return _from_gdfs(edges)


def _read_vector(path: Path) -> RoadSegments:
    import geopandas as gpd

    try:
        gdf = gpd.read_parquet(path) if path.suffix == ".parquet" else gpd.read_file(path)
    except Exception as exc:
        raise InvalidInputError(f"cannot read road vector file {str(path)!r}: {exc}") from None
    gdf = gdf[gdf.geometry.notna()]
    kinds = set(gdf.geometry.geom_type)
    if not kinds or kinds - {"LineString"}:
        raise InvalidInputError(
            f"{str(path)!r} must hold LineString road segments, found {sorted(kinds) or 'none'}")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    if not {"u", "v"} <= set(gdf.columns):
        ends = [(tuple(np.round(c[0], 7)), tuple(np.round(c[-1], 7)))
                for c in (np.asarray(g.coords)[:, :2] for g in gdf.geometry)]
        ids: dict[tuple[float, ...], int] = {}
        gdf = gdf.assign(u=[ids.setdefault(a, len(ids)) for a, _ in ends],
                         v=[ids.setdefault(b, len(ids)) for _, b in ends])
    if "length" not in gdf.columns:
        gdf = gdf.assign(length=gdf.to_crs(gdf.estimate_utm_crs()).length.to_numpy())
    if "highway" not in gdf.columns:
        gdf = gdf.assign(highway=None)
    return _from_gdfs(gdf, crs_ok=False)


def read_roads(path: str | Path) -> RoadSegments:
    """Read a road network file into road segments (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError("road network", p.parent, [p.name],
                                layout="an OSM XML extract (.osm/.osm.bz2), an OSMnx GraphML "
                                "or a road GeoJSON")
    name = p.name.lower()
    if name.endswith((".osm", ".osm.bz2", ".xml", ".osm.xml")):
        return _read_osm_xml(p)
    if name.endswith(".graphml"):
        import osmnx as ox

        try:
            g = ox.load_graphml(p)
        except Exception as exc:
            raise InvalidInputError(f"cannot read GraphML {str(p)!r}: {exc}") from None
        if g.number_of_edges() == 0:
            raise InvalidInputError(f"{str(p)!r} holds no edges")
        _, edges = ox.graph_to_gdfs(g)
        return _from_gdfs(edges)
    if name.endswith((".geojson", ".json", ".gpkg", ".parquet")):
        return _read_vector(p)
    raise InvalidInputError(
        f"unsupported road file {str(p)!r}: use .osm, .osm.bz2, .graphml, .geojson, .gpkg "
        "or .parquet")
