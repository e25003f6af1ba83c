"""COSMIC data: fMoW-rgb layout fixture round trip, metadata, errors, real imagery, demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.restoration.cosmic.data import FMoWRGB, parse_metadata, write_fixture


def test_fixture_layout_and_metadata(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "fmow-rgb", n_train=3, n_val=2, size=64, seed=1)
    jsons = sorted((root / "train").glob("*/*/*_rgb.json"))
    assert len(jsons) == 3
    assert jsons[0].parent.name.rsplit("_", 1)[0] == jsons[0].parent.parent.name
    assert jsons[0].with_suffix(".jpg").is_file()
    ds = FMoWRGB(root, split="train")
    s = ds[0]
    assert s["image"].shape == (3, 64, 64) and s["image"].dtype == torch.float32
    rec = json.loads(ds.files[0].read_text())
    meta = s["metadata"].numpy()
    assert meta[2] == pytest.approx(rec["gsd"])
    assert meta[3] == pytest.approx(rec["cloud_cover"])
    assert int(meta[4]) == int(rec["timestamp"][:4])
    assert 0 <= int(s["label"]) < 62
    assert len(FMoWRGB(root, split="val", crop_size=32)) == 2
    fig = ds.plot(s)
    assert fig is not None
    # a torch Dataset: a DataLoader batches it
    assert isinstance(ds, torch.utils.data.Dataset)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 3, 64, 64) and batch["metadata"].shape == (3, 7)


def test_parse_metadata_hand_values() -> None:
    rec = {"raw_location": "POLYGON ((10 20, 12 20, 12 22, 10 22, 10 20))", "gsd": 0.5,
           "cloud_cover": 7, "timestamp": "2016-02-29T10:19:21Z"}
    np.testing.assert_allclose(parse_metadata(rec), [11, 21, 0.5, 7, 2016, 2, 29])
    assert np.isnan(parse_metadata({"gsd": 1.0})[[0, 1, 3, 4]]).all()
    with pytest.raises(InvalidInputError, match="POLYGON"):
        parse_metadata({"raw_location": "POINT (1 2)"})
    with pytest.raises(InvalidInputError, match="timestamp"):
        parse_metadata({"timestamp": "yesterday"})


def test_missing_and_truncated_data(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="fMoW"):
        FMoWRGB(tmp_path, split="train")
    root = write_fixture(tmp_path / "f", n_train=1, n_val=0, size=32)
    ds = FMoWRGB(root)
    jpg = ds.files[0].with_suffix(".jpg")
    jpg.write_bytes(jpg.read_bytes()[:50])
    with pytest.raises(InvalidInputError, match="JPEG"):
        ds[0]
    with pytest.raises(InvalidInputError, match="split"):
        FMoWRGB(root, split="bogus")


def test_real_vhr_image_in_fmow_layout(real_data: Path, tmp_path: Path) -> None:
    """A real VHR RGB image arranged in the fMoW layout is read and really coded."""
    from PIL import Image

    from geoneurips.restoration.cosmic.model import COSMIC, COSMICConfig

    src = real_data / "change_pair" / "t1_img.png"
    folder = tmp_path / "train" / "construction_site" / "construction_site_0"
    folder.mkdir(parents=True)
    with Image.open(src) as im:
        im.convert("RGB").crop((0, 0, 128, 128)).save(folder / "construction_site_0_0_rgb.jpg",
                                                      quality=95)
    (folder / "construction_site_0_0_rgb.json").write_text(json.dumps({
        "gsd": 0.5, "timestamp": "2017-05-01T10:00:00Z", "cloud_cover": 0,
        "raw_location": "POLYGON ((116.3 39.9, 116.31 39.9, 116.31 39.91, 116.3 39.91, "
                        "116.3 39.9))",
        "bounding_boxes": [{"ID": 1, "box": [0, 0, 10, 10], "category": "construction_site"}]}))
    s = FMoWRGB(tmp_path)[0]
    assert s["image"].shape == (3, 128, 128) and float(s["image"].std()) > 0.02
    assert int(s["label"]) == 10
    torch.manual_seed(0)
    model = COSMIC(COSMICConfig.tiny()).eval()
    model.codec.update(force=True)
    items = model.codec.compress(s["image"][None])
    out = model.reconstruct(items, s["metadata"][None], sample_steps=2)
    assert out["x_tilde"].shape == (1, 3, 128, 128) and items[0].num_bytes > 12
