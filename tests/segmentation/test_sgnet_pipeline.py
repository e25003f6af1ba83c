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
    for method in ("sgnet", "sliding", "global_local"):
        torch.manual_seed(0)
        cfg = SGNetConfig.tiny(method=method)
        out[method] = save_checkpoint(root / f"{method}.pt", build_model(cfg), cfg)
    return out


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(segment)
    return app


@pytest.mark.parametrize("method", ["sgnet", "global_local"])
def test_engine_kernel_reads_the_surrounding_window(scene: Path, tmp_path: Path,
                                                    method: str) -> None:
    cfg = SGNetConfig.tiny(method=method)
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


@pytest.mark.parametrize("method", ["sgnet", "sliding", "global_local"])
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
def test_demo_against_every_baseline(tmp_path: Path) -> None:
    """Quick demo, seed 0; evaluation scenes from an unseen seed. mIoU measured (quick):

    ====  =====  ==============  ==============  ============
    seed  SGNet  without SCI     sliding window  global-local
    ====  =====  ==============  ==============  ============
    0     0.873  0.820           0.730           0.622
    1     0.972  0.972           0.600           0.851
    2     0.993  0.979           0.829           0.983
    ====  =====  ==============  ==============  ============

    (full demo, seeds 0 / 1 / 2: SGNet 0.993 / 0.966 / 0.987, without SCI 0.954 / 0.957 /
    0.958, sliding 0.709 / 0.634 / 0.738, global-local 0.953 / 0.907 / 0.966.) SGNet beats
    the plain sliding window by 0.14 or more on every seed: asserted margin 0.07. Over the
    global-local network the gain ranges from 0.01 to 0.25, too seed-dependent for a
    margin (the system is ``partial`` for that reason); the test checks that
    ``beats_baseline`` follows from the numbers and the stated margin."""
    from geoneurips.segmentation.sgnet.pipeline import DEMO_MARGIN, demo

    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"sliding_window", "global_local"}
    assert set(r.ablations) == {"sgnet_without_sci"} and r.primary == "miou"
    assert r.metrics["miou"] - r.baselines["sliding_window"]["miou"] > 0.07
    strongest = max(r.baselines, key=lambda n: r.baselines[n]["miou"])
    assert r.strongest_baseline == strongest and r.baseline == r.baselines[strongest]
    unexplained = [g for g in r.regressions if not g["explanation"]]
    assert r.beats_baseline == (r.metrics["miou"] - r.baseline["miou"] > DEMO_MARGIN
                                and not unexplained)
    params = r.details["parameters"]
    assert params["global_local"] >= params["sgnet"] > params["sliding_window"]
    saved = json.loads(Path(r.artifacts["result"]).read_text())
    assert saved["baselines"]["global_local"]["miou"] == pytest.approx(
        r.baselines["global_local"]["miou"])
    assert Path(r.artifacts["figure"]).stat().st_size > 0
    for name in ("sgnet", "sgnet_without_sci", "sliding_window", "global_local"):
        assert (tmp_path / f"{name}_model.pt").is_file()
