"""OpenSatMap reader and rasterisation on real, published annotations (files we did not write).

The excerpt below is transcribed from the two annotation files the OpenSatMap authors publish
with their Colab demo, https://github.com/bjzhb666/OpensatMap-demo (``FO.json``: image
``flyover2_0_0_sat.png``, 162 lines; ``RA.json``: ``roundabout5_-1_-1_sat.png``, 209 lines;
both 4096 x 4096 level-20 images; snapshot at commit 3f0c8fc; data licence CC BY-NC-SA 4.0 as
the dataset). Eight of the 371 lines are kept, with every key and value exactly as
published, including the keys our rasteriser does not use (``clearness``, ``occlusion``) and
the string booleans; they were chosen to cover a shared end point between two lines (an
overlap pixel), a repeated point, and the rarer values (``Virtual line``, ``Others`` colour,
``Thick solid`` / ``Short dashed``, ``Chevron markings`` / ``Parking space``,
``bidirection: "True"``). The demo's PNG images are not in the repository snapshot (Git
LFS), so the reader is given grey images of the published size. Outside the suite, the
complete FO.json was rasterised once by the current pixel-list code (2 s of CPU) and by the
previous whole-image code (30 s) with identical label, instance, tag and direction maps, and
every attribute value of both files is one of the tools' ids (:data:`ATTRIBUTES`).

The project page (opensatmap.github.io, "Annotation Format") documents ``bidirection`` and
``boundary`` as ``bool``; :func:`test_boolean_attributes_of_the_project_page_schema` checks
that form gives the same labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from geoneurips.errors import InvalidInputError
from geoneurips.segmentation.opensatmap.data import OpenSatMap
from geoneurips.segmentation.opensatmap.rasterize import line_pixels, rasterize_lines

FO_EXCERPT = """{"flyover2_0_0_sat.png": {"image_width": 4096, "image_height": 4096, "lines": [
{"category": "Lane line", "points": [[2027.1499, 2633.1573], [1704.5998, 2837.8004],
 [1406.4443, 3008.5622]], "color": "Others", "line_type": "Solid", "boundary": "True",
 "clearness": "Clear", "line_num": "Single", "bidirection": "False", "occlusion": "No",
 "function": "None"},
{"category": "Curb", "points": [[1406.4443, 3008.5622], [1299.7199, 3076.3773],
 [1202.6352, 3140.2488]], "color": "None", "line_type": "None", "boundary": "True",
 "clearness": "Clear", "line_num": "None", "bidirection": "False", "occlusion": "No",
 "function": "None"},
{"category": "Curb", "points": [[937.8676, 3304.9013], [878.1844, 3338.3239],
 [697.5431, 3433.8171]], "color": "None", "line_type": "None", "boundary": "True",
 "clearness": "Clear", "line_num": "None", "bidirection": "False", "occlusion": "No",
 "function": "None"},
{"category": "Lane line", "points": [[1962.3638, 2599.2674], [1863.6894, 2664.2177],
 [1665.0915, 2787.873], [1551.7378, 2854.0154], [1388.6583, 2937.5199],
 [1147.9688, 3058.3559], [1005.5199, 3131.054]], "color": "White",
 "line_type": "Thick solid", "boundary": "True", "clearness": "Clear", "line_num": "Single",
 "bidirection": "False", "occlusion": "No", "function": "Chevron markings"},
{"category": "Lane line", "points": [[3157.3112, 2867.8462], [3157.3112, 2867.8462],
 [3320.34, 2959.4648], [3511.6455, 3063.6728], [3661.4834, 3147.0146],
 [3837.9197, 3243.6556], [3972.6851, 3317.2446], [4087.0584, 3381.0808]],
 "color": "White", "line_type": "Short dashed", "boundary": "False", "clearness": "Clear",
 "line_num": "Single", "bidirection": "False", "occlusion": "No", "function": "None"}
]}}"""

RA_EXCERPT = """{"roundabout5_-1_-1_sat.png": {"image_width": 4096, "image_height": 4096, "lines": [
{"category": "Virtual line", "points": [[521.6574, 2361.5167], [637.4439, 2340.1443]],
 "color": "None", "line_type": "None", "boundary": "True", "clearness": "Clear",
 "line_num": "None", "bidirection": "False", "occlusion": "No", "function": "None"},
{"category": "Lane line", "points": [[0, 2535.2594], [123.555, 2513.5801]],
 "color": "White", "line_type": "Solid", "boundary": "False", "clearness": "Clear",
 "line_num": "Single", "bidirection": "False", "occlusion": "No",
 "function": "Parking space"},
{"category": "Lane line", "points": [[1438.9193, 4008.153], [1518.1674, 3993.1601]],
 "color": "White", "line_type": "Solid", "boundary": "True", "clearness": "Clear",
 "line_num": "Single", "bidirection": "True", "occlusion": "Major", "function": "None"}
]}}"""


def _excerpt(text: str) -> tuple[str, dict[str, Any]]:
    name, entry = next(iter(json.loads(text).items()))
    return name, entry


def _mid(points: list[list[float]]) -> tuple[int, int]:
    """``(x, y)`` of the middle pixel of the first segment, as OpenCV draws it."""
    a, b = np.asarray(points[:2], dtype=np.float64).astype(np.int32)
    px = line_pixels(int(a[0]), int(a[1]), int(b[0]), int(b[1]))
    return px[len(px) // 2]


def test_real_annotations_rasterise_with_the_tools_ids() -> None:
    _, fo = _excerpt(FO_EXCERPT)
    lines = fo["lines"]
    r = rasterize_lines(lines, (fo["image_height"], fo["image_width"]))
    expect = [  # line -> (category, color, line_type, function, boundary) ids
        (1, 3, 1, 1, 1),  # Lane line, Others, Solid, None, True
        (2, 4, 6, 1, 1),  # Curb, None, None, None, True
        (2, 4, 6, 1, 1),
        (1, 1, 3, 7, 1),  # White, Thick solid, Chevron markings
        (1, 1, 4, 1, 2),  # Short dashed, boundary False
    ]
    for i, (line, (cat, col, typ, fun, bnd)) in enumerate(zip(lines, expect, strict=True)):
        x, y = _mid(line["points"])
        assert r.category[y, x] == cat, i
        assert r.labels["color"][y, x] == col and r.labels["line_type"][y, x] == typ, i
        assert r.labels["function"][y, x] == fun and r.labels["boundary"][y, x] == bnd, i
        assert r.instance[y, x] == i + 1, i
    # lines 0 and 1 share an end point: an overlap pixel, ignored everywhere
    x, y = 1406, 3008
    assert r.category[y, x] == 255 and r.instance[y, x] == 0 and r.tag_category[y, x] == 255
    assert all(lab[y, x] == 255 for lab in r.labels.values())
    assert r.direction[:, y, x].tolist() == [0.0, 0.0]
    # direction of line 0's first segment, (dy, dx) of the truncated points
    x, y = _mid(lines[0]["points"])
    d = np.array([2837 - 2633, 1704 - 2027], dtype=np.float64)
    np.testing.assert_allclose(r.direction[:, y, x], d / np.hypot(*d), rtol=1e-6)
    # line 4 repeats its first point: the tag script's de-duplication changes nothing here
    np.testing.assert_array_equal(r.tag_category, r.category)
    assert r.instance.dtype == np.uint8 and int(r.instance.max()) == 5

    _, ra = _excerpt(RA_EXCERPT)
    r = rasterize_lines(ra["lines"], (4096, 4096))
    (vx, vy), (px, py), (bx, by) = (_mid(ln["points"]) for ln in ra["lines"])
    assert r.category[vy, vx] == 3 and r.labels["color"][vy, vx] == 4  # Virtual line
    assert r.labels["function"][py, px] == 8  # Parking space
    assert r.labels["bidirection"][by, bx] == 2 and r.labels["bidirection"][py, px] == 1
    assert r.labels["line_num"][by, bx] == 1 and r.labels["line_num"][vy, vx] == 4


def test_boolean_attributes_of_the_project_page_schema() -> None:
    _, fo = _excerpt(FO_EXCERPT)
    as_bool = json.loads(json.dumps(fo["lines"]))
    for ln in as_bool:
        for key in ("bidirection", "boundary"):
            ln[key] = ln[key] == "True"
    a = rasterize_lines(fo["lines"], (4096, 4096))
    b = rasterize_lines(as_bool, (4096, 4096))
    for key in a.labels:
        np.testing.assert_array_equal(a.labels[key], b.labels[key])


def _write_level20(root: Path, fo_text: str = FO_EXCERPT) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    ann = {**json.loads(fo_text), **json.loads(RA_EXCERPT)}
    (root / "annotrainval20.json").write_text(json.dumps(ann))
    for split, name in (("train", "flyover2_0_0_sat.png"), ("val", "roundabout5_-1_-1_sat.png")):
        (root / split).mkdir(exist_ok=True)
        Image.new("RGB", (4096, 4096), (96, 96, 96)).save(root / split / name)
        (root / f"20{split}_filenames.txt").write_text(name + "\n")
    return root


def test_real_annotations_through_the_level20_reader(tmp_path: Path) -> None:
    root = _write_level20(tmp_path / "osm20")
    ds = OpenSatMap(root, "train", level=20, dilate=3)
    assert ds.clip == 1024 and len(ds) == 16
    _, fo = _excerpt(FO_EXCERPT)
    x, y = _mid(fo["lines"][3]["points"])  # the chevron line
    idx = next(i for i, (_, b) in enumerate(ds.tiles)
               if b[0] <= x < b[2] and b[1] <= y < b[3])
    x0, y0 = ds.tiles[idx][1][:2]
    s = ds[idx]
    assert s["image"].shape == (3, 1024, 1024)
    assert int(s["mask"][y - y0, x - x0]) == 1 and int(s["function"][y - y0, x - x0]) == 7
    assert int(s["line_type"][y - y0, x - x0]) == 3 and int(s["instance"][y - y0, x - x0]) == 4
    # dilated by 3: the neighbours across the line carry the same labels
    assert int(s["function"][y - y0 + 1, x - x0]) == 7 and int(s["mask"][y - y0 - 1, x - x0]) == 1
    val = OpenSatMap(root, "val", level=20, dilate=1)
    _, ra = _excerpt(RA_EXCERPT)
    vx, vy = _mid(ra["lines"][0]["points"])
    j = next(i for i, (_, b) in enumerate(val.tiles) if b[0] <= vx < b[2] and b[1] <= vy < b[3])
    bx, by = val.tiles[j][1][:2]
    assert int(val[j]["mask"][vy - by, vx - bx]) == 3
    assert int(sum(int((val[i]["mask"] == 3).sum()) for i in range(len(val)))) == len(
        line_pixels(521, 2361, 637, 2340))


def test_image_size_of_the_annotation_is_checked(tmp_path: Path) -> None:
    root = _write_level20(tmp_path / "bad", FO_EXCERPT.replace('"image_width": 4096',
                                                               '"image_width": 2048'))
    ds = OpenSatMap(root, "train", level=20)
    with pytest.raises(InvalidInputError, match="2048x4096"):
        ds[0]
