"""SGNet data: Inria Aerial published layout, surrounding-window patches, real GeoTIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.sgnet.data import (
    InriaAerial,
    SurroundingPatches,
    make_ambiguous_scene,
    write_fixture,
)


@pytest.fixture(scope="module")
def inria(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inria")
    write_fixture(root, size=96, images_per_city=6, scene=None, seed=3)
    return root


def test_fixture_layout_and_splits(inria: Path) -> None:
    base = inria / "AerialImageDataset"
    names = sorted(p.name for p in (base / "train" / "images").glob("*.tif"))
    assert names == sorted([f"{c}{n}.tif" for c in ("austin", "vienna") for n in range(1, 7)])
    assert sorted(p.name for p in (base / "train" / "gt").glob("*.tif")) == names
    assert [p.name for p in (base / "test" / "images").glob("*.tif")] == ["bellingham1.tif"]
    with rasterio.open(base / "train" / "images" / "austin1.tif") as ds:
        assert ds.count == 3 and ds.dtypes[0] == "uint8" and ds.crs.to_epsg() == 32614
        assert ds.res == (0.3, 0.3)
    with rasterio.open(base / "train" / "gt" / "austin1.tif") as ds:
        assert ds.count == 1 and set(np.unique(ds.read(1))) <= {0, 255}
    train, val, test = (InriaAerial(inria, s) for s in ("train", "val", "test"))
    assert [p.name for p, _ in train.files] == ["austin6.tif", "vienna6.tif"]
    assert len(val) == 10 and len(test) == 1
    s = val[0]
    assert s["image"].dtype == torch.float32 and s["image"].shape == (3, 96, 96)
    assert s["mask"].dtype == torch.int64 and set(s["mask"].unique().tolist()) <= {0, 1}
    assert "mask" not in test[0]
    # root may also point at AerialImageDataset itself
    assert len(InriaAerial(base, "val")) == 10
    fig = val.plot({**s, "prediction": s["mask"]})
    assert len(fig.axes) == 3


def test_ambiguous_scene_interiors_do_not_reveal_the_class() -> None:
    img, gt = make_ambiguous_scene(256, np.random.default_rng(0))
    assert img.dtype == np.uint8 and gt.dtype == np.uint8 and set(np.unique(gt)) == {0, 255}
    # block interiors (|R - B| < 60: the frames sit at about +-130) look alike in both classes
    red = img[0].astype(float) - img[2].astype(float)
    inner = np.abs(red) < 60
    framed = np.abs(red) > 60
    assert inner.mean() > 0.6
    for band in range(3):
        m0 = img[band][inner & (gt == 0)].mean()
        m1 = img[band][inner & (gt == 255)].mean()
        assert abs(m0 - m1) < 3.0
    # the frames do carry the class
    assert red[framed & (gt == 255)].mean() > 60 and red[framed & (gt == 0)].mean() < -60


def test_missing_data_and_bad_labels(tmp_path: Path, inria: Path) -> None:
    with pytest.raises(DataNotFoundError, match="aerialimagelabeling"):
        InriaAerial(tmp_path / "nothing")
    with pytest.raises(InvalidInputError, match="split"):
        InriaAerial(inria, "bogus")
    with pytest.raises(InvalidInputError, match="0 and 255"):
        InriaAerial.encode_mask(np.array([[0, 128]], dtype=np.uint8), "x.tif")
    bad = tmp_path / "bad"
    write_fixture(bad, size=64, images_per_city=6, cities=("austin",), seed=1)
    (bad / "AerialImageDataset" / "train" / "gt" / "austin6.tif").unlink()
    with pytest.raises(DataNotFoundError, match="austin6"):
        InriaAerial(bad, "train")


def test_surrounding_patches_match_direct_reads(inria: Path) -> None:
    img_path, gt_path = InriaAerial(inria, "val").files[0]
    with rasterio.open(img_path) as ds:
        full = ds.read().astype(np.float32)
    with rasterio.open(gt_path) as ds:
        gt = (ds.read(1) == 255).astype(np.int64)
    ds_ = SurroundingPatches([img_path], [gt_path], patch_size=16, context_scale=3,
                             stride=16, pair_shift=(8, 0))
    assert len(ds_) == 36
    idx = ds_.index.index((0, 32, 48))
    s = ds_[idx]
    assert torch.equal(s["image"], torch.from_numpy(full[:, 32:48, 48:64]))
    assert torch.equal(s["mask"], torch.from_numpy(gt[32:48, 48:64]))
    ctx = torch.from_numpy(full[:, 16:64, 32:80])
    assert torch.allclose(s["context"], F.interpolate(ctx[None], size=(16, 16), mode="area")[0])
    assert torch.equal(s["image_b"], torch.from_numpy(full[:, 40:56, 48:64]))
    assert s["shift"].tolist() == [8, 0]
    # corner patch: the surrounding window leaves the image -> zeros and ignore label 255
    c = ds_[0]
    assert (c["context_mask"][:5, :5] == 255).all() and (c["context_mask"][-4:, -4:] != 255).all()
    assert float(c["context"][:, :5, :5].abs().sum()) == 0.0
    fig = ds_.plot(c)
    assert len(fig.axes) == 4
    ds_.close()


def test_surrounding_patches_bad_inputs(inria: Path, tmp_path: Path) -> None:
    img_path, gt_path = InriaAerial(inria, "val").files[0]
    with pytest.raises(InvalidInputError, match="masks"):
        SurroundingPatches([img_path], [gt_path, gt_path])
    with pytest.raises(InvalidInputError, match="smaller than the patch"):
        SurroundingPatches([img_path], patch_size=128)
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(img_path.read_bytes()[:2000])
    with pytest.raises(InvalidInputError, match="trunc"):
        SurroundingPatches([trunc], patch_size=16)


def test_real_geotiff_patches(real_data: Path) -> None:
    path = real_data / "rasters" / "RGB.byte.tif"
    ds_ = SurroundingPatches([path], patch_size=64, context_scale=2.0, samples_per_image=3,
                             seed=0)
    with rasterio.open(path) as src:
        for i in range(3):
            s = ds_[i]
            r, c = int(s["row"]), int(s["col"])
            direct = src.read(window=((r, r + 64), (c, c + 64))).astype(np.float32)
            assert torch.equal(s["image"], torch.from_numpy(direct))
            assert s["context"].shape == (3, 64, 64)
    ds_.close()
