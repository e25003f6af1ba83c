"""PECL data: DOTA label reader (devkit and TorchGeo layouts), sparse protocol, COCO export.

Independent files: TorchGeo's own DOTA test fixture (``../shared/data/torchgeo_fixtures/
dota``), read by our reader and by ``torchgeo.datasets.DOTA`` and compared; our fixture in
the TorchGeo layout is read by TorchGeo the same way.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.learning.pecl.data import (
    DOTA_CLASSES,
    DOTADetection,
    DotaObject,
    parse_dota_txt,
    read_dota_txt,
    sparse_annotations,
    to_coco,
    write_fixture,
    write_sparse_labels,
)
from geoneurips.learning.pecl.synthetic import SCENE_CLASSES, make_scenes


def _tg_dota() -> type:
    from torchgeo.datasets import DOTA

    return DOTA  # type: ignore[no-any-return]


@pytest.mark.parametrize(("split", "version"), [("train", "1.0"), ("val", "2.0"),
                                                ("train", "1.5")])
def test_torchgeo_fixture_read_like_torchgeo(real_data: Path, split: str, version: str) -> None:
    root = real_data / "torchgeo_fixtures" / "dota"
    ours = DOTADetection(root, split=split, version=version)
    dota = _tg_dota()
    tg_o = dota(root, split=split, version=version, bbox_orientation="oriented")
    tg_h = dota(root, split=split, version=version, bbox_orientation="horizontal")
    assert len(ours) == len(tg_o) > 0
    n_obj = 0
    for i in range(len(ours)):
        a, b, c = ours[i], tg_o[i], tg_h[i]
        torch.testing.assert_close(a["image"], b["image"])
        torch.testing.assert_close(a["bbox"], b["bbox"].float())
        torch.testing.assert_close(a["bbox_xyxy"], c["bbox_xyxy"].float())
        assert a["labels"].tolist() == b["labels"].tolist()
        n_obj += len(a["labels"])
    assert n_obj > 0
    assert tuple(dota.classes) == DOTA_CLASSES


def test_our_fixture_read_by_torchgeo(tmp_path: Path) -> None:
    scenes = make_scenes(3, seed=5, size=48)
    write_fixture(tmp_path, scenes, split="train", layout="torchgeo", version="1.0")
    tg = _tg_dota()(tmp_path, split="train", version="1.0", bbox_orientation="oriented")
    ours = DOTADetection(tmp_path, split="train", version="1.0")
    assert len(tg) == len(ours) == 3
    for i, (img, objs) in enumerate(scenes):
        s = tg[i]
        assert np.array_equal(s["image"].numpy().transpose(1, 2, 0), img)
        assert s["labels"].tolist() == [DOTA_CLASSES.index(o.label) for o in objs]
        torch.testing.assert_close(s["bbox"].float(), ours[i]["bbox"])
        np.testing.assert_allclose(ours[i]["bbox"].numpy(),
                                   np.array([o.poly for o in objs]).reshape(-1, 8), atol=0.06)


def test_devkit_layout_round_trip_and_plot(tmp_path: Path) -> None:
    scenes = make_scenes(2, seed=1, size=48)
    write_fixture(tmp_path, scenes, split="train")
    assert (tmp_path / "train" / "labelTxt" / "P0000.txt").is_file()
    ds = DOTADetection(tmp_path, split="train", classes=SCENE_CLASSES)
    s = ds[1]
    assert s["image"].shape == (3, 48, 48)
    assert s["labels"].tolist() == [SCENE_CLASSES.index(o.label) for o in scenes[1][1]]
    x = s["bbox_xyxy"].numpy()
    assert np.all(x[:, 2] > x[:, 0]) and np.all(x[:, 3] > x[:, 1])
    fig = ds.plot(s)
    assert fig is not None


def test_parse_headers_difficult_and_bad_lines(tmp_path: Path) -> None:
    lab = parse_dota_txt("imagesource:GoogleEarth\ngsd:None\n\n"
                         "1 2 3 2 3 4 1 4 plane 1\n5 5 9 5 9 9 5 9 ship\n")
    assert lab.imagesource == "GoogleEarth" and lab.gsd is None
    assert [o.difficult for o in lab.objects] == [1, 0]
    assert lab.objects[0].hbb == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(InvalidInputError, match=":1:"):
        parse_dota_txt("1 2 3 plane")
    with pytest.raises(InvalidInputError):
        parse_dota_txt("1 2 3 4 5 6 7 x plane 0")
    with pytest.raises(DataNotFoundError, match="DOTA"):
        DOTADetection(tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError):
        read_dota_txt(tmp_path / "missing.txt")


def _objs(counts: dict[str, int]) -> list[DotaObject]:
    out = []
    for c, n in counts.items():
        for k in range(n):
            out.append(DotaObject((k, 0, k + 1, 0, k + 1, 1, k, 1), c))
    return out


def test_sparse_protocol_counts() -> None:
    objs = _objs({"plane": 45, "ship": 3, "small-vehicle": 120})
    objs.append(DotaObject((0, 0, 1, 0, 1, 1, 0, 1), "harbor", difficult=2))
    kept = sparse_annotations(objs, 0.05, random.Random(0))
    cnt = Counter(o.label for o in kept)
    # max(1, int(n * ratio)): 45 -> 2, 3 -> 1 (at least one), 120 -> 6; difficult 2 dropped
    assert cnt == {"plane": 2, "ship": 1, "small-vehicle": 6}
    assert all(o in objs for o in kept)
    again = sparse_annotations(objs, 0.05, random.Random(0))
    assert again == kept
    assert Counter(o.label for o in sparse_annotations(objs, 0.1, random.Random(1))) == {
        "plane": 4, "ship": 1, "small-vehicle": 12}
    with pytest.raises(InvalidInputError):
        sparse_annotations(objs, 0.0, random.Random(0))


def test_write_sparse_labels_layout(tmp_path: Path) -> None:
    write_fixture(tmp_path, make_scenes(3, seed=2, size=64), split="train")
    out = write_sparse_labels(tmp_path / "train" / "labelTxt", 0.05, seed=0)
    assert out.name == "labelTxt_0.05"
    full = DOTADetection(tmp_path, "train", classes=SCENE_CLASSES)
    sparse = DOTADetection(tmp_path, "train", label_dir="labelTxt_0.05", classes=SCENE_CLASSES)
    for i in range(3):
        fc = Counter(o.label for o in full.objects(i))
        sc = Counter(o.label for o in sparse.objects(i))
        assert sc == {c: max(1, int(n * 0.05)) for c, n in fc.items()}


def test_coco_export_with_pycocotools(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    write_fixture(tmp_path, make_scenes(2, seed=3, size=48), split="train")
    ds = DOTADetection(tmp_path, "train", classes=SCENE_CLASSES)
    path = tmp_path / "DOTA_train_0.05.json"
    to_coco(ds, path=path)
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 2
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(SCENE_CLASSES)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    objs = ds.objects(0)
    assert len(anns) == len(objs)
    for a, o in zip(anns, objs, strict=True):
        x0, y0, x1, y1 = o.hbb
        assert a["bbox"] == pytest.approx([x0, y0, x1 - x0, y1 - y0])
        assert a["area"] == pytest.approx((x1 - x0) * (y1 - y0))  # axis-aligned polygons
        assert a["category_id"] == SCENE_CLASSES.index(o.label) + 1
    m = coco.annToMask(anns[0])
    assert m.sum() > 0
