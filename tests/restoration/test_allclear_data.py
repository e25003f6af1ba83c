"""AllClear reader: fixture round trip in the published layout, real S1/S2, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.raster.io import read_raster, write_raster
from geoneurips.restoration.allclear.data import (
    AllClearDataset,
    allclear_path,
    center_crop,
    parse_date_from_path,
    preprocess_cld_shdw,
    preprocess_optical,
    preprocess_s1,
    write_fixture,
)


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("allclear")
    write_fixture(root, n_rois=2, samples_per_roi=1, size=20, crop=16, landsat=True, seed=3)
    return root


def test_published_layout_and_sample(fixture_root: Path) -> None:
    meta_path = next((fixture_root / "metadata" / "datasets").glob("test_tx3_*.json"))
    meta = json.loads(meta_path.read_text())
    uid, entry = next(iter(meta.items()))
    assert uid.startswith(entry["roi"][0] + "_2022-")
    s2 = entry["s2_toa"][0][1]
    assert s2.startswith("/share/")  # foreign absolute path, resolved against root
    name = Path(s2).name
    assert name.startswith(entry["roi"][0] + "_s2_toa_2022_") and name.endswith("_median.tif")
    ds = AllClearDataset(fixture_root, "test", center_crop_size=16,
                         aux_sensors=("s1", "landsat8"))
    assert len(ds) == 2
    s = ds[0]
    assert s["input_images"].shape == (13 + 2 + 11, 3, 16, 16)
    assert s["target"].shape == (13, 1, 16, 16)
    assert s["input_cld_shdw"].shape == (2, 3, 16, 16)
    assert s["target_dw"].shape == (1, 1, 16, 16)
    x = s["input_images"].numpy()
    assert np.isfinite(x).all() and x[:13].min() >= 0 and x[:13].max() <= 1
    # NaN border of the files is cropped away: the target matches its raw file scaled by 1e4
    raw, _ = read_raster(ds.resolve(entry["target"][0][1]))
    assert np.isnan(raw[:, 0]).all()
    np.testing.assert_allclose(s["target"][:, 0].numpy(),
                               np.clip(center_crop(raw, 16) / 1e4, 0, 1), atol=1e-6)
    # the target is clear by construction, labels are Dynamic World classes
    assert float(s["target_cld_shdw"].sum()) == 0
    assert set(np.unique(s["target_dw"].numpy())) <= set(range(9))
    # inputs straddle the target date (middle target), S1 one day off is aligned
    td = s["time_differences"].numpy()
    assert (td < 0).any() and (td > 0).any()
    assert not np.allclose(x[13:15], 1.0)
    assert ds.plot(s) is not None


def test_aux_alignment_max_diff_and_split_filter(fixture_root: Path, tmp_path: Path) -> None:
    ds = AllClearDataset(fixture_root, "test", center_crop_size=16, max_diff=0.5)
    s = ds[0]
    np.testing.assert_array_equal(s["input_images"][13:15].numpy(), 1.0)  # S1 1 day off
    rois = sorted((fixture_root / "rois").glob("test_rois_*.txt"))[0]
    keep = rois.read_text().split()[0]
    other = tmp_path / "root"
    (other / "rois").mkdir(parents=True)
    (other / "rois" / "test_rois_1k.txt").write_text(keep + "\n")
    (other / "data").symlink_to(fixture_root / "data")
    meta = next((fixture_root / "metadata" / "datasets").glob("*.json"))
    only = AllClearDataset(other, "test", center_crop_size=16, metadata=meta)
    assert len(only) == 1 and only[0]["roi"] == keep


def test_preprocessing_hand_values() -> None:
    opt = preprocess_optical(np.array([[[-5.0, 5000.0, 12000.0, np.nan]]]))
    np.testing.assert_allclose(opt[0, 0], [0.0, 0.5, 1.0, 0.0])
    s1 = preprocess_s1(np.array([[[-50.0, -12.5, 5.0, np.nan]], [[-50.0, -16.25, 5.0, 0.0]]]))
    np.testing.assert_allclose(s1[0, 0], [0.0, 0.5, 1.0, -1.0])
    np.testing.assert_allclose(s1[1, 0], [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(preprocess_cld_shdw(np.array([[np.nan, 0.0]])), [[1.0, 0.0]])
    assert parse_date_from_path("roi1_s2_toa_2022_3_7_median.tif").day == 7
    with pytest.raises(InvalidInputError, match="cannot parse a date"):
        parse_date_from_path("image.tif")
    with pytest.raises(InvalidInputError, match="smaller than the crop"):
        center_crop(np.zeros((1, 8, 8)), 16)


def test_missing_and_malformed(tmp_path: Path, fixture_root: Path) -> None:
    with pytest.raises(DataNotFoundError, match="allclear.cs.cornell.edu"):
        AllClearDataset(tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError, match="metadata/datasets"):
        AllClearDataset(tmp_path)
    meta = next((fixture_root / "metadata" / "datasets").glob("*.json"))
    with pytest.raises(InvalidInputError, match="tx=12"):
        AllClearDataset(fixture_root, "test", tx=12, metadata=meta)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="cannot read"):
        AllClearDataset(fixture_root, metadata=bad)
    entry = json.loads(meta.read_text())
    for e in entry.values():
        e["target"][0][1] = "/share/x/roi99999/2022_1/s2_toa/roi99999_s2_toa_2022_1_1_median.tif"
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(entry))
    ds = AllClearDataset(fixture_root, metadata=moved, center_crop_size=16)
    with pytest.raises(DataNotFoundError, match="roi99999"):
        ds[0]


def test_real_sentinel_rasters_in_allclear_layout(real_data: Path, tmp_path: Path) -> None:
    """Real S2 L1C (13 bands) and S1 dB rasters arranged in the published layout."""
    from datetime import datetime

    folder = real_data / "sen1floods11"
    s2, info = read_raster(folder / "Spain_7370579_S2Hand.tif")
    s1, _ = read_raster(folder / "Spain_7370579_S1Hand.tif")
    assert s2.shape[0] == 13 and s1.shape[0] == 2
    s2, s1 = s2[:, :40, :40].astype(np.float32), s1[:, :40, :40]
    root = tmp_path / "real"
    roi = "roi42"
    entry: dict[str, list[list[str]]] = {"s2_toa": [], "s1": []}
    for k, day in enumerate((3, 8, 13, 18)):
        date = datetime(2019, 9, day)
        ts = date.strftime("%Y-%m-%d %H:%M:%S")
        cld = np.zeros((5, 40, 40), np.float32)
        cld[1, : 10 * k] = 1
        for sensor, arr in (("s2_toa", s2), ("cld_shdw", cld), ("dw", np.zeros((1, 40, 40))),
                            ("s1", s1)):
            p = allclear_path(root, roi, date, sensor)
            write_raster(p, arr.astype(np.float32), crs=info.crs, transform=info.transform)
            if sensor in entry:
                entry[sensor].append([ts, str(p)])
    meta = {"x": {"roi": [roi, [0, 0]], "target": [entry["s2_toa"][0]],
                  "s2_toa": entry["s2_toa"][1:], "s1": entry["s1"]}}
    (root / "metadata" / "datasets").mkdir(parents=True)
    (root / "metadata" / "datasets" / "test_tx3_s2-s1_real.json").write_text(json.dumps(meta))
    s = AllClearDataset(root, "test", center_crop_size=32)[0]
    np.testing.assert_allclose(s["target"][:, 0].numpy(),
                               np.clip(center_crop(s2, 32), 0, 1e4) / 1e4, rtol=1e-6)
    np.testing.assert_allclose(s["input_images"][13:15, 0].numpy(),
                               preprocess_s1(center_crop(s1, 32)), rtol=1e-6)
    assert s["input_cld_shdw"][0].sum(dim=(1, 2)).tolist() == [32 * 6, 32 * 16, 32 * 26]


def test_dataset_is_a_torchgeo_nongeo_dataset_and_batches(fixture_root: Path) -> None:
    """AllClearDataset is a torch Dataset (TorchGeo NonGeoDataset): a plain DataLoader
    batches it, and plot() gives a figure with the sample's dates."""
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchgeo.datasets import NonGeoDataset

    ds = AllClearDataset(fixture_root, "test", center_crop_size=16)
    assert isinstance(ds, NonGeoDataset) and isinstance(ds, Dataset)
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["input_images"].shape == (2, 13 + 2, 3, 16, 16)
    assert batch["target_cld_shdw"].dtype == torch.float32
    assert batch["roi"] == [ds[0]["roi"], ds[1]["roi"]]
    fig = ds.plot(ds[0], suptitle="x", prediction=ds[0]["target"][:, 0])
    assert len(fig.axes) == 3 + 2


