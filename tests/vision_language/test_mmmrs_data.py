"""MMM-RS builder, prompts, reader and the ``mmmrs-build`` command.

Independent files: the real GeoTIFFs in ../shared/data/rasters (Landsat-7 300 m UTM with a
nodata collar; a 0.6 m Web-Mercator COG; a global EPSG:4326 basemap) and the real
Sentinel-2 pixels of sentinel2/spyndex_S2_10m.npz (no georeference: we give it a 10 m UTM
grid). No released MMM-RS annotation file was retrievable (the data sit on Baidu/Quark
disks), so the reader is tested on our builder's output and on the other schema spellings
it accepts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from geoneurips.errors import DataNotFoundError, InvalidInputError
from geoneurips.vision_language.mmmrs import builder as B
from geoneurips.vision_language.mmmrs.cli import mmmrs_build
from geoneurips.vision_language.mmmrs.data import (
    MMMRS,
    build_from_arrays,
    build_from_geotiffs,
    geotiff_gsd,
    read_annotations,
    write_fixture,
)


def test_gsd_bins_and_prompt_format() -> None:
    """Published bins (< 0.5, [0.5, 1), [1, 5)) and Fig. 3's prompt."""
    assert B.gsd_phrase(0.3) == "Ultra-high precision resolution"
    assert B.gsd_phrase(0.5) == "High precision resolution"
    assert B.gsd_phrase(0.999) == "High precision resolution"
    assert B.gsd_phrase(1.0) == "Ordinary precision resolution"
    assert B.gsd_phrase(4.99) == "Ordinary precision resolution"
    assert B.gsd_phrase(10.0) == "Low precision resolution"
    assert B.gsd_phrase(100.0) == "Ultra-low precision resolution"
    assert B.build_prompt(2.0, "fog", "a satellite image shows a large area of farmland",
                          "Sentinel-2") == ("Ordinary precision resolution, fog, a satellite "
                                            "image shows a large area of farmland, Sentinel-2")
    assert B.build_prompt(0.3, "clear", "a city", "GF2") == \
        "Ultra-high precision resolution, a city, GF2"
    assert B.build_prompt(0.3, "low_light").endswith(", night")
    with pytest.raises(InvalidInputError):
        B.build_prompt(0.3, "rain")
    with pytest.raises(InvalidInputError):
        B.gsd_phrase(0.0)


def test_center_square_and_resize_rules() -> None:
    a = np.arange(5 * 8, dtype=np.float32).reshape(5, 8) / 40
    sq = B.center_square(a)
    np.testing.assert_array_equal(sq[:, :, 0], a[0:5, 1:6])  # (8 - 5) // 2 = 1
    big = B.standardize(np.random.default_rng(0).random((30, 20, 3)), 2.0, size=10)
    assert big.image.shape == (10, 10, 3) and big.gsd == pytest.approx(4.0)
    assert not big.upscaled
    small = B.standardize(np.random.default_rng(0).random((6, 9, 3)), 2.0, size=12)
    assert small.image.shape == (12, 12, 3) and small.upscaled
    assert small.gsd == pytest.approx(1.0)


def test_multi_gsd_crops_match_figure5_and_inria_rule() -> None:
    """0.3 m source: nested crops give 2.4, 1.2, 0.6 m and native 0.3 m tiles (Fig. 5,
    scaled down: tile 8 instead of 512); crops are the nested centre crops of the script."""
    rng = np.random.default_rng(0)
    img = rng.random((70, 66, 3)).astype(np.float32)
    crops = B.multi_gsd_crops(img, 0.3, tile=8)
    kinds = [c.kind for c in crops]
    assert kinds == ["resize_from_64", "resize_from_32", "resize_from_16", "crop_0_0",
                     "crop_0_1", "crop_1_0", "crop_1_1", "crop_center"]
    assert [round(c.gsd, 6) for c in crops[:3]] == [2.4, 1.2, 0.6]
    assert all(c.gsd == 0.3 for c in crops[3:])
    l64 = img[3:67, 1:65]  # (70 - 64) // 2, (66 - 64) // 2
    l32 = l64[16:48, 16:48]
    l16 = l32[8:24, 8:24]
    np.testing.assert_allclose(crops[0].image, B.resize(l64, 8), atol=1e-6)
    np.testing.assert_array_equal(crops[5].image, l16[0:8, 8:16])  # i = 1 (x), j = 0 (y)
    np.testing.assert_array_equal(crops[7].image, l16[4:12, 4:12])
    with pytest.raises(InvalidInputError):
        B.multi_gsd_crops(img[:15], 0.3, tile=8)


