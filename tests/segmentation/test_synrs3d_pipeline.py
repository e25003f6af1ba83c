"""``geoneurips height`` on real GeoTIFFs, checkpoints, bad inputs, and the demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import typer
from rasterio.windows import Window
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.synrs3d.cli import height
from geoneurips.segmentation.synrs3d.inference import load_model, save_checkpoint
from geoneurips.segmentation.synrs3d.model import RS3DConfig, RS3DModel


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(height)
    return app


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    m = RS3DModel(RS3DConfig.tiny())
    with torch.no_grad():  # a positive height bias, so that the nDSM is not all 0
        m.height_head.out2[-1].bias.fill_(2.0)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "s.pt", m)


@pytest.fixture(scope="module")
def rgb(real_data: Path) -> Path:
    return real_data / "rasters" / "RGB.byte.tif"


def _crop(src_path: Path, dst: Path, win: Window, **update: object) -> Path:
    with rasterio.open(src_path) as src:
        data = src.read(window=win)
        prof = src.profile | {"width": win.width, "height": win.height,
                              "transform": src.window_transform(win)} | update
    with rasterio.open(dst, "w", **prof) as o:
        o.write(data)
    return dst


def test_height_on_real_rgb(rgb: Path, checkpoint: Path, tmp_path: Path) -> None:
    """A 200 x 160 corner of a real Landsat RGB (EPSG:32618, nodata 0 collar)."""
    rgb = _crop(rgb, tmp_path / "corner.tif", Window(0, 0, 200, 160))
    out = tmp_path / "ndsm.tif"
    r = CliRunner().invoke(_app(), [str(rgb), "-o", str(out), "--checkpoint", str(checkpoint),
                                    "--json"])
    assert r.exit_code == 0, r.output
    lc = tmp_path / "ndsm_landcover.tif"
    with rasterio.open(rgb) as src, rasterio.open(out) as h, rasterio.open(lc) as c:
        assert (h.crs, h.transform, h.shape) == (src.crs, src.transform, src.shape)
        assert (c.crs, c.transform, c.shape) == (src.crs, src.transform, src.shape)
        valid = (src.read_masks() > 0).all(0)  # the engine: invalid if any band is
        assert 0 < valid.mean() < 1
        hv, cv = h.read(1), c.read(1)
        assert h.dtypes[0] == "float32" and c.dtypes[0] == "uint8" and c.nodata == 255
    assert np.isnan(hv[~valid]).all() and (cv[~valid] == 255).all()
    assert np.isfinite(hv[valid]).all() and (hv[valid] >= 0).all() and hv[valid].max() > 0
    assert set(np.unique(cv[valid])) <= {0, 1, 2}


def test_one_tile_equals_the_model(rgb: Path, checkpoint: Path, tmp_path: Path) -> None:
    """A 64 x 64 crop (one tile, no blending) gives exactly the model's output."""
    crop = _crop(rgb, tmp_path / "crop.tif", Window(300, 300, 64, 64), nodata=None)
    with rasterio.open(crop) as src:
        data = src.read()
    out = tmp_path / "h.tif"
    r = CliRunner().invoke(_app(), [str(crop), "-o", str(out), "--checkpoint",
                                    str(checkpoint), "--landcover", str(tmp_path / "c.tif")])
    assert r.exit_code == 0, r.output
    model, classes = load_model(checkpoint)
    assert classes == ["other", "tree", "building"]
    with torch.inference_mode():
        ref = model(torch.from_numpy(data.astype(np.float32))[None])
    with rasterio.open(out) as h, rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_allclose(h.read(1), ref["height"][0].clamp_min(0).numpy(),
                                   atol=1e-4)
        np.testing.assert_array_equal(c.read(1), ref["seg"][0].argmax(0).numpy())


def test_bad_inputs_leave_nothing(rgb: Path, checkpoint: Path, tmp_path: Path,
                                  real_data: Path) -> None:
    app = _app()
    out = tmp_path / "o.tif"

    def run(image: Path, *extra: str) -> BaseException | None:
        return CliRunner().invoke(app, [str(image), "-o", str(out), "--checkpoint",
                                        str(checkpoint), *extra]).exception

    e = run(real_data / "rasters" / "shade.tif")
    assert isinstance(e, InvalidInputError) and "1 band(s)" in str(e)
    big = tmp_path / "big.tif"
    with rasterio.open(rgb) as src:
        win = Window(300, 300, 100, 100)
        prof = src.profile | {"dtype": "uint16", "nodata": None, "width": 100, "height": 100,
                              "transform": src.window_transform(win)}
        with rasterio.open(big, "w", **prof) as o:
            o.write(src.read(window=win).astype(np.uint16) * 4)
    e = run(big)
    assert isinstance(e, InvalidInputError) and "0-255" in str(e)
    e = run(big, "--landcover", str(out))
    assert isinstance(e, InvalidInputError)
    e = CliRunner().invoke(app, [str(big), "-o", str(out), "--checkpoint",
                                 str(tmp_path / "missing.pt")]).exception
    assert isinstance(e, CheckpointError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]


def test_checkpoint_errors(checkpoint: Path, tmp_path: Path) -> None:
    torch.save({"x": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="config"):
        load_model(tmp_path / "plain.pt")
    state = torch.load(checkpoint, weights_only=True)
    state["__config__"] = state["__config__"].replace('"num_classes": 3', '"num_classes": 4')
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "bad.pt")