def test_roi_spectra_vary_within_their_bounds() -> None:
    """Per-ROI class spectra (the demo's data): a per-class gain in [0.75, 1.25] (read at
    B7, where the band tilt is 0) times a linear band tilt of at most +-15 % at B1 / B12,
    different for every draw; make_surface fills a label map with the spectra it is given."""
    from geoneurips.restoration.allclear.synthetic import (
        CLASS_SPECTRA,
        make_surface,
        roi_spectra,
    )

    rng = np.random.default_rng(0)
    a, b = roi_spectra(rng), roi_spectra(rng)
    assert a.shape == CLASS_SPECTRA.shape and not np.allclose(a, b)
    gain = a[:, 6] / CLASS_SPECTRA[:, 6]
    assert np.all((gain >= 0.75) & (gain <= 1.25)) and np.ptp(gain) > 0.05
    tilt = a[:, 12] / CLASS_SPECTRA[:, 12] / gain - 1.0  # band 12: slope factor +1
    assert np.all(np.abs(tilt[CLASS_SPECTRA[:, 12] > 0]) <= 0.15 + 1e-12)
    surface = make_surface(np.full((4, 4), 1), np.random.default_rng(1), a)
    texture = surface[:, 0, 0] / a[1]
    assert np.allclose(texture, texture[0]) and abs(texture[0] - 1.0) <= 0.075 + 1e-9
    shared = make_surface(np.full((4, 4), 1), np.random.default_rng(1))
    assert np.allclose(shared[:, 0, 0] / CLASS_SPECTRA[1], texture[0])
