"""OAM-TCD `tcd-segment --instances`: Mask R-CNN checkpoints, tiled instance polygons as
GeoJSON in the raster's CRS, one feature per instance across tile overlaps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import typer
from affine import Affine
from shapely.geometry import shape
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.oamtcd.cli import tcd_segment
from geoneurips.segmentation.oamtcd.instance import (
    MaskRCNNConfig,
    build_mask_rcnn,
    green_instances,
)
from geoneurips.segmentation.oamtcd.instance_raster import (
    instances_to_geojson,
    load_mask_rcnn,
    save_mask_rcnn,
    tile_starts,
)

X0, Y0, RES = 1009956.8, 6161233.2, 0.1
# (row, col, radius) of green discs; two straddle the tile seams of 64 px tiles, overlap 24
DISCS = [(10, 10, 5), (30, 44, 6), (60, 20, 7), (75, 75, 5), (88, 40, 6)]


def _geotiff(path: Path, size: int = 100) -> Path:
    img = np.zeros((3, size, size), np.uint8)
    img[:] = np.array([130, 105, 80], np.uint8)[:, None, None]
    rr, cc = np.mgrid[:size, :size]
    for r, c, rad in DISCS:
        img[:, (rr - r) ** 2 + (cc - c) ** 2 <= rad ** 2] = np.array([40, 120, 30])[:, None]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs="EPSG:3395",
                       transform=Affine(RES, 0, X0, 0, -RES, Y0)) as ds:
        ds.write(img)
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(tcd_segment)
    return app


def test_tile_starts_cover_the_raster() -> None:
    assert tile_starts(50, 64, 16) == [0]
    assert tile_starts(100, 64, 24) == [0, 36]
    assert tile_starts(200, 64, 16) == [0, 48, 96, 136]


def test_polygons_in_raster_crs_once_per_instance(tmp_path: Path) -> None:
    """Green-disc connected components as the predictor: every disc becomes exactly one
    polygon (none duplicated or cut at tile seams) at its world position and area."""
    img = _geotiff(tmp_path / "a.tif")
    fc = instances_to_geojson(img, tmp_path / "a.geojson",
                              lambda t: green_instances(t.numpy()), tile_size=64, overlap=24)
    assert fc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::3395"
    on_disk = json.loads((tmp_path / "a.geojson").read_text())
    assert on_disk == json.loads(json.dumps(fc))
    feats = fc["features"]
    assert len(feats) == len(DISCS)
    got = sorted((-shape(f["geometry"]).centroid.y, shape(f["geometry"]).centroid.x,
                  shape(f["geometry"]).area, f["properties"]["area_px"]) for f in feats)
    for (r, c, rad), (y, x, area, npx) in zip(sorted(DISCS), got, strict=True):
        assert -y == pytest.approx(Y0 - (r + 0.5) * RES, abs=0.02)
        assert x == pytest.approx(X0 + (c + 0.5) * RES, abs=0.02)
        assert area == pytest.approx(npx * RES * RES)  # the whole disc, not a cut piece
        assert npx == pytest.approx(np.pi * rad ** 2, rel=0.15)
    assert {f["properties"]["class"] for f in feats} == {"tree"}


def test_cli_instances_with_mask_rcnn_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = MaskRCNNConfig.tiny(64, box_score_thresh=0.0, detections_per_img=5)
    ck = save_mask_rcnn(tmp_path / "m.pt", build_mask_rcnn(cfg), cfg)
    model, cfg2 = load_mask_rcnn(ck)
    assert cfg2 == cfg
    img = _geotiff(tmp_path / "a.tif")
    out = tmp_path / "out.geojson"
    res = CliRunner().invoke(_app(), [str(img), "-o", str(out), "--checkpoint", str(ck),
                                      "--instances", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    fc = json.loads(out.read_text())
    assert info["instances"] == len(fc["features"]) > 0
    assert info["crs"] == "urn:ogc:def:crs:EPSG::3395"
    for f in fc["features"]:
        b = shape(f["geometry"]).bounds
        assert X0 - 1e-6 <= b[0] and b[2] <= X0 + 10 + 1e-6
        assert Y0 - 10 - 1e-6 <= b[1] and b[3] <= Y0 + 1e-6
        assert f["properties"]["label"] in (1, 2) and 0 <= f["properties"]["score"] <= 1


def test_instances_errors(tmp_path: Path) -> None:
    from geoneurips.io import save_checkpoint

    sem = save_checkpoint(tmp_path / "s.pt", {"w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="Mask R-CNN config"):
        load_mask_rcnn(sem)
    img = _geotiff(tmp_path / "a.tif")
    with pytest.raises(InvalidInputError, match="overlap"):
        instances_to_geojson(img, tmp_path / "x.geojson", lambda t: [], tile_size=64,
                             overlap=40)
    (tmp_path / "bad.tif").write_bytes(b"nope")
    with pytest.raises(InvalidInputError, match="cannot read"):
        instances_to_geojson(tmp_path / "bad.tif", tmp_path / "y.geojson", lambda t: [],
                             tile_size=64, overlap=8)
    assert not (tmp_path / "x.geojson").exists() and not (tmp_path / "y.geojson").exists()
