"""geoneurips.raster.vectorize.mask_to_geojson: geometry, properties, CRS, file output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.features
from affine import Affine
from shapely.geometry import shape

from geoneurips.errors import InvalidInputError
from geoneurips.raster.io import read_raster
from geoneurips.raster.vectorize import mask_to_geojson

T = Affine(10.0, 0.0, 1000.0, 0.0, -10.0, 5000.0)


def _mask() -> np.ndarray:
    m = np.zeros((12, 12), np.uint8)
    m[1:4, 1:4] = 1  # 9 px square ...
    m[4, 4] = 1  # ... plus a diagonal neighbour (joined only with 8-connectivity)
    m[6:11, 6:11] = 2  # 5x5 ring of class 2 with a hole
    m[8, 8] = 0
    m[0, 11] = 3  # a single pixel of class 3
    return m


def test_polygons_properties_and_crs() -> None:
    m = _mask()
    scores = np.arange(144, dtype=np.float64).reshape(12, 12)
    fc = mask_to_geojson(m, T, "EPSG:32618", scores=scores)
    assert fc["type"] == "FeatureCollection"
    assert fc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32618"
    props = [f["properties"] for f in fc["features"]]
    assert [(p["value"], p["area_pixels"]) for p in props] == [(1, 10), (2, 24), (3, 1)]
    # hand values: mean of the scores of each component
    sq = [r * 12 + c for r in range(1, 4) for c in range(1, 4)] + [4 * 12 + 4]
    assert props[0]["score"] == pytest.approx(np.mean(sq))
    assert props[2]["score"] == pytest.approx(11.0)
    ring = shape(fc["features"][1]["geometry"])
    assert len(ring.interiors) == 1  # the hole
    assert ring.area == pytest.approx(24 * 100.0)  # CRS units: 10 m pixels
    assert ring.bounds == (1060.0, 5000.0 - 110.0, 1110.0, 5000.0 - 60.0)
    assert ring.exterior.is_ccw
    assert [f["id"] for f in fc["features"]] == [0, 1, 2]


def test_connectivity_values_min_pixels() -> None:
    m = _mask()
    four = mask_to_geojson(m, T, None, connectivity=4)
    assert "crs" not in four
    assert sorted(f["properties"]["area_pixels"] for f in four["features"]) == [1, 1, 9, 24]
    only2 = mask_to_geojson(m, T, None, values=[2])
    assert [f["properties"]["value"] for f in only2["features"]] == [2]
    big = mask_to_geojson(m, T, None, min_pixels=10)
    assert [f["properties"]["area_pixels"] for f in big["features"]] == [10, 24]
    boolean = mask_to_geojson(m > 0, T, None)
    assert [f["properties"]["value"] for f in boolean["features"]] == [1, 1, 1]
    empty = mask_to_geojson(np.zeros((5, 5), np.uint8), T, None)
    assert empty["features"] == []


def test_real_labels_round_trip(real_data: Path, tmp_path: Path) -> None:
    """Rasterizing the polygons of Sen1Floods11 water labels gives the mask back."""
    lab, info = read_raster(real_data / "sen1floods11" / "Spain_7370579_LabelHand.tif")
    water = lab[0]
    out = tmp_path / "water.geojson"
    fc = mask_to_geojson(water, info.transform, info.crs, path=out, values=[1])
    assert json.loads(out.read_text()) == fc
    assert fc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4326"
    assert sum(f["properties"]["area_pixels"] for f in fc["features"]) == int((water == 1).sum())
    burned = rasterio.features.rasterize(
        [(f["geometry"], 1) for f in fc["features"]], out_shape=water.shape,
        transform=info.transform, dtype="uint8",
    )
    assert np.array_equal(burned == 1, water == 1)
    px_area = abs(info.transform.a * info.transform.e)
    for f in fc["features"][:50]:
        assert shape(f["geometry"]).area / px_area == pytest.approx(
            f["properties"]["area_pixels"], rel=1e-6)
    # default values = every non-zero value, which includes the -1 nodata class here
    assert {-1, 1} == {f["properties"]["value"] for f in mask_to_geojson(
        water, info.transform, info.crs)["features"]}
    assert [p.name for p in tmp_path.iterdir()] == ["water.geojson"]


def test_bad_inputs(tmp_path: Path) -> None:
    m = _mask()
    with pytest.raises(InvalidInputError, match="2-D"):
        mask_to_geojson(np.zeros((2, 3, 3), np.uint8), T, None)
    with pytest.raises(InvalidInputError, match="dtype float"):
        mask_to_geojson(m.astype(float), T, None)
    with pytest.raises(InvalidInputError, match="scores"):
        mask_to_geojson(m, T, None, scores=np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="connectivity"):
        mask_to_geojson(m, T, None, connectivity=6)
    assert list(tmp_path.iterdir()) == []
