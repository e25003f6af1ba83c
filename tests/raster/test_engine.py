"""geoneurips.raster.engine.predict_raster: exactness, seams, nodata, drivers, safety."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.raster.engine import WindowContext, default_out_nodata, predict_raster
from geoneurips.raster.io import raster_info, read_raster, write_raster

UTM = CRS.from_epsg(32618)
T = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def identity(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
    return tile


@pytest.fixture()
def float_raster(tmp_path: Path) -> Path:
    """A 2-band float32 raster whose size is no multiple of anything (no nodata)."""
    arr = np.random.default_rng(1).normal(size=(2, 203, 157)).astype("float32")
    return write_raster(tmp_path / "float.tif", arr, crs=UTM, transform=T)


@pytest.mark.parametrize("blend", ["cosine", "linear", "none"])
def test_identity_is_exact(float_raster: Path, tmp_path: Path, blend: str) -> None:
    src, info = read_raster(float_raster)
    out = predict_raster(float_raster, tmp_path / f"id_{blend}.tif", identity, out_bands=2,
                         tile_size=64, overlap=16, blend=blend,  # type: ignore[arg-type]
                         progress=False)
    got, oinfo = read_raster(out)
    assert np.array_equal(got, src)
    assert oinfo.crs == info.crs and oinfo.transform == info.transform
    assert oinfo.shape == info.shape and oinfo.dtype == "float32"
    # float inputs may hold NaN, so a float output declares NaN nodata by default
    assert oinfo.nodata is not None and math.isnan(oinfo.nodata)


def test_raster_smaller_than_one_tile_and_no_overlap(tmp_path: Path) -> None:
    arr = np.random.default_rng(4).integers(0, 60000, (1, 10, 7)).astype("uint16")
    src = write_raster(tmp_path / "tiny.tif", arr, crs=UTM, transform=T)
    for overlap in (0, 20):
        out = predict_raster(src, tmp_path / f"o{overlap}.tif", identity, out_bands=1,
                             tile_size=64, overlap=overlap, out_dtype="uint16",
                             progress=False)
        got, info = read_raster(out)
        assert np.array_equal(got, arr) and info.nodata is None  # integer input, no nodata
    out = predict_raster(src, tmp_path / "z.tif", identity, out_bands=1, tile_size=4,
                         overlap=0, out_dtype="uint16", progress=False)
    assert np.array_equal(read_raster(out)[0], arr)


def test_tiles_are_full_size_and_cover_raster(float_raster: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, tuple[int, ...]]] = []

    def spy(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
        seen.append((ctx.row_off, ctx.col_off, tile.shape))
        assert (ctx.height, ctx.width) == (64, 64) and ctx.info.count == 2
        return tile[:1] * 0

    predict_raster(float_raster, tmp_path / "o.tif", spy, out_bands=1, tile_size=64,
                   overlap=10, progress=False)
    rows = sorted({r for r, _, _ in seen})
    cols = sorted({c for _, c, _ in seen})
    assert rows == [0, 54, 108, 162] and cols == [0, 54, 108]  # stride 54; 162+64 >= 203
    assert all(shape == (2, 64, 64) for _, _, shape in seen)
    assert len(seen) == 12


def test_seams_are_smooth(tmp_path: Path) -> None:
    """Constant-per-tile kernel: cosine blending has no tile-edge jumps, 'none' does."""
    arr = np.ones((1, 300, 260), "uint8")
    src = write_raster(tmp_path / "ones.tif", arr, crs=UTM, transform=T)
    tile, overlap = 80, 24
    stride = tile - overlap

    def per_tile(t: np.ndarray, ctx: WindowContext) -> np.ndarray:
        ti, tj = ctx.row_off // stride, ctx.col_off // stride
        value = float((ti * 37 + tj * 61) % 90)
        return np.full((1, tile, tile), value, np.float32)

    steps = {}
    for blend in ("cosine", "none"):
        out = predict_raster(src, tmp_path / f"{blend}.tif", per_tile, out_bands=1,
                             tile_size=tile, overlap=overlap, blend=blend,  # type: ignore
                             progress=False)
        img = read_raster(out)[0][0].astype(np.float64)
        steps[blend] = max(np.abs(np.diff(img, axis=0)).max(), np.abs(np.diff(img, axis=1)).max())
        # tile interiors (outside any overlap) keep the tile's value exactly
        assert img[30, 30] == 0.0 and img[30, 100] == float(61 % 90)
    # bound: max difference between tile values (89) times the steepest ramp step
    bound = 89 * (math.pi / (2 * overlap)) + 1e-3
    assert steps["cosine"] <= bound
    assert steps["none"] > bound  # the test would catch a missing blend


def test_nodata_collar_real_data(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    arr, info = read_raster(src)
    invalid = (arr == 0).any(axis=0)
    assert invalid.any() and not invalid.all()
    out = predict_raster(src, tmp_path / "f.tif", identity, out_bands=3, tile_size=128,
                         overlap=32, progress=False)
    got, oinfo = read_raster(out)
    assert oinfo.nodata is not None and math.isnan(oinfo.nodata)
    assert np.isnan(got[:, invalid]).all()
    assert np.array_equal(got[:, ~invalid], arr[:, ~invalid].astype("float32"))
    # integer output: default nodata is the dtype maximum
    out8 = predict_raster(src, tmp_path / "u8.tif", identity, out_bands=3, tile_size=128,
                          overlap=32, out_dtype="uint8", progress=False)
    got8, info8 = read_raster(out8)
    assert info8.nodata == 255.0 == default_out_nodata("uint8")
    assert (got8[:, invalid] == 255).all() and np.array_equal(got8[:, ~invalid],
                                                              arr[:, ~invalid])
    with pytest.raises(InvalidInputError, match="out_nodata -5"):
        predict_raster(src, tmp_path / "bad.tif", identity, out_bands=3, out_dtype="uint8",
                       out_nodata=-5, progress=False)


def test_kernel_sees_fill_value_at_nodata(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    arr, _ = read_raster(src)
    invalid = (arr == 0).any(axis=0)

    def check(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
        v = ctx.valid(ctx.row_off, ctx.col_off, ctx.height, ctx.width)
        r1 = min(ctx.row_off + ctx.height, arr.shape[1])
        c1 = min(ctx.col_off + ctx.width, arr.shape[2])
        expect = np.zeros_like(v)
        expect[: r1 - ctx.row_off, : c1 - ctx.col_off] = ~invalid[ctx.row_off:r1,
                                                                   ctx.col_off:c1]
        assert np.array_equal(v, expect)
        assert (tile[:, ~v] == -7).all() and (tile[:, v] > 0).all()
        return tile[:1]

    predict_raster(src, tmp_path / "o.tif", check, out_bands=1, tile_size=200, overlap=20,
                   fill_value=-7, progress=False)


def test_finalize_argmax(real_data: Path, tmp_path: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    arr, _ = read_raster(src)
    invalid = (arr == 0).any(axis=0)
    out = predict_raster(
        src, tmp_path / "cls.tif", identity, out_bands=3, tile_size=128, overlap=32,
        finalize=lambda p: p.argmax(axis=0), final_bands=1, out_dtype="uint8",
        band_descriptions=["class"], progress=False,
    )
    got, info = read_raster(out)
    assert info.count == 1 and info.descriptions == ("class",) and info.nodata == 255
    assert np.array_equal(got[0][~invalid], arr.argmax(axis=0)[~invalid])
    assert (got[0][invalid] == 255).all()
    with pytest.raises(InvalidInputError, match="final_bands=2"):
        predict_raster(src, tmp_path / "x.tif", identity, out_bands=3, tile_size=128,
                       overlap=32, finalize=lambda p: p.argmax(axis=0), final_bands=2,
                       progress=False)
    assert not (tmp_path / "x.tif").exists()


def _box_sum(padded: np.ndarray, m: int, h: int, w: int) -> np.ndarray:
    """Sum over a (2m+1)^2 box, same arithmetic order for tile and whole image."""
    acc = np.zeros((padded.shape[0], h, w), np.float64)
    for dy in range(2 * m + 1):
        for dx in range(2 * m + 1):
            acc += padded[:, dy:dy + h, dx:dx + w]
    return acc.astype(np.float32)


def test_kernel_reads_larger_context(float_raster: Path, tmp_path: Path) -> None:
    """A kernel reading a margin around its tile reproduces the whole-image filter."""
    m = 5
    src, _ = read_raster(float_raster)

    def box(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
        big = ctx.read(ctx.row_off - m, ctx.col_off - m, ctx.height + 2 * m,
                       ctx.width + 2 * m)
        assert big.shape == (2, ctx.height + 2 * m, ctx.width + 2 * m)
        assert np.array_equal(big[:, m:-m, m:-m], tile)
        return _box_sum(big, m, ctx.height, ctx.width)

    padded = np.pad(src.astype(np.float32), ((0, 0), (m, m), (m, m)))
    expect = _box_sum(padded, m, src.shape[1], src.shape[2])
    out = predict_raster(float_raster, tmp_path / "box.tif", box, out_bands=2, tile_size=48,
                         overlap=8, progress=False)
    assert np.array_equal(read_raster(out)[0], expect)
    # without the context the tile borders would differ: the test can fail
    naive = predict_raster(
        float_raster, tmp_path / "naive.tif",
        lambda t, c: _box_sum(np.pad(t, ((0, 0), (m, m), (m, m))), m, 48, 48),
        out_bands=2, tile_size=48, overlap=8, progress=False,
    )
    assert not np.allclose(read_raster(naive)[0], expect)


def _ndvi_context(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
    big = ctx.read(ctx.row_off - 3, ctx.col_off - 3, ctx.height + 6, ctx.width + 6)
    smooth = big[:, 3:-3, 3:-3] * 0.5 + big[:, :-6, 6:] * 0.25 + big[:, 6:, :-6] * 0.25
    nd = (smooth[0] - smooth[1]) / (smooth[0] + smooth[1] + 1e-3)
    return np.stack([nd, np.tanh(smooth[2] / 100.0)]).astype(np.float32)


def test_dask_driver_equals_local(real_data: Path, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    src = real_data / "rasters" / "RGB.byte.tif"
    kw = dict(out_bands=2, tile_size=160, overlap=40, progress=False)
    local = predict_raster(src, tmp_path / "local.tif", _ndvi_context, **kw)  # type: ignore
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = predict_raster(src, tmp_path / "dask.tif", _ndvi_context, driver="dask",
                              dask_client=client, **kw)  # type: ignore[arg-type]

        def boom(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
            if ctx.row_off > 0:
                raise RuntimeError("kernel failed on a worker")
            return tile[:2]

        with pytest.raises(RuntimeError, match="on a worker"):
            predict_raster(src, tmp_path / "fail.tif", boom, driver="dask",
                           dask_client=client, **kw)  # type: ignore[arg-type]
    a, b = read_raster(local)[0], read_raster(dask)[0]
    assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(a).sum() > 0.5 * a.size
    assert raster_info(local).transform == raster_info(dask).transform
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.tif", "local.tif"]


def test_dask_driver_own_cluster(float_raster: Path, tmp_path: Path) -> None:
    local = predict_raster(float_raster, tmp_path / "l.tif", identity, out_bands=2,
                           tile_size=64, overlap=16, progress=False)
    dask = predict_raster(float_raster, tmp_path / "d.tif", identity, out_bands=2,
                          tile_size=64, overlap=16, progress=False, driver="dask")
    assert np.array_equal(read_raster(local)[0], read_raster(dask)[0])


def test_kernel_exception_leaves_no_output(float_raster: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls = []

    def fails_late(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
        calls.append(1)
        if len(calls) == 11:  # after several blocks were written
            raise ValueError("model exploded")
        return tile

    with pytest.raises(ValueError, match="exploded"):
        predict_raster(float_raster, out_dir / "p.tif", fails_late, out_bands=2,
                       tile_size=32, overlap=4, progress=False)
    assert list(out_dir.iterdir()) == []
    # an existing output is left untouched
    (out_dir / "p.tif").write_bytes(b"old")
    calls.clear()
    with pytest.raises(ValueError, match="exploded"):
        predict_raster(float_raster, out_dir / "p.tif", fails_late, out_bands=2,
                       tile_size=32, overlap=4, progress=False)
    assert [p.name for p in out_dir.iterdir()] == ["p.tif"]
    assert (out_dir / "p.tif").read_bytes() == b"old"
    # wrong kernel output shape
    with pytest.raises(InvalidInputError, match=r"kernel returned shape \(2, 32, 32\)"):
        predict_raster(float_raster, out_dir / "q.tif", identity, out_bands=3,
                       tile_size=32, overlap=4, progress=False)
    assert [p.name for p in out_dir.iterdir()] == ["p.tif"]


def test_progress_bar(float_raster: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    predict_raster(float_raster, tmp_path / "a.tif", identity, out_bands=2, tile_size=64,
                   overlap=16, progress=True)
    assert "12/12" in capsys.readouterr().err
    predict_raster(float_raster, tmp_path / "b.tif", identity, out_bands=2, tile_size=64,
                   overlap=16, progress=False)
    assert "12/12" not in capsys.readouterr().err


def test_multiple_sources_are_stacked(tmp_path: Path) -> None:
    a = np.random.default_rng(2).integers(1, 200, (2, 90, 70)).astype("uint8")
    b = np.random.default_rng(3).normal(size=(1, 90, 70)).astype("float32")
    pa = write_raster(tmp_path / "a.tif", a, crs=UTM, transform=T)
    pb = write_raster(tmp_path / "b.tif", b, crs=UTM, transform=T)
    out = predict_raster([pb, pa], tmp_path / "o.tif", lambda t, c: t[[0, 2]], out_bands=2,
                         tile_size=32, overlap=8, progress=False)
    got = read_raster(out)[0]
    assert np.array_equal(got[0], b[0]) and np.array_equal(got[1], a[1].astype("float32"))
    pc = write_raster(tmp_path / "c.tif", b, crs=UTM, transform=T @ Affine.translation(0, 2))
    with pytest.raises(CoregistrationError, match=r"a\.tif.*c\.tif.*transform"):
        predict_raster([pa, pc], tmp_path / "o2.tif", identity, out_bands=1, progress=False)


def test_argument_validation(float_raster: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    bad: list[tuple[dict[str, object], str]] = [
        (dict(tile_size=64, overlap=32), "overlap"),
        (dict(tile_size=64, overlap=-1), "overlap"),
        (dict(tile_size=0, overlap=0), "tile_size"),
        (dict(blend="gauss"), "blend"),
        (dict(driver="spark"), "driver"),
        (dict(dask_client=object()), "dask_client"),
        (dict(out_dtype="complex64"), "out_dtype"),
        (dict(out_bands=0), "out_bands"),
        (dict(band_descriptions=["a"]), "band_descriptions"),
    ]
    for kw, msg in bad:
        args: dict[str, object] = dict(out_bands=2, progress=False)
        args.update(kw)
        with pytest.raises(InvalidInputError, match=msg):
            predict_raster(float_raster, out, identity, **args)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="one of the sources"):
        predict_raster(float_raster, float_raster, identity, out_bands=2, progress=False)
    with pytest.raises(InvalidInputError, match="does not exist"):
        predict_raster(tmp_path / "nope.tif", out, identity, out_bands=2, progress=False)
    assert not out.exists()


def test_memory_bounded_by_width_not_height(tmp_path: Path) -> None:
    """Peak traced memory on a raster 4x taller stays about the same."""
    width = 256
    peaks = []
    for height in (1024, 4096):
        arr = np.random.default_rng(0).integers(1, 255, (2, height, width)).astype("uint8")
        src = write_raster(tmp_path / f"in{height}.tif", arr, crs=UTM, transform=T)
        del arr
        tracemalloc.start()
        predict_raster(src, tmp_path / f"out{height}.tif", identity, out_bands=2,
                       tile_size=64, overlap=8, progress=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    whole_output = 2 * 4096 * width * 4  # the large output as float32 (8 MiB)
    assert peaks[1] < 1.3 * peaks[0], peaks
    assert peaks[1] < 0.5 * whole_output, peaks


def _smooth_kernel(tile: np.ndarray, ctx: WindowContext) -> np.ndarray:
    """A kernel whose output differs between overlapping tiles (so blending matters):
    a per-tile mean shift plus a 16-band expansion."""
    base = tile.mean(0, keepdims=True) - tile.mean() + 0.01 * ctx.col_off
    return np.concatenate([base * (k + 1) for k in range(16)], axis=0)


def test_column_stripes_give_identical_output(tmp_path: Path) -> None:
    """A memory budget that forces many column stripes (tiles straddling stripe borders
    computed twice) writes exactly the file of a one-stripe run, nodata collar included."""
    rng = np.random.default_rng(3)
    arr = rng.integers(1, 255, (3, 300, 1100)).astype("uint8")
    arr[:, :, :37] = 0  # nodata collar on the left
    arr[:, 250:, 900:] = 0
    src = write_raster(tmp_path / "wide.tif", arr, crs=UTM, transform=T, nodata=0)
    outs = []
    for name, mb in (("one", 4096.0), ("many", 0.001)):
        out = predict_raster(src, tmp_path / f"{name}.tif", _smooth_kernel, out_bands=16,
                             tile_size=96, overlap=16, progress=False, memory_mb=mb)
        outs.append(read_raster(out)[0])
    assert np.array_equal(outs[0], outs[1], equal_nan=True)
    assert np.isnan(outs[1][:, :, :37]).all() and np.isfinite(outs[1][:, :200, 40:900]).all()
    # argmax finalize (pixel-wise) through stripes, too
    fin = [read_raster(predict_raster(src, tmp_path / f"f{mb}.tif", _smooth_kernel,
                                      out_bands=16, tile_size=96, overlap=16,
                                      progress=False, memory_mb=mb, out_dtype="uint8",
                                      finalize=lambda p: p.argmax(0)))[0]
           for mb in (4096.0, 0.001)]
    assert np.array_equal(fin[0], fin[1])


def test_memory_bounded_by_width(tmp_path: Path) -> None:
    """Peak traced memory does not grow with the raster's width (16 output bands): the old
    engine held a float64 accumulator of a whole tile row (linear in the width)."""
    peaks = []
    for width in (1024, 4096):
        arr = np.random.default_rng(0).integers(1, 255, (1, 192, width)).astype("uint8")
        src = write_raster(tmp_path / f"in{width}.tif", arr, crs=UTM, transform=T)
        del arr
        tracemalloc.start()
        predict_raster(src, tmp_path / f"out{width}.tif", _smooth_kernel, out_bands=16,
                       tile_size=128, overlap=16, progress=False, memory_mb=2.0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    row_accumulator = 8 * 16 * 128 * 4096  # what the old engine held at the larger width
    assert peaks[1] < 1.25 * peaks[0], peaks
    assert peaks[1] < 0.5 * row_accumulator, peaks


def test_memory_budget_is_validated(float_raster: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="memory_mb"):
        predict_raster(float_raster, tmp_path / "o.tif", identity, out_bands=2,
                       progress=False, memory_mb=0)
