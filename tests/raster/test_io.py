"""geoneurips.raster.io: round trips, error messages, co-registration checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.raster.io import (
    RasterInfo,
    check_coregistered,
    raster_info,
    read_raster,
    write_raster,
)

UTM = CRS.from_epsg(32618)
T = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def _rand(shape: tuple[int, ...], dtype: str = "uint16", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 1000, shape).astype(dtype)


def test_round_trip_keeps_grid_nodata_descriptions(tmp_path: Path) -> None:
    arr = _rand((3, 70, 90))
    arr[:, :5, :5] = 0
    out = write_raster(tmp_path / "a.tif", arr, crs=UTM, transform=T, nodata=0,
                       descriptions=["red", "green", "nir"])
    back, info = read_raster(out)
    assert np.array_equal(back, arr) and back.dtype == np.uint16
    assert info.crs == UTM and info.transform == T
    assert (info.width, info.height, info.count) == (90, 70, 3)
    assert info.nodata == 0.0 and info.descriptions == ("red", "green", "nir")
    assert info.bounds == (500000.0, 4000000.0 - 700.0, 500900.0, 4000000.0)
    with rasterio.open(out) as ds:  # tiled deflate GeoTIFF
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
    assert [p.name for p in tmp_path.iterdir()] == ["a.tif"]  # no temp file left


def test_round_trip_2d_like_and_profile(tmp_path: Path, real_data: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    arr, info = read_raster(src, bands=[2])
    assert arr.shape == (1, 718, 791)
    out = write_raster(tmp_path / "b.tif", arr[0], like=info)
    back, binfo = read_raster(out)
    assert np.array_equal(back, arr)
    assert binfo.crs == info.crs and binfo.transform == info.transform
    assert binfo.nodata == 0.0  # same dtype as the reference: nodata inherited
    # float output: the uint8 nodata is not inherited, descriptions of 3 bands neither
    f = write_raster(tmp_path / "f.tif", arr.astype("float32") / 255, like=info)
    assert raster_info(f).nodata is None and raster_info(f).dtype == "float32"
    prof = info.profile()
    assert prof["crs"] == info.crs and prof["width"] == 791 and prof["count"] == 3
    prof.update(count=1, dtype="float32")
    with rasterio.open(tmp_path / "p.tif", "w", **prof) as ds:
        ds.write(np.ones((1, 718, 791), "float32"))
    check_coregistered([src, tmp_path / "p.tif"])


def test_read_window_and_bands(real_data: Path) -> None:
    src = real_data / "sen1floods11" / "Spain_7370579_S2Hand.tif"
    full, info = read_raster(src)
    part, _ = read_raster(src, bands=[4, 3, 2], window=Window(10, 20, 30, 40))
    assert part.shape == (3, 40, 30)
    assert np.array_equal(part, full[[3, 2, 1], 20:60, 10:40])
    assert info.descriptions[7] == "B8" and info.count == 13


def test_wrong_band_names_band_and_count(real_data: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    with pytest.raises(InvalidInputError, match=r"band 4 .*RGB\.byte\.tif.* 3 band"):
        read_raster(src, bands=[1, 4])
    with pytest.raises(InvalidInputError, match="band 0"):
        read_raster(src, bands=[0])
    with pytest.raises(InvalidInputError, match="not inside"):
        read_raster(src, window=Window(700, 0, 200, 10))


def test_missing_and_non_raster(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"nope\.tif.*does not exist"):
        raster_info(tmp_path / "nope.tif")
    txt = tmp_path / "notes.tif"
    txt.write_text("this is not a raster\n" * 50)
    with pytest.raises(InvalidInputError, match=r"notes\.tif"):
        raster_info(txt)
    with pytest.raises(InvalidInputError, match=r"notes\.tif"):
        read_raster(txt)


def test_truncated_gtiff(tmp_path: Path) -> None:
    p = write_raster(tmp_path / "t.tif", _rand((2, 300, 300)), crs=UTM, transform=T)
    data = p.read_bytes()
    for frac in (0.9, 0.5, 0.05):
        cut = tmp_path / f"cut{int(frac * 100)}.tif"
        cut.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(InvalidInputError, match=cut.name):
            raster_info(cut)
        with pytest.raises(InvalidInputError, match=cut.name):
            read_raster(cut)


def test_truncated_cog_header_intact(tmp_path: Path) -> None:
    """A COG keeps its header at the start: the block table must be checked."""
    arr = _rand((1, 600, 600))
    cog = tmp_path / "c.tif"
    with rasterio.open(cog, "w", driver="COG", width=600, height=600, count=1,
                       dtype="uint16", crs=UTM, transform=T, blocksize=256) as ds:
        ds.write(arr)
    data = cog.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    with rasterio.open(cut) as ds:  # GDAL itself opens it happily
        assert ds.width == 600
    with pytest.raises(InvalidInputError, match=r"cut\.tif.*truncated"):
        raster_info(cut)
    with pytest.raises(InvalidInputError, match=r"cut\.tif"):
        read_raster(cut)


def test_corrupt_block(tmp_path: Path) -> None:
    p = write_raster(tmp_path / "c.tif", _rand((1, 512, 512)), crs=UTM, transform=T)
    with rasterio.open(p) as ds:
        off = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    raw = bytearray(p.read_bytes())
    raw[off: off + size] = b"\xff" * size
    bad = tmp_path / "corrupt.tif"
    bad.write_bytes(bytes(raw))
    raster_info(bad)  # header and block table are fine
    with pytest.raises(InvalidInputError, match=r"corrupt\.tif"):
        read_raster(bad)


def test_write_validation(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="nodata -1"):
        write_raster(tmp_path / "x.tif", np.ones((4, 4), "uint8"), transform=T, nodata=-1)
    with pytest.raises(InvalidInputError, match="descriptions"):
        write_raster(tmp_path / "x.tif", np.ones((2, 4, 4)), transform=T, descriptions=["a"])
    with pytest.raises(InvalidInputError, match="shape"):
        write_raster(tmp_path / "x.tif", np.ones((2, 2, 4, 4)), transform=T)
    with pytest.raises(InvalidInputError, match="transform"):
        write_raster(tmp_path / "x.tif", np.ones((4, 4)))
    assert list(tmp_path.iterdir()) == []
    # bool -> uint8, explicit dtype
    out = write_raster(tmp_path / "m.tif", np.eye(5, dtype=bool), crs="EPSG:4326",
                       transform=T)
    arr, info = read_raster(out)
    assert info.dtype == "uint8" and arr.sum() == 5 and info.crs == CRS.from_epsg(4326)
    nan = write_raster(tmp_path / "n.tif", np.full((3, 3), np.nan), transform=T,
                       nodata=float("nan"), dtype="float32")
    ninfo = raster_info(nan)
    assert ninfo.nodata is not None and math.isnan(ninfo.nodata)


def _write(path: Path, *, crs: CRS = UTM, transform: Affine = T,
           shape: tuple[int, int] = (40, 50)) -> Path:
    return write_raster(path, _rand((1, *shape)), crs=crs, transform=transform)


def test_check_coregistered(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.tif")
    b = _write(tmp_path / "b.tif")
    info = check_coregistered([a, b])
    assert isinstance(info, RasterInfo) and info.path == a
    cases = {
        "crs.tif": (dict(crs=CRS.from_epsg(32617)), r"CRS differs \(EPSG:32618 vs EPSG:32617\)"),
        "tr.tif": (dict(transform=T @ Affine.translation(1, 0)), "transform differs"),
        "sh.tif": (dict(shape=(40, 51)), r"shape differs \(40 x 50 vs 40 x 51"),
    }
    for name, (kw, msg) in cases.items():
        c = _write(tmp_path / name, **kw)  # type: ignore[arg-type]
        with pytest.raises(CoregistrationError, match=msg) as err:
            check_coregistered([a, b, c])
        assert str(a) in str(err.value) and str(c) in str(err.value)
    with pytest.raises(InvalidInputError, match="at least one"):
        check_coregistered([])
