"""SynRS3D readers on our fixture writer and on a real GeoTIFF.

No independent SynRS3D file exists offline: the dataset (HF ``JTRNEO/SynRS3D``, Zenodo
13905264) ships no small sample, and its repository only the split lists. TorchGeo 0.8.1
has ``GeoNRW`` and ``DFC2022`` readers, but for those datasets' original layouts, not
SynRS3D's re-packaging, and no fixture of theirs is in ../shared/data/torchgeo_fixtures;
there is no DFC2018/DFC2019 reader. So the layout is checked on our writer, the remap
rules against values worked by hand from ``utils/datasets_config.py``, and the image
reader on a real 3-band GeoTIFF (rasterio's RGB.byte.tif) placed in a target folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.segmentation.synrs3d.data import (
    SynRS3D,
    SynRS3DTarget,
    clean_ndsm,
    label_category,
    remap_labels,
    write_fixture,
)


def test_remaps_by_hand() -> None:
    raw = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 65], np.uint8)
    assert remap_labels(raw, "OEM", "combined").tolist() == [255, 0, 0, 0, 0, 1, 0, 0, 2,
                                                              255, 255, 255]
    assert remap_labels(raw, "OEM", "normal").tolist() == [255, 0, 1, 2, 3, 4, 5, 6, 7,
                                                            255, 255, 255]
    assert remap_labels(raw, "DFC19", "normal").tolist() == [255, 255, 0, 255, 255, 1, 2,
                                                              255, 255, 3, 4, 2]
    assert remap_labels(raw, "DFC19", "combined").tolist() == [255, 255, 0, 255, 255, 1, 2,
                                                                255, 255, 0, 0, 2]
    assert remap_labels(raw[:6], "ISPRS", "combined").tolist() == [0, 2, 0, 1, 0, 0]
    with pytest.raises(InvalidInputError):
        remap_labels(raw, "XYZ")
    assert label_category("terrain_g005_high_v1") == "OEM"
    assert label_category("DFC19_OMA") == "DFC19"
    assert label_category("geonrw_urban") is None


def test_clean_ndsm() -> None:
    h = np.array([np.nan, -1.0, 0.0, 12.5, 450.0, 450.5, 1e4], np.float32)
    np.testing.assert_array_equal(clean_ndsm(h), [0, -1, 0, 12.5, 450, 0, 0])
    assert np.isnan(h[0])  # input untouched


def test_fixture_round_trip(tmp_path: Path) -> None:
    import rasterio

    write_fixture(tmp_path, n=3, size=16, seed=1)
    ds = SynRS3D(tmp_path, with_change=True)
    assert len(ds) == 6
    assert {f for f, _ in ds.files} == {tmp_path / "grid_g05_mid_v1",
                                         tmp_path / "terrain_g005_high_v2"}
    s = ds[0]
    folder, stem = ds.files[0]
    with rasterio.open(folder / "opt" / f"{stem}.tif") as f:
        np.testing.assert_array_equal(s["image"].numpy(), f.read().astype(np.float32))
    with rasterio.open(folder / "gt_nDSM" / f"{stem}.tif") as f:
        raw = f.read(1)
    assert np.isnan(raw[0, 0]) and raw[0, 1] == 500.0
    assert s["height"][0, 0] == 0 and s["height"][0, 1] == 0
    np.testing.assert_array_equal(s["height"].numpy()[1:], raw[1:])
    with rasterio.open(folder / "gt_ss_mask" / f"{stem}.tif") as f:
        codes = f.read(1)
    np.testing.assert_array_equal(s["mask"].numpy(), remap_labels(codes, "OEM"))
    assert set(np.unique(s["mask"].numpy())) <= {0, 1, 2, 255}
    assert s["pre_image"].shape == (3, 16, 16)
    with rasterio.open(folder / "gt_cd_mask" / f"{stem}.tif") as f:
        np.testing.assert_array_equal(s["change"].numpy(), (f.read(1) == 255).astype(int))
    assert SynRS3D(tmp_path, folders=["grid_g05_mid_v1"], scheme="normal")[0]["mask"].max() <= 255

    t = SynRS3DTarget(tmp_path, "DFC19_JAX", "test")
    v = SynRS3DTarget(tmp_path, "DFC19_JAX", "test_syn")
    assert len(t) + len(v) == 3 and len(SynRS3DTarget(tmp_path, "DFC19_JAX", "train")) == 3
    st = t[0]
    with rasterio.open(tmp_path / "DFC19_JAX" / "gt_ss_mask" / f"{st['id']}.tif") as f:
        np.testing.assert_array_equal(st["mask"].numpy(), remap_labels(f.read(1), "DFC19"))
    assert "mask" not in SynRS3DTarget(tmp_path, "DFC19_JAX", labels=False)[0]
    fig = ds.plot(dict(s, prediction_height=s["height"]))
    assert len(fig.axes) == 4


def test_missing_and_bad(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="huggingface"):
        SynRS3D(tmp_path)
    with pytest.raises(DataNotFoundError):
        SynRS3DTarget(tmp_path, "DFC18")
    with pytest.raises(InvalidInputError):
        SynRS3D(tmp_path, folders=["DFC18"])
    write_fixture(tmp_path, n=2, size=8)
    with pytest.raises(DataNotFoundError, match="test.txt"):
        SynRS3D(tmp_path, split="test")
    with pytest.raises(InvalidInputError):
        SynRS3DTarget(tmp_path, "DFC19_JAX", "val")


def test_real_geotiff_as_target_image(tmp_path: Path, real_data: Path) -> None:
    """A real 3-band GeoTIFF (Landsat RGB, uint8) read as a target's ``opt`` image."""
    import rasterio

    src = real_data / "rasters" / "RGB.byte.tif"
    (tmp_path / "geonrw_urban" / "opt").mkdir(parents=True)
    shutil.copy(src, tmp_path / "geonrw_urban" / "opt" / "scene_1.tif")
    (tmp_path / "geonrw_urban" / "test.txt").write_text("scene_1\n")
    s = SynRS3DTarget(tmp_path, "geonrw_urban", labels=False)[0]
    with rasterio.open(src) as f:
        ref = f.read()
    assert s["image"].shape == (3, 718, 791)
    np.testing.assert_array_equal(s["image"].numpy(), ref.astype(np.float32))
    # a target without land cover gives no mask even when labels are asked for
    (tmp_path / "geonrw_urban" / "gt_nDSM").mkdir()
    with rasterio.open(src) as f:
        prof = f.profile | {"count": 1, "dtype": "float32", "nodata": None}
        with rasterio.open(tmp_path / "geonrw_urban" / "gt_nDSM" / "scene_1.tif", "w",
                           **prof) as g:
            g.write(f.read(1).astype(np.float32) * 2, 1)
    s = SynRS3DTarget(tmp_path, "geonrw_urban")[0]
    assert "mask" not in s
    np.testing.assert_array_equal(s["height"].numpy(),
                                  clean_ndsm(ref[0].astype(np.float32) * 2))
