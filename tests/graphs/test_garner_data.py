"""Garner's readers: real OSM extracts and street graphs we did not write, the published
layout (fixture round trip), the published road features, street-view feature files.

Real files (``../shared/data/roads``): OSMnx's own test extracts (West Oakland ``.osm.bz2``,
a Bavarian ``planet_*.osm``, an empty ``short.graphml``) and momepy's OSMnx-style NYC
GraphML (projected CRS). No file in Garner's published layout is public (the city data is
on the authors' Google Drive), so that layout is checked on our fixture writer only.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.graphs.garner.data import GarnerCity, load_svi, write_fixture
from geoneurips.graphs.garner.roads import (
    DRIVABLE,
    FEATURE_BLOCKS,
    encode_road_features,
    line_graph,
    read_roads,
)


def _block(feat: np.ndarray, name: str) -> np.ndarray:
    start = 0
    for n, w in FEATURE_BLOCKS:
        if n == name:
            return feat[:, start:start + w]
        start += w
    raise KeyError(name)


@pytest.mark.parametrize(("name", "n_seg", "bounds"), [
    ("osmnx/West-Oakland.osm.bz2", 71, (-122.31, 37.80, -122.29, 37.82)),
    ("osmnx/planet_10.068,48.135_10.071,48.137.osm", 36, (10.06, 48.13, 10.08, 48.14)),
    ("momepy/nyc_graph.graphml", 73, (-74.0, 40.77, -73.96, 40.80)),
])
def test_real_road_files(real_data: Path, name: str, n_seg: int,
                         bounds: tuple[float, float, float, float]) -> None:
    seg = read_roads(real_data / "roads" / name)
    assert len(seg) == n_seg
    assert all(str(h).strip("[]'").split("'")[0] in DRIVABLE for h in seg.attrs["highway"])
    xy = np.concatenate(seg.geometry)
    assert (xy[:, 0] > bounds[0]).all() and (xy[:, 0] < bounds[2]).all()  # EPSG:4326
    assert (xy[:, 1] > bounds[1]).all() and (xy[:, 1] < bounds[3]).all()
    feat = seg.features()
    assert feat.shape == (n_seg, sum(w for _, w in FEATURE_BLOCKS))
    assert (_block(feat, "highway").sum(1) <= 1).all()
    assert (_block(feat, "oneway").sum(1) == 1).all()
    assert np.all(np.array(seg.attrs["length"], dtype=float) > 0)
    # the line graph equals networkx's line graph of the directed (key-0) segment graph
    g = nx.DiGraph()
    g.add_edges_from(zip(seg.u.tolist(), seg.v.tolist(), strict=True))
    assert g.number_of_edges() == n_seg
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(seg.u, seg.v, strict=True))}
    expected = {(index[a], index[b]) for a, b in nx.line_graph(g).edges()}
    ei = seg.line_graph()
    assert set(zip(ei[0].tolist(), ei[1].tolist(), strict=True)) == expected


def test_real_empty_graphml_is_refused(real_data: Path) -> None:
    with pytest.raises(InvalidInputError, match="no edges"):
        read_roads(real_data / "roads" / "osmnx" / "short.graphml")


def test_nyc_published_features_by_hand(real_data: Path) -> None:
    seg = read_roads(real_data / "roads" / "momepy" / "nyc_graph.graphml")
    feat = seg.features()
    i = 0  # Amsterdam Avenue: primary, oneway, 3 lanes, 81.107 m
    assert seg.attrs["highway"][i] == "primary" and seg.attrs["lanes"][i] == "3"
    assert _block(feat, "highway")[i].tolist() == [0, 1, 0, 0, 0, 0]
    assert _block(feat, "lanes")[i].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert _block(feat, "oneway")[i].tolist() == [0, 1]
    assert _block(feat, "length")[i].tolist() == [int(b) for b in np.binary_repr(81, 16)]
    assert _block(feat, "maxspeed")[i].tolist() == [1] + [0] * 11  # missing slot


def test_feature_dictionaries() -> None:
    attrs = {"highway": [["trunk_link", "primary"], "living_street", "track"],
             "maxspeed": ["30 mph", None, "90"], "tunnel": ["no", "building_passage", None],
             "access": ["residents", "destination", "yes"], "length": [1.0, 300.4, 65535.0],
             "oneway": [True, False, None], "reversed": [False, True, False],
             "lanes": ["2", ["1", "2"], None], "bridge": ["viaduct", None, "yes"],
             "junction": [None, "roundabout", None]}
    f = encode_road_features(attrs)
    assert _block(f, "highway").tolist() == [[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0] * 6]
    assert _block(f, "maxspeed")[:, [0, 5, 11]].tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert _block(f, "tunnel").tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 0]]
    assert _block(f, "access").tolist() == [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]]
    assert _block(f, "lanes")[1].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert _block(f, "length")[1].tolist() == [int(b) for b in np.binary_repr(300, 16)]
    assert _block(f, "length")[2].sum() == 16
    assert _block(f, "bridge").tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_line_graph_by_hand() -> None:
    # 0:(1->2) 1:(2->1) 2:(2->3) 3:(3->1)
    ei = line_graph(np.array([1, 2, 2, 3]), np.array([2, 1, 3, 1]))
    assert sorted(zip(ei[0].tolist(), ei[1].tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 0), (2, 3), (3, 0)]


def test_fixture_round_trip(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "city", seed=3, grid=6)
    for rel in ("data_processed/edges.geojson", "data_processed/nodes.geojson",
                "data_processed/road_feat.npz", "data_processed/svi_emb/svi_emb_on_road_50.pt",
                "task/road_function.npz", "task/average_speed.csv"):
        assert (root / rel).is_file(), rel
    ds = GarnerCity(root)
    s = ds[0]
    n = len(ds.segments)
    assert s["road_feat"].shape == (n, 60) and s["svi"].shape == (n, 64)
    assert s["edge_index"].max() < n and s["edge_index"].shape[0] == 2
    assert set(np.unique(s["road_function"].numpy())) <= {-100, 0, 1, 2, 3, 4, 5}
    assert (s["speed"] > 0).all() and s["speed_index"].max() < n
    with np.load(root / "data_processed/road_feat.npz") as z:  # published key
        assert np.array_equal(z["arr_0"], s["road_feat"].numpy())
    assert torch.load(root / "data_processed/svi_emb/svi_emb_on_road_50.pt",
                      weights_only=True).shape == (n, 64)
    fig = ds.plot(s)
    assert fig is not None


def test_missing_city(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="road_feat.npz"):
        GarnerCity(tmp_path)


def test_svi_files(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    arr[2] = 0  # no image matched: imputed with the mean of the others
    np.save(tmp_path / "a.npy", arr)
    got = load_svi(tmp_path / "a.npy", 4)
    assert np.allclose(got[2], arr[[0, 1, 3]].mean(0))
    torch.save(torch.as_tensor(arr), tmp_path / "a.pt")
    assert np.allclose(load_svi(tmp_path / "a.pt", 4), got)
    np.savez(tmp_path / "a.npz", embedding=arr[[0, 1, 3]], road_id=np.array([0, 1, 3]))
    assert np.allclose(load_svi(tmp_path / "a.npz", 4), got)
    with pytest.raises(InvalidInputError, match="4 rows but the network has 5"):
        load_svi(tmp_path / "a.npy", 5)
    torch.save({"x": torch.zeros(2)}, tmp_path / "b.pt")
    with pytest.raises(InvalidInputError, match="one tensor"):
        load_svi(tmp_path / "b.pt", 2)
    with pytest.raises(DataNotFoundError):
        load_svi(tmp_path / "none.npy", 2)


def test_geojson_without_junction_ids(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    lines = [LineString([(0, 0), (0.001, 0)]), LineString([(0.001, 0), (0.001, 0.001)]),
             LineString([(0.001, 0.001), (0, 0)])]
    gpd.GeoDataFrame({"highway": ["primary", "residential", "service"]}, geometry=lines,
                     crs=4326).to_file(tmp_path / "r.geojson", driver="GeoJSON")
    seg = read_roads(tmp_path / "r.geojson")
    assert sorted(zip(*seg.line_graph().tolist(), strict=True)) == [(0, 1), (1, 2), (2, 0)]
    assert 100 < seg.attrs["length"][0] < 125  # metres
    gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=4326).to_file(tmp_path / "p.geojson",
                                                                driver="GeoJSON")
    with pytest.raises(InvalidInputError, match="LineString"):
        read_roads(tmp_path / "p.geojson")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="unsupported"):
        read_roads(tmp_path / "x.txt")
    (tmp_path / "bad.osm").write_text("<osm><way")
    with pytest.raises(InvalidInputError):
        read_roads(tmp_path / "bad.osm")


def test_demo_city_street_view_graph_reflects_configuration() -> None:
    """The demo city must hold the paper's premise (similar street views <=> similar
    geographic configuration, which sets the road function): a segment's 6 street-view
    nearest neighbours (the Third-Law view) share its configuration far more often than its
    road-graph neighbours do. Regression: with the former street-view noise 2.0 they shared
    it 43-48% of the time vs 38-40% for road neighbours (dev seeds 10-12), so the Third-Law
    view was hardly more than a second First-Law view; at 1.5, 70-77%."""
    import torch
    from torch_geometric.utils import to_undirected

    from geoneurips.graphs.garner.model import knn_graph
    from geoneurips.graphs.garner.pipeline import HW_CHANGE, SVI_NOISE
    from geoneurips.graphs.garner.synthetic import synthetic_city

    c = synthetic_city(12, 1000, svi_noise=SVI_NOISE, hw_change=HW_CHANGE)  # quick, seed 0
    knn = knn_graph(torch.as_tensor(c.svi), 6).numpy()
    road = to_undirected(torch.as_tensor(c.segments.line_graph())).numpy()
    road = road[:, road[0] != road[1]]
    same_knn = (c.config[knn[0]] == c.config[knn[1]]).mean()
    same_road = (c.config[road[0]] == c.config[road[1]]).mean()
    assert same_knn > 0.6 and same_knn > same_road + 0.2, (same_knn, same_road)


def test_demo_city_highway_continuity_is_realistic(real_data: Path) -> None:
    """On real OSM a road keeps its ``highway`` class over many consecutive segments: in the
    real extracts (West Oakland, Munich, momepy's NYC) a segment's line-graph neighbours
    share its class about 133/181, 60/90 and 30/80 of the time (63% pooled). The demo city must be
    close to that. Regression: the former city drew the class i.i.d. per street (40-41% on
    dev seeds 10-12, 40% here), so a segment's neighbours carried little of its class and
    aggregating embeddings lost it; with a class per road run (``HW_CHANGE`` = 0.1), 59-61%."""
    from geoneurips.graphs.garner.pipeline import HW_CHANGE, SVI_NOISE
    from geoneurips.graphs.garner.roads import highway_continuity
    from geoneurips.graphs.garner.synthetic import synthetic_city

    real = [highway_continuity(read_roads(real_data / "roads" / name)) for name in (
        "osmnx/West-Oakland.osm.bz2", "osmnx/planet_10.068,48.135_10.071,48.137.osm",
        "momepy/nyc_graph.graphml")]
    # OSMnx merges the tags of simplified ways into lists in set order (it varies with the
    # hash seed); the reader takes a list's highest class, so this is exact
    assert real[0] == (OAKLAND_SAME, 181)
    assert real[1:] == [(60, 90), (30, 80)]
    pooled = sum(s for s, _ in real) / sum(n for _, n in real)
    for seed in (1000, 1001):  # the demo cities of seeds 0 and 1 (full size)
        same, n = highway_continuity(synthetic_city(14, seed, svi_noise=SVI_NOISE,
                                                    hw_change=HW_CHANGE).segments)
        assert abs(same / n - pooled) < 0.08, (same / n, pooled)
    same, n = highway_continuity(synthetic_city(14, 1000, svi_noise=SVI_NOISE).segments)
    assert same / n < pooled - 0.15  # the i.i.d. draw (hw_change=1) is far from real


#: same-class line-graph pairs of the real West Oakland extract (merged lists take their
#: highest class; identical under PYTHONHASHSEED 0, 1, 3; 131 or 133 with the first element)
OAKLAND_SAME = 133


def test_merged_tag_pick_does_not_depend_on_list_order() -> None:
    """Regression: the reader took a merged highway list's first element, whose order OSMnx
    leaves to set iteration (it changed with PYTHONHASHSEED: West Oakland's same-class
    count moved between 131 and 133 across runs). Both orders must give one pick, the
    highest class of the road hierarchy."""
    from geoneurips.graphs.garner.roads import _highway_tag

    assert _highway_tag(["service", "unclassified"]) == "unclassified"
    assert _highway_tag(["unclassified", "service"]) == "unclassified"
    assert _highway_tag("['service', 'unclassified']") == "unclassified"
    assert _highway_tag(["track", "residential"]) == "residential"  # unknown tags last
    assert _highway_tag("residential") == "residential"
    assert _highway_tag([]) is None
