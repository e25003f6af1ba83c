"""``geoneurips pansharpen``: GeoTIFF in, georeferenced GeoTIFF on the PAN grid out."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import rasterio
import typer
from affine import Affine
from typer.testing import CliRunner

from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.metrics.mtf import interp23
from geoneurips.raster.io import read_raster, write_raster
from geoneurips.restoration.pansharpening import classical
from geoneurips.restoration.pansharpening.data import synthetic_scene
from geoneurips.restoration.ssdiff.cli import pansharpen, run_pansharpen

CRS = "EPSG:32633"
X0, Y0 = 500000.0, 4200000.0


def _write_pair(tmp: Path, ms: np.ndarray, pan: np.ndarray, *, ms_shift: float = 0.0,
                ms_crs: str = CRS, ms_nodata: float | None = None) -> tuple[Path, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    ratio = pan.shape[-1] // ms.shape[-1]
    ms_path = write_raster(tmp / "ms.tif", ms.astype(np.uint16), crs=ms_crs,
                           transform=Affine(2.0 * ratio, 0, X0 + ms_shift, 0, -2.0 * ratio, Y0),
                           nodata=ms_nodata)
    pan_path = write_raster(tmp / "pan.tif", pan.astype(np.uint16), crs=CRS,
                            transform=Affine(2.0, 0, X0, 0, -2.0, Y0))
    return ms_path, pan_path


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    ms, pan = synthetic_scene(24, bands=4, ratio=4, sensor="QB", seed=5)
    return ms, pan  # MS 24 x 24, PAN 96 x 96


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(pansharpen)
    return app


@pytest.mark.parametrize("method", ["interp", "brovey", "gs"])
def test_cli_output_on_pan_grid_and_equal_to_in_memory(
    tmp_path: Path, scene: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    ms, pan = scene
    ms_path, pan_path = _write_pair(tmp_path, ms, pan)
    out = tmp_path / "fused.tif"
    # tiles of 32 PAN pixels: many seams, each tile needs MS context from its neighbours
    res = CliRunner().invoke(_app(), ["--ms", str(ms_path), "--pan", str(pan_path), "-o",
                                      str(out), "--method", method, "--sensor", "QB",
                                      "--tile-size", "32", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["ratio"] == 4 and summary["bands"] == 4
    fused, info = read_raster(out)
    with rasterio.open(pan_path) as src:
        assert info.crs == src.crs and info.transform == src.transform
    assert fused.shape == (4, 96, 96) and fused.dtype == np.float32
    up = interp23(ms, 4, mode="symmetric")
    # the in-memory methods take their statistics from the whole upsampled MS (toolbox)
    expected = {"interp": lambda: up, "brovey": lambda: classical.brovey(up, pan),
                "gs": lambda: classical.gram_schmidt(up, pan)}[method]()
    assert np.allclose(fused, expected, rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("method", ["gs", "brovey", "ihs"])
def test_cli_equals_in_memory_method_on_real_worldview3_pair(
    tmp_path: Path, real_data: Path, method: str
) -> None:
    """The real WorldView-3 pair (``WV3_example.mat``: MS 32 x 32 x 8, PAN 128 x 128, 11-bit),
    streamed in 32-pixel tiles, equals the in-memory method on the whole image (every pixel).

    Regression: the command used to take its scene statistics from the MS at its own
    resolution while the toolbox (and the in-memory methods) take them from the upsampled MS;
    GS then differed by up to 59 DN well inside the image."""
    from scipy.io import loadmat

    mat = loadmat(real_data / "pansharpening" / "WV3_example.mat")
    ms = np.moveaxis(mat["I_MS_LR"].astype(np.float64), -1, 0)
    pan = mat["I_PAN"].astype(np.float64)[None]
    ms_path, pan_path = _write_pair(tmp_path, ms, pan)
    out = run_pansharpen(ms_path, pan_path, tmp_path / "f.tif", method=method, sensor="WV3",
                         tile_size=32, progress=False)
    fused, _ = read_raster(out["output"])
    up = interp23(ms, 4, mode="symmetric")
    fn = {"gs": classical.gram_schmidt, "brovey": classical.brovey, "ihs": classical.ihs}[method]
    expected = fn(up, pan)
    assert fused.shape == expected.shape == (8, 128, 128)
    # float32 output: about 1e-4 DN of rounding on values up to ~2000 DN
    assert np.abs(fused - expected).max() < 0.01, np.abs(fused - expected).max()


def test_cli_nodata_and_ssdiff_hook(tmp_path: Path, scene: tuple[np.ndarray, np.ndarray],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ms, pan = scene
    ms = ms.copy()
    ms[:, 5, 7] = 0  # nodata pixel
    ms_path, pan_path = _write_pair(tmp_path, ms, pan, ms_nodata=0)
    out = run_pansharpen(ms_path, pan_path, tmp_path / "bt.tif", method="brovey",
                         sensor="QB", tile_size=64, progress=False)
    fused, info = read_raster(out["output"])
    assert np.isnan(fused[:, 20:24, 28:32]).all()
    assert np.isfinite(fused[:, :20]).all()

    # SSDiff path: the command loads a pansharpener and asks it for each tile's window of
    # the whole image, with readers of [0, 1] MS and PAN values at (mirrored) global indices
    seen: list[tuple[tuple[int, int], tuple[int, int, int, int], float]] = []

    class FakePansharpener:
        def fuse_region(self, read_ms, read_pan, size, region):  # noqa: ANN001, ANN202
            r0, r1, c0, c1 = region
            rows, cols = np.arange(r0 // 4, r1 // 4), np.arange(c0 // 4, c1 // 4)
            ms_t = read_ms(rows, cols)
            pan_t = read_pan(np.arange(r0, r1), np.arange(c0, c1))
            assert pan_t.shape == (r1 - r0, c1 - c0)
            seen.append((size, region, max(float(ms_t.max()), float(pan_t.max()))))
            return np.kron(ms_t, np.ones((1, 4, 4))).astype(np.float32)

    def load_pansharpener(checkpoint: Path) -> FakePansharpener:
        assert checkpoint == tmp_path / "model.ckpt"
        return FakePansharpener()

    pkg = types.ModuleType("geoneurips.restoration.ssdiff")
    mod = types.ModuleType("geoneurips.restoration.ssdiff.pipeline")
    mod.load_pansharpener = load_pansharpener  # type: ignore[attr-defined]
    pkg.pipeline = mod  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "geoneurips.restoration.ssdiff", pkg)
    monkeypatch.setitem(sys.modules, "geoneurips.restoration.ssdiff.pipeline", mod)
    clean_ms, _ = _write_pair(tmp_path / "clean", scene[0], pan)
    run_pansharpen(clean_ms, pan_path, tmp_path / "ss.tif", method="ssdiff",
                   checkpoint=tmp_path / "model.ckpt", sensor="QB", max_value=2047,
                   tile_size=64, progress=False)
    assert seen and {s[0] for s in seen} == {(96, 96)}
    assert sorted(s[1] for s in seen) == [(0, 64, 0, 64), (0, 64, 64, 96), (64, 96, 0, 64),
                                          (64, 96, 64, 96)]
    assert max(s[2] for s in seen) <= 1.0
    fused, _ = read_raster(tmp_path / "ss.tif")
    nearest = np.kron(scene[0], np.ones((1, 4, 4)))
    assert np.allclose(fused, nearest, rtol=1e-5, atol=1e-2)


def test_cli_bad_inputs_leave_nothing(tmp_path: Path, scene: tuple[np.ndarray, np.ndarray]) -> None:
    ms, pan = scene
    out = tmp_path / "out.tif"
    shifted = _write_pair(tmp_path / "a", ms, pan, ms_shift=8.0)
    with pytest.raises(CoregistrationError, match="same bounds"):
        run_pansharpen(*shifted, out, progress=False)
    other_crs = _write_pair(tmp_path / "b", ms, pan, ms_crs="EPSG:32634")
    with pytest.raises(CoregistrationError, match="CRS"):
        run_pansharpen(*other_crs, out, progress=False)
    ms_path, pan_path = _write_pair(tmp_path / "c", ms, pan)
    with pytest.raises(InvalidInputError, match="unknown method"):
        run_pansharpen(ms_path, pan_path, out, method="pca", progress=False)
    with pytest.raises(InvalidInputError, match="checkpoint"):
        run_pansharpen(ms_path, pan_path, out, method="ssdiff", progress=False)
    with pytest.raises(InvalidInputError, match="tile_size"):
        run_pansharpen(ms_path, pan_path, out, tile_size=30, progress=False)
    with pytest.raises(InvalidInputError, match="1 band"):
        run_pansharpen(ms_path, ms_path, out, progress=False)
    bad_ratio = _write_pair(tmp_path / "d", ms, pan[:, :72, :72])
    with pytest.raises(InvalidInputError, match="power-of-2"):
        run_pansharpen(*bad_ratio, out, progress=False)
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(ms_path.read_bytes()[:600])
    with pytest.raises(InvalidInputError):
        run_pansharpen(trunc, pan_path, out, progress=False)
    res = CliRunner().invoke(_app(), ["--ms", str(ms_path), "--pan", str(pan_path), "-o",
                                      str(out), "--method", "nope"])
    assert res.exit_code != 0
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tif")]
