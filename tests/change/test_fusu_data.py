"""FUSU reader: published layout round trip, README/code variants, missing and bad data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

from geoneurips.change.fusu.data import FUSU, collate_fusu, month_index, write_fixture
from geoneurips.errors import DataNotFoundError, InvalidInputError


def _scene(rng: np.random.Generator, dates: list[int], bands: int = 5) -> dict:
    l1 = rng.integers(0, 18, (16, 16), dtype=np.uint8)
    l2 = l1.copy()
    l2[:4] = 9
    return {
        "im1": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        "im2": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        "label1": l1, "label2": l2,
        "time_series": rng.random((len(dates), bands, 6, 6), dtype=np.float32),
        "dates": np.array(dates),
    }


@pytest.fixture()
def scenes() -> dict:
    rng = np.random.default_rng(1)
    dates = [month_index("A", 9), month_index("B", 1), month_index("C", 12)]
    return {"train": [_scene(rng, dates), _scene(rng, dates[:2])], "val": [_scene(rng, dates)]}


def test_month_index() -> None:
    assert month_index("A", 8) == 7
    assert month_index("B", 1) == 12
    assert month_index("C", 12) == 35


def test_round_trip_published_layout(tmp_path: Path, scenes: dict) -> None:
    root = write_fixture(tmp_path / "fusu", scenes)
    # exact file names of the layout
    assert (root / "train/im1/6_0.png").is_file()
    assert (root / "train/label_bin/6_1.png").is_file()
    assert (root / "train/Times/A/9/6_0_A_9.tif").is_file()
    assert (root / "train/Times/C/12/6_0_C_12.tif").is_file()
    ds = FUSU(root, "train")
    assert len(ds) == 2 and ds.ids == ["6_0", "6_1"]
    for i, sc in enumerate(scenes["train"]):
        s = ds[i]
        assert s["image"].shape == (2, 3, 16, 16) and s["image"].dtype == torch.float32
        np.testing.assert_array_equal(s["image"][0].numpy().transpose(1, 2, 0), sc["im1"])
        np.testing.assert_array_equal(s["image"][1].numpy().transpose(1, 2, 0), sc["im2"])
        np.testing.assert_array_equal(s["mask"][0].numpy(), sc["label1"])
        np.testing.assert_array_equal(s["mask"][1].numpy(), sc["label2"])
        np.testing.assert_array_equal(s["change"].numpy(), sc["label1"] != sc["label2"])
        np.testing.assert_allclose(s["time_series"].numpy(), sc["time_series"])
        np.testing.assert_array_equal(s["dates"].numpy(), sc["dates"])
    with rasterio.open(root / "train/Times/A/9/6_0_A_9.tif") as src:
        assert src.count == 5 and src.dtypes[0] == "float32"
    batch = collate_fusu([ds[0], ds[1]])
    assert batch["time_series"].shape == (2, 3, 5, 6, 6)
    assert batch["pad_mask"].tolist() == [[False, False, False], [False, False, True]]
    assert torch.all(batch["time_series"][1, 2] == 0)


def test_readme_names_dates_sorted_and_strict_ids(tmp_path: Path, scenes: dict) -> None:
    root = write_fixture(tmp_path / "fusu", scenes)
    # README label folder names instead of the code's
    for t in (1, 2):
        shutil.move(root / f"train/label{t}", root / f"train/im{t}_label")
    shutil.rmtree(root / "train/label_bin")  # change then comes from label1 != label2
    # a file of another id that the code's prefix regex "^6_0_.*\.tif$" would also take
    arr = np.full((5, 6, 6), 99.0, np.float32)
    prof = {"driver": "GTiff", "width": 6, "height": 6, "count": 5, "dtype": "float32"}
    with rasterio.open(root / "train/Times/6_0_x_B_2.tif", "w", **prof) as dst:
        dst.write(arr)
    # dates must come back sorted whatever the file-system order
    (root / "train/Times/C/12/6_0_C_12.tif").rename(root / "train/Times/6_0_C_12.tif")
    ds = FUSU(root, "train")
    s = ds[0]
    assert s["dates"].tolist() == sorted(scenes["train"][0]["dates"].tolist())
    assert float(s["time_series"].max()) < 99
    sc = scenes["train"][0]
    np.testing.assert_array_equal(s["change"].numpy(), sc["label1"] != sc["label2"])


def test_test_split_without_labels(tmp_path: Path, scenes: dict) -> None:
    root = write_fixture(tmp_path / "fusu", {"test": scenes["val"]})
    for sub in ("label1", "label2", "label_bin"):
        shutil.rmtree(root / "test" / sub)
    s = FUSU(root, "test")[0]
    assert "mask" not in s and s["image"].shape == (2, 3, 16, 16)


def test_missing_data_says_where(tmp_path: Path, scenes: dict) -> None:
    with pytest.raises(DataNotFoundError, match="huggingface.co/datasets/sp-juni") as err:
        FUSU(tmp_path / "nothing", "train")
    assert "train/im1" in str(err.value) and "never downloads" in str(err.value)
    root = write_fixture(tmp_path / "fusu", scenes)
    shutil.rmtree(root / "train/Times")
    with pytest.raises(DataNotFoundError, match="Times"):
        FUSU(root, "train")
    assert len(FUSU(root, "train", time_series=False)) == 2
    with pytest.raises(InvalidInputError, match="split"):
        FUSU(root, "training")


def test_bad_inputs(tmp_path: Path, scenes: dict) -> None:
    root = write_fixture(tmp_path / "fusu", scenes)
    ds = FUSU(root, "train")
    # truncated PNG
    p = root / "train/im1/6_0.png"
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(InvalidInputError, match="cannot read image"):
        ds[0]
    # label value outside 0..17
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(root / "train/label1/6_1.png")
    with pytest.raises(InvalidInputError, match="outside 0..17"):
        ds[1]
    # NaN in a Sentinel date
    root2 = write_fixture(tmp_path / "f2", scenes)
    tif = root2 / "train/Times/B/1/6_0_B_1.tif"
    with rasterio.open(tif, "r+") as dst:
        a = dst.read()
        a[0, 0, 0] = np.nan
        dst.write(a)
    with pytest.raises(InvalidInputError, match="NaN"):
        FUSU(root2, "train")[0]
    # band count differing between dates of one patch
    tif = root2 / "train/Times/B/1/6_1_B_1.tif"
    prof = {"driver": "GTiff", "width": 6, "height": 6, "count": 3, "dtype": "float32"}
    with rasterio.open(tif, "w", **prof) as dst:
        dst.write(np.zeros((3, 6, 6), np.float32))
    with pytest.raises(InvalidInputError, match="bands, height, width"):
        FUSU(root2, "train")[1]
    # images of different sizes
    root3 = write_fixture(tmp_path / "f3", scenes)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root3 / "val/im2/6_0.png")
    with pytest.raises(InvalidInputError, match="differ in size"):
        FUSU(root3, "val")[0]


def test_plot(tmp_path: Path, scenes: dict) -> None:
    ds = FUSU(write_fixture(tmp_path / "fusu", scenes), "val")
    s = ds[0]
    s["prediction"] = s["mask"].clone()
    fig = ds.plot(s, suptitle="x")
    assert len(fig.axes) == 7
