"""OpenSatMap data: the released rasterisation, BGR-on-disk mask_tag, tiling, the reader.

No independent real OpenSatMap file exists in ../shared/data (the dataset is a 300+ MB
Hugging Face download under CC BY-NC-SA) and TorchGeo has no OpenSatMap reader, so the
reader is tested on our fixture, written exactly in the published JSON schema (the seven
attributes and their values from the released ``generate_GT_*`` scripts), and the
rasteriser against OpenCV's line drawing (the released tools' ``cv2.polylines``) where OpenCV
is installed, and against hand-drawn lines everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.opensatmap.data import (
    OpenSatMap,
    read_mask_tag,
    write_fixture,
    write_mmseg_tiles,
)
from geoneurips.segmentation.opensatmap.rasterize import (
    ATTRIBUTES,
    dilate_labels,
    encode_direction,
    line_pixels,
    rasterize_lines,
    tile_boxes,
)


def _line(points: list[list[float]], category: str = "Lane line", **kw: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"points": points, "category": category, "color": "White",
                           "line_type": "Solid", "line_num": "Single", "function": "None",
                           "bidirection": "False", "boundary": "False"}
    rec.update(kw)
    return rec


def test_line_pixels_match_opencv_hand_values() -> None:
    """Pixel lists printed by cv2.polylines(thickness=1) for these end points."""
    assert sorted(line_pixels(0, 0, 5, 2)) == [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (5, 2)]
    assert sorted(line_pixels(0, 0, 2, 5)) == [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 5)]
    assert sorted(line_pixels(0, 4, 6, 0)) == [(0, 4), (1, 3), (2, 3), (3, 2), (4, 1), (5, 1),
                                               (6, 0)]
    # drawn in either direction, the same pixels (OpenCV iterates left to right)
    assert sorted(line_pixels(5, 2, 0, 0)) == sorted(line_pixels(0, 0, 5, 2))


def test_line_pixels_match_opencv_random() -> None:
    cv2 = pytest.importorskip("cv2", reason="OpenCV (the released tools' rasteriser) is "
                              "not a geoneurips dependency; hand values are checked above")
    rng = np.random.default_rng(0)
    for _ in range(300):
        pts = rng.integers(0, 48, size=(int(rng.integers(2, 5)), 2))
        ref = np.zeros((48, 48), np.uint8)
        cv2.polylines(ref, [pts.astype(np.int32)], False, 255, thickness=1)
        ours = rasterize_lines([_line(pts.tolist())], (48, 48)).category
        np.testing.assert_array_equal(ours > 0, ref > 0)


def test_rasterize_crossing_lines_ignore_instance_direction() -> None:
    lines = [_line([[0.7, 2.9], [4.2, 2.1]]),  # truncated to (0, 2) -> (4, 2)
             _line([[2, 0], [2, 5]], "Curb", color="None", line_type="None",
                   line_num="None", boundary="True")]
    r = rasterize_lines(lines, (6, 6))
    cat = r.category
    assert cat[2, 2] == 255 and r.instance[2, 2] == 0  # crossing: ignore / no instance
    assert list(cat[2, :]) == [1, 1, 255, 1, 1, 0]
    assert list(cat[:, 2]) == [2, 2, 255, 2, 2, 2]
    assert r.labels["color"][0, 2] == 4 and r.labels["color"][2, 0] == 1  # None=4, White=1
    assert r.labels["boundary"][0, 2] == 1 and r.labels["boundary"][2, 0] == 2  # True=1
    assert r.labels["line_type"][0, 2] == 6 and r.labels["line_num"][0, 2] == 4
    assert all(r.labels[a][2, 2] == 255 for a in ATTRIBUTES)
    assert r.instance[2, 0] == 1 and r.instance[0, 2] == 2
    # direction (dy, dx): the last pixel of a segment is excluded from its box
    assert r.direction[1, 2, 0] == 1.0 and r.direction[0, 2, 0] == 0.0
    assert r.direction[1, 2, 4] == 0.0
    assert r.direction[0, 0, 2] == 1.0 and r.direction[0, 5, 2] == 0.0
    enc = encode_direction(r.direction)  # in-memory order: ch0 dy, ch1 dx
    assert enc[2, 0].tolist() == [127, 255, 0] and enc[0, 2].tolist() == [255, 127, 0]


def test_unknown_attribute_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="color"):
        rasterize_lines([_line([[0, 0], [3, 0]], color="Purple")], (4, 4))


def test_mask_tag_png_is_bgr_on_disk_and_npy_is_not(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "d", n_train=1, n_val=0, n_test=0, size=64, seed=3)
    ds = OpenSatMap(root, "train", clip=0)
    out = write_mmseg_tiles(ds, tmp_path / "mm")
    png = next((out / "mask_tag" / "train").glob("*-GT.png"))
    raw = np.asarray(Image.open(png))  # RGB as PIL reads it
    gt = rasterize_lines(ds.lines(ds.names[0]), (64, 64))
    assert (raw[..., 0] == 0).all()  # R = cv2's channel 2 = 0
    np.testing.assert_array_equal(raw[..., 2], gt.tag_category)  # B = category
    np.testing.assert_array_equal(raw[..., 1], gt.instance)  # G = instance
    cat, inst = read_mask_tag(png)
    np.testing.assert_array_equal(cat, gt.category)
    d = np.asarray(Image.open(next((out / "angle_direction" / "train").glob("*.png"))))
    assert (d[..., 0] == 0).all()
    np.testing.assert_array_equal(d[..., 2], encode_direction(gt.direction)[..., 0])  # B = dy
    # more than 255 lines: uint16 .npy in memory order (category first)
    many = [_line([[i % 300, 0], [i % 300, 9]]) for i in range(300)]
    r = rasterize_lines(many, (10, 300))
    assert r.instance.dtype == np.uint16 and r.instance.max() == 300
    arr = np.stack([r.tag_category.astype(np.uint16), r.instance, np.zeros_like(r.instance)], -1)
    np.save(tmp_path / "t-GT.npy", arr)
    c2, i2 = read_mask_tag(tmp_path / "t-GT.npy")
    assert c2.max() == 1 and i2.max() == 300


def test_tile_boxes_follow_cut_satellite() -> None:
    boxes = tile_boxes(2048, 2048, 512)
    assert len(boxes) == 16 and {b[0] for b in boxes} == {0, 512, 1024, 1536}
    assert all(b[2] - b[0] == 512 and b[3] - b[1] == 512 for b in boxes)
    assert sorted({b[0] for b in tile_boxes(1000, 1000, 512)}) == [0, 488]
    assert tile_boxes(4096, 4096, 1024)[-1] == (3072, 3072, 4096, 4096)


def test_dilate_labels() -> None:
    lab = np.zeros((7, 7), np.uint8)
    lab[1, :] = 1
    lab[5, :] = 2
    d = dilate_labels(lab, 3)
    assert (d[0:3] == 1).all() and (d[4:7] == 2).all() and (d[3] == 0).all()
    lab[3, :] = 1  # now 1 and 2 meet at row 4
    d = dilate_labels(lab, 3)
    assert (d[4] == 255).all()
    np.testing.assert_array_equal(dilate_labels(lab, 1), lab)


def test_fixture_round_trip_and_schema(tmp_path: Path) -> None:
    root = write_fixture(tmp_path, n_train=2, n_val=1, n_test=1, size=96, seed=0)
    ann = json.loads((root / "annotrainval19.json").read_text())
    assert set(ann) == {*(root / "19train_filenames.txt").read_text().split(),
                        *(root / "19val_filenames.txt").read_text().split()}
    line = next(iter(ann.values()))["lines"][0]
    assert set(line) == {"points", "category", "color", "line_type", "line_num",
                         "function", "bidirection", "boundary"}
    for key, ids in ATTRIBUTES.items():
        assert all(ln[key] in ids for v in ann.values() for ln in v["lines"])
    ds = OpenSatMap(root, "train", clip=64, dilate=3)
    assert len(ds) == 2 * 4  # 96 px cut into 64-px tiles: starts 0 and 32
    s = ds[0]
    assert s["image"].shape == (3, 64, 64) and s["mask"].shape == (64, 64)
    assert s["direction"].shape == (2, 64, 64)
    assert {"color", "line_type", "line_num", "function", "bidirection", "boundary",
            "instance"} <= set(s)
    full = OpenSatMap(root, "train", clip=0)
    assert int((full[0]["mask"] == 2).sum()) > 50  # curbs drawn
    test = OpenSatMap(root, "test", clip=0)
    assert set(test[0]) == {"image"}
    fig = ds.plot(s, suptitle="x")
    assert fig is not None


def test_black_tiles_dropped(tmp_path: Path) -> None:
    root = write_fixture(tmp_path, n_train=1, n_val=0, n_test=0, size=64, seed=1)
    p = next((root / "train").glob("*.png"))
    img = np.asarray(Image.open(p)).copy()
    img[:32, :32] = 0
    Image.fromarray(img).save(p)
    assert len(OpenSatMap(root, "train", clip=32)) == 3


def test_missing_and_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="huggingface"):
        OpenSatMap(tmp_path, "train")
    root = write_fixture(tmp_path / "d", n_train=1, n_val=0, n_test=0, size=32)
    with pytest.raises(InvalidInputError):
        OpenSatMap(root, "training")
    with pytest.raises(InvalidInputError):
        OpenSatMap(root, "train", level=18)
    next((root / "train").glob("*.png")).unlink()
    with pytest.raises(DataNotFoundError, match="train/"):
        OpenSatMap(root, "train")
    root2 = write_fixture(tmp_path / "e", n_train=1, n_val=0, n_test=0, size=32)
    ann = json.loads((root2 / "annotrainval19.json").read_text())
    next(iter(ann.values()))["lines"][0]["category"] = "Road"
    (root2 / "annotrainval19.json").write_text(json.dumps(ann))
    ds = OpenSatMap(root2, "train", clip=0)
    with pytest.raises(InvalidInputError, match="schema"):
        ds[0]
