"""``geoneurips declouds``: streamed compositing, georeferencing, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from affine import Affine
from typer.testing import CliRunner

from geoneurips.raster.io import raster_info, read_raster, write_raster
from geoneurips.restoration.allclear.cli import declouds
from geoneurips.restoration.allclear.composite import composite

T = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4200000.0)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(declouds)
    return app


def _stack(folder: Path, h: int = 37, w: int = 45) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    imgs = rng.uniform(100, 3000, size=(3, 4, h, w)).astype(np.float32)
    cloudy = np.zeros((3, h, w), bool)
    cloudy[0, :20] = True
    cloudy[1, 10:] = True
    cloudy[2, :, :5] = True
    cloudy[:, 30:, 40:] = True  # no clear date there
    imgs[2, :, 0, 0] = np.nan  # NaN counts as not clear
    for t, day in enumerate(("2022-05-01", "2022-05-11", "2022-05-21")):
        write_raster(folder / f"scene_{day}.tif", imgs[t], crs="EPSG:32633", transform=T)
        write_raster(folder / f"scene_{day}_mask.tif", cloudy[t].astype(np.uint8),
                     crs="EPSG:32633", transform=T)
    return imgs, cloudy


def test_declouds_mosaic_streamed_equals_in_memory(tmp_path: Path) -> None:
    imgs, cloudy = _stack(tmp_path / "stack")
    out = tmp_path / "out" / "composite.tif"
    res = CliRunner().invoke(_app(), [str(tmp_path / "stack"), "-o", str(out), "--block", "16",
                                      "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["dates"] == ["2022-05-01", "2022-05-11", "2022-05-21"]
    clear = ~cloudy & ~np.isnan(imgs).any(1)
    with np.errstate(all="ignore"):
        expected = np.nansum(np.where(clear[:, None], imgs, 0), 0) / clear.sum(0)
    got, info = read_raster(out)
    has = clear.any(0)
    np.testing.assert_allclose(got[:, has], expected[:, has], rtol=1e-5)
    # no clear date: filled from the least cloudy date (date 2, 20% + corner cloudy)
    fracs = cloudy.mean(axis=(1, 2))
    t0 = int(np.argmin(fracs))
    np.testing.assert_allclose(got[:, 35, 43], imgs[t0, :, 35, 43])
    assert info.crs.to_epsg() == 32633 and info.transform == T and info.nodata != info.nodata
    assert summary["clear_fraction"] == pytest.approx(has.mean())


def test_declouds_methods_and_nodata_fill(tmp_path: Path) -> None:
    imgs, cloudy = _stack(tmp_path / "s")
    out = composite(tmp_path / "s", tmp_path / "lc.tif", method="least_cloudy", fill="nodata",
                    block=32, progress=False)
    got, _ = read_raster(tmp_path / "lc.tif")
    t0 = int(np.argmin(cloudy.mean(axis=(1, 2))))
    np.testing.assert_allclose(got[:, 5, 6], imgs[t0, :, 5, 6])
    assert out["method"] == "least_cloudy"
    composite(tmp_path / "s", tmp_path / "md.tif", method="median", fill="nodata",
              progress=False)
    md, _ = read_raster(tmp_path / "md.tif")
    assert np.isnan(md[:, 35, 43]).all()


def test_declouds_allclear_naming_from_fixture(tmp_path: Path) -> None:
    from geoneurips.restoration.allclear.data import write_fixture

    write_fixture(tmp_path / "ac", n_rois=1, samples_per_roi=1, size=20, crop=16)
    stack = next((tmp_path / "ac" / "data").glob("roi*"))
    out = tmp_path / "c.tif"
    res = composite(stack, out, progress=False)
    assert len(res["dates"]) == 4 and res["bands"] == 13
    info = raster_info(out)
    assert info.crs.to_epsg() == 4326 and (info.height, info.width) == (20, 20)
    got, _ = read_raster(out)
    assert np.isnan(got[:, 0, 0]).all() and np.isfinite(got[:, 1:-1, 1:-1]).all()


def test_declouds_bad_inputs_leave_nothing(tmp_path: Path) -> None:
    _stack(tmp_path / "s")
    write_raster(tmp_path / "s" / "scene_2022-06-01.tif", np.zeros((4, 37, 45), np.float32),
                 crs="EPSG:4326", transform=T)
    write_raster(tmp_path / "s" / "scene_2022-06-01_mask.tif", np.zeros((37, 45), np.uint8),
                 crs="EPSG:4326", transform=T)
    out = tmp_path / "o.tif"
    res = CliRunner().invoke(_app(), [str(tmp_path / "s"), "-o", str(out), "--json"])
    assert res.exit_code == 2
    assert "CRS differs" in json.loads(res.output)["error"]
    assert not out.exists() and not list(tmp_path.glob(".o.tif*"))
    (tmp_path / "s" / "scene_2022-06-01_mask.tif").unlink()
    res = CliRunner().invoke(_app(), [str(tmp_path / "s"), "-o", str(out)])
    assert res.exit_code == 2 and "no cloud mask" in res.output
    res = CliRunner().invoke(_app(), [str(tmp_path / "empty"), "-o", str(out)])
    assert res.exit_code == 2 and "does not exist" in res.output
    (tmp_path / "s" / "scene_2022-06-01.tif").unlink()
    write_raster(tmp_path / "s" / "scene_2022-06-01.tif", np.zeros((3, 37, 45), np.float32),
                 crs="EPSG:32633", transform=T)
    write_raster(tmp_path / "s" / "scene_2022-06-01_mask.tif", np.zeros((37, 45), np.uint8),
                 crs="EPSG:32633", transform=T)
    res = CliRunner().invoke(_app(), [str(tmp_path / "s"), "-o", str(out), "--method", "x"])
    assert res.exit_code == 2 and "unknown method" in res.output
    res = CliRunner().invoke(_app(), [str(tmp_path / "s"), "-o", str(out)])
    assert res.exit_code == 2 and "different band counts" in res.output
    assert not out.exists()
