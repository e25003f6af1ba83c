"""``geoneurips downscale``: georeferenced output, ensemble bands, clear errors, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from affine import Affine
from typer.testing import CliRunner

from geoneurips.raster.io import raster_info, read_raster, write_raster
from geoneurips.restoration.stvd.cli import downscale
from geoneurips.restoration.stvd.model import STVD, STVDConfig
from geoneurips.restoration.stvd.pipeline import save_model

STATS = {
    "c48_chl": {"PRATEsfc_coarse": {"min": 0.0, "max": 1e-3}},
    "c48_log_chl": {"PRATEsfc_coarse": {"min": float(np.log(1e-14)), "max": float(np.log(1e-3))}},
    "c384_chl": {"PRATEsfc": {"min": 0.0, "max": 2e-3}},
    "c384_log_chl": {"PRATEsfc": {"min": float(np.log(1e-14)), "max": float(np.log(2e-3))}},
}


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    model = STVD(STVDConfig.tiny(scale=4, lr_channels=1, use_topo=False)).eval()
    ckpt = save_model(model, tmp_path / "stvd.pt", stats=STATS)
    rng = np.random.default_rng(0)
    coarse = (rng.gamma(1.0, 1e-4, size=(5, 4, 4))).astype(np.float32)
    tif = write_raster(tmp_path / "coarse.tif", coarse, crs="EPSG:32618",
                       transform=Affine(8000.0, 0, 500000.0, 0, -8000.0, 4200000.0))
    return {"ckpt": ckpt, "tif": tif, "dir": tmp_path}


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(downscale)
    return app


def test_downscale_keeps_georeference(files: dict[str, Path]) -> None:
    out = files["dir"] / "fine.tif"
    r = CliRunner().invoke(_app(), [str(files["tif"]), "-o", str(out), "--checkpoint",
                                    str(files["ckpt"]), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    info = raster_info(out)
    assert info.crs.to_epsg() == 32618 and (info.width, info.height, info.count) == (16, 16, 5)
    assert info.transform == Affine(2000.0, 0, 500000.0, 0, -2000.0, 4200000.0)
    assert info.bounds == raster_info(files["tif"]).bounds
    arr, _ = read_raster(out)
    assert np.isfinite(arr).all() and (arr >= 0).all() and arr.max() <= 2e-3 * 1.001
    assert summary["frames"] == 5 and summary["scale"] == 4
    # an ensemble: members x frames bands, member-major descriptions
    out2 = files["dir"] / "ens.tif"
    r = CliRunner().invoke(_app(), [str(files["tif"]), "-o", str(out2), "--checkpoint",
                                    str(files["ckpt"]), "--members", "2", "--steps", "2"])
    assert r.exit_code == 0, r.output
    info2 = raster_info(out2)
    assert info2.count == 10 and info2.descriptions[5] == "member2_t0"


def test_downscale_errors_leave_nothing(files: dict[str, Path]) -> None:
    d = files["dir"]
    bad = np.full((5, 4, 4), 1e-4, np.float32)
    bad[2, 1, 1] = np.nan
    nan_tif = write_raster(d / "nan.tif", bad, crs="EPSG:4326",
                           transform=Affine(1.0, 0, 10.0, 0, -1.0, 50.0))
    runner = CliRunner()
    for args, msg in [
        ([str(nan_tif)], "NaN/nodata"),
        ([str(files["tif"]), "--checkpoint", str(d / "missing.pt")], "does not exist"),
        ([str(d / "nope.tif")], "nope.tif"),
    ]:
        out = d / "never.tif"
        argv = [*args, "-o", str(out), "--json"]
        if "--checkpoint" not in argv:
            argv += ["--checkpoint", str(files["ckpt"])]
        r = runner.invoke(_app(), argv)
        assert r.exit_code == 2 and msg in json.loads(r.output)["error"], r.output
        assert not out.exists()
    # a full multi-channel checkpoint is refused for single-band GeoTIFF input
    full = save_model(STVD(STVDConfig.tiny(scale=4)), d / "multi.pt", stats=STATS)
    r = runner.invoke(_app(), [str(files["tif"]), "-o", str(d / "x.tif"), "--checkpoint",
                               str(full), "--json"])
    assert r.exit_code == 2 and "precipitation-only" in json.loads(r.output)["error"]
