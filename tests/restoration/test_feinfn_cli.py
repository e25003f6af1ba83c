"""``geoneurips hsi-fusion`` on GeoTIFFs: georeferencing kept, bicubic identity of an
untrained model, bad inputs leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from affine import Affine
from typer.testing import CliRunner

from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.raster.io import read_raster, write_raster
from geoneurips.restoration.feinfn.cli import hsi_fusion, run_hsi_fusion
from geoneurips.restoration.feinfn.data import bicubic_upsample, make_sample, synthetic_scene
from geoneurips.restoration.feinfn.model import FeINFN, FeINFNConfig
from geoneurips.restoration.feinfn.pipeline import save_model

CFG = FeINFNConfig(hsi_bands=31, msi_bands=3, enc_dim=8, enc_blocks=1, hidden=8)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hsi")
    s = make_sample(synthetic_scene(48, seed=2), ratio=4)
    t_hr = Affine(10.0, 0, 500000.0, 0, -10.0, 4100000.0)
    t_lr = Affine(40.0, 0, 500000.0, 0, -40.0, 4100000.0)
    lr_path = write_raster(d / "lr.tif", s["LRHSI"].astype("float32"), crs="EPSG:32633",
                           transform=t_lr, descriptions=[f"{w} nm" for w in range(400, 701, 10)])
    rgb_path = write_raster(d / "rgb.tif", s["RGB"].astype("float32"), crs="EPSG:32633",
                            transform=t_hr)
    bad_crs = write_raster(d / "rgb_crs.tif", s["RGB"].astype("float32"), crs="EPSG:4326",
                           transform=Affine(1e-4, 0, 10, 0, -1e-4, 45))
    two = write_raster(d / "rgb2.tif", s["RGB"][:2].astype("float32"), crs="EPSG:32633",
                       transform=t_hr)
    torch.manual_seed(0)
    ck = save_model(FeINFN(CFG), d / "zero.pt")  # untrained: residual 0
    model = FeINFN(CFG)
    torch.nn.init.normal_(model.decoder.out.weight, std=0.05)
    ck2 = save_model(model, d / "rand.pt")
    return {"dir": d, "lr": lr_path, "rgb": rgb_path, "crs": bad_crs, "two": two, "ck": ck,
            "ck2": ck2}


def test_untrained_model_gives_bicubic_on_rgb_grid(scene: dict[str, Path]) -> None:
    out = scene["dir"] / "fused.tif"
    app = typer.Typer()
    app.command()(hsi_fusion)
    res = CliRunner().invoke(app, ["--lrhsi", str(scene["lr"]), "--rgb", str(scene["rgb"]),
                                   "-o", str(out), "--checkpoint", str(scene["ck"]),
                                   "--tile-size", "64", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["ratio"] == 4 and summary["bands"] == 31
    fused, info = read_raster(out)
    _, rgb_info = read_raster(scene["rgb"])
    lr, _ = read_raster(scene["lr"])
    assert info.crs == rgb_info.crs and info.transform == rgb_info.transform
    assert fused.shape == (31, 48, 48) and info.descriptions[0] == "400 nm"
    # one tile covers the raster: output = bicubic upsampling of the LR-HSI
    np.testing.assert_allclose(fused, bicubic_upsample(lr.astype(np.float64), 4), atol=1e-5)


def test_tiled_run_matches_whole_image(scene: dict[str, Path]) -> None:
    """Tiles (32 px, 4 px blended overlap) read the right LR windows: with a zero residual
    the blended result equals whole-image bicubic up to tile-border effects."""
    tiled = run_hsi_fusion(scene["lr"], scene["rgb"], scene["dir"] / "t.tif", scene["ck"],
                           tile_size=32, progress=False)
    b, _ = read_raster(tiled["output"])
    lr, _ = read_raster(scene["lr"])
    ref = bicubic_upsample(lr.astype(np.float64), 4)
    assert np.isfinite(b).all() and b.shape == ref.shape
    assert np.abs(b - ref).mean() < 0.01 * np.abs(ref).mean()
    shifted = np.roll(ref, 4, axis=-1)  # a one-LR-pixel misalignment would be far worse
    assert np.abs(shifted - ref).mean() > 5 * np.abs(b - ref).mean()
    # the trained-style (random residual) model runs tiled too
    out = run_hsi_fusion(scene["lr"], scene["rgb"], scene["dir"] / "r.tif", scene["ck2"],
                         tile_size=32, progress=False)
    assert np.isfinite(read_raster(out["output"])[0]).all()


def test_bad_inputs_leave_nothing(scene: dict[str, Path]) -> None:
    out = scene["dir"] / "never.tif"
    with pytest.raises(CoregistrationError, match="CRS"):
        run_hsi_fusion(scene["lr"], scene["crs"], out, scene["ck"], progress=False)
    with pytest.raises(InvalidInputError, match="3"):
        run_hsi_fusion(scene["lr"], scene["two"], out, scene["ck"], progress=False)
    with pytest.raises(InvalidInputError, match="integer multiple"):
        run_hsi_fusion(scene["rgb"], scene["rgb"], out, scene["ck"], progress=False)
    with pytest.raises(InvalidInputError, match="tile_size"):
        run_hsi_fusion(scene["lr"], scene["rgb"], out, scene["ck"], tile_size=30,
                       progress=False)
    with pytest.raises(InvalidInputError, match="overwrite"):
        run_hsi_fusion(scene["lr"], scene["rgb"], scene["rgb"], scene["ck"], progress=False)
    assert not out.exists()
    assert not list(scene["dir"].glob(".never*"))