def test_grid_tiles_and_fmow_crops() -> None:
    img = np.random.default_rng(0).random((17, 20, 3)).astype(np.float32)
    tiles = B.grid_tiles(img, 1.0, tile=8)
    assert [t.kind for t in tiles] == ["tile_0_0", "tile_0_8", "tile_8_0", "tile_8_8"]
    np.testing.assert_array_equal(tiles[2].image, img[0:8, 8:16])
    fm = B.fmow_crops(img, 1.0, tile=8)
    assert [c.kind for c in fm] == ["center", "left_bottom", "right_top"]
    np.testing.assert_array_equal(fm[0].image, img[4:12, 6:14])
    np.testing.assert_array_equal(fm[1].image, img[9:17, 0:8])
    np.testing.assert_array_equal(fm[2].image, img[0:8, 12:20])


def test_fog_follows_atmospheric_scattering_model() -> None:
    """Two scenes fogged with the same randomness: I = J t + A (1 - t) with one
    transmission map t in (0, 1) shared by all bands and both scenes."""
    rng = np.random.default_rng(0)
    j1, j2 = rng.random((24, 24, 3)), rng.random((24, 24, 3))
    a = 0.8
    i1 = B.fog(j1, beta=1.2, airlight=a, rng=np.random.default_rng(5))
    i2 = B.fog(j2, beta=1.2, airlight=a, rng=np.random.default_rng(5))
    dj = j1 - j2
    t = ((i1 - i2) * dj).sum(2, keepdims=True) / (dj ** 2).sum(2, keepdims=True)
    assert np.all((t > 0) & (t < 1))
    big = np.abs(dj) > 0.1  # per-band estimates agree where they are well conditioned
    np.testing.assert_allclose(((i1 - i2) / dj)[big], np.broadcast_to(t, dj.shape)[big],
                               atol=1e-4)
    np.testing.assert_allclose(i1, j1 * t + a * (1 - t), atol=1e-4)
    assert 0.25 < float(t.min()) and float(t.max()) < 0.7
    np.testing.assert_allclose(B.fog(j1, beta=0.0, airlight=a), j1, atol=1e-6)


def test_low_light_and_snow() -> None:
    j = np.random.default_rng(0).random((16, 16, 3))
    np.testing.assert_allclose(B.low_light(j, gain=0.2, gamma=2.0, noise=0.0), 0.2 * j ** 2,
                               atol=1e-6)
    dark = B.apply_weather(j, "low_light", np.random.default_rng(1))
    assert dark.mean() < 0.3 * j.mean()
    np.testing.assert_allclose(B.snow(j, coverage=0.0, flakes=0.0), 0.85 * j + 0.12, atol=1e-6)
    white = B.snow(j, coverage=1.0, flakes=0.0)
    assert white.mean() > 0.8
    with pytest.raises(InvalidInputError):
        B.apply_weather(j, "hail")


