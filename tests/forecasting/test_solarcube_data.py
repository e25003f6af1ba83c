"""SolarCube readers on the published layout.

No real SolarCube file is available offline (the smallest release is a 2 GB tile zip on
Zenodo / Hugging Face, and ../shared/data holds none; the public repository
Ruohan-Li/SolarCube holds code and notebooks only, and a search of the indexed public
repositories for ``SolarSat_2018`` found no sample file), and TorchGeo has no SolarCube reader,
so these tests read files written by our fixture writer, plus HDF5 files written here with
plain h5py in the published layout (integers, ``scale_factor``, ``fillvalue``) to pin the
decoding rules independently of the writer.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.forecasting.solarcube.data import (
    OFFSET,
    SCALE,
    TEST_TILES,
    TRAIN_TILES,
    SolarCubeImage,
    SolarCubePoint,
    block_mean,
    clear_sky_index,
    denormalize,
    insitu_15min,
    normalize,
    open_solarsat,
    read_sitelist,
    site_pixel,
    window_starts,
)
from geoneurips.forecasting.solarcube.synthetic import write_fixture


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    r = tmp_path_factory.mktemp("solarcube")
    info = write_fixture(r, tiles=(1, 5), days=1, size=120, seed=3, gaps=2)
    return r, info


def test_published_layout(root: tuple[Path, dict]) -> None:
    r, _ = root
    names = sorted(p.name for p in r.iterdir())
    for typ in ("vis047", "vis086", "ir133", "ssr", "sza", "cm"):
        assert f"SolarSat_2018_1_{typ}.hdf" in names
    assert {"1_2018_index.csv", "5_2018_index.csv", "solarcube_sitelist.csv",
            "solarcube_insitu.csv"} <= set(names)
    with h5py.File(r / "SolarSat_2018_1_ssr.hdf") as f:
        ds = f["ssr"]
        assert ds.shape == (96, 120, 120) and ds.dtype == np.int16
        assert float(ds.attrs["scale_factor"]) == pytest.approx(0.1)
        assert int(ds.attrs["fillvalue"]) == -32768
    sites = read_sitelist(r)
    assert list(sites.columns) == ["tile_id", "id", "fLine", "fCol", "time_offset", "lon_ulcnr",
                                   "lon_lrcnr", "lat_ulcnr", "lat_lrcnr", "lons", "lats", "name"]
    assert len(pd.read_csv(r / "solarcube_insitu.csv")) == 96 * 15


def test_decoding_scale_fill_and_ocean(tmp_path: Path) -> None:
    """Hand-written files: raw x scale_factor; fill -> NaN, but -1 for ssr (ocean)."""
    raw = np.array([[[10, -9999], [20, 30]]], dtype=np.int16)
    for typ in ("ssr", "vis086"):
        with h5py.File(tmp_path / f"SolarSat_2018_7_{typ}.hdf", "w") as f:
            d = f.create_dataset(typ, data=raw)
            d.attrs["scale_factor"] = 0.5
            d.attrs["fillvalue"] = -9999
    ssr = open_solarsat(tmp_path, 2018, 7, "ssr")
    assert ssr.dims == ("time", "y", "x") and ssr.chunks is not None  # dask-backed
    np.testing.assert_allclose(ssr.values, [[[5.0, -1.0], [10.0, 15.0]]])
    vis = open_solarsat(tmp_path, 2018, 7, "vis086").values
    assert np.isnan(vis[0, 0, 1]) and vis[0, 1, 1] == 15.0


def test_fixture_round_trip(root: tuple[Path, dict]) -> None:
    r, info = root
    truth = info["truth"][1]
    sza = open_solarsat(r, 2018, 1, "sza").values
    np.testing.assert_allclose(sza, truth["sza"], atol=0.006)
    ssr = open_solarsat(r, 2018, 1, "ssr").values
    idx = pd.read_csv(r / "1_2018_index.csv")
    ok = idx["ssr"].to_numpy() > 0
    land = slice(0, 108)
    np.testing.assert_allclose(ssr[ok][:, :, land], truth["ssr"][ok][:, :, land], atol=0.051)
    assert (ssr[ok][:, :, 110:] == -1).all()  # ocean strip
    assert np.isnan(open_solarsat(r, 2018, 1, "vis047").values[~ok]).all()


def test_site_order_is_fcol_fline(root: tuple[Path, dict]) -> None:
    """The public loader reads cube[:, fCol, fLine]; the station agrees with that pixel."""
    r, info = root
    sites = read_sitelist(r)
    row = sites[sites.tile_id == 1].iloc[0]
    assert row.fLine != row.fCol
    assert site_pixel(sites, 1) == (row.fCol, row.fLine)
    assert site_pixel(sites, 1, downscale_s=20) == (int(row.fCol / 20), int(row.fLine / 20))
    ins = insitu_15min(pd.read_csv(r / "solarcube_insitu.csv")[str(row.id)].to_numpy())
    truth = info["truth"][1]["ssr"]
    right = np.abs(ins - truth[:, row.fCol, row.fLine]).mean()
    swapped = np.abs(ins - truth[:, row.fLine, row.fCol]).mean()
    assert right < 10.0 and swapped > 3 * right
    with pytest.raises(InvalidInputError):
        site_pixel(sites, 99)


def test_insitu_resampling_by_hand() -> None:
    x = np.arange(45, dtype=float) ** 1.5
    out = insitu_15min(x)
    assert out.shape == (3,)
    # value k = mean of minutes 15k-7 .. 15k+7, edge-padded at the start
    assert out[1] == pytest.approx(x[8:23].mean())
    assert out[0] == pytest.approx((7 * x[0] + x[0:8].sum()) / 15)
    pd_roll = pd.Series(x).rolling(15, center=True).mean().to_numpy()
    assert out[2] == pytest.approx(pd_roll[30])


def test_window_validity_rules() -> None:
    idx = pd.DataFrame({"a": [1, 1, 1, 0, 1, 1, 1, 1], "b": [1, 1, 1, 1, 1, 1, 0, 0]})
    assert window_starts(idx, ["a"], 3, 1) == [0, 4, 5]
    assert window_starts(idx, ["a", "b"], 3, 1) == [0]
    assert window_starts(idx, ["a", "b"], 3, 1, any_valid=True) == [0, 1, 2, 3, 4, 5]
    assert window_starts(idx, ["a"], 3, 4) == [0, 4]
    with pytest.raises(InvalidInputError):
        window_starts(idx, ["c"], 3, 1)


def test_normalisation_constants() -> None:
    assert SCALE["insitu"] == 279.49 and OFFSET["ssr"] == 186.96
    assert normalize(np.array([186.96 + 279.11]), "ssr")[0] == pytest.approx(1.0)
    v = np.array([0.3, 500.0])
    np.testing.assert_allclose(denormalize(normalize(v, "ir133"), "ir133"), v)
    assert clear_sky_index(np.array([680.0]), np.array([60.0]))[0] == pytest.approx(1.0)
    assert set(TRAIN_TILES) | set(TEST_TILES) == set(range(1, 20))
    assert not set(TRAIN_TILES) & set(TEST_TILES)
    np.testing.assert_allclose(block_mean(np.array([[1.0, 3.0], [np.nan, 5.0]]), 2), [[3.0]])


def test_point_and_image_datasets(root: tuple[Path, dict]) -> None:
    r, info = root
    pt = SolarCubePoint(r, tiles=[1, 5], sample_interval=4)
    assert len(pt) > 0
    s = pt[0]
    assert s["x"].shape == (12, 5) and s["y"].shape == (12, 1)
    tile, start = pt.samples[0]
    f_col, f_line = site_pixel(pt.sites, tile)
    ir = info["truth"][tile]["ir133"][start:start + 12, f_col, f_line]
    np.testing.assert_allclose(s["x"][:, 2].numpy(), (ir - 258.55) / 17.13, atol=1e-3)
    pt.plot(s)
    im = SolarCubeImage(r, tiles=[1], sample_interval=4, downscale_s=5)
    s = im[0]
    assert s["image"].shape == (12, 1, 24, 24) and s["target"].shape == (12, 1, 24, 24)
    assert float(s["image"].max()) <= 0.76 and not bool(s["valid"][:, -1].any())
    im.plot(s)


def test_missing_and_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="zenodo"):
        SolarCubeImage(tmp_path / "nowhere", tiles=[1])
    with pytest.raises(DataNotFoundError):
        SolarCubeImage(tmp_path, tiles=[1])
    with pytest.raises(InvalidInputError):
        open_solarsat(tmp_path, 2018, 1, "rain")
    with pytest.raises(InvalidInputError):
        SolarCubePoint(tmp_path, tiles=[1], x_types=["rain"])


def test_windows_across_chunks_match_the_cube(tmp_path: Path) -> None:
    """Windows are cut from cached day-long Dask chunks; a window that straddles two chunks
    (and the station series) equals a direct read of the cube."""
    write_fixture(tmp_path, tiles=(2,), days=2, size=16, seed=1, gaps=0)
    im = SolarCubeImage(tmp_path, tiles=[2], input_len=4, output_len=4, sample_interval=1)
    cube = open_solarsat(tmp_path, 2018, 2, "ssr").values
    for start in (90, 92, 96, 100):
        np.testing.assert_array_equal(im._window(2, "ssr", start), cube[start:start + 8])
    assert len(im._chunks) == 2
    pt = SolarCubePoint(tmp_path, tiles=[2], input_len=4, output_len=4, sample_interval=1)
    r, c = site_pixel(pt.sites, 2)
    np.testing.assert_array_equal(pt.series(2, "ir133", 93),
                                  open_solarsat(tmp_path, 2018, 2, "ir133").values[93:101, r, c])
