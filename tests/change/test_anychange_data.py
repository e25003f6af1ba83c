"""AnyChange datasets: LEVIR-CD, S2Looking, xView2 and SECOND in their published layouts.

Independent files: TorchGeo's own LEVIR-CD and xView2 test fixtures (../shared/data/
torchgeo_fixtures, written by TorchGeo's authors) are read by our readers, and TorchGeo
0.8.1's ``LEVIRCD`` / ``XView2`` read our fixture writers' output and give the same tensors.
TorchGeo has no S2Looking or SECOND reader and no fixture of them exists in the shared data:
those two are checked on our fixtures and hand-written files only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geoneurips.change.anychange.data import (
    LEVIRCD,
    SECOND,
    SECOND_COLORS,
    S2Looking,
    XView2,
    make_change_pair,
    write_levircd_fixture,
    write_s2looking_fixture,
    write_second_fixture,
    write_xview2_fixture,
)
from geoneurips.change.anychange.synthetic import Nuisance, make_scene
from geoneurips.errors import DataNotFoundError, InvalidInputError


def _tg(real_data: Path, name: str) -> Path:
    return real_data / "torchgeo_fixtures" / name


@pytest.mark.parametrize("layout", ["zip", "split"])
def test_levircd_fixture_layout_and_roundtrip(tmp_path: Path, layout: str) -> None:
    root = write_levircd_fixture(tmp_path, (2, 1, 1), size=64, seed=3, layout=layout)
    for split, n in (("train", 2), ("val", 1), ("test", 1)):
        for d in ("A", "B", "label"):
            folder = root / d if layout == "zip" else root / split / d
            assert len(list(folder.glob(f"{split}_*.png"))) == n
    base = root if layout == "zip" else root / "train"
    lab = np.asarray(Image.open(base / "label" / "train_1.png"))
    assert lab.ndim == 2 and set(np.unique(lab)) <= {0, 255} and lab.max() == 255
    ds = LEVIRCD(root, split="train")
    assert len(ds) == 2
    s = ds[0]
    assert s["image1"].shape == (3, 64, 64) and s["image2"].shape == (3, 64, 64)
    assert np.array_equal(s["mask"].numpy(), (lab == 255).astype(np.int64))
    a = np.asarray(Image.open(base / "A" / "train_1.png"))
    assert np.array_equal(s["image1"].numpy().transpose(1, 2, 0), a)
    assert len(LEVIRCD(root, split="val")) == 1 and len(LEVIRCD(root, split="test")) == 1
    fig = ds.plot({**s, "prediction": s["mask"]}, suptitle="x")
    assert len(fig.axes) == 4


def test_levircd_reads_torchgeo_fixture(real_data: Path) -> None:
    """TorchGeo's fixture: official zip layout (A/, B/, label/ with train_0.png...) and
    labels holding values other than 0/255 (any non-zero = change, as TorchGeo clamps).
    The reader before this change looked only for <root>/<split>/A and rejected it."""
    root = _tg(real_data, "levircd/levircd")
    for split in ("train", "val", "test"):
        ds = LEVIRCD(root, split=split)
        assert [f["image1"].name for f in ds.files] == [f"{split}_0.png", f"{split}_1.png"]
        s = ds[1]
        lab = np.asarray(Image.open(root / "label" / f"{split}_1.png").convert("L"))
        assert set(np.unique(lab)) - {0, 255}  # the fixture is not 0/255 only
        assert np.array_equal(s["mask"].numpy(), (lab > 0).astype(np.int64))
        a = np.asarray(Image.open(root / "A" / f"{split}_1.png").convert("RGB"))
        assert np.array_equal(s["image1"].numpy().transpose(1, 2, 0), a)


def test_torchgeo_levircd_agrees_with_ours(real_data: Path, tmp_path: Path) -> None:
    from torchgeo.datasets import LEVIRCD as TorchGeoLEVIRCD

    ours_root = write_levircd_fixture(tmp_path, (2, 1, 11), size=48, seed=1, layout="zip")
    for root in (ours_root, _tg(real_data, "levircd/levircd")):
        for split in ("train", "val", "test"):
            ours, theirs = LEVIRCD(root, split), TorchGeoLEVIRCD(root, split)
            assert len(ours) == len(theirs) > 0
            for i in range(len(ours)):  # includes test_10 < test_2: same name order
                a, b = ours[i], theirs[i]
                assert torch.equal(a["image1"], b["image"][0])
                assert torch.equal(a["image2"], b["image"][1])
                assert torch.equal(a["mask"], b["mask"][0])
    assert LEVIRCD(ours_root, "test")[0]["mask"].sum() > 0


def test_xview2_fixture_and_torchgeo(real_data: Path, tmp_path: Path) -> None:
    """Change = post damage >= 2. TorchGeo's XView2 gives clamp(post - pre, 0, 4): on our
    fixture (pre = 0/1 footprints under the post classes, as in the real data) its non-zero
    pixels are exactly our change mask; undamaged buildings (post 1) are not change."""
    from torchgeo.datasets import XView2 as TorchGeoXView2

    root = write_xview2_fixture(tmp_path, (1, 3), size=64, seed=2)
    names = sorted(p.name for p in (root / "test" / "targets").glob("*.png"))
    assert names[0].endswith("_post_disaster_target.png") and len(names) == 6
    ds = XView2(root, split="test")
    assert len(ds) == 3
    tg = TorchGeoXView2(root, split="test")
    saw_undamaged = False
    for i in range(len(ds)):
        s, t = ds[i], tg[i]
        assert torch.equal(s["image1"], t["image"][0]) and torch.equal(s["image2"], t["image"][1])
        assert torch.equal(s["mask"], (t["mask"] > 0).long())
        post = np.asarray(Image.open(ds.files[i]["target2"]))
        assert np.array_equal(s["damage"].numpy(), post)
        assert np.array_equal(s["mask"].numpy(), (post >= 2).astype(np.int64))
        saw_undamaged |= bool(((post == 1) & (s["buildings"].numpy() == 1)).any())
    assert saw_undamaged
    assert sum(int(ds[i]["mask"].sum()) for i in range(3)) > 0
    fig = ds.plot(ds[0])
    assert len(fig.axes) == 3


def test_xview2_reads_torchgeo_fixture(real_data: Path) -> None:
    from torchgeo.datasets import XView2 as TorchGeoXView2

    root = _tg(real_data, "xview2")
    for split in ("train", "test"):
        ds, tg = XView2(root, split), TorchGeoXView2(root, split)
        assert len(ds) == len(tg) == 2
        for i in range(2):
            s, t = ds[i], tg[i]
            assert torch.equal(s["image1"], t["image"][0])
            post = np.asarray(Image.open(ds.files[i]["target2"]))
            pre = np.asarray(Image.open(ds.files[i]["target1"]))
            assert np.array_equal(s["mask"].numpy(), (post >= 2).astype(np.int64))
            # TorchGeo's random fixture has pre classes 0..4; where pre is a footprint (1),
            # as in the real data, TorchGeo's change and ours agree
            on = pre == 1
            assert on.any()
            assert np.array_equal(s["mask"].numpy()[on], (t["mask"].numpy()[on] > 0))


def test_s2looking_fixture_roundtrip(tmp_path: Path) -> None:
    root = write_s2looking_fixture(tmp_path / "S2Looking", (1, 1, 2), size=64, seed=4)
    for d in ("Image1", "Image2", "label", "label1", "label2"):
        assert sorted(p.name for p in (root / "test" / d).iterdir()) == ["1.png", "2.png"]
    ds = S2Looking(tmp_path, split="test")  # the folder holding S2Looking/ also works
    assert len(ds) == 2
    s = ds[1]
    lab = np.asarray(Image.open(root / "test" / "label" / "2.png"))
    assert np.array_equal(s["mask"].numpy(), (lab > 0).astype(np.int64)) and lab.max() == 255
    assert not (s["built"] & s["demolished"]).any()
    assert torch.equal(s["built"] | s["demolished"], s["mask"])
    # an RGB label (red = change) reads the same; label1/label2 are optional
    Image.fromarray(np.stack([lab, 0 * lab, 0 * lab], -1)).save(root / "test" / "label" / "2.png")
    for d in ("label1", "label2"):
        for p in (root / "test" / d).iterdir():
            p.unlink()
        (root / "test" / d).rmdir()
    s2 = S2Looking(root, split="test")[1]
    assert torch.equal(s2["mask"], s["mask"]) and "built" not in s2


def test_second_fixture_layout_and_labels(tmp_path: Path) -> None:
    root = write_second_fixture(tmp_path, (1, 2), size=64, seed=1)
    ds = SECOND(root, split="test")
    assert len(ds) == 2
    s = ds[1]
    lab1 = np.asarray(Image.open(root / "test" / "label1" / ds.names[1]).convert("RGB"))
    white = np.all(lab1 == 255, axis=-1)
    assert np.array_equal(s["mask"].numpy() == 0, white)
    assert s["semantic1"].max() <= 6 and s["semantic2"].min() >= 0
    changed = s["mask"].numpy() == 1
    assert changed.any()
    assert (s["semantic1"].numpy()[changed] != s["semantic2"].numpy()[changed]).all()
    k = int(s["semantic1"].numpy()[changed][0])
    assert tuple(lab1[changed][0]) == SECOND_COLORS[k]


def test_second_hand_written_colours_and_index_labels(tmp_path: Path) -> None:
    """Hand-written SECOND sample: published colours (water blue, building dark red...) and
    the single-band index variant of the public code (``label*_wo_cm``)."""
    base = tmp_path / "SECOND_train_set"
    img = np.zeros((4, 4, 3), np.uint8)
    l1 = np.full((4, 4, 3), 255, np.uint8)
    l2 = l1.copy()
    l1[0, 0], l2[0, 0] = (0, 0, 255), (128, 0, 0)  # water -> building
    l1[3, 3], l2[3, 3] = (0, 128, 0), (255, 0, 0)  # low vegetation -> playground
    for d, arr in (("im1", img), ("im2", img), ("label1", l1), ("label2", l2)):
        (base / d).mkdir(parents=True)
        Image.fromarray(arr).save(base / d / "00001.png")
    s = SECOND(base, split="train")[0]  # a folder holding im1/ directly
    assert s["mask"].sum() == 2
    assert (s["semantic1"][0, 0], s["semantic2"][0, 0]) == (1, 5)
    assert (s["semantic1"][3, 3], s["semantic2"][3, 3]) == (3, 6)
    idx1 = np.zeros((4, 4), np.uint8)
    idx1[0, 0], idx1[3, 3] = 1, 3
    Image.fromarray(idx1).save(base / "label1" / "00001.png")
    s2 = SECOND(base, split="train")[0]
    assert torch.equal(s2["semantic1"], s["semantic1"])
    Image.fromarray(idx1 * 3).save(base / "label1" / "00001.png")  # 9 is no class
    with pytest.raises(InvalidInputError, match="0..6"):
        SECOND(base, split="train")[0]


def test_missing_data_says_where(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="justchenhao.github.io"):
        LEVIRCD(tmp_path / "nothing", split="test")
    with pytest.raises(DataNotFoundError, match="im1"):
        SECOND(tmp_path / "nothing")
    with pytest.raises(DataNotFoundError, match="S2Looking/Dataset"):
        S2Looking(tmp_path / "nothing")
    with pytest.raises(DataNotFoundError, match="xview2.org"):
        XView2(tmp_path / "nothing")
    root = write_levircd_fixture(tmp_path / "l", (0, 0, 1), size=32, layout="split")
    (root / "test" / "label" / "test_1.png").unlink()
    with pytest.raises(DataNotFoundError, match="label/test_1.png"):
        LEVIRCD(root, split="test")
    with pytest.raises(DataNotFoundError, match="val_"):
        LEVIRCD(write_levircd_fixture(tmp_path / "z", (1, 0, 0), size=32), split="val")
    xr = write_xview2_fixture(tmp_path / "x", (1, 1), size=32)
    next((xr / "test" / "targets").glob("*_post_*")).unlink()
    with pytest.raises(DataNotFoundError, match="post_disaster_target"):
        XView2(xr, split="test")
    with pytest.raises(InvalidInputError, match="split"):
        XView2(xr, split="validation")


def test_bad_files(tmp_path: Path) -> None:
    root = write_levircd_fixture(tmp_path, (0, 0, 1), size=32)
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(root / "label" / "test_1.png")
    with pytest.raises(InvalidInputError, match="label"):
        LEVIRCD(root, split="test")[0]
    (root / "A" / "test_1.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(InvalidInputError, match="cannot read"):
        LEVIRCD(root, split="test")[0]


def test_scene_holds_the_nuisances() -> None:
    """The nuisances are real: with them off, unchanged pixels agree up to the noise; with
    them on, they differ far more (illumination, phenology), while the label is identical."""
    a, b, ch, inst = make_change_pair(96, n_changes=3, seed=5)
    assert a.shape == b.shape == (96, 96, 3) and a.dtype == np.uint8
    assert len(inst) >= 1 and np.array_equal(np.any(inst, axis=0), ch.astype(bool))
    off = Nuisance(gain=0, offset=0, gamma=0, season=0, shift=0, noise=0)
    a0, b0, ch0, _ = make_change_pair(96, n_changes=3, seed=5, nuisance=off)
    assert np.array_equal(ch0, ch)
    assert np.abs(a0.astype(int) - b0.astype(int))[ch0 == 0].max() == 0
    diff = np.abs(a.astype(float) - b.astype(float)).mean(-1)[ch == 0]
    assert diff.mean() > 8.0
    sc = make_scene(96, n_changes=3, n_static=2, seed=5)
    assert len(sc.built) == len(sc.changed) and len(sc.static) >= 1
    for m in sc.static:
        assert not (m & (sc.change > 0)).any()
