"""SGNet streaming inference, the `segment` command, and the demo (it learns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
import typer
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.sgnet.cli import segment
from geoneurips.segmentation.sgnet.data import SurroundingPatches, write_fixture
from geoneurips.segmentation.sgnet.inference import _area_resize
from geoneurips.segmentation.sgnet.model import SGNetConfig, build_model
from geoneurips.segmentation.sgnet.pipeline import (
    predict_patches,
    save_checkpoint,
    segment_raster,
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scene")
    write_fixture(root, size=64, images_per_city=1, cities=("austin",), test_cities=(), seed=0)
    return root / "AerialImageDataset" / "train" / "images" / "austin1.tif"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for method in ("sgnet", "sliding"):
        torch.manual_seed(0)
        cfg = SGNetConfig.tiny(method=method)
        out[method] = save_checkpoint(root / f"{method}.pt", build_model(cfg), cfg)
    return out


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(segment)
    return app


def test_engine_kernel_reads_the_surrounding_window(scene: Path, tmp_path: Path) -> None:
    cfg = SGNetConfig.tiny()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    out = segment_raster(scene, tmp_path / "p.tif", model, cfg, tile_size=32, overlap=0,
                         probabilities=True, progress=False)
    with rasterio.open(out) as ds:
        prob = ds.read()
        assert ds.descriptions == ("p_class0", "p_class1")
    patches = SurroundingPatches([scene], patch_size=32, context_scale=3.0, stride=32)
    s = patches[patches.index.index((0, 32, 0))]
    with torch.inference_mode():
        ref = predict_patches(model, cfg, s["image"][None], s["context"][None])["out"]
    ref_p = ref.softmax(1)[0].numpy()
    np.testing.assert_allclose(prob[:, 32:64, 0:32], ref_p, atol=1e-5)
    np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-5)
    patches.close()


@pytest.mark.parametrize("size", [(32, 32), (40, 24)])
def test_area_resize_equals_interpolate_area(size: tuple[int, int]) -> None:
    # integer factors (96 / 32) take the average-pooling path, others F.interpolate
    x = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    got = _area_resize(x, size)
    ref = F.interpolate(x, size=size, mode="area")
    assert got.shape == (1, 3, *size)
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
    if size == (32, 32):  # each output pixel is the mean of a 3 x 3 block, by hand
        assert float(got[0, 1, 2, 5]) == pytest.approx(float(x[0, 1, 6:9, 15:18].mean()),
                                                       abs=1e-6)


def test_inference_module_does_not_import_lightning() -> None:
    # `geoneurips segment` and the memory benchmark stay free of Lightning (~280 MB RSS)
    code = ("import sys; import geoneurips.segmentation.sgnet.inference; "
            "import geoneurips.segmentation.sgnet.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lightning'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize("method", ["sgnet", "sliding"])
def test_segment_command_keeps_the_grid(scene: Path, checkpoints: dict[str, Path],
                                        tmp_path: Path, method: str) -> None:
    dst = tmp_path / "out" / f"{method}.tif"
    res = CliRunner().invoke(_app(), [str(scene), "-o", str(dst), "--checkpoint",
                                      str(checkpoints[method]), "--method", method,
                                      "--json", "--tile-size", "32", "--overlap", "8"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["method"] == method and Path(info["output"]) == dst
    with rasterio.open(scene) as a, rasterio.open(dst) as b:
        assert b.crs == a.crs and b.transform == a.transform and b.shape == a.shape
        assert b.count == 1 and b.dtypes[0] == "uint8" and b.nodata == 255
        assert set(np.unique(b.read(1))) <= {0, 1}


def test_segment_command_bad_inputs_leave_nothing(scene: Path, checkpoints: dict[str, Path],
                                                  tmp_path: Path) -> None:
    app = _app()
    dst = tmp_path / "o.tif"
    r = CliRunner().invoke(app, [str(scene), "-o", str(dst), "--checkpoint",
                                 str(checkpoints["sliding"]), "--method", "sgnet"])
    assert isinstance(r.exception, CheckpointError) and "sliding" in str(r.exception)
    # wrong band count
    one_band = tmp_path / "one.tif"
    with rasterio.open(scene) as ds:
        prof = ds.profile
        prof.update(count=1)
        with rasterio.open(one_band, "w", **prof) as o:
            o.write(ds.read(1), 1)
    r = CliRunner().invoke(app, [str(one_band), "-o", str(dst), "--checkpoint",
                                 str(checkpoints["sgnet"])])
    assert isinstance(r.exception, InvalidInputError) and "1 band" in str(r.exception)
    # truncated input
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(scene.read_bytes()[:3000])
    r = CliRunner().invoke(app, [str(trunc), "-o", str(dst), "--checkpoint",
                                 str(checkpoints["sgnet"])])
    assert isinstance(r.exception, InvalidInputError)
    r = CliRunner().invoke(app, [str(scene), "-o", str(dst), "--checkpoint",
                                 str(checkpoints["sgnet"]), "--method", "bogus"])
    assert isinstance(r.exception, InvalidInputError)
    r = CliRunner().invoke(app, [str(scene), "-o", str(dst), "--checkpoint",
                                 str(tmp_path / "missing.pt")])
    assert isinstance(r.exception, CheckpointError)
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.tif")]


def test_segment_real_geotiff_with_nodata(real_data: Path, checkpoints: dict[str, Path],
                                          tmp_path: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    dst = tmp_path / "rgb_sgnet.tif"
    res = CliRunner().invoke(_app(), [str(src), "-o", str(dst), "--checkpoint",
                                      str(checkpoints["sgnet"]), "--tile-size", "256",
                                      "--no-progress"])
    assert res.exit_code == 0, res.output
    with rasterio.open(src) as a, rasterio.open(dst) as b:
        assert b.crs == a.crs and b.transform == a.transform
        nodata = (a.read() == a.nodata).any(0)  # engine: nodata in any band
        out = b.read(1)
        assert nodata.any() and (out[nodata] == 255).all()
        assert set(np.unique(out[~nodata])) <= {0, 1}


@pytest.mark.slow
def test_demo_sgnet_beats_plain_sliding_window(tmp_path: Path) -> None:
    from geoneurips.segmentation.sgnet.pipeline import demo

    r = demo(tmp_path, quick=True, seed=0)
    # stated margin: SGNet's mIoU exceeds the plain sliding window's by more than 0.10
    assert r.metrics["miou"] - r.baseline["miou"] > 0.10
    assert r.beats_baseline and r.primary == "miou"
    assert Path(r.artifacts["figure"]).stat().st_size > 0
    saved = json.loads(Path(r.artifacts["result"]).read_text())
    assert saved["metrics"]["miou"] == pytest.approx(r.metrics["miou"])
    assert (tmp_path / "sgnet_model.pt").is_file() and (tmp_path / "sliding_model.pt").is_file()
