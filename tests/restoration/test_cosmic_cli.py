"""COSMIC checkpoints and the cosmic-compress / cosmic-decompress GeoTIFF commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import typer
from affine import Affine
from rasterio.crs import CRS
from typer.testing import CliRunner

from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.raster.io import write_raster
from geoneurips.restoration.cosmic.cli import (
    cosmic_compress,
    cosmic_decompress,
    run_compress,
    run_decompress,
)
from geoneurips.restoration.cosmic.data import synthetic_scene
from geoneurips.restoration.cosmic.model import COSMIC, CompressedImage, COSMICConfig
from geoneurips.restoration.cosmic.pipeline import load_model, save_model

CRS_UTM = CRS.from_epsg(32633)
TRANSFORM = Affine(0.5, 0, 500_000.0, 0, -0.5, 4_500_000.0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = COSMIC(COSMICConfig.tiny()).eval()
    return save_model(model, tmp_path_factory.mktemp("ckpt") / "cosmic.pt")


def _scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = synthetic_scene(rng, max(h, w), 40.0, 6, 0.5)[:h, :w]  # (H, W, 3) in [0, 1]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def _write_uint8(path: Path, h: int = 150, w: int = 200, nodata_block: bool = True) -> Path:
    data = (np.clip(_scene(h, w), 0, 1) * 254 + 1).astype(np.uint8)  # 1..255, 0 is nodata
    if nodata_block:
        data[:, :20, :30] = 0
    return write_raster(path, data, crs=CRS_UTM, transform=TRANSFORM, nodata=0,
                        descriptions=["red", "green", "blue"])


def test_checkpoint_roundtrip_gives_identical_bitstreams(checkpoint: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = COSMIC(COSMICConfig.tiny()).eval()
    ref.codec.update(force=True)
    x = torch.rand(1, 3, 96, 80)
    loaded = load_model(checkpoint)
    assert not loaded.training and loaded.config == COSMICConfig.tiny()
    a = ref.codec.compress(x)[0].to_bytes()
    assert loaded.codec.compress(x)[0].to_bytes() == a
    item = CompressedImage.from_bytes(a)
    torch.testing.assert_close(loaded.codec.decompress([item])["x_hat"],
                               ref.codec.decompress([item])["x_hat"], rtol=0, atol=0)
    # not a COSMIC checkpoint / wrong shapes / missing file
    torch.save({"w": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a COSMIC checkpoint"):
        load_model(tmp_path / "other.pt")
    bad = dict(torch.load(checkpoint, weights_only=True))
    bad["__cosmic_config__"] = dict(bad["__cosmic_config__"], n=8)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "missing.pt")


def test_geotiff_roundtrip_keeps_grid_and_matches_the_codec(checkpoint: Path,
                                                            tmp_path: Path) -> None:
    src = _write_uint8(tmp_path / "in.tif")
    stream = tmp_path / "in.cosmic"
    s = run_compress(src, stream, checkpoint, tile_size=128, when="2021-07-14", progress=False)
    assert s["tiles"] == 4 and s["nodata_pixels"] == 600 and s["scale"] == 255.0
    assert s["bytes"] == stream.stat().st_size
    assert s["bpp"] == pytest.approx(stream.stat().st_size * 8 / (150 * 200))
    assert s["bpp"] < 8.0 * 3 / 4  # far smaller than the raw pixels
    out = tmp_path / "out.tif"
    d = run_decompress(stream, out, checkpoint, compensate=False, progress=False)
    assert d["tiles"] == 4
    with rasterio.open(src) as a, rasterio.open(out) as b:
        assert b.crs == a.crs and b.transform == a.transform
        assert (b.width, b.height, b.count) == (a.width, a.height, a.count)
        assert b.dtypes == a.dtypes and b.nodata == 0
        assert b.descriptions == ("red", "green", "blue")
        x, y = a.read(), b.read()
    nod = (x == 0).all(axis=0)
    assert nod.sum() == 600 and (y[:, nod] == 0).all()  # nodata restored exactly
    # a tile without nodata decodes exactly as the codec decodes that tile in memory
    model = load_model(checkpoint)
    tile = torch.from_numpy(x[:, :128, 128:].astype(np.float32) / 255.0)[None]
    dec = model.codec.decompress(model.codec.compress(tile))["x_hat"][0].double().numpy()
    np.testing.assert_array_equal(y[:, :128, 128:], np.clip(np.rint(dec * 255), 0, 255))
    # and the decoded raster resembles the input (untrained codec: a smooth approximation)
    err = np.abs(y[:, ~nod].astype(float) - x[:, ~nod])
    assert err.mean() < 40, err.mean()


def test_float_raster_nan_and_compensation(checkpoint: Path, tmp_path: Path) -> None:
    data = _scene(64, 100).astype(np.float32)
    data[1, 10:12, 5:9] = np.nan
    src = write_raster(tmp_path / "f.tif", data, crs=CRS.from_epsg(4326),
                       transform=Affine(1e-4, 0, 10.0, 0, -1e-4, 45.0))
    s = run_compress(src, tmp_path / "f.cosmic", checkpoint, tile_size=64, progress=False,
                     cloud_cover=12.5)
    assert s["nodata_pixels"] == 8 and s["scale"] == 1.0 and s["tiles"] == 2
    run_decompress(tmp_path / "f.cosmic", tmp_path / "f_out.tif", checkpoint, progress=False)
    with rasterio.open(tmp_path / "f_out.tif") as ds:
        y = ds.read()
        assert ds.dtypes[0] == "float32" and ds.crs == CRS.from_epsg(4326)
    assert np.isnan(y[:, 10:12, 5:9]).all() and np.isfinite(y).sum() == y.size - 3 * 8
    assert (y[np.isfinite(y)] >= 0).all() and (y[np.isfinite(y)] <= 1).all()


def test_bad_inputs_leave_nothing(checkpoint: Path, tmp_path: Path) -> None:
    src = _write_uint8(tmp_path / "in.tif", 64, 64, nodata_block=False)
    two = write_raster(tmp_path / "two.tif", np.zeros((2, 64, 64), np.uint8), crs=CRS_UTM,
                       transform=TRANSFORM)
    with pytest.raises(InvalidInputError, match="2 bands"):
        run_compress(two, tmp_path / "x.cosmic", checkpoint, progress=False)
    with pytest.raises(InvalidInputError, match="multiple of 64"):
        run_compress(src, tmp_path / "x.cosmic", checkpoint, tile_size=100, progress=False)
    with pytest.raises(InvalidInputError, match="date"):
        run_compress(src, tmp_path / "x.cosmic", checkpoint, when="14/07/2021", progress=False)
    with pytest.raises(InvalidInputError, match="overwrite"):
        run_compress(src, src, checkpoint, progress=False)
    assert not (tmp_path / "x.cosmic").exists()

    stream = tmp_path / "ok.cosmic"
    run_compress(src, stream, checkpoint, tile_size=64, progress=False)
    raw = stream.read_bytes()
    (tmp_path / "cut.cosmic").write_bytes(raw[:-5])
    with pytest.raises(InvalidInputError, match="truncated"):
        run_decompress(tmp_path / "cut.cosmic", tmp_path / "o.tif", checkpoint, progress=False)
    (tmp_path / "long.cosmic").write_bytes(raw + b"\x00")
    with pytest.raises(InvalidInputError, match="trailing"):
        run_decompress(tmp_path / "long.cosmic", tmp_path / "o.tif", checkpoint,
                       progress=False)
    (tmp_path / "magic.cosmic").write_bytes(b"XXXX" + raw[4:])
    with pytest.raises(InvalidInputError, match="magic"):
        run_decompress(tmp_path / "magic.cosmic", tmp_path / "o.tif", checkpoint,
                       progress=False)
    torch.manual_seed(1)
    other = save_model(COSMIC(COSMICConfig.tiny()), tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="another checkpoint"):
        run_decompress(stream, tmp_path / "o.tif", other, progress=False)
    assert not (tmp_path / "o.tif").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_commands_json(checkpoint: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("cosmic-compress")(cosmic_compress)
    app.command("cosmic-decompress")(cosmic_decompress)
    src = _write_uint8(tmp_path / "in.tif", 64, 128, nodata_block=False)
    runner = CliRunner()
    r = runner.invoke(app, ["cosmic-compress", str(src), "-o", str(tmp_path / "a.cosmic"),
                            "--checkpoint", str(checkpoint), "--tile", "64", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["tiles"] == 2 and s["bpp"] > 0
    r = runner.invoke(app, ["cosmic-decompress", str(tmp_path / "a.cosmic"), "-o",
                            str(tmp_path / "a.tif"), "--checkpoint", str(checkpoint),
                            "--rho", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["noise_scale"] == 1.0
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert ds.shape == (64, 128) and ds.crs == CRS_UTM


def test_real_landsat_geotiff_roundtrip(real_data: Path, checkpoint: Path,
                                        tmp_path: Path) -> None:
    """The real Landsat-7 RGB GeoTIFF (EPSG:32618, nodata collar around a rotated footprint):
    grid, dtype and the nodata collar come back exactly; the file is far smaller than the
    pixels; the decoded image correlates with the input."""
    src = real_data / "rasters" / "RGB.byte.tif"
    stream = tmp_path / "rgb.cosmic"
    s = run_compress(src, stream, checkpoint, tile_size=256, progress=False)
    with rasterio.open(src) as ds:
        x = ds.read()
        profile = (ds.crs, ds.transform, ds.shape, ds.dtypes, ds.nodata)
    collar = (x == 0).any(axis=0)
    assert s["nodata_pixels"] == int(collar.sum()) > 0 and s["tiles"] == 12
    assert s["bpp"] < 2.0, s
    run_decompress(stream, tmp_path / "rgb.tif", checkpoint, compensate=False, progress=False)
    with rasterio.open(tmp_path / "rgb.tif") as ds:
        y = ds.read()
        assert (ds.crs, ds.transform, ds.shape, ds.dtypes, ds.nodata) == profile
    assert (y[:, collar] == 0).all()
    # plumbing check, not quality: an untrained tiny codec is a blurred thumbnail (measured:
    # correlation 0.65, PSNR 14.9 dB against 12.7 dB for the per-band mean image)
    xv, yv = x[:, ~collar].astype(float), y[:, ~collar].astype(float)
    assert np.corrcoef(xv.ravel(), yv.ravel())[0, 1] > 0.5
    mse = ((xv - yv) ** 2).mean()
    mse_flat = ((xv - xv.mean(axis=1, keepdims=True)) ** 2).mean()
    assert mse < 0.8 * mse_flat, (mse, mse_flat)
