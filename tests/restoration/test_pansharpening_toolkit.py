"""Pansharpening toolkit: MTF filters, interp23, Wald's protocol, classical methods, the
PanCollection reader, and the real WorldView-3/WorldView-2 samples."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
import torch
from scipy import ndimage

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.metrics.pansharpening import full_resolution_metrics, reduced_resolution_metrics
from geoneurips.restoration.pansharpening import classical, mtf
from geoneurips.restoration.pansharpening.data import (
    MATERIAL_SPECTRA,
    PanCollection,
    display_image,
    material_spectra,
    synthetic_scene,
    write_fixture,
)

# ------------------------------------------------------------------------------------ MTF


@pytest.mark.parametrize("sensor,bands", [("WV3", 8), ("QB", 4), ("WV2", 8), ("none", 3)])
def test_mtf_kernels_match_nyquist_gains(sensor: str, bands: int) -> None:
    k = mtf.mtf_kernel(sensor, bands, ratio=4)
    assert k.shape == (bands, 41, 41)
    assert k.sum(axis=(1, 2)) == pytest.approx(np.ones(bands))
    assert np.allclose(k, k[:, ::-1, :]) and np.allclose(k, np.swapaxes(k, 1, 2))
    x = np.arange(41) - 20
    gains = np.real((k.sum(axis=1) * np.exp(-2j * np.pi * x / 8)).sum(axis=1))
    expected = mtf.ms_gnyq(sensor, bands)
    # the Gaussian passes through GNyq at the Nyquist frequency of the coarse grid; the
    # Kaiser window lowers it slightly
    assert np.all(np.abs(gains - expected) < 0.03)
    assert mtf.pan_gnyq("WV3") == 0.14 and mtf.normalize_sensor("WorldView-3") == "WV3"


def test_interp23_interpolates_and_keeps_constants() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((3, 12, 10))
    up = mtf.interp23(x, 4)
    assert up.shape == (3, 48, 40)
    assert np.allclose(up[:, 2::4, 2::4], x)  # pixel j lands on 4 j + 2
    assert np.allclose(mtf.decimate(up, 4), x)
    assert up.mean() == pytest.approx(x.mean())
    assert np.allclose(mtf.interp23(np.full((2, 8, 8), 7.0), 4), 7.0)
    sym = mtf.interp23(x, 4, mode="symmetric")
    assert np.allclose(sym[:, 2::4, 2::4], x)
    assert np.allclose(mtf.interp23(x, 2)[:, 1::2, 1::2], x)
    with pytest.raises(InvalidInputError, match="power of 2"):
        mtf.interp23(x, 3)


def test_imresize_matches_matlab_bicubic_on_a_ramp() -> None:
    ramp = np.tile(np.arange(1, 65, dtype=float), (64, 1))[None]
    out = mtf.imresize(ramp, 0.25)
    assert out.shape == (1, 16, 16)
    # interior output j (1-based) samples input coordinate 4 j - 1.5 (a linear function is
    # reproduced by the cubic kernel); borders are mirrored
    j = np.arange(3, 15)
    assert out[0, 0, j - 1] == pytest.approx(4 * j - 1.5)
    assert np.allclose(mtf.imresize(np.full((1, 40, 40), 3.0), 0.25), 3.0)


def test_wald_protocol_shapes_and_errors() -> None:
    ms, pan = np.random.default_rng(1).random((4, 32, 32)), np.ones((1, 128, 128))
    ms_lr, pan_lr = mtf.wald_reduce(ms, pan, "QB")
    assert ms_lr.shape == (4, 8, 8) and pan_lr.shape == (1, 32, 32)
    _, pan_mtf = mtf.wald_reduce(ms, pan, "QB", pan_filter="mtf")
    assert pan_mtf.shape == (1, 32, 32)
    rr = mtf.make_reduced_resolution(ms, pan, "QB")
    assert {k: v.shape for k, v in rr.items()} == {
        "gt": (4, 32, 32), "ms": (4, 8, 8), "lms": (4, 32, 32), "pan": (1, 32, 32)}
    assert np.allclose(rr["lms"], mtf.interp23(rr["ms"]))
    with pytest.raises(InvalidInputError, match="MS bands"):
        mtf.wald_reduce(np.ones((8, 32, 32)), pan, "QB")
    with pytest.raises(InvalidInputError, match="ratio"):
        mtf.wald_reduce(ms, np.ones((1, 100, 100)), "QB")
    with pytest.raises(InvalidInputError, match="NaN"):
        mtf.wald_reduce(ms * np.nan, pan, "QB")


# ------------------------------------------------------------------------------ classical


def test_classical_methods_leave_ms_when_pan_is_its_intensity() -> None:
    rng = np.random.default_rng(2)
    ms_up = 300 + 100 * ndimage.gaussian_filter(rng.normal(size=(4, 32, 32)), (0, 2, 2))
    pan = ms_up.mean(axis=0, keepdims=True)
    for fn in (classical.brovey, classical.ihs, classical.gram_schmidt):
        assert np.allclose(fn(ms_up, pan), ms_up, rtol=1e-9, atol=1e-6), fn.__name__
    # Brovey: every band is scaled by the same per-pixel factor
    other = 2 * pan + 50 + rng.normal(size=pan.shape)
    fused = classical.brovey(ms_up, other)
    ratio = fused / ms_up
    assert np.allclose(ratio, ratio[0:1])
    # GS: the injected detail is g_b times one image
    detail = classical.gram_schmidt(ms_up, other) - ms_up
    g = classical.fusion_stats(ms_up, other).gs_gains
    assert np.allclose(detail / np.asarray(g)[:, None, None], detail[0:1] / g[0])


def test_streamed_statistics_equal_in_memory() -> None:
    rng = np.random.default_rng(3)
    ms, pan = rng.random((4, 40, 40)) * 100, rng.random((1, 160, 160)) * 200
    whole = classical.fusion_stats(ms, pan)
    acc = classical.StatsAccumulator(4)
    for r in range(0, 40, 7):
        acc.add_ms(ms[:, r : r + 7])
    for r in range(0, 160, 33):
        acc.add_pan(pan[0, r : r + 33])
    streamed = acc.result()
    for a, b in zip(whole.__dict__.values(), streamed.__dict__.values(), strict=True):
        assert np.allclose(a, b, rtol=1e-10)
    assert whole.pan_std == pytest.approx(pan.std(ddof=1))
    with pytest.raises(InvalidInputError, match="unknown"):
        classical.fuse("pca", ms, pan)
    with pytest.raises(InvalidInputError, match="upsample"):
        classical.brovey(ms, pan)


# -------------------------------------------------------------------------- PanCollection


def test_fixture_round_trip_reduced_resolution(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "test_wv3_multiExm1.h5", n=3, size=32, seed=1)
    with h5py.File(path) as f:
        assert {k: f[k].shape for k in f} == {
            "gt": (3, 8, 32, 32), "ms": (3, 8, 8, 8), "lms": (3, 8, 32, 32),
            "pan": (3, 1, 32, 32)}
        gt = f["gt"][1]
        assert gt.min() >= 1 and gt.max() <= 2047 and np.all(gt == np.rint(gt))
    ds = PanCollection(path, sensor="WV3")
    assert len(ds) == 3 and ds.resolution == "reduced" and ds.ratio == 4 and ds.bands == 8
    sample = ds[1]
    assert sample["gt"].dtype == torch.float32
    assert torch.allclose(sample["gt"] * 2047, torch.from_numpy(gt).float(), atol=1e-3)
    assert torch.allclose(sample["lms"], torch.from_numpy(
        mtf.interp23(sample["ms"].double().numpy())).float(), atol=1e-5)
    raw = PanCollection(path, max_value=None)[1]
    assert float(raw["gt"].max()) > 1.5
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["pan"].shape == (2, 1, 32, 32)
    fig = ds.plot({**sample, "prediction": sample["lms"]}, suptitle="fixture")
    assert len(fig.axes) == 4
    # GF2 data are 10-bit
    assert PanCollection(path, sensor="GF2").max_value == 1023.0


def test_fixture_full_resolution_and_fusion_beats_interpolation(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "test_wv3_OrigScale_multiExm1.h5", n=1, size=64,
                         full_resolution=True, seed=2)
    ds = PanCollection(path)
    assert ds.resolution == "full" and "gt" not in ds[0]
    assert ds[0]["ms"].shape == (8, 16, 16) and ds[0]["pan"].shape == (1, 64, 64)
    rr = PanCollection(write_fixture(tmp_path / "rr.h5", n=1, size=64, seed=3)).arrays(0)
    interp = reduced_resolution_metrics(classical.fuse("interp", rr["ms"], rr["pan"]), rr["gt"])
    bt = reduced_resolution_metrics(classical.fuse("brovey", rr["ms"], rr["pan"]), rr["gt"])
    gs = reduced_resolution_metrics(classical.fuse("gs", rr["ms"], rr["pan"]), rr["gt"])
    assert bt["SCC"] > interp["SCC"] + 0.01 and gs["SCC"] > interp["SCC"] + 0.01
    assert bt["ERGAS"] < interp["ERGAS"] and bt["Q2n"] > interp["Q2n"]


def test_material_spectra_table() -> None:
    table = np.array(list(MATERIAL_SPECTRA.values()))
    assert material_spectra(8).shape == (5, 8) and np.array_equal(material_spectra(8), table)
    assert np.array_equal(material_spectra(4), table[:, [1, 2, 4, 6]])  # B, G, R, NIR1
    five = material_spectra(5)
    assert np.array_equal(five[:, 0], table[:, 0]) and np.array_equal(five[:, -1], table[:, -1])
    assert five[0, 1] == pytest.approx((table[0, 1] + 3 * table[0, 2]) / 4)  # position 1.75
    # the PAN (band mean) tells the materials apart
    assert np.diff(np.sort(table.mean(axis=1))).min() > 0.05
    with pytest.raises(InvalidInputError, match="bands"):
        material_spectra(0)


def test_materials_scenes_hold_pure_spectra_that_interpolation_mixes(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "m.h5", n=2, size=32, seed=4, scene="materials")
    ds = PanCollection(path, sensor="WV3")
    assert len(ds) == 2 and ds[0]["gt"].shape == (8, 32, 32) and ds[0]["ms"].shape == (8, 8, 8)
    lib = material_spectra(8)

    def near_library(x: np.ndarray, degrees: float) -> float:
        flat = x.reshape(x.shape[0], -1)
        cos = (lib @ flat) / np.linalg.norm(lib, axis=1)[:, None] / np.linalg.norm(flat, axis=0)
        return float((np.degrees(np.arccos(np.clip(cos.max(axis=0), -1, 1))) < degrees).mean())

    for i in range(2):
        rr = ds.arrays(i)
        assert rr["gt"].min() >= 1 and rr["gt"].max() <= 2047
        # most ground-truth pixels are (close to) one material; interpolation mixes them
        assert near_library(rr["gt"], 3.0) > 0.45 and near_library(rr["lms"], 3.0) < 0.3
        # the mixing is spectral: Brovey only rescales lms, so its SAM stays that of lms
        lms = reduced_resolution_metrics(rr["lms"], rr["gt"])
        bt = reduced_resolution_metrics(classical.brovey(rr["lms"], rr["pan"]), rr["gt"])
        assert lms["SAM"] > 5.0 and bt["SAM"] == pytest.approx(lms["SAM"], abs=0.05)
        assert bt["ERGAS"] < lms["ERGAS"]
    # same seed, same scene; the default kind is unchanged by the option
    a = synthetic_scene(8, seed=3, scene="materials")
    assert all(np.array_equal(x, y) for x, y in
               zip(a, synthetic_scene(8, seed=3, scene="materials"), strict=True))
    assert not np.array_equal(a[0], synthetic_scene(8, seed=3)[0])
    full = PanCollection(write_fixture(tmp_path / "f.h5", n=1, size=32, bands=4, sensor="QB",
                                       full_resolution=True, scene="materials"))
    assert full.resolution == "full" and full[0]["ms"].shape == (4, 8, 8)
    with pytest.raises(InvalidInputError, match="scene"):
        synthetic_scene(8, scene="urban")


def test_display_image() -> None:
    rng = np.random.default_rng(0)
    rgb = display_image(rng.random((8, 16, 12)))
    assert rgb.shape == (16, 12, 3) and rgb.min() >= 0 and rgb.max() <= 1
    grey = display_image(torch.from_numpy(rng.random((1, 16, 12))))
    assert grey.shape == (16, 12) and grey.min() == 0 and grey.max() == 1


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="PanCollection"):
        PanCollection(tmp_path / "missing.h5")
    good = write_fixture(tmp_path / "good.h5", n=1, size=32)
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(InvalidInputError, match="HDF5"):
        PanCollection(trunc)
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f["ms"] = np.ones((1, 8, 8, 8))
        f["pan"] = np.ones((1, 1, 32, 32))
    with pytest.raises(InvalidInputError, match="lms"):
        PanCollection(tmp_path / "nokey.h5")
    with h5py.File(tmp_path / "shape.h5", "w") as f:
        f["ms"] = np.ones((1, 8, 8, 8))
        f["lms"] = np.ones((1, 8, 30, 30))
        f["pan"] = np.ones((1, 1, 32, 32))
    with pytest.raises(InvalidInputError, match="lms"):
        PanCollection(tmp_path / "shape.h5")
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f["ms"] = np.full((1, 8, 8, 8), np.nan)
        f["lms"] = np.ones((1, 8, 32, 32))
        f["pan"] = np.ones((1, 1, 32, 32))
    with pytest.raises(InvalidInputError, match="NaN"):
        PanCollection(tmp_path / "nan.h5")[0]
    assert not list(tmp_path.glob(".*.h5"))  # no temporary left behind


# ---------------------------------------------------------------------------- real samples


def _load(real_data: Path, name: str, ms_key: str) -> tuple[np.ndarray, np.ndarray]:
    d = sio.loadmat(real_data / "pansharpening" / name)
    ms = np.moveaxis(d[ms_key].astype(np.float64), -1, 0)
    pan = d["I_PAN"].astype(np.float64)[None]
    return ms, pan


def _evaluate(ms: np.ndarray, pan: np.ndarray, sensor: str) -> dict[str, dict[str, float]]:
    rr = mtf.make_reduced_resolution(ms, pan, sensor)
    out: dict[str, dict[str, float]] = {}
    for method in ("interp", "brovey", "gs"):
        fused = classical.fuse(method, rr["ms"], rr["pan"])
        out[method] = reduced_resolution_metrics(fused, rr["gt"], ratio=4, max_value=2047)
        full = classical.fuse(method, ms, pan)
        out[method].update(full_resolution_metrics(full, ms, pan, sensor, 4, 2047))
    return out


def _check_sane(res: dict[str, dict[str, float]]) -> None:
    for method, m in res.items():
        assert 0 < m["Q2n"] <= 1 and 0 < m["SCC"] <= 1, method
        assert 0 < m["HQNR"] <= 1 and 0 <= m["D_lambda"] < 1 and 0 <= m["D_s"] < 1, method
        assert m["SAM"] > 0 and m["ERGAS"] > 0
    for method in ("brovey", "gs"):
        # injecting PAN detail sharpens: better spatial correlation, error and Q2n
        assert res[method]["SCC"] > res["interp"]["SCC"] + 0.1
        assert res[method]["ERGAS"] < res["interp"]["ERGAS"]
        assert res[method]["Q2n"] > res["interp"]["Q2n"]
    # Brovey only rescales each pixel's spectrum: its SAM equals interpolation's
    assert res["brovey"]["SAM"] == pytest.approx(res["interp"]["SAM"], rel=1e-9)


def test_real_worldview3_sample(real_data: Path) -> None:
    ms, pan = _load(real_data, "WV3_example.mat", "I_MS_LR")
    assert ms.shape == (8, 32, 32) and pan.shape == (1, 128, 128)
    res = _evaluate(ms, pan, "WV3")
    _check_sane(res)
    assert _evaluate(ms, pan, "WV3") == res  # deterministic


def test_real_worldview2_sample_crop(real_data: Path) -> None:
    ms, pan = _load(real_data, "imgWV2.mat", "I_MS")
    assert ms.shape == (8, 320, 320) and pan.shape == (1, 1280, 1280)
    ms, pan = ms[:, 64:192, 64:192], pan[:, 256:768, 256:768]
    res = _evaluate(ms, pan, "WV2")
    _check_sane(res)


@pytest.mark.slow
def test_real_worldview2_sample_full(real_data: Path) -> None:
    ms, pan = _load(real_data, "imgWV2.mat", "I_MS")
    _check_sane(_evaluate(ms, pan, "WV2"))


def test_metamers_scenes_pan_does_not_identify_spectra() -> None:
    """``scene="metamers"``: six materials per scene, pairs of unrelated spectra with the same
    band mean (= PAN brightness), drawn afresh for every scene."""
    from geoneurips.restoration.pansharpening.data import _metamers_latent, synthetic_scene

    spectra = []
    for seed in (0, 1):
        latent = _metamers_latent(64, 8, 4, np.random.default_rng(seed))
        # materials = distinct spectra up to the mild brightness texture: normalise it away
        direction = latent / latent.mean(axis=0, keepdims=True)
        uniq = np.unique(np.round(direction.reshape(8, -1).T, 6), axis=0)
        assert len(uniq) <= 6
        spectra.append(uniq)
        means = latent.mean(axis=0)  # what the PAN sees
        labels = np.unique(np.round(direction.reshape(8, -1).T, 6), axis=0,
                           return_inverse=True)[1].reshape(64, 64)
        level = {int(k): float(np.median(means[labels == k])) for k in np.unique(labels)}
        # pairs of materials share a PAN level (within the 5 % texture) yet differ in spectrum
        vals = sorted(level.values())
        assert any(abs(a - b) < 0.02 * max(a, b) for a, b in zip(vals[:-1], vals[1:],
                                                                 strict=True))
        assert np.ptp(uniq, axis=0).max() > 0.3
    assert not np.allclose(spectra[0][0], spectra[1][0])
    ms, pan = synthetic_scene(16, scene="metamers", seed=3)
    assert ms.shape == (8, 16, 16) and pan.shape == (1, 64, 64)
    with pytest.raises(InvalidInputError, match="metamers"):
        synthetic_scene(16, scene="nope")
