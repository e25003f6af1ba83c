"""OpenSatMap demo (the learning test) and the ``geoneurips lanes`` task command.

Demo, quick mode (16 training scenes, 160 AdamW steps on batches of 8 random 48-px crops
with the released warm-up + poly schedule; 12 evaluation scenes of the unseen seed
seed + 1000, scored against the 3-px reference as the released evaluator does: raw
predicted map for mIoU, instances redrawn at the test width for the APs). Method: U-Net
(width 12, depth 2) with the six attribute heads, ``DilateGT`` at the test width (3 native
px = the released kernel 9 on x4-resized tiles) and the released weighted CE + Dice.
Measured (mIoU / instance AP / line AP / attribute mIoU), seeds 0 / 1 / 2, 17-18 s of
one-core CPU each:

* method: 0.742 / 0.433 / 0.876 / 0.570; 0.713 / 0.311 / 0.762 / 0.478; 0.695 / 0.383 /
  0.828 / 0.531
* same U-Net, heads and loss on 1-px lines (strongest baseline, = without ``DilateGT``):
  0.664 / 0.474 / 0.823 / 0.650; 0.678 / 0.304 / 0.627 / 0.613; 0.710 / 0.472 / 0.870 /
  0.629
* threshold + skeleton + attribute rules: 0.536 / 0.013 / 0.054 / 0.538; 0.582 / 0.031 /
  0.096 / 0.559; 0.556 / 0.037 / 0.085 / 0.555

(instance / line AP with the junction-aware polyline extraction of ``instance_polylines``;
the seeds 3 / 4 figures below are of the former extraction.)
Confirmation seeds 3 / 4: method 0.691 / 0.407 / 0.811 / 0.584; 0.651 / 0.381 / 0.805 /
0.528; 1-px U-Net 0.697 / 0.352 / 0.659 / 0.612; 0.697 / 0.339 / 0.707 / 0.601; thresholds
0.539 / 0.007 / 0.065 / 0.554; 0.549 / 0.007 / 0.052 / 0.563.

In the quick setting the method's mIoU gain over the 1-px U-Net (+0.078, +0.035, -0.015;
-0.006, -0.046 on seeds 3, 4) does not clear the margin 0.05 and the 1-px U-Net is better on instance AP and attribute
mIoU, so ``beats_baseline`` is not asserted (the full demo's numbers are in the system's
notes; the system stays ``partial``). What is asserted (on seed 0) holds with room on all
three seeds: the learned pipeline against the cheap one (mIoU +0.131, instance AP +0.28,
line AP +0.66 at least; asserted 0.08, 0.15, 0.4), mIoU above 0.69 (asserted 0.62),
attribute mIoU above 0.47 (asserted 0.4); on seeds 3, 4 too (mIoU +0.10 over the
thresholds, mIoU 0.651, attribute mIoU 0.528 at least).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from geoneurips.cli.main import build_app, main
from geoneurips.errors import CheckpointError, InvalidInputError
from geoneurips.segmentation.opensatmap.pipeline import demo
from geoneurips.segmentation.opensatmap.rasterize import ATTRIBUTES


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return demo(tmp_path_factory.mktemp("osm_demo"), quick=True, seed=0)


def test_demo_against_its_baselines(demo_result: Any) -> None:
    r = demo_result
    assert set(r.baselines) == {"threshold_skeleton", "unet_1px_weighted_ce_dice"}
    assert r.margin == 0.05 and r.strongest_baseline == "unet_1px_weighted_ce_dice"
    b = r.baselines
    # the paper's component: the same network, heads and loss on 1-px lines (the ablation)
    # (reported, not asserted: in the quick setting it does not hold on every seed)
    assert "without_dilation (= unet_1px_weighted_ce_dice)" in r.ablations
    # the learned pipeline against thresholds + skeleton + attribute rules
    assert r.metrics["miou"] > b["threshold_skeleton"]["miou"] + 0.08
    assert r.metrics["instance_ap"] > b["threshold_skeleton"]["instance_ap"] + 0.15
    assert r.metrics["line_ap"] > b["threshold_skeleton"]["line_ap"] + 0.4
    assert r.metrics["miou"] > 0.62 and r.metrics["attr_miou"] > 0.4
    # every network arm's instances are redrawn at the reference width
    assert 0.5 < r.metrics["miou_redrawn"] <= 1.0
    assert r.details["train_dilate"] == r.details["test_dilate"] == 3
    assert Path(r.artifacts["figure"]).is_file() and Path(r.artifacts["result"]).is_file()
    assert Path(r.details["checkpoint"]).is_file()


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(build_app(), args)


def test_lanes_command_on_a_real_geotiff(demo_result: Any, real_data: Path,
                                         tmp_path: Path) -> None:
    src = real_data / "rasters" / "RGB.byte.tif"
    out = tmp_path / "lines.geojson"
    mask = tmp_path / "classes.tif"
    res = _cli(["lanes", str(src), "-o", str(out), "--checkpoint",
                demo_result.details["checkpoint"], "--mask-output", str(mask), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    fc = json.loads(out.read_text())
    assert fc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32618"
    assert summary["features"] == len(fc["features"])
    with rasterio.open(src) as ds:
        b = ds.bounds
        with rasterio.open(mask) as m:
            assert m.transform == ds.transform and m.crs == ds.crs
            assert set(np.unique(m.read(1)).tolist()) <= {0, 1, 2, 3, 255}
    assert fc["features"], "the demo model finds no line in the real image"
    for f in fc["features"]:
        assert f["geometry"]["type"] == "LineString"
        assert f["properties"]["category"] in ("Lane line", "Curb", "Virtual line")
        for attr, ids in ATTRIBUTES.items():  # the attribute heads' values, tools' names
            if attr != "category":
                assert f["properties"][attr] in ids
        xs, ys = np.array(f["geometry"]["coordinates"]).T
        assert (xs >= b.left).all() and (xs <= b.right).all()
        assert (ys >= b.bottom).all() and (ys <= b.top).all()


def test_lanes_command_bad_inputs(demo_result: Any, real_data: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = demo_result.details["checkpoint"]
    out = tmp_path / "x.geojson"
    res = _cli(["lanes", str(tmp_path / "missing.tif"), "-o", str(out), "--checkpoint", ckpt])
    assert isinstance(res.exception, InvalidInputError)
    assert "does not exist" in str(res.exception)
    one_band = tmp_path / "one.tif"
    with rasterio.open(one_band, "w", driver="GTiff", width=16, height=16, count=1,
                       dtype="uint8") as ds:
        ds.write(np.zeros((1, 16, 16), np.uint8))
    res = _cli(["lanes", str(one_band), "-o", str(out), "--checkpoint", ckpt])
    assert isinstance(res.exception, InvalidInputError) and "RGB" in str(res.exception)
    src = str(real_data / "rasters" / "RGB.byte.tif")
    res = _cli(["lanes", src, "-o", str(tmp_path / "x.tif"), "--checkpoint", ckpt])
    assert isinstance(res.exception, InvalidInputError) and ".geojson" in str(res.exception)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    res = _cli(["lanes", src, "-o", str(out), "--checkpoint", str(bad)])
    assert isinstance(res.exception, CheckpointError)
    assert not out.exists() and not list(tmp_path.glob("*.geojson*"))
    # through the console entry point: one line on stderr, exit code 2
    with pytest.raises(SystemExit) as exc:
        main(["lanes", str(tmp_path / "missing.tif"), "-o", str(out), "--checkpoint", ckpt])
    assert exc.value.code == 2 and "does not exist" in capsys.readouterr().err
