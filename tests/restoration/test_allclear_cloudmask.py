"""Cloud and shadow masks for ``declouds`` on real Sentinel-2 stacks (s2cloudless, the
detector AllClear's masks come from, and ukis-csmask).

The real image is the Sen1Floods11 Sentinel-2 L1C chip ``Spain_7370579_S2Hand.tif`` (13 bands
B1..B12 with B8A and B10, int16 DN = reflectance x 1e4, EPSG:4326, acquired 2019-09-18), a
mostly clear scene with a few small clouds (s2cloudless: about 1 % ``clouds_30``). A second
date is made by blending a disc of cloud (85 % opacity, the synthetic cloud spectrum) into it,
so the test knows where a cloud must be found and what the composite must recover there.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from geoneurips.errors import InvalidInputError
from geoneurips.raster.io import raster_info, read_raster, write_raster
from geoneurips.restoration.allclear.cloudmask import (
    allclear_cld_shdw,
    cloud_projection,
    sentinel2_sun_azimuth,
    write_cld_shdw,
)
from geoneurips.restoration.allclear.composite import composite
from geoneurips.restoration.allclear.synthetic import CLOUD_SPECTRUM

S2 = "sen1floods11/Spain_7370579_S2Hand.tif"


def _disc(h: int = 512, w: int = 512) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - 150) ** 2 + (xx - 300) ** 2 < 70**2


def _clouded(dn: np.ndarray) -> np.ndarray:
    disc = _disc(*dn.shape[1:])
    out = dn.astype(np.float32).copy()
    cloud = (CLOUD_SPECTRUM * 1e4).astype(np.float32)[:, None]
    out[:, disc] = 0.15 * out[:, disc] + 0.85 * cloud
    return out.astype(np.int16)


def test_sun_azimuth_hand_values() -> None:
    # equator at an equinox: the sun rises due east and culminates at the zenith, so at
    # 10:30 solar time it is due east (90 degrees)
    assert sentinel2_sun_azimuth(0.0, 10.0, datetime(2022, 3, 20)) == pytest.approx(90, abs=3)
    # mid northern latitudes in the morning: south-east; southern winter: north-east
    az_n = sentinel2_sun_azimuth(38.1, -0.78, datetime(2019, 9, 18))
    assert 135 < az_n < 160
    assert 20 < sentinel2_sun_azimuth(-30.0, 20.0, datetime(2022, 6, 21)) < 60


def test_cloud_projection_points_away_from_the_sun() -> None:
    clouds = np.zeros((200, 200), bool)
    clouds[100:120, 100:120] = True  # one 200 m cell
    proj = cloud_projection(clouds, sun_azimuth=180.0)  # sun in the south: shadow north
    assert proj[100:120, 100:120].all()
    assert proj[0:100, 100:120].all()  # 5 cells (1 km) north, within the 2 km reach
    assert not proj[120:, :].any() and not proj[:, 120:].any() and not proj[:, :100].any()
    east = cloud_projection(clouds, sun_azimuth=270.0)  # sun in the west: shadow east
    assert east[100:120, 120:].all() and not east[100:120, :100].any()


def test_s2cloudless_allclear_bands_on_real_image(real_data: Path) -> None:
    dn, _ = read_raster(real_data / S2)
    m = allclear_cld_shdw(dn / 1e4, sun_azimuth=146.6)
    assert m.shape == (5, 512, 512) and m.dtype == np.float32
    assert 0 <= m[0].min() and m[0].max() <= 100
    # mostly clear scene: a few percent of cloud at most, but not none
    assert 0.001 < m[1].mean() < 0.05, m[1].mean()
    # the shadow bands grow with the NIR threshold (0.20 < 0.25 < 0.30)
    assert (m[2] <= m[3]).all() and (m[3] <= m[4]).all() and m[4].mean() > m[2].mean()
    assert not (m[1].astype(bool) & m[4].astype(bool)).any()
    with pytest.raises(InvalidInputError, match="13-band"):
        allclear_cld_shdw(dn[:4] / 1e4, sun_azimuth=146.6)


@pytest.mark.slow
@pytest.mark.parametrize("detector", ["s2cloudless", "ukis-csmask"])
def test_declouds_end_to_end_on_real_stack_without_masks(real_data: Path, tmp_path: Path,
                                                          detector: str) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    shutil.copy(real_data / S2, stack / "Spain_2019-09-18.tif")
    dn, info = read_raster(real_data / S2)
    write_raster(stack / "Spain_2019-09-23.tif", _clouded(dn), like=info)
    out = tmp_path / "composite.tif"
    summary = composite(stack, out, cloud_detector=detector, masks_dir=tmp_path / "masks",
                        progress=False, block=200)
    assert summary["cloud_detector"] == detector
    det = summary["detected_masks"]
    assert set(det) == {"Spain_2019-09-18.tif", "Spain_2019-09-23.tif"}
    # sensible cloud fractions: the clear date little, the clouded one at least the disc
    disc = _disc()
    assert det["Spain_2019-09-18.tif"]["cloud_fraction"] < 0.1
    assert det["Spain_2019-09-23.tif"]["cloud_fraction"] > 0.4 * disc.mean()
    if detector == "s2cloudless":
        assert 135 < det["Spain_2019-09-23.tif"]["sun_azimuth"] < 160
    # masks kept, on the image grid, in AllClear's 5-band layout
    mi = raster_info(tmp_path / "masks" / "Spain_2019-09-23_cld_shdw.tif")
    assert mi.count == 5 and mi.transform == info.transform and mi.crs == info.crs
    # a georeferenced composite on the input grid
    oi = raster_info(out)
    assert oi.crs == info.crs and oi.transform == info.transform and oi.count == 13
    comp, _ = read_raster(out)
    # the pasted cloud is removed where the detector found it: the clear date shows through
    m2, _ = read_raster(tmp_path / "masks" / "Spain_2019-09-23_cld_shdw.tif")
    m1, _ = read_raster(tmp_path / "masks" / "Spain_2019-09-18_cld_shdw.tif")
    assert set(np.unique(m2[1])) <= {0.0, 1.0} and not (m2[1].astype(bool)
                                                        & m2[4].astype(bool)).any()
    if detector == "s2cloudless":  # the pasted cloud is found in full, probability ~100 %
        assert m2[1][disc].mean() > 0.99 and m2[0][disc].mean() > 90
        assert m2[1][~disc].mean() < 0.05
    else:  # measured: 61 % of the disc, 5 % cloud elsewhere
        assert m2[1][disc].mean() > 0.4 and m2[1][~disc].mean() < 0.15
    found = disc & (m2[1] > 0) & (m1[[1, 4]].sum(0) == 0)
    assert found.mean() > 0.4 * disc.mean()
    np.testing.assert_allclose(comp[:, found], dn[:, found].astype(np.float32), atol=1e-3)
    # over the whole disc the composite is much darker than the cloud (s2cloudless finds the
    # whole disc; ukis-csmask about 61 % of it: measured 0.61 of the cloud's brightness)
    bright = comp[1:4, disc].mean() / _clouded(dn)[1:4, disc].astype(np.float32).mean()
    assert bright < (0.5 if detector == "s2cloudless" else 0.8), bright


def test_declouds_detector_bad_inputs(tmp_path: Path, real_data: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    dn, info = read_raster(real_data / S2)
    write_raster(stack / "img.tif", dn[:4], like=info)  # no date, 4 bands
    with pytest.raises(InvalidInputError, match="no cloud mask"):
        composite(stack, tmp_path / "o.tif", progress=False)
    with pytest.raises(InvalidInputError, match="13 Sentinel-2"):
        composite(stack, tmp_path / "o.tif", cloud_detector="s2cloudless", progress=False)
    with pytest.raises(InvalidInputError, match="unknown cloud detector"):
        composite(stack, tmp_path / "o.tif", cloud_detector="fmask", progress=False)
    write_raster(stack / "img.tif", dn, like=info)
    with pytest.raises(InvalidInputError, match="sun azimuth"):
        write_cld_shdw(stack / "img.tif", tmp_path / "m.tif")
    assert not (tmp_path / "o.tif").exists() and not (tmp_path / "m.tif").exists()


def test_declouds_cli_computes_masks(real_data: Path, tmp_path: Path) -> None:
    """``geoneurips declouds --cloud-detector ukis-csmask --json`` on a 256 x 256 crop of the
    real image and a clouded copy: masks computed, a georeferenced composite written."""
    import json

    import typer
    from typer.testing import CliRunner

    from geoneurips.restoration.allclear.cli import declouds

    dn, info = read_raster(real_data / S2)
    crop = dn[:, 22:278, 172:428]  # holds most of the pasted disc
    from rasterio.windows import Window, transform

    tr = transform(Window(172, 22, 256, 256), info.transform)
    stack = tmp_path / "stack"
    write_raster(stack / "a_2019-09-18.tif", crop, crs=info.crs, transform=tr, nodata=0)
    write_raster(stack / "a_2019-09-23.tif", _clouded(dn)[:, 22:278, 172:428], crs=info.crs,
                 transform=tr, nodata=0)
    app = typer.Typer()
    app.command()(declouds)
    out = tmp_path / "c.tif"
    res = CliRunner().invoke(app, [str(stack), "-o", str(out), "--cloud-detector",
                                   "ukis-csmask", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["cloud_detector"] == "ukis-csmask"
    assert summary["detected_masks"]["a_2019-09-23.tif"]["cloud_fraction"] > 0.1
    oi = raster_info(out)
    assert oi.transform == tr and oi.crs == info.crs and oi.count == 13
    bad = CliRunner().invoke(app, [str(stack), "-o", str(tmp_path / "d.tif"),
                                   "--cloud-detector", "fmask"])
    assert bad.exit_code != 0 and "unknown cloud detector" in bad.output
    assert not (tmp_path / "d.tif").exists()
