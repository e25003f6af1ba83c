"""``pecl-detect``: boxes on a GeoTIFF written as georeferenced GeoJSON, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.learning.pecl.cli import detect_geotiff
from geoneurips.learning.pecl.detector import CenterDetector, load_detector, save_detector
from geoneurips.learning.pecl.synthetic import SCENE_CLASSES, make_scenes


def _geotiff(path: Path, img: np.ndarray) -> None:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=img.shape[1], height=img.shape[0],
                       count=3, dtype="uint8", crs="EPSG:32633",
                       transform=from_origin(500000.0, 4100000.0, 0.5, 0.5)) as ds:
        ds.write(img.transpose(2, 0, 1))


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    model = CenterDetector(3, 16).eval()
    ckpt = save_detector(tmp_path / "det.pt", model, SCENE_CLASSES)
    img = make_scenes(1, seed=4, size=96)[0][0]
    tif = tmp_path / "scene.tif"
    _geotiff(tif, img)
    return tif, ckpt


def test_checkpoint_round_trip(setup: tuple[Path, Path]) -> None:
    _, ckpt = setup
    model, classes = load_detector(ckpt)
    assert classes == list(SCENE_CLASSES) and model.num_classes == 3


def test_geojson_is_georeferenced(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tif, ckpt = setup
    out = tmp_path / "boxes.geojson"
    res = detect_geotiff(tif, ckpt, out, min_score=0.0, tile=64, overlap=16)
    fc = json.loads(out.read_text())
    assert res["objects"] == len(fc["features"]) > 0
    assert fc["crs"]["properties"]["name"] == "EPSG:32633"
    for f in fc["features"]:
        x0, y0, x1, y1 = f["properties"]["pixel_box"]
        ring = f["geometry"]["coordinates"][0]
        assert ring[0] == pytest.approx([500000.0 + 0.5 * x0, 4100000.0 - 0.5 * y0], abs=0.01)
        assert ring[2] == pytest.approx([500000.0 + 0.5 * x1, 4100000.0 - 0.5 * y1], abs=0.01)
        assert f["properties"]["class"] in SCENE_CLASSES
    # duplicates from overlapping tiles are merged: no two same-class boxes with IoU > 0.5
    from geoneurips.learning.pecl.metrics import hbb_iou

    boxes = np.array([f["properties"]["pixel_box"] for f in fc["features"]])
    cls = [f["properties"]["class"] for f in fc["features"]]
    for i in range(len(boxes)):
        same = [j for j in range(i) if cls[j] == cls[i]]
        if same:
            assert hbb_iou(boxes[i], boxes[same], 0.0).max() <= 0.5


def test_bad_inputs_leave_no_output(setup: tuple[Path, Path], tmp_path: Path) -> None:
    tif, ckpt = setup
    out = tmp_path / "x.geojson"
    with pytest.raises(InvalidInputError, match="bands"):
        detect_geotiff(tif, ckpt, out, bands=(1, 2, 4))
    with pytest.raises(InvalidInputError, match="min-score"):
        detect_geotiff(tif, ckpt, out, min_score=2.0)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        detect_geotiff(tif, bad, out)
    with pytest.raises(InvalidInputError):
        detect_geotiff(tmp_path / "missing.tif", ckpt, out)
    assert not out.exists()
