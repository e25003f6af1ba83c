"""SeCo pipeline: demo (self-training protocol), seco-refine on GeoTIFF/PNG, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import typer
from affine import Affine
from PIL import Image
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from typer.testing import CliRunner

from geoneurips.errors import CoregistrationError, InvalidInputError
from geoneurips.raster.io import write_raster
from geoneurips.segmentation.seco.cli import seco_refine
from geoneurips.segmentation.seco.data import make_noisy_pseudo_label, make_scene

CRS = "EPSG:32618"
TF = Affine(0.5, 0, 500000, 0, -0.5, 4000000)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(seco_refine)
    return app


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    img, truth = make_scene(64, seed=5)
    ps = make_noisy_pseudo_label(truth, seed=5)
    a = write_raster(tmp_path / "img.tif", img.transpose(2, 0, 1), crs=CRS, transform=TF)
    b = write_raster(tmp_path / "ps.tif", ps, crs=CRS, transform=TF)
    return a, b


@pytest.mark.slow
def test_demo_reports_every_baseline_on_unseen_scenes(tmp_path: Path) -> None:
    """Quick demo, seed 0 (the paper's protocol: labels -> self-trained segmenter -> unseen
    scenes). Measured (quick, seeds 0 / 1 / 2): segmenter test mIoU SeCo 0.654 / 0.735 /
    0.769, on raw labels 0.835 / 0.742 / 0.748, on PSA labels 0.746 / 0.709 / 0.783; label
    strict mIoU raw 0.634 / 0.529 / 0.585 < PSA 0.687 / 0.552 / 0.632; SCC removes 0.99 of
    the noisy components on every seed. SeCo does not beat the strongest baseline on every
    seed (status partial); asserted: the contract (all baselines, the ablation, directions),
    PSA labels beat raw labels by 0.01 (smallest gap 0.023), SCC removes > 0.9 of the noisy
    components, and strict scoring (coverage < 1 lowers the SeCo labels' strict mIoU below
    their labelled-only mIoU).
    """
    from geoneurips.segmentation.seco.pipeline import demo

    r = demo(tmp_path, quick=True, seed=0)
    assert set(r.baselines) == {"segmenter_raw", "segmenter_psa"}
    assert r.strongest_baseline in r.baselines and r.primary == "miou"
    assert list(r.ablations) == ["seco_without_scc (= PSA alone)"]
    assert set(r.directions) == set(r.metrics)
    raw, psa = r.baselines["segmenter_raw"], r.baselines["segmenter_psa"]
    assert psa["labels_miou"] > raw["labels_miou"] + 0.01
    assert r.details["noisy_components_removed_share"] > 0.9
    assert r.metrics["labels_coverage"] < 0.97
    assert r.metrics["labels_miou"] < r.metrics["labels_miou_labelled"] - 0.03
    assert 0.4 < r.metrics["miou"] <= 1.0 and 0.4 < raw["miou"] <= 1.0
    assert Path(r.artifacts["figure"]).is_file()
    assert json.loads(Path(r.artifacts["result"]).read_text())["system"] == "seco"



def test_explain_regressions_needs_the_deficit_to_be_the_ignoring() -> None:
    """``labels_miou`` is explained only while SeCo's strict label mIoU is at least that of
    the best baseline's labels with SeCo's ignored pixels set to ignore (hand-made numbers
    shaped like the seed-0 quick demo: PSA 0.687 > SeCo 0.651, coverage 0.994 vs 0.915)."""
    from geoneurips.segmentation.seco._demo import explain_regressions

    ours = {"miou": 0.65, "oa": 0.78, "labels_miou": 0.651, "labels_coverage": 0.915,
            "labels_miou_labelled": 0.717}
    raw = {"miou": 0.83, "oa": 0.91, "labels_miou": 0.634, "labels_coverage": 0.990,
           "labels_miou_labelled": 0.640}
    psa = {"miou": 0.75, "oa": 0.84, "labels_miou": 0.687, "labels_coverage": 0.994,
           "labels_miou_labelled": 0.696}
    base = {"segmenter_raw": raw, "segmenter_psa": psa}
    floors = {"segmenter_raw": 0.58, "segmenter_psa": 0.63}
    out = explain_regressions(ours, base, ignore_only_miou=floors, ignored_component_share=0.25)
    assert set(out) == {"labels_miou"}
    assert "25%" in out["labels_miou"] and "0.630" in out["labels_miou"]
    # ignoring alone would cost PSA's labels less than SeCo's deficit: no explanation
    out = explain_regressions(ours, base, ignore_only_miou={**floors, "segmenter_psa": 0.66},
                              ignored_component_share=0.25)
    assert out == {}
    # the floor of the wrong baseline does not count (the best on labels_miou is PSA)
    assert explain_regressions(ours, base, ignore_only_miou={"segmenter_raw": 0.58},
                               ignored_component_share=0.25) == {}
    # no regression on labels_miou: nothing to explain
    assert explain_regressions({**ours, "labels_miou": 0.70}, base, ignore_only_miou=floors,
                               ignored_component_share=0.25) == {}


def test_cli_geotiff_and_png(pair: tuple[Path, Path], tmp_path: Path) -> None:
    img, ps = pair
    out = tmp_path / "out" / "refined.tif"
    res = CliRunner().invoke(_app(), [str(img), str(ps), "-o", str(out), "--epochs", "1",
                                      "--tile-size", "48", "--overlap", "8", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert 0.2 < summary["labelled_fraction"] <= 1.0
    with rasterio.open(out) as ds:
        assert ds.crs.to_string() == CRS and ds.transform == TF
        assert ds.dtypes[0] == "uint8" and ds.nodata == 255 and ds.shape == (64, 64)
        arr = ds.read(1)
    assert set(np.unique(arr)) <= set(range(7)) | {255}
    png = tmp_path / "refined.png"
    res = CliRunner().invoke(_app(), [str(img), str(ps), "-o", str(png), "--psa-only"])
    assert res.exit_code == 0, res.output
    lab = np.asarray(Image.open(png))
    assert lab.shape == (64, 64) and lab.dtype == np.uint8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.tif", "out", "ps.tif",
                                                         "refined.png"]


def test_bad_inputs_leave_nothing(pair: tuple[Path, Path], tmp_path: Path) -> None:
    from geoneurips.segmentation.seco.pipeline import build_seco, refine_raster

    img, ps = pair
    seco = build_seco(7, psa_only=True)
    out = tmp_path / "bad.tif"
    other = write_raster(tmp_path / "o.tif", np.zeros((64, 64), np.uint8), crs="EPSG:4326",
                         transform=TF)
    with pytest.raises(CoregistrationError, match="CRS"):
        refine_raster(img, other, out, seco)
    two = write_raster(tmp_path / "two.tif", np.zeros((2, 64, 64), np.uint8), crs=CRS,
                       transform=TF)
    with pytest.raises(InvalidInputError, match="one band"):
        refine_raster(img, two, out, seco)
    wrong = write_raster(tmp_path / "w.tif", np.full((64, 64), 9, np.uint8), crs=CRS,
                         transform=TF)
    with pytest.raises(InvalidInputError, match="class 9"):
        refine_raster(img, wrong, out, seco, progress=False)
    with pytest.raises(InvalidInputError, match="band 5"):
        refine_raster(img, ps, out, seco, bands=(1, 2, 5))
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(Path(img).read_bytes()[:300])
    with pytest.raises(InvalidInputError):
        refine_raster(trunc, ps, out, seco)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_real_raster_keeps_grid_and_nodata(real_data: Path, tmp_path: Path) -> None:
    """Landsat RGB.byte.tif window with a nodata collar and an intensity pseudo-label."""
    src = real_data / "rasters" / "RGB.byte.tif"
    win = Window(0, 250, 128, 128)  # left edge: part of the rotated nodata collar
    with rasterio.open(src) as ds:
        arr = ds.read(window=win)
        tf, crs, nodata = window_transform(win, ds.transform), ds.crs, ds.nodata
    img = write_raster(tmp_path / "rgb.tif", arr, crs=crs, transform=tf, nodata=nodata)
    valid = (arr != nodata).any(0)
    mean = arr.mean(0)
    ps = np.digitize(mean, np.percentile(mean[valid], [33, 66])).astype(np.uint8)
    ps[~valid] = 255
    lab = write_raster(tmp_path / "ps.tif", ps, crs=crs, transform=tf, nodata=255)
    out = tmp_path / "refined.tif"
    res = CliRunner().invoke(_app(), [str(img), str(lab), "-o", str(out), "--num-classes", "3",
                                      "--things", "", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.crs == crs and ds.transform == tf and ds.nodata == 255
        refined = ds.read(1)
    assert (refined[~valid] == 255).all()
    assert set(np.unique(refined[valid])) <= {0, 1, 2, 255} and (refined[valid] != 255).any()
