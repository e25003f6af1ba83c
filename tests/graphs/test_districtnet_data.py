"""DistrictNet readers on the real published files (cheikh025/DistrictNet, copies in
/work/shared/data/districtnet) and on our fixture writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.graphs.districtnet.data import (
    DistrictCities,
    read_city,
    read_tsp_costs,
    synthetic_city,
    write_city,
    write_districts,
)
from geoneurips.graphs.districtnet.solver import connected_subsets, size_bounds


@pytest.fixture()
def real(real_data: Path) -> Path:
    return real_data / "districtnet"

def test_paris_real_file(real: Path) -> None:
    city = read_city(real / "Paris.geojson")
    assert city.n == 120
    assert city.population[0] == pytest.approx(2604.76411134233)
    assert city.area[0] == pytest.approx(0.12222174332791746)
    assert city.adjacency[0] == sorted([31, 30, 73, 60, 78, 56, 88, 102, 42])
    for u in range(city.n):  # symmetric, no self loops
        assert u not in city.adjacency[u]
        assert all(u in city.adjacency[v] for v in city.adjacency[u])
    raw = json.loads((real / "Paris.geojson").read_text())["features"]
    assert sum(len(f["properties"]["LIST_ADJACENT"]) for f in raw) == 2 * len(city.edges())
    # local km: BU 0 is ~0.72 km east and ~3.1 km south of the reference point
    assert city.xy[0] == pytest.approx([0.724, -3.115], abs=0.01)
    assert city.polygons is not None and city.polygons[0]["type"] == "Polygon"


def test_city1_first_n_and_dataset(real: Path) -> None:
    city = read_city(real / "city1.geojson", n=10)
    assert city.n == 10
    assert all(v < 10 for nb in city.adjacency for v in nb)
    ds = DistrictCities(real)
    assert len(ds) == 2 and {ds[i].n for i in range(2)} == {30, 120}
    fig = ds.plot(ds[0], [list(range(ds[0].n))])
    assert fig is not None


def test_tsp_costs_real_file(real: Path) -> None:
    costs = read_tsp_costs(real / "city51_C_30_3_tsp.train_and_test.json")
    assert len(costs) == 169
    assert costs[frozenset({0, 1})] == pytest.approx(22.5411)
    assert costs[frozenset({0, 2})] == pytest.approx(19.05148)
    lo, hi = size_bounds(3)
    assert {len(d) for d in costs} <= set(range(lo, hi + 1))


def test_fixture_roundtrip(tmp_path: Path) -> None:
    city = synthetic_city(15, 3)
    back = read_city(write_city(city, tmp_path / "c.geojson"))
    assert back.adjacency == city.adjacency
    np.testing.assert_allclose(back.population, city.population)
    np.testing.assert_allclose(back.xy, city.xy, atol=1e-6)
    out = write_districts(back, [list(range(8)), list(range(8, 15))], tmp_path / "d.geojson")
    labels = [f["properties"]["DISTRICT"] for f in json.loads(out.read_text())["features"]]
    assert labels == [0] * 8 + [1] * 7
    with pytest.raises(InvalidInputError):
        write_districts(back, [list(range(8))], tmp_path / "bad.geojson")
    assert not (tmp_path / "bad.geojson").exists()


def test_synthetic_city_connected() -> None:
    city = synthetic_city(30, 0)
    seen, stack = {0}, [0]
    while stack:
        for v in city.adjacency[stack.pop()]:
            if v not in seen:
                seen.add(v)
                stack.append(v)
    assert len(seen) == 30
    assert min(len(a) for a in city.adjacency) >= 1
    assert len(connected_subsets(city.adjacency, 2, 4)) > 100


def test_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError):
        read_city(tmp_path / "none.geojson")
    with pytest.raises(DataNotFoundError):
        read_tsp_costs(tmp_path / "none.json")
    with pytest.raises(DataNotFoundError):
        DistrictCities(tmp_path)
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"properties": {"AREA": 1, "PERIMETER": 4, "POPULATION": 1, "LIST_ADJACENT": [5],
                        "centre": [0, 0]}}]}))
    with pytest.raises(InvalidInputError, match="neighbour 5"):
        read_city(bad)
    bad.write_text("{}")
    with pytest.raises(InvalidInputError):
        read_city(bad)