def test_fixture_layout_reader_and_prompts(tmp_path: Path) -> None:
    root = write_fixture(tmp_path, n_scenes=2, scene_px=64, tile=16)
    recs = read_annotations(root / "annotations.json")
    assert len(recs) == 2 * 7 * 4  # 2 scenes x (2 resized + 5 native) x 4 weathers
    assert (root / "images").is_dir() and (root / "weather" / "fog").is_dir()
    ds = MMMRS(root)
    s = ds[0]
    assert s["image"].shape == (3, 16, 16) and 0 <= float(s["image"].min())
    for r in recs:
        assert r["prompt"].startswith(B.gsd_phrase(r["gsd"]))
        assert B.WEATHER_PHRASES[r["weather"]] in r["prompt"]
    levels = {round(r["gsd"], 3) for r in recs}
    assert levels == {0.3, 0.6, 1.2}
    fig = ds.plot(s)
    assert fig is not None


def test_reader_other_schema_spellings_and_errors(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "lines.json").write_text(
        json.dumps({"file_name": "a.jpg", "text": "High precision resolution, fog, x",
                    "spatial_resolution": 0.6, "weather": "fog"}) + "\n")
    r = read_annotations(tmp_path / "lines.json")
    assert r[0]["gsd"] == 0.6 and r[0]["image"].endswith("a.jpg")
    (tmp_path / "wrapped.json").write_text(json.dumps({"images": [{"img_path": "a.jpg",
                                                                   "prompt": "p"}]}))
    ds = MMMRS(tmp_path, "wrapped.json")
    assert ds[0]["prompt"] == "p" and "gsd" not in ds[0]
    (tmp_path / "bad.json").write_text(json.dumps([{"prompt": "no image"}]))
    with pytest.raises(InvalidInputError, match="record 0"):
        read_annotations(tmp_path / "bad.json")
    with pytest.raises(DataNotFoundError, match="never downloads"):
        MMMRS(tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError):
        read_annotations(tmp_path / "missing.json")


