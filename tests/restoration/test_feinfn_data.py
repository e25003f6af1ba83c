"""FeINFN data: the CAVE/Harvard .h5 layout, fixture round trip, degradations, bad files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.restoration.feinfn.data import (
    HISRDataset,
    bicubic_upsample,
    camera_response,
    degrade,
    file_name,
    synthetic_scene,
    write_fixture,
)


@pytest.fixture(scope="module")
def cave(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cave")
    write_fixture(root, "train", "cave", n=3, size=32, ratio=4, seed=3)
    return root


def test_fixture_layout_round_trip(cave: Path) -> None:
    path = cave / "train_cave(with_up)x4.h5"
    assert path.name == file_name("train", "cave", 4)
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["GT", "HSI_up", "LRHSI", "RGB"]
        assert f["GT"].shape == (3, 31, 32, 32) and f["LRHSI"].shape == (3, 31, 8, 8)
        assert f["RGB"].shape == (3, 3, 32, 32) and f["HSI_up"].shape == (3, 31, 32, 32)
        assert f["GT"].dtype == np.float32
        gt = f["GT"][1].astype(np.float64)
        stored = {k: f[k][1].astype(np.float64) for k in ("LRHSI", "RGB", "HSI_up")}
    assert 0.0 <= gt.min() and gt.max() <= 1.0
    # the published relations between the keys hold
    np.testing.assert_allclose(stored["LRHSI"], degrade(gt, 4, 2.0), atol=1e-5)
    np.testing.assert_allclose(stored["HSI_up"], bicubic_upsample(stored["LRHSI"], 4), atol=1e-5)
    rgb = np.einsum("rb,bhw->rhw", camera_response(31), gt)
    np.testing.assert_allclose(stored["RGB"], rgb[::-1], atol=1e-5)  # CAVE stores BGR

    ds = HISRDataset(cave, "train", "cave", ratio=4)
    assert len(ds) == 3 and ds.rgb_order == "bgr" and ds.bands == 31 and ds.ratio == 4
    s = ds[-2]
    assert set(s) == {"gt", "lrhsi", "rgb", "hsi_up", "index"}
    assert s["gt"].dtype == torch.float32 and int(s["index"]) == 1
    np.testing.assert_allclose(s["gt"].numpy(), gt, atol=1e-6)
    with pytest.raises(IndexError):
        ds[3]
    fig = ds.plot({**s, "prediction": s["hsi_up"]}, suptitle="x")
    assert len(fig.axes) == 4


def test_harvard_direct_path_and_ratio8(tmp_path: Path) -> None:
    path = write_fixture(tmp_path, "test", "harvard", n=1, size=32, ratio=8, seed=1)
    ds = HISRDataset(path, dataset="harvard", ratio=8)
    assert ds.rgb_order == "rgb" and ds[0]["lrhsi"].shape == (31, 4, 4)
    with pytest.raises(InvalidInputError, match="ratio=4"):
        HISRDataset(path, dataset="harvard", ratio=4)


def test_bicubic_matches_pillow_interior() -> None:
    """MATLAB-style bicubic (Keys a=-0.5) against Pillow's independent BICUBIC resize."""
    from PIL import Image

    rng = np.random.default_rng(0)
    lr = rng.random((12, 10)).astype(np.float32)
    ours = bicubic_upsample(lr.astype(np.float64), 4)
    pil = np.asarray(Image.fromarray(lr, mode="F").resize((40, 48), Image.Resampling.BICUBIC))
    # Pillow clamps at the borders, we mirror (as imresize): compare away from them
    np.testing.assert_allclose(ours[8:-8, 8:-8], pil[8:-8, 8:-8], atol=1e-5)
    assert np.allclose(bicubic_upsample(np.full((3, 5), 0.7), 4), 0.7)  # partition of unity


def test_degrade_and_response_by_hand() -> None:
    hsi = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4)
    lr = degrade(hsi, 2, sigma=0)
    assert lr.shape == (2, 2, 2) and lr[0, 0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)
    srf = camera_response(31)
    assert srf.shape == (3, 31) and np.allclose(srf.sum(1), 1)
    wl = np.linspace(400, 700, 31)
    assert [wl[i] for i in srf.argmax(1)] == [610.0, 540.0, 450.0]
    with pytest.raises(InvalidInputError):
        degrade(np.zeros((2, 6, 6)), 4)


def test_synthetic_scene_is_smooth_spectra_and_seeded() -> None:
    a, b = synthetic_scene(32, seed=5), synthetic_scene(32, seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (31, 32, 32) and 0 <= a.min() and a.max() <= 1
    # smooth spectra: neighbouring bands differ much less than the spectrum varies
    assert np.abs(np.diff(a, axis=0)).mean() < 0.2 * a.std(axis=0).mean() + 0.05


def test_missing_file_says_where(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"test_cave\(with_up\)x4.h5.*Efficient-MIF"):
        HISRDataset(tmp_path, "test")


def test_truncated_missing_key_bad_shapes_nan(tmp_path: Path, cave: Path) -> None:
    good = (cave / "train_cave(with_up)x4.h5").read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good[: len(good) // 3])
    with pytest.raises(InvalidInputError, match="truncated"):
        HISRDataset(trunc)
    base = {"GT": np.zeros((2, 31, 16, 16), "f4"), "LRHSI": np.zeros((2, 31, 4, 4), "f4"),
            "RGB": np.zeros((2, 3, 16, 16), "f4"), "HSI_up": np.zeros((2, 31, 16, 16), "f4")}

    def write(name: str, **over: np.ndarray | None) -> Path:
        p = tmp_path / name
        with h5py.File(p, "w") as f:
            for k, v in {**base, **over}.items():
                if v is not None:
                    f.create_dataset(k, data=v)
        return p

    with pytest.raises(InvalidInputError, match="HSI_up"):
        HISRDataset(write("nokey.h5", HSI_up=None))
    with pytest.raises(InvalidInputError, match="3 bands"):
        HISRDataset(write("rgb4.h5", RGB=np.zeros((2, 4, 16, 16), "f4")))
    with pytest.raises(InvalidInputError, match="sample counts"):
        HISRDataset(write("count.h5", GT=np.zeros((3, 31, 16, 16), "f4")))
    with pytest.raises(InvalidInputError, match="bands on the RGB grid"):
        HISRDataset(write("bands.h5", HSI_up=np.zeros((2, 30, 16, 16), "f4")))
    bad = base["LRHSI"].copy()
    bad[1, 0, 0, 0] = np.nan
    ds = HISRDataset(write("nan.h5", LRHSI=bad))
    assert ds[0]["lrhsi"].shape == (31, 4, 4)
    with pytest.raises(InvalidInputError, match="NaN"):
        ds[1]
