"""OpenSatMap demo (the learning test) and the ``geoneurips lanes`` task command.

Measured 2026-12-07 (fourth pass), with the width-matched baseline: the same 1-px U-Net
with its category and attribute maps widened to the test width (the released evaluator
compares the raw map with the 3-px reference). mIoU / instance AP / line AP / attribute
mIoU, method vs the widened 1-px U-Net, full demo, seeds 0-4: 0.794/0.725/1.000/0.745 vs
0.819/0.608/0.888/0.763; 0.787/0.655/0.941/0.689 vs 0.795/0.404/0.705/0.650;
0.777/0.718/0.991/0.648 vs 0.804/0.644/0.935/0.659; 0.750/0.628/0.928/0.642 vs
0.752/0.614/0.911/0.630; 0.722/0.559/0.890/0.664 vs 0.801/0.559/0.839/0.674. The widened
arm is the strongest baseline on every seed and the demo decides False on every seed (the
mIoU lead below was measured against the raw 1-px map: a width artefact). 128-133 s of
one-core CPU each on a loaded host. Everything below is the history of the width-blind
comparison, kept as measured.

Full demo (32 training scenes, 240 AdamW steps on batches of 8 random 48-px crops with the
released warm-up + poly schedule; 12 evaluation scenes of the unseen seed seed + 1000,
scored against the 3-px reference as the released evaluator does: raw predicted map for
mIoU, instances redrawn at the test width for the APs). Method: U-Net (width 12, depth 2)
with the six attribute heads, ``DilateGT`` at the test width (3 native px = the released
kernel 9 on x4-resized tiles) and the released weighted CE + Dice. Extraction (every arm):
per-class watershed, junction-cut polylines without end hooks, kept longest first.
Measured (mIoU / instance AP / line AP / attribute mIoU), 52-64 s of one-core CPU each:

* method, seeds 0/1/2: 0.796/0.520/0.964/0.747; 0.791/0.461/0.874/0.694;
  0.778/0.572/0.971/0.650; seeds 3/4: 0.746/0.447/0.900/0.640; 0.726/0.499/0.895/0.675
* same U-Net, heads and loss on 1-px lines (strongest baseline, = without ``DilateGT``):
  0.652/0.481/0.855/0.655; 0.657/0.324/0.724/0.608; 0.675/0.518/0.933/0.610;
  0.679/0.307/0.720/0.604; 0.635/0.480/0.831/0.576
* 1-px U-Net with plain cross-entropy: mIoU 0.384/0.323/0.350; 0.303/0.296
* threshold + skeleton + attribute rules: 0.536/0.018/0.088/0.538;
  0.582/0.058/0.141/0.559; 0.556/0.044/0.123/0.555; 0.539/0.008/0.066/0.561;
  0.549/0.005/0.056/0.563
* ablation, plain CE on the dilated lines: 0.816/0.486/0.868/0.686;
  0.819/0.247/0.444/0.717; 0.860/0.405/0.774/0.706

mIoU margin over the strongest baseline +0.144/+0.134/+0.103 (seeds 3/4: +0.067/+0.091);
asserted 0.05 (the demo's margin). Regressions (explained by the demo, measured): seed 2
instance AP50 / line AP@10 / @15 0.978 vs 0.981, seed 4 line AP@15 0.958 vs 0.968 (equal
recall, false positives ranked higher); none on seeds 0, 1, 3. ``beats_baseline`` on seeds
0, 1, 3 and, with the explanations, 2 and 4. Against the thresholds (asserted on seed 0,
held on all five): mIoU +0.17, instance AP +0.40, line AP +0.73 at least (asserted 0.15,
0.3, 0.6); attribute mIoU 0.640 at least (asserted 0.55).

Re-measured 2026-12-07 after the extraction changes (released line score, rejoined junction
pieces; every arm) on an AMD host, seeds 0/1/2, method vs 1-px U-Net: mIoU 0.794/0.787/0.777
vs 0.651/0.658/0.676, instance AP 0.582/0.515/0.574 vs 0.391/0.252/0.503, line AP
1.000/0.939/0.982 vs 0.752/0.590/0.932; seed 1 decides False there on attribute mIoU (0.689 vs
0.693 of the 1-px plain-CE U-Net; float results differ between hosts, see below). The
numbers above are those of the former extraction; the system is ``partial`` since its budget
audit (notes): trained 2x longer, the 1-px U-Net leads instance AP on seed 0. With the
centre line averaged along the line (2026-12-07, every arm), seeds 0/1/2 instance AP
0.725/0.655/0.718 vs 0.441/0.333/0.614, line AP 1.000/0.941/0.991 vs 0.739/0.600/0.923; at 2x
seed 0 0.780 vs 0.781 (a tie, notes).

The demo trains and evaluates on one thread whatever the caller set
(``seed.single_thread``; before 2026-12-06 it used ``min(2, threads)``, so ``make demo`` on
two threads trained in another float order). Re-measured 2026-12-06 in fresh processes:
full seeds 0-4 exactly as above; full seed 0 after OAM-TCD's demo in the same process with
two threads set: identical; with AVX2 kernels instead of AVX-512 (ATEN_CPU_CAPABILITY=avx2,
ONEDNN_MAX_CPU_ISA=AVX2) full seed 0 gives 0.794 vs 0.651 (+0.143). Seed 3's lead (+0.067) is 1.3x the margin, less room than the
1.5x the other seeds keep (2.1-2.9x on 0-2, 1.8x on 4); the margin is left at 0.05.

Quick demo (16 scenes, 160 steps, 18-20 s of CPU) is reported, not asserted (as AllClear
asserts only its full demo): seeds 0/1/2, method 0.742/0.425/0.890/0.570;
0.713/0.339/0.809/0.478; 0.695/0.424/0.906/0.531 vs the 1-px U-Net 0.664/0.464/0.845/0.650;
0.678/0.293/0.659/0.613; 0.710/0.470/0.891/0.629 (mIoU +0.078/+0.035/-0.015): with 160
steps the dilated-target U-Net still paints lines too wide (development seeds 10-12:
precision 0.52-0.68 at recall 0.97-1.00, 0.67-0.74 after 240 steps) while the 1-px U-Net
is at its plateau (its 1-px target caps its recall at 0.51-0.63 of the 3-px reference).
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
    return demo(tmp_path_factory.mktemp("osm_demo"), quick=False, seed=0)


@pytest.mark.slow
def test_demo_reports_the_width_matched_baseline_and_the_honest_decision(
        demo_result: Any) -> None:
    """The full demo, seed 0 (numbers in the module docstring). The strongest baseline is
    the 1-px U-Net with its output widened to the test width: it matches U-Net DilateGT on
    mIoU, so the demo does not beat it (the system is ``partial``); without the widening
    the 1-px U-Net's map is capped by its 1-px target and trails by more than the margin
    (the former, width-blind comparison). U-Net DilateGT leads both 1-px arms on instance
    AP and line AP, and the learned pipeline is far ahead of thresholds + skeleton."""
    r = demo_result
    assert set(r.baselines) == {"threshold_skeleton", "unet_1px_weighted_ce_dice",
                                "unet_1px_widened_to_test_width", "unet_1px_plain_ce"}
    assert r.margin == 0.05 and r.strongest_baseline == "unet_1px_widened_to_test_width"
    b = r.baselines
    wide, raw = b["unet_1px_widened_to_test_width"], b["unet_1px_weighted_ce_dice"]
    # the honest decision: the width-matched 1-px U-Net is level or ahead on mIoU
    assert not r.beats_baseline
    assert r.metrics["miou"] < wide["miou"] + r.margin
    # the widening is what closes the gap: the same network's raw 1-px map trails
    assert wide["miou"] > raw["miou"] + 0.1
    assert r.metrics["miou"] - raw["miou"] > 0.05
    # the paper's component: the same network, heads and loss on 1-px lines (the ablation)
    assert "without_dilation (= unet_1px_weighted_ce_dice)" in r.ablations
    assert "without_released_weighting" in r.ablations
    for arm in (raw, wide):
        assert r.metrics["instance_ap"] > arm["instance_ap"]
        assert r.metrics["line_ap"] > arm["line_ap"]
    # the learned pipeline against thresholds + skeleton + attribute rules
    assert r.metrics["miou"] > b["threshold_skeleton"]["miou"] + 0.15
    assert r.metrics["instance_ap"] > b["threshold_skeleton"]["instance_ap"] + 0.3
    assert r.metrics["line_ap"] > b["threshold_skeleton"]["line_ap"] + 0.6
    assert r.metrics["attr_miou"] > 0.55
    # every network arm's instances are redrawn at the reference width
    assert 0.5 < r.metrics["miou_redrawn"] <= 1.0
    assert r.details["train_dilate"] == r.details["test_dilate"] == 3
    assert Path(r.artifacts["figure"]).is_file() and Path(r.artifacts["result"]).is_file()
    assert Path(r.details["checkpoint"]).is_file()


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(build_app(), args)


@pytest.mark.slow  # the demo fixture trains four U-Nets
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


@pytest.mark.slow  # the demo fixture trains four U-Nets
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


def test_regression_explanations_only_where_measured() -> None:
    """The full demo explains a per-threshold AP deficit only while the method leads on the
    family's mean AP and trails by at most ``RANKING_TOLERANCE`` (the measured seed-2 and
    seed-4 cases); a larger deficit, or one where the mean AP trails too, stays unexplained
    and so fails the demo."""
    from geoneurips.segmentation.opensatmap.pipeline import (
        RANKING_TOLERANCE,
        explain_regressions,
    )

    base = {"unet": {"instance_ap": 0.481, "instance_ap50": 0.981, "line_ap": 0.831,
                     "line_ap@10": 0.95, "line_ap@15": 0.968},
            "thresholds": {"instance_ap": 0.02, "instance_ap50": 0.1, "line_ap": 0.1,
                           "line_ap@10": 0.1, "line_ap@15": 0.1}}
    # seed 4's measured case: line AP@15 0.958 vs 0.968 with line AP 0.895 vs 0.831
    seed4 = {"instance_ap": 0.499, "instance_ap50": 0.99, "line_ap": 0.895,
             "line_ap@10": 0.96, "line_ap@15": 0.958}
    assert set(explain_regressions(seed4, base)) == {"line_ap@15"}
    # the method leads everywhere: nothing to explain
    lead = dict(seed4, **{"line_ap@15": 0.97})
    assert explain_regressions(lead, base) == {}
    # a deficit beyond the tolerance is not explained
    big = dict(seed4, **{"line_ap@15": 0.968 - RANKING_TOLERANCE - 0.005})
    assert explain_regressions(big, base) == {}
    # the mean line AP trails too: not the measured ranking effect, not explained
    worse = dict(seed4, **{"line_ap": 0.80})
    assert explain_regressions(worse, base) == {}
