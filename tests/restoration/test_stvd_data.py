"""STVD data: published FV3GFS zarr layout, normalisation, splits, errors, real field."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import zarr

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.restoration.stvd.data import (
    C48_ATMOS_CHANNELS,
    C48_SFC_CHANNELS,
    EPS,
    FV3GFSDownscaling,
    load_stats,
    store_paths,
    write_fixture,
)

KW = {"train_members": (1, 2), "eval_member": 3}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("fv3") / "fv3gfs", members=3, tiles=2,
                         time_steps=7, coarse_size=4, scale=8, seed=1)


def _raw(root: Path, member: int, key: str, name: str) -> np.ndarray:
    """Independent read with the zarr library (not xarray)."""
    g = zarr.open_group(str(store_paths(root, member)[key]), mode="r")
    return np.asarray(g[name][...], dtype=np.float64)


def test_layout_is_published_zarr_v2(root: Path) -> None:
    p = store_paths(root, 2)
    assert p["sfc"] == root / "c48_precip_plus_more_ave/0002/sfc_8xdaily_ave_coarse.zarr"
    assert p["topo"] == root / "c384_topo/0002/atmos_static.zarr"
    for store in p.values():
        assert (store / ".zmetadata").is_file()  # consolidated, zarr v2
    attrs = json.loads((p["precip"] / "PRATEsfc" / ".zattrs").read_text())
    assert attrs["_ARRAY_DIMENSIONS"] == ["time", "tile", "grid_yt", "grid_xt"]
    g = zarr.open_group(str(p["atmos"]), mode="r")
    assert set(C48_ATMOS_CHANNELS) <= set(g.array_keys())
    assert g["ps_coarse"].shape == (7, 2, 4, 4)
    assert zarr.open_group(str(p["precip"]), mode="r")["PRATEsfc"].shape == (7, 2, 32, 32)
    for f in ("ensemble_c48_trainstats/log_chl.pkl", "ensemble_c384_trainstats/topo.pkl"):
        assert (root / f).is_file()


def test_sample_matches_published_normalisation(root: Path) -> None:
    ds = FV3GFSDownscaling(root, "train", **KW)
    assert ds.scale == 8 and ds.coarse_size == (4, 4)
    assert len(ds) == 2 * 2 * 3  # members x tiles x windows of 5 in 7 steps
    idx = 5  # member 1, tile 1, t0 = 2
    assert ds.index(idx) == (1, 1, 2)
    s = ds[idx]
    assert s["image"].shape == (5, 11, 4, 4) and s["target"].shape == (5, 1, 32, 32)
    assert s["topo"].shape == (5, 1, 32, 32)
    st = {k: load_stats(root / f) for k, f in (
        ("chl", "ensemble_c48_trainstats/chl.pkl"), ("log", "ensemble_c48_trainstats/log_chl.pkl"),
        ("fchl", "ensemble_c384_trainstats/chl.pkl"),
        ("flog", "ensemble_c384_trainstats/log_chl.pkl"),
        ("atm", "ensemble_c48_trainstats/atm_chl.pkl"),
        ("topo", "ensemble_c384_trainstats/topo.pkl"))}
    pr = _raw(root, 1, "sfc", "PRATEsfc_coarse")[2:7, 1]
    lg = np.log(pr - st["chl"]["PRATEsfc_coarse"]["min"] + EPS)
    lo, hi = st["log"]["PRATEsfc_coarse"]["min"], st["log"]["PRATEsfc_coarse"]["max"]
    np.testing.assert_allclose(s["image"][:, 0].numpy(), (lg - lo) / (hi - lo), atol=1e-5)
    tmp = _raw(root, 1, "sfc", "TMPsfc_coarse")[2:7, 1]
    c = st["chl"]["TMPsfc_coarse"]
    ch = C48_SFC_CHANNELS.index("TMPsfc_coarse")
    np.testing.assert_allclose(s["image"][:, ch].numpy(),
                               (tmp - c["min"]) / (c["max"] - c["min"]), atol=1e-5)
    ps = _raw(root, 1, "atmos", "ps_coarse")[2:7, 1]
    c = st["atm"]["ps_coarse"]
    np.testing.assert_allclose(s["image"][:, 6].numpy(), (ps - c["min"]) / (c["max"] - c["min"]),
                               atol=1e-5)
    fine = _raw(root, 1, "precip", "PRATEsfc")[2:7, 1]
    flg = np.log(fine - st["fchl"]["PRATEsfc"]["min"] + EPS)
    lo, hi = st["flog"]["PRATEsfc"]["min"], st["flog"]["PRATEsfc"]["max"]
    np.testing.assert_allclose(s["target"][:, 0].numpy(), (flg - lo) / (hi - lo), atol=1e-5)
    z = _raw(root, 1, "topo", "zsurf")[1]
    c = st["topo"]["zsurf"]
    np.testing.assert_allclose(s["topo"][3, 0].numpy(), (z - c["min"]) / (c["max"] - c["min"]),
                               atol=1e-5)
    # dry pixels exist and map to 0; the inverse transform recovers kg m-2 s-1
    assert (fine == 0).any() and float(s["target"].min()) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(ds.denormalize_precip(s["target"][:, 0]), fine, rtol=1e-3,
                               atol=1e-12)
    # coarse precipitation is the 8x8 block mean of the fine field
    np.testing.assert_allclose(fine.reshape(5, 4, 8, 4, 8).mean(axis=(2, 4)), pr, rtol=1e-4)
    np.testing.assert_allclose(ds.normalize_precip(fine), s["target"][:, 0].numpy(), atol=1e-5)
    # ... and the coarse inverse (C48 statistics) recovers it in kg m-2 s-1
    np.testing.assert_allclose(ds.denormalize_coarse_precip(s["image"][:, 0]), pr, rtol=1e-3,
                               atol=1e-12)


def test_eval_split_and_precip_only(root: Path) -> None:
    ds = FV3GFSDownscaling(root, "test", multi=False, **KW)
    assert len(ds) == 3
    assert [ds.index(i) for i in range(3)] == [(3, 0, 0), (3, 1, 1), (3, 0, 2)]
    s = ds[1]
    assert s["image"].shape == (5, 1, 4, 4) and int(s["member"]) == 3
    assert float(s["topo"].abs().max()) == 0.0
    fig = ds.plot(s, prediction=s["target"], suptitle="x")
    assert len(fig.axes) == 15
    with pytest.raises(IndexError):
        ds[3]


def test_is_a_torch_dataset_for_dataloaders(root: Path) -> None:
    """A real map-style torch Dataset (TorchGeo NonGeoDataset), not duck typing."""
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchgeo.datasets import NonGeoDataset

    ds = FV3GFSDownscaling(root, "test", multi=False, **KW)
    assert isinstance(ds, Dataset) and isinstance(ds, NonGeoDataset)
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 5, 1, 4, 4) and batch["member"].tolist() == [3, 3]
    torch.testing.assert_close(batch["target"][1], ds[1]["target"])
    fig = ds.plot(ds[0], show_titles=False)
    assert len(fig.axes) == 10 and fig.axes[0].get_title() == ""


def test_missing_data_says_where(tmp_path: Path, root: Path) -> None:
    with pytest.raises(DataNotFoundError, match="c384_precip_ave") as info:
        FV3GFSDownscaling(tmp_path, "train")
    assert "mandt-lab/STVD" in str(info.value) and "never downloads" in str(info.value)
    with pytest.raises(InvalidInputError, match="split"):
        FV3GFSDownscaling(root, "holdout", **KW)
    with pytest.raises(InvalidInputError, match="fewer than length"):
        FV3GFSDownscaling(root, "train", length=8, **KW)


def test_bad_stores_and_stats(tmp_path: Path) -> None:
    import shutil

    import xarray as xr

    root = write_fixture(tmp_path / "f", members=2, tiles=1, time_steps=5, coarse_size=2,
                         scale=4, seed=2)
    kw = {"train_members": (1,), "eval_member": 2}
    # a pickle with anything but numbers is refused, and so is a truncated one
    stats = root / "ensemble_c48_trainstats/chl.pkl"
    good = stats.read_bytes()
    stats.write_bytes(pickle.dumps({"PRATEsfc_coarse": {"min": 0.0, "max": Path("x")}}))
    with pytest.raises(InvalidInputError, match="refusing"):
        FV3GFSDownscaling(root, "train", **kw)
    stats.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidInputError, match="cannot read statistics"):
        FV3GFSDownscaling(root, "train", **kw)
    stats.write_bytes(good)
    # NaN in a sample
    p = store_paths(root, 1)["precip"]
    ds = xr.open_zarr(p).load()
    ds["PRATEsfc"][1, 0, 0, 0] = np.nan
    ds.to_zarr(p, mode="w", zarr_format=2, consolidated=True)
    with pytest.raises(InvalidInputError, match="NaN"):
        FV3GFSDownscaling(root, "train", **kw)[0]
    # a missing variable
    p = store_paths(root, 1)["atmos"]
    xr.open_zarr(p).load().drop_vars("ps_coarse").to_zarr(
        tmp_path / "tmp.zarr", zarr_format=2, consolidated=True)
    shutil.rmtree(p)
    shutil.move(tmp_path / "tmp.zarr", p)
    with pytest.raises(InvalidInputError, match="ps_coarse"):
        FV3GFSDownscaling(root, "train", **kw)


def test_real_precipitation_field_in_published_layout(real_data: Path, tmp_path: Path) -> None:
    """A real field (Terra, 1-degree global mean daily precipitation, mm/day, with dry
    zeros and a heavy tail) arranged in the FV3GFS layout goes through the reader: 6 tiles
    of 32 x 32 degrees, coarse = 8 x 8 block means, 5 'time steps' = shifted windows."""
    import xarray as xr

    csv = real_data / "terra" / "precipitation_avg_day.csv"
    field = np.loadtxt(csv).reshape(180, 360) / 86400.0  # kg m-2 s-1
    assert field.min() >= 0
    tiles = np.stack([np.stack([field[40 + 2 * t: 72 + 2 * t, 40 * k: 40 * k + 32]
                                for k in range(6)]) for t in range(5)])  # (5, 6, 32, 32)
    coarse = tiles.reshape(5, 6, 4, 8, 4, 8).mean(axis=(3, 5))
    dims = ("time", "tile", "grid_yt", "grid_xt")
    for m in (1, 2):
        p = store_paths(tmp_path, m)
        xr.Dataset({"PRATEsfc_coarse": (dims, coarse.astype(np.float32))}).to_zarr(
            p["sfc"], zarr_format=2, consolidated=True)
        xr.Dataset({"ps_coarse": (dims, coarse.astype(np.float32))}).to_zarr(
            p["atmos"], zarr_format=2, consolidated=True)
        xr.Dataset({"PRATEsfc": (dims, tiles.astype(np.float32))}).to_zarr(
            p["precip"], zarr_format=2, consolidated=True)
        xr.Dataset({"zsurf": (dims[1:], np.zeros((6, 32, 32), np.float32))}).to_zarr(
            p["topo"], zarr_format=2, consolidated=True)

    def mm(a: np.ndarray) -> dict[str, float]:
        return {"min": float(a.min()), "max": float(a.max())}

    st = {
        "ensemble_c48_trainstats/chl.pkl": {"PRATEsfc_coarse": mm(coarse)},
        "ensemble_c48_trainstats/atm_chl.pkl": {"ps_coarse": mm(coarse)},
        "ensemble_c48_trainstats/log_chl.pkl": {
            "PRATEsfc_coarse": mm(np.log(coarse.astype(np.float32) - coarse.min() + EPS))},
        "ensemble_c384_trainstats/chl.pkl": {"PRATEsfc": mm(tiles)},
        "ensemble_c384_trainstats/log_chl.pkl": {
            "PRATEsfc": mm(np.log(tiles.astype(np.float32) - tiles.min() + EPS))},
        "ensemble_c384_trainstats/topo.pkl": {"zsurf": {"min": -1.0, "max": 1.0}},
    }
    for rel, d in st.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(pickle.dumps(d))
    ds = FV3GFSDownscaling(tmp_path, "test", multi=False, train_members=(1,), eval_member=2)
    s = ds[0]
    y = s["target"].numpy()
    assert y.shape == (5, 1, 32, 32) and 0.0 <= y.min() and y.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(ds.denormalize_precip(y[:, 0]), tiles[:, 0], rtol=2e-3,
                               atol=1e-10)
