"""debLoRA readers: DOTA object crops (TorchGeo's DOTA fixture, our fixture, TorchGeo reading
our fixture) and FUSRS v2 (our fixture only: no FUSRS file exists that we did not write)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.learning.deblora.data import (
    DOTA_CLASS_GROUPS,
    DOTA_CLASSES,
    DOTA_LT_SPLIT_CONFIG,
    DOTA_V1_CLASSES,
    FUSRS,
    FUSRS_CLASSES,
    DOTAObjectCrops,
    read_dota_annotation,
    read_dota_objects,
    write_dota_crops,
    write_dota_fixture,
    write_fusrs_fixture,
)


def _torchgeo_boxes(root: Path, split: str) -> list[tuple[tuple[float, ...], str]]:
    from torchgeo.datasets import DOTA

    ds = DOTA(root, split=split, version="1.0", bbox_orientation="horizontal")
    out = []
    for i in range(len(ds)):
        s = ds[i]
        for box, lab in zip(s["bbox_xyxy"].tolist(), s["labels"].tolist(), strict=True):
            out.append((tuple(box), DOTA.classes[lab]))
    return out


def test_classes_and_groups() -> None:
    assert list(DOTA_CLASSES) == sorted(DOTA_V1_CLASSES) and len(DOTA_CLASSES) == 15
    assert DOTA_CLASSES.index("baseball-diamond") == 0 and DOTA_CLASSES.index("swimming-pool") == 13
    for groups in (DOTA_CLASS_GROUPS, DOTA_LT_SPLIT_CONFIG):
        flat = [c for g in groups.values() for c in g]
        assert sorted(flat) == sorted(DOTA_CLASSES)  # a partition of the 15 classes
    from torchgeo.datasets import DOTA

    assert tuple(DOTA.classes[:15]) == DOTA_V1_CLASSES


def test_crops_from_torchgeo_fixture(real_data: Path, tmp_path: Path) -> None:
    """TorchGeo's own DOTA fixture (files we did not write): our crops match TorchGeo's
    horizontal boxes and classes, and the pixels match the source image."""
    src = real_data / "torchgeo_fixtures" / "dota"
    for split in ("train", "val"):
        objs = read_dota_objects(src, split)
        ours = [(o.box, o.name) for o in objs]
        assert ours == _torchgeo_boxes(src, split)
        index = write_dota_crops(src, tmp_path / "crops", split)
        assert index.name == f"dota_{split}_idx.txt"
    ds = DOTAObjectCrops(tmp_path / "crops", "train", size=None)
    assert len(ds) == 4  # P0001 and P0002 each hold a plane and a ship; P0000 is empty
    s = ds[0]
    assert DOTA_CLASSES[int(s["label"])] == "plane"
    x0, y0, x1, y1 = s["box"].tolist()
    assert (x0, y0, x1, y1) == (8, 10, 20, 20)
    full = np.asarray(Image.open(src / "train" / "images" / "P0001.png").convert("RGB"))
    np.testing.assert_array_equal(s["image"].numpy().transpose(1, 2, 0), full[y0:y1, x0:x1])
    assert ds.class_counts()[DOTA_CLASSES.index("ship")] == 2


def test_our_fixture_read_by_torchgeo(tmp_path: Path) -> None:
    root = write_dota_fixture(tmp_path / "dota")
    objs = read_dota_objects(root, "train")
    assert [(o.box, o.name) for o in objs] == _torchgeo_boxes(root, "train")
    assert {o.difficult for o in objs} == {0, 1}
    write_dota_crops(root, tmp_path / "c", "train", skip_difficult=True)
    ds = DOTAObjectCrops(tmp_path / "c", "train", size=16)
    assert len(ds) == 4 and ds[0]["image"].shape == (3, 16, 16)
    names = {DOTA_CLASSES[int(ds[i]["label"])] for i in range(len(ds))}
    assert names == {"plane", "small-vehicle"}  # the difficult helicopters were skipped
    fig = ds.plot(ds[0])
    assert fig.axes


def test_official_labeltxt_layout(tmp_path: Path) -> None:
    root = write_dota_fixture(tmp_path / "dota")
    shutil.move(root / "train" / "annotations" / "version1.0", root / "train" / "labelTxt")
    assert len(read_dota_objects(root, "train")) == 6


def test_fusrs_fixture(tmp_path: Path) -> None:
    """No FUSRS v2 file we did not write exists: our fixture only."""
    root = write_fusrs_fixture(tmp_path / "fusrs")
    ds = FUSRS(root, "train", size=32)
    assert ds.class_counts().tolist() == [6, 4, 3, 2, 2]
    s = ds[0]
    assert s["image"].shape == (1, 32, 32) and FUSRS_CLASSES[int(s["label"])] == "cargo"
    raw = np.asarray(Image.open(root / ds.rows[0][0].relative_to(root)).convert("L"), np.float32)
    np.testing.assert_allclose(s["image"][0].numpy(), (raw - 11.21) / 20.24, rtol=1e-6)
    assert len(FUSRS(root, "test")) == 9  # round(0.5 * counts) per class
    with pytest.raises(InvalidInputError):
        FUSRS(root, "trainval")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="DOTA object crops"):
        DOTAObjectCrops(tmp_path, "train")
    with pytest.raises(DataNotFoundError, match="FUSRS"):
        FUSRS(tmp_path, "train")
    with pytest.raises(DataNotFoundError):
        read_dota_objects(tmp_path, "train")
    (tmp_path / "dota_train_idx.txt").write_text("train/plane/a.png 15\n")
    with pytest.raises(InvalidInputError, match="label 15"):
        DOTAObjectCrops(tmp_path, "train")
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3 plane\n")
    with pytest.raises(InvalidInputError, match="8 coordinates"):
        read_dota_annotation(bad)
