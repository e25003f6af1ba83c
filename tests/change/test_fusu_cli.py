"""``geoneurips fusu-change``: FUSU-Net on GeoTIFFs (grid kept, equals the in-memory model on
one tile, nodata, tiling) and bad inputs that leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import typer
from affine import Affine
from typer.testing import CliRunner

from geoneurips.change.fusu.cli import OUTPUT_NAMES, fusu_change, parse_dates, run_fusu_change
from geoneurips.change.fusu.model import FUSUNet, FUSUNetConfig
from geoneurips.change.fusu.pipeline import (
    FUSUTask,
    load_model,
    make_synthetic_scenes,
    predict,
    save_model,
)
from geoneurips.errors import CheckpointError, CoregistrationError, InvalidInputError
from geoneurips.raster.io import read_raster, write_raster

CRS = "EPSG:32650"
X0, Y0 = 500000.0, 2500000.0
CFG = FUSUNetConfig.tiny(ts_channels=4, crop_size=8)  # HR 1 m, series 4 m: 32 px = 8 px
DATE_NAMES = ("A_8", "A_9", "A_11", "A_12", "C_2", "C_5", "C_8", "C_11")  # synthetic dates


def _hr(col: float = 0.0) -> Affine:
    return Affine(1.0, 0, X0 + col, 0, -1.0, Y0)


def _ts() -> Affine:  # 2 series pixels (8 m) of context around the HR image
    return Affine(4.0, 0, X0 - 8.0, 0, -4.0, Y0 + 8.0)


def _write_series(folder: Path, ts: np.ndarray, names: tuple[str, ...] = DATE_NAMES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for arr, name in zip(ts, names, strict=True):
        write_raster(folder / f"p_{name}.tif", arr.astype(np.float32), crs=CRS, transform=_ts())
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("fusu_cli")
    scene = make_synthetic_scenes(1, np.random.default_rng(3))[0]
    im1 = scene["im1"].transpose(2, 0, 1)
    im2 = scene["im2"].transpose(2, 0, 1)
    ts = scene["time_series"]  # (8, 4, 12, 12), 4 m pixels, centre 8 x 8 = the HR footprint
    torch.manual_seed(0)
    task = FUSUTask(CFG, ts_mean=[0.4] * 4, ts_std=[0.3] * 4)
    assert task.model.fusion is not None
    with torch.no_grad():  # let the series dominate, so a misplaced series window shows
        task.model.fusion.proj.weight.mul_(50.0)
    ck = save_model(task, d / "fusu.pt", tile_size=32, series_window=12)
    bad_ck = d / "other.pt"
    torch.save({"weight": torch.zeros(3)}, bad_ck)
    return {
        "dir": d, "im1": im1, "im2": im2, "ts": ts, "dates": scene["dates"], "task": task,
        "ck": ck, "bad_ck": bad_ck,
        "before": write_raster(d / "before.tif", im1, crs=CRS, transform=_hr()),
        "after": write_raster(d / "after.tif", im2, crs=CRS, transform=_hr()),
        "series": _write_series(d / "series", ts),
    }


def _in_memory(task: FUSUTask, im1: np.ndarray, im2: np.ndarray, ts: np.ndarray,
               dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    batch = {
        "image": torch.from_numpy(np.stack([im1, im2]).astype(np.float32))[None],
        "time_series": torch.from_numpy(ts.astype(np.float32))[None],
        "dates": torch.from_numpy(np.asarray(dates, np.int64))[None],
    }
    seg, change = predict(task, batch)
    return seg[0].numpy(), change[0].numpy()


def test_cli_single_tile_equals_model_in_memory(data: dict[str, Any]) -> None:
    out = data["dir"] / "out_cli"
    app = typer.Typer()
    app.command("fusu-change")(fusu_change)
    res = CliRunner().invoke(app, [str(data["before"]), str(data["after"]), "-o", str(out),
                                   "--checkpoint", str(data["ck"]),
                                   "--series", str(data["series"]), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["tile_size"] == 32 and summary["series_window"] == 12
    assert summary["ratio"] == 4 and summary["series_files"] == 8
    assert summary["dates"] == [7, 8, 10, 11, 25, 28, 31, 34]  # from file names, sorted
    seg_ref, ch_ref = _in_memory(data["task"], data["im1"], data["im2"], data["ts"],
                                 data["dates"])
    maps = []
    for name in OUTPUT_NAMES:
        arr, info = read_raster(out / name)
        assert info.crs is not None and info.crs.to_string() == CRS
        assert info.transform == _hr() and arr.shape == (1, 32, 32)
        assert info.dtype == "uint8" and info.nodata == 255
        maps.append(arr[0])
    assert maps[0].min() >= 1 and maps[0].max() <= CFG.num_classes
    assert set(np.unique(maps[2])) <= {0, 1}
    np.testing.assert_array_equal(maps[0], seg_ref[0])
    np.testing.assert_array_equal(maps[1], seg_ref[1])
    np.testing.assert_array_equal(maps[2], ch_ref)
    assert summary["changed_fraction"] == pytest.approx(ch_ref.mean(), abs=1e-6)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_NAMES)


def test_run_tiled_keeps_grid_and_nodata(data: dict[str, Any], tmp_path: Path) -> None:
    """64 x 48 px, 32 px tiles with 4 px overlap; NaN in BEFORE and in one series pixel of
    one date become nodata (255) in every output, nowhere else."""
    rng = np.random.default_rng(0)
    h, w = 48, 64
    before = rng.integers(0, 256, (3, h, w)).astype(np.float32)
    before[:, 5:9, 40:47] = np.nan
    after = rng.integers(0, 256, (3, h, w)).astype(np.uint8)
    ts = rng.random((3, 4, h // 4 + 4, w // 4 + 4)).astype(np.float32)
    ts[1, 2, 5, 7] = np.nan  # series pixel (5, 7) = HR rows 12..15, cols 20..23
    b = write_raster(tmp_path / "b.tif", before, crs=CRS, transform=_hr())
    a = write_raster(tmp_path / "a.tif", after, crs=CRS, transform=_hr())
    files = []
    for i in range(3):
        p = tmp_path / f"s{i}.tif"
        write_raster(p, ts[i], crs=CRS, transform=_ts())
        files.append(p)
    # given out of order: --dates belong to the files as given and are sorted with them
    summary = run_fusu_change(b, a, tmp_path / "out", data["ck"], series=files[::-1],
                              dates="2021-03,2020-11,2020-08", overlap=4, progress=False)
    assert summary["dates"] == [7, 10, 14] and summary["overlap"] == 4
    expected_bad = np.zeros((h, w), bool)
    expected_bad[5:9, 40:47] = True
    expected_bad[12:16, 20:24] = True
    for name in OUTPUT_NAMES:
        arr, info = read_raster(tmp_path / "out" / name)
        assert info.transform == _hr() and info.crs is not None
        assert arr.shape == (1, h, w) and info.nodata == 255
        np.testing.assert_array_equal(arr[0] == 255, expected_bad)
        valid = arr[0][~expected_bad]
        if name == "change.tif":
            assert set(np.unique(valid)) <= {0, 1}
        else:
            assert valid.min() >= 1 and valid.max() <= CFG.num_classes
    assert summary["nodata_fraction"] == pytest.approx(expected_bad.mean(), abs=1e-6)


def test_checkpoint_round_trip_and_no_series_model(data: dict[str, Any], tmp_path: Path) -> None:
    task, meta = load_model(data["ck"])
    assert meta == {"tile_size": 32, "series_window": 12}
    assert torch.allclose(task.ts_mean, data["task"].ts_mean)
    for k, v in data["task"].state_dict().items():
        assert torch.equal(task.state_dict()[k], v), k
    torch.manual_seed(1)
    net = FUSUNet(FUSUNetConfig.tiny(use_time_series=False))
    ck = save_model(net, tmp_path / "hr_only.pt")
    with pytest.raises(InvalidInputError, match="no time-series branch"):
        run_fusu_change(data["before"], data["after"], tmp_path / "o1", ck,
                        series=[data["series"]], progress=False)
    assert not (tmp_path / "o1").exists()
    summary = run_fusu_change(data["before"], data["after"], tmp_path / "o2", ck,
                              tile_size=32, progress=False)
    seg, _ = read_raster(tmp_path / "o2" / "landuse_t2.tif")
    batch = {"image": torch.from_numpy(np.stack([data["im1"], data["im2"]])
                                       .astype(np.float32))[None]}
    loaded, _ = load_model(ck)
    ref, _ = predict(loaded, batch)
    np.testing.assert_array_equal(seg[0], ref[0, 1].numpy())
    assert summary["series_window"] is None


def test_parse_dates() -> None:
    names = [Path("x_B_3.tif"), Path("x_A_12.tif")]
    assert parse_dates(names, None) == [14, 11]
    iso = [Path("S2_20190105.tif"), Path("S2_2018-08-01.tif")]
    assert parse_dates(iso, None) == [12, 7]  # year A = 2018
    assert parse_dates(names, "2, A_9") == [2, 8]
    with pytest.raises(InvalidInputError, match="mix"):
        parse_dates(names, "2019-01,A_9")
    with pytest.raises(InvalidInputError, match="2 series"):
        parse_dates(names, "1")
    with pytest.raises(InvalidInputError, match="file name"):
        parse_dates([Path("scene.tif")], None)
    with pytest.raises(InvalidInputError, match="month 13"):
        parse_dates([Path("a.tif")], "2020-13")


def _bad_inputs(data: dict[str, Any], d: Path) -> list[tuple[str, dict[str, Any], type, str]]:
    shifted = write_raster(d / "shifted.tif", data["im2"], crs=CRS, transform=_hr(col=3.0))
    four = write_raster(d / "four.tif", np.concatenate([data["im1"], data["im1"][:1]]),
                        crs=CRS, transform=_hr())
    nan = write_raster(d / "nan.tif", np.full((3, 32, 32), np.nan, np.float32), crs=CRS,
                       transform=_hr())
    s3 = _write_series(d / "s3", data["ts"][:, :3])
    small = d / "small"
    small.mkdir()
    write_raster(small / "p_A_8.tif", data["ts"][0][:, :6, :6], crs=CRS, transform=_ts())
    garbage = d / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    ok = {"before": data["before"], "after": data["after"], "checkpoint": data["ck"],
          "series": [data["series"]]}
    return [
        ("grid", {**ok, "after": shifted}, CoregistrationError, "not co-registered"),
        ("bands", {**ok, "before": four}, InvalidInputError, "4 band"),
        ("series bands", {**ok, "series": [s3]}, InvalidInputError, "expects 4"),
        ("series cover", {**ok, "series": [small]}, CoregistrationError, "does not cover"),
        ("no series", {**ok, "series": None}, InvalidInputError, "--series"),
        ("checkpoint", {**ok, "checkpoint": data["bad_ck"]}, CheckpointError, "not a FUSU"),
        ("garbage", {**ok, "checkpoint": garbage}, CheckpointError, "refused|cannot load"),
        ("all NaN", {**ok, "before": nan}, InvalidInputError, "no valid pixel"),
        ("tile", {**ok, "tile_size": 64}, InvalidInputError, "centre crop"),
    ]


def test_bad_inputs_raise_and_write_nothing(data: dict[str, Any], tmp_path: Path) -> None:
    for label, kw, exc, msg in _bad_inputs(data, tmp_path):
        out = tmp_path / f"out_{label.replace(' ', '_')}"
        with pytest.raises(exc, match=msg):
            run_fusu_change(kw["before"], kw["after"], out, kw["checkpoint"],
                            series=kw["series"], tile_size=kw.get("tile_size"), progress=False)
        assert not out.exists(), label
    # an existing output folder keeps its content and gets no partial output
    out = tmp_path / "existing"
    out.mkdir()
    (out / "change.tif").write_bytes(b"old")
    nan = tmp_path / "nan.tif"
    with pytest.raises(InvalidInputError, match="no valid pixel"):
        run_fusu_change(nan, nan, out, data["ck"], series=[data["series"]], progress=False)
    assert [p.name for p in out.iterdir()] == ["change.tif"]
    assert (out / "change.tif").read_bytes() == b"old"


def test_cli_error_exit(data: dict[str, Any], tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("fusu-change")(fusu_change)
    shifted = write_raster(tmp_path / "sh.tif", data["im2"], crs=CRS, transform=_hr(col=1.0))
    res = CliRunner().invoke(app, [str(data["before"]), str(shifted), "-o",
                                   str(tmp_path / "o"), "--checkpoint", str(data["ck"]),
                                   "--series", str(data["series"])])
    assert res.exit_code != 0
    assert isinstance(res.exception, CoregistrationError)
    assert not (tmp_path / "o").exists()