def test_builder_is_atomic(tmp_path: Path) -> None:
    """A failure half-way leaves neither the output nor a temporary folder behind; an
    existing non-empty output is refused without --overwrite."""
    img = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    calls = {"n": 0}
    real = B.apply_weather

    def flaky(*a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full")
        return real(*a, **k)

    with mock.patch("geoneurips.vision_language.mmmrs.data.apply_weather", flaky), \
            pytest.raises(RuntimeError):
        build_from_arrays([("s", img, 0.5)], tmp_path / "out", tile=8)
    assert list(tmp_path.iterdir()) == []
    build_from_arrays([("s", img, 0.5)], tmp_path / "out", tile=8)
    with pytest.raises(InvalidInputError, match="not empty"):
        build_from_arrays([("s", img, 0.5)], tmp_path / "out", tile=8)
    build_from_arrays([("s", img, 0.5)], tmp_path / "out", tile=8, overwrite=True,
                      weathers=["clear"])
    assert len(read_annotations(tmp_path / "out" / "annotations.json")) == 7  # 32, 16, 5 tiles
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_gsd_from_real_geotiff_transforms(real_data: Path) -> None:
    """UTM metres as is; Web Mercator scaled by cos(latitude); degrees converted."""
    import rasterio
    from rasterio.warp import transform as warp_xy

    r = real_data / "rasters"
    with rasterio.open(r / "RGB.byte.tif") as ds:
        t = ds.transform
    assert geotiff_gsd(r / "RGB.byte.tif") == pytest.approx((abs(t.a) + abs(t.e)) / 2)
    with rasterio.open(r / "cogeo.tif") as ds:
        t, crs, w, h = ds.transform, ds.crs, ds.width, ds.height
    cx, cy = t @ (w / 2, h / 2)
    lat = warp_xy(crs, "EPSG:4326", [cx], [cy])[1][0]
    assert geotiff_gsd(r / "cogeo.tif") == pytest.approx(
        (abs(t.a) + abs(t.e)) / 2 * math.cos(math.radians(lat)))
    with rasterio.open(r / "world.rgb.tif") as ds:
        t, h, w = ds.transform, ds.height, ds.width
    lat0 = (t @ (w / 2, h / 2))[1]
    want = (abs(t.a) * 111_320 * math.cos(math.radians(lat0)) + abs(t.e) * 110_574) / 2
    assert geotiff_gsd(r / "world.rgb.tif") == pytest.approx(want)


def test_build_on_real_geotiffs_and_sentinel2(real_data: Path, tmp_path: Path) -> None:
    """The builder on real rasters: Landsat-7 (718 px < 1024: one standardised image at
    300 * 718 / 512 m, nodata collar -> 0), the 1024 px COG (multi-GSD crops: one 1024->512
    at twice its GSD, five native tiles) and real Sentinel-2 pixels (300 px, upscaled)."""
    import rasterio
    from rasterio.transform import from_origin

    src = tmp_path / "in"
    src.mkdir()
    for name in ("RGB.byte.tif", "cogeo.tif"):
        (src / name).symlink_to(real_data / "rasters" / name)
    with np.load(real_data / "sentinel2" / "spyndex_S2_10m.npz") as z:
        img, bands = z["image"], [str(b) for b in z["bands"]]
    rgb = np.stack([img[bands.index(b)] for b in ("B04", "B03", "B02")])  # (4, 300, 300)
    with rasterio.open(src / "s2.tif", "w", driver="GTiff", width=rgb.shape[2],
                       height=rgb.shape[1], count=3, dtype=rgb.dtype, crs="EPSG:32633",
                       transform=from_origin(400_000, 5_000_000, 10, 10)) as ds:
        ds.write(rgb)
    out = build_from_geotiffs(src, tmp_path / "out", weathers=["clear", "fog"],
                              satellite="Landsat/Sentinel-2")
    recs = read_annotations(out / "annotations.json")
    by = {}
    for r in recs:
        by.setdefault(r["source"], []).append(r)
    assert len(by["RGB.byte"]) == 2 and len(by["cogeo"]) == 2 * 6 and len(by["s2"]) == 2
    rb = by["RGB.byte"][0]
    assert rb["gsd"] == pytest.approx(geotiff_gsd(src / "RGB.byte.tif") * 718 / 512, rel=1e-5)
    assert rb["prompt"].startswith("Ultra-low precision resolution")
    g = geotiff_gsd(src / "cogeo.tif")
    cg = sorted({round(r["gsd"], 5) for r in by["cogeo"]})
    assert cg == [round(g, 5), round(2 * g, 5)]
    s2 = by["s2"][0]
    assert s2["upscaled"] and s2["gsd"] == pytest.approx(10 * 300 / 512)
    assert s2["prompt"].startswith("Low precision resolution")
    ds = MMMRS(out)
    first = ds[[i for i, r in enumerate(ds.records) if r["source"] == "RGB.byte"][0]]
    assert first["image"].shape == (3, 512, 512)
    assert float(first["image"][:, 0, 0].max()) < 0.02  # nodata collar stays black


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(mmmrs_build)
    return app


def test_cli_build_and_bad_inputs(app: typer.Typer, tmp_path: Path) -> None:
    from geoneurips.vision_language.mmmrs.synthetic import write_scene_geotiffs

    src = write_scene_geotiffs(tmp_path / "tifs", 1, px=64, gsd=0.3, seed=0)
    res = CliRunner().invoke(app, [str(src), "-o", str(tmp_path / "o"), "--tile", "16",
                                   "--weather", "clear", "--weather", "snow", "--format",
                                   "png", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["pairs"] == 7 * 2 and info["sources"] == 1
    assert info["gsd_levels"] == ["High precision resolution", "Ordinary precision resolution",
                                  "Ultra-high precision resolution"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="no GeoTIFF"):
        build_from_geotiffs(empty, tmp_path / "o2")
    with pytest.raises(InvalidInputError, match="unknown weather"):
        build_from_geotiffs(src, tmp_path / "o3", weathers=["rain"])
    (src / "junk.tif").write_text("not a tiff")
    with pytest.raises(InvalidInputError):
        build_from_geotiffs(src, tmp_path / "o4", tile=16)
    assert not (tmp_path / "o4").exists()
