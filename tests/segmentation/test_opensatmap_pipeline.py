"""OpenSatMap demo (the learning test) and the ``geoneurips lanes`` task command.

Demo, quick mode (16 training scenes, 80 epochs; 12 evaluation scenes of the unseen seed
seed + 1000, scored against the 3-px reference). Method: U-Net (width 12, depth 2) with the
six attribute heads, trained on 5-px dilated lines. Measured (mIoU / instance AP / line AP /
attribute mIoU):

* method (dilated lines): seed 0 0.694 / 0.523 / 0.950 / 0.596; seed 1 0.665 / 0.394 /
  0.824 / 0.597; seed 2 0.671 / 0.497 / 0.886 / 0.513
* U-Net on 1-px lines, weighted CE + Dice: 0.624 / 0.548 / 0.898 / 0.632; 0.652 / 0.380 /
  0.759 / 0.629; 0.660 / 0.508 / 0.880 / 0.613
* U-Net on 1-px lines (= without dilation): 0.380 / 0.048 / 0.167 / 0.629; 0.380 / 0.010 /
  0.044 / 0.648; 0.455 / 0.029 / 0.123 / 0.647
* threshold + skeleton: 0.536 / 0.015 / 0.073 / 0.538; 0.582 / 0.031 / 0.093 / 0.559;
  0.556 / 0.037 / 0.086 / 0.555

(full demo, seeds 0 and 1: 0.685 / 0.451 / 0.878 / 0.610 and 0.670 / 0.515 / 0.957 / 0.592
against 0.619 / 0.605 / 0.918 / 0.616 and 0.641 / 0.471 / 0.942 / 0.640 for the weighted
1-px U-Net.) The strongest baseline is the practitioner's U-Net on 1-px lines
with the released class-weighted cross-entropy + Dice: the method's mIoU gain over it (0.070,
0.013, 0.011) does not clear the demo's margin 0.05 on every seed, and that baseline is
better on instance AP in some runs and on attribute mIoU in all, so ``beats_baseline`` is
not asserted and the system stays ``partial``. What is asserted (on seed 0) holds with room
on all three seeds: the dilation against the same network and loss without it (mIoU +0.216
and line AP +0.68 at least; asserted 0.15 and 0.3), the learned pipeline against the cheap
one (mIoU +0.083, instance AP +0.36 at least; asserted 0.04 and 0.15), attribute mIoU above
0.5 (asserted 0.45; the attribute heads do not beat the cheap attribute rules on every seed:
seed 2 0.513 vs 0.555).
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
    assert set(r.baselines) == {"threshold_skeleton", "unet_1px_lines",
                                "unet_1px_weighted_ce_dice"}
    assert r.margin == 0.05 and r.strongest_baseline == "unet_1px_weighted_ce_dice"
    b = r.baselines
    # the paper's component: the same network and loss on 1-px lines finds almost nothing
    assert r.metrics["miou"] > b["unet_1px_lines"]["miou"] + 0.15
    assert r.metrics["line_ap"] > b["unet_1px_lines"]["line_ap"] + 0.3
    assert "without_dilation (= unet_1px_lines)" in r.ablations
    # the learned pipeline against thresholds + skeleton + attribute rules
    assert r.metrics["miou"] > b["threshold_skeleton"]["miou"] + 0.04
    assert r.metrics["instance_ap"] > b["threshold_skeleton"]["instance_ap"] + 0.15
    assert r.metrics["miou"] > 0.6 and r.metrics["attr_miou"] > 0.45
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
