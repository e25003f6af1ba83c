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
    with pytest.raises(InvalidInputError, match="0/255"):
        InriaAerial.encode_mask(np.array([[0, 128]], dtype=np.uint8), "x.tif")
    with pytest.raises(InvalidInputError, match="0/1"):  # two conventions in one mask
        InriaAerial.encode_mask(np.array([[0, 1, 255]], dtype=np.uint8), "x.tif")
    for ones in (1, 255):  # the published 0/255 and TorchGeo's 0/1 give the same labels
        got = InriaAerial.encode_mask(np.array([[0, ones], [ones, 0]], dtype=np.uint8))
        assert got.tolist() == [[0, 1], [1, 0]] and got.dtype == np.int64
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


def _direct(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Image and mask read straight with rasterio (first band of gt, nonzero -> 1)."""
    with rasterio.open(path) as ds:
        img = torch.from_numpy(ds.read().astype(np.float32))
    gt = path.parent.parent / "gt" / path.name
    if not gt.exists():
        return img, None
    with rasterio.open(gt) as ds:
        return img, torch.from_numpy((ds.read(1) != 0).astype(np.int64))


def test_torchgeo_fixture_is_read(real_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TorchGeo's own Inria fixture (files we did not write): 8 x 8 tiles of one city
    (``austin``, also in ``test/``), 3-band ``gt`` files holding 0/1 instead of 0/255.
    Our reader must read it, and give what TorchGeo 0.8.1's reader gives on it."""
    from torchgeo.datasets import InriaAerialImageLabeling

    base = real_data / "torchgeo_fixtures"
    names = {s: [p.name for p, _ in InriaAerial(base / "inria", s).files]
             for s in ("train", "val", "test")}
    assert names["train"] == ["austin6.tif", "austin7.tif"]
    assert names["val"] == [f"austin{n}.tif" for n in range(1, 6)]
    assert names["test"] == sorted(f"austin{n}.tif" for n in range(10, 17))
    monkeypatch.chdir(base)  # TorchGeo parses the image number from the whole path
    for split in ("train", "val", "test"):
        ours = InriaAerial(base / "inria", split)
        theirs = InriaAerialImageLabeling("inria", split)
        assert len(ours) == len(theirs) == len(names[split])
        for i in range(len(ours)):
            a, b = ours[i], theirs[i]
            img, mask = _direct(ours.files[i][0])
            assert torch.equal(a["image"], img) and torch.equal(a["image"], b["image"])
            if split == "test":
                assert "mask" not in a and "mask" not in b
                continue
            assert mask is not None and bool(mask.any()) and bool((mask == 0).any())
            assert torch.equal(a["mask"], mask) and torch.equal(a["mask"], b["mask"])


def test_torchgeo_reads_our_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TorchGeo 0.8.1's InriaAerialImageLabeling reads our fixture writer's output with the
    same splits, images and masks as our reader (published 0/255 masks)."""
    from torchgeo.datasets import InriaAerialImageLabeling

    write_fixture(tmp_path / "inria", size=48, images_per_city=7, seed=5)
    monkeypatch.chdir(tmp_path)  # a relative root: TorchGeo reads the number from the path
    ones = 0
    for split, n in (("train", 4), ("val", 10), ("test", 1)):
        ours = InriaAerial("inria", split)
        theirs = InriaAerialImageLabeling("inria", split)
        assert len(ours) == len(theirs) == n
        for i in range(n):
            a, b = ours[i], theirs[i]
            assert torch.equal(a["image"], b["image"])
            assert ("mask" in a) == ("mask" in b) == (split != "test")
            if "mask" in a:
                assert torch.equal(a["mask"], b["mask"])
                ones += int(a["mask"].sum())
    assert ones > 0  # buildings present (255 in the files): the value mapping was compared


def test_real_aerial_tile_and_mask_in_inria_layout(real_data: Path, tmp_path: Path) -> None:
    """No real Inria tile exists in the shared data; the closest real pair is the OAM-TCD
    sample (a 2048 x 2048 JPEG-compressed RGB aerial GeoTIFF and its 0/1 mask PNG, which
    GDAL reads by content). Linked into the Inria layout, our reader and the patch reader
    must return exactly the files' pixels."""
    src = real_data / "oam_tcd"
    tif = next(src.glob("*_00004.tif"))
    png = next(src.glob("*_00004_mask.png"))
    base = tmp_path / "AerialImageDataset" / "train"
    for sub, target in (("images", tif), ("gt", png)):
        (base / sub).mkdir(parents=True)
        (base / sub / "kitsap3.tif").symlink_to(target)
    ds = InriaAerial(tmp_path, "val")
    s = ds[0]
    with rasterio.open(tif) as a, rasterio.open(png) as m:
        img, raw = a.read(), m.read(1)
    assert set(np.unique(raw).tolist()) == {0, 1}
    assert torch.equal(s["image"], torch.from_numpy(img.astype(np.float32)))
    assert torch.equal(s["mask"], torch.from_numpy(raw.astype(np.int64)))
    patches = SurroundingPatches([ds.files[0][0]], [png], patch_size=256, context_scale=2.0,
                                 stride=1024)
    p = patches[patches.index.index((0, 1024, 1024))]
    assert torch.equal(p["mask"], torch.from_numpy(raw[1024:1280, 1024:1280].astype(np.int64)))
    assert torch.equal(p["image"], s["image"][:, 1024:1280, 1024:1280])
    patches.close()
