"""OAM-TCD data: published COCO layout, name-based category mapping, RLE, real sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.oamtcd.data import (
    OAMTCD,
    category_map,
    decode_rle,
    encode_rle_string,
    load_coco,
    rasterize_annotations,
    write_fixture,
)

SAMPLE = "5b3622402b6a08001185f8d8_10_00004"


def test_fixture_layout_round_trip(tmp_path: Path) -> None:
    root = write_fixture(tmp_path, n_train=4, n_test=2, size=32, folds=2, seed=1)
    for rel in ("holdout/train.json", "holdout/test.json", "kfold_0/train.json",
                "kfold_1/val.json", f"holdout/masks/{SAMPLE[:-5]}00000.png"):
        assert (root / rel).is_file(), rel
    assert json.loads((root / "holdout/train.json").read_text())["categories"][0] == {
        "id": 1, "name": "canopy", "supercategory": "tree"}
    train, test = OAMTCD(root, "train"), OAMTCD(root, "test", instances=True)
    assert (len(train), len(test)) == (4, 2)
    s = test[0]
    assert s["image"].shape == (3, 32, 32) and s["image"].dtype == torch.float32
    assert s["mask"].shape == (32, 32) and s["mask"].dtype == torch.int64
    assert set(np.unique(s["mask"].numpy())) <= {0, 1, 2}
    assert {1, 2} <= set(np.unique(train[0]["mask"].numpy()).tolist()) | set(
        np.unique(train[1]["mask"].numpy()).tolist())
    # instances agree with the semantic mask, labels with the categories
    inst, labels = s["instances"].numpy(), s["instance_labels"].numpy()
    assert ((inst > 0) == (s["mask"].numpy() > 0)).all()
    fg = inst > 0
    assert (labels[inst[fg] - 1] == s["mask"].numpy()[fg]).all()
    # the published binary PNG equals annotation != 0
    png = np.array(Image.open(test.mask_path(0)))
    assert ((png > 0) == (s["mask"].numpy() > 0)).all()
    # k-fold: val folds partition the train set, images resolved through kfold_<k>/images
    vals = [OAMTCD(root, "val", fold=k) for k in (0, 1)]
    assert sum(len(v) for v in vals) == 4
    assert len(OAMTCD(root, "train", fold=0)) == 2
    fig = train.plot(train[0], suptitle="x")
    assert len(fig.axes) == 2


def test_category_ids_mapped_by_name() -> None:
    poly = [[2.0, 2.0, 10.0, 2.0, 10.0, 10.0, 2.0, 10.0]]
    big = [[0.0, 0.0, 16.0, 0.0, 16.0, 16.0, 0.0, 16.0]]
    # Darwin-style ids (tree = 0, canopy = 1) and export ids (canopy = 1, tree = 2)
    for cats, tree_id, canopy_id in (([{"id": 0, "name": "tree"}, {"id": 1, "name": "canopy"}],
                                      0, 1),
                                     ([{"id": 1, "name": "canopy"}, {"id": 2, "name": "Tree"}],
                                      2, 1)):
        anns = [{"id": 1, "category_id": tree_id, "segmentation": poly},
                {"id": 2, "category_id": canopy_id, "segmentation": big}]
        mask, inst, labels = rasterize_annotations(anns, cats, 20, 20)
        assert labels.tolist() == [1, 2]
        assert mask[5, 5] == 1 and mask[14, 14] == 2 and mask[18, 18] == 0  # tree wins
        assert inst[5, 5] == 1 and inst[14, 14] == 2
        assert int((mask == 1).sum()) == 64  # pixel centres inside [2, 10)^2
    with pytest.raises(InvalidInputError, match="category name"):
        category_map([{"id": 3, "name": "shrub"}])
    with pytest.raises(InvalidInputError, match="unknown category id"):
        rasterize_annotations([{"category_id": 9, "segmentation": poly}],
                              [{"id": 0, "name": "tree"}], 20, 20)


def test_rle_decode_and_string_round_trip() -> None:
    rng = np.random.default_rng(0)
    m = rng.random((7, 5)) > 0.6
    counts = _rle_counts(m)
    assert (decode_rle({"size": [7, 5], "counts": counts}) == m).all()
    s = encode_rle_string(counts)
    assert (decode_rle({"size": [7, 5], "counts": s}) == m).all()
    # runs with large values and negative deltas (delta-coded from the 4th run on)
    big = [100, 3, 500, 1, 2, 394]
    assert decode_rle({"size": [1000, 1], "counts": encode_rle_string(big)}).sum() == 3 + 1 + 394
    with pytest.raises(InvalidInputError, match="RLE"):
        decode_rle({"size": [2, 2], "counts": [1, 1]})
    mask, _, _ = rasterize_annotations(
        [{"category_id": 2, "segmentation": {"size": [7, 5], "counts": s}}],
        [{"id": 2, "name": "tree"}], 7, 5)
    assert ((mask == 1) == m).all()


def test_missing_data_and_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="restor/tcd"):
        OAMTCD(tmp_path, "train")
    with pytest.raises(InvalidInputError, match="split"):
        OAMTCD(tmp_path, "val")
    root = write_fixture(tmp_path / "d", n_train=2, n_test=1, size=16, folds=1)
    (root / "holdout/test.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="JSON"):
        OAMTCD(root, "test")
    next((root / "holdout/images").glob("*00000.tif")).unlink()
    with pytest.raises(DataNotFoundError, match="holdout/images"):
        OAMTCD(root, "train")


def test_real_sample_rasterises_like_published_mask(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "oam_tcd"
    hold = tmp_path / "holdout"
    (hold / "images").mkdir(parents=True)
    (hold / "masks").mkdir()
    (hold / "images" / f"{SAMPLE}.tif").symlink_to(src / f"{SAMPLE}.tif")
    shutil.copyfile(src / f"{SAMPLE}_mask.png", hold / "masks" / f"{SAMPLE}.png")
    shutil.copyfile(src / "test_20221010_single.json", hold / "test.json")
    coco = load_coco(hold / "test.json")
    assert {c["name"]: c["id"] for c in coco["categories"]} == {"tree": 0, "canopy": 1}
    ds = OAMTCD(tmp_path, "test", instances=True)
    assert len(ds) == 1
    s = ds[0]
    assert s["image"].shape == (3, 2048, 2048)
    assert 20 < float(s["image"].mean()) < 235
    mask = s["mask"].numpy()
    counts = np.bincount(mask.ravel(), minlength=3)
    # 34 tree and 14 canopy polygons; both classes present
    assert s["instance_labels"].tolist().count(1) == 34
    assert s["instance_labels"].tolist().count(2) == 14
    assert counts[1] > 50_000 and counts[2] > 20_000
    png = np.array(Image.open(ds.mask_path(0))) > 0
    fg = mask > 0
    iou = (fg & png).sum() / (fg | png).sum()
    assert iou > 0.99, iou  # measured 0.9977


# Compressed RLE strings written by pycocotools in the reference code's prediction fixture
# (Restor-Foundation/tcd, tests/unit/5c15321f63d9810007f8b06f_10_00000.json), crown masks
# cropped to their boxes.
_REAL_RLE = [
    ("S15b05K4M3M2O1N2O000O10000000O101O1N102M2N3N2LG", [25, 23]),
    ("m04?4L4M2N2N2O1O0000000001N101N1O2N2N3M?", [21, 21]),
    (">4e06K3N2N2N2N1O2N1O101N100O10e20ZM10001O00001N2O1N2O1N4L3KG", [28, 31]),
]


@pytest.mark.parametrize(("counts", "size"), _REAL_RLE)
def test_decodes_real_pycocotools_strings(counts: str, size: list[int]) -> None:
    m = decode_rle({"size": size, "counts": counts})  # runs must sum to h * w exactly
    h, w = size
    assert m.shape == (h, w)
    assert m[h // 2, w // 2] and not m[0, 0] and not m[-1, -1]  # a crown-shaped blob
    assert 0.5 < m.mean() < 0.85
    rows = m.any(1).nonzero()[0]
    assert (np.diff(rows) == 1).all()  # one connected vertical extent
    assert encode_rle_string(_rle_counts(m)) == counts


def _rle_counts(m: np.ndarray) -> list[int]:
    flat = m.ravel(order="F").astype(np.int64)
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = int(v), 1
    counts.append(run)
    return counts
